"""CI reporters: JUnit XML parsed back, GitHub annotations (format and escaping), Markdown."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from adcli._report import github, junit, markdown
from adcli._results.check import CheckReport, Comparison, Mismatch, SpecResult

ROOT = Path(__file__).resolve().parents[2]


def _comparison(kind: str, verdict: str, margin: float = 0.5, **kw: object) -> Comparison:
    worst = ()
    if verdict == "fail":
        worst = (Mismatch("x[1]", "out", 2.0, 1.0, 1e-5, 1e-12, 1e-9, margin),)
    return Comparison(
        point=0, wrt="x", kind=kind, method="full", verdict=verdict,  # type: ignore[arg-type]
        margin=margin, compared=3, failed=1 if verdict == "fail" else 0, worst=worst, **kw,
    )  # fmt: skip


def _result(
    name: str, verdict: str, comparisons: tuple[Comparison, ...], **kw: object
) -> SpecResult:
    return SpecResult(
        name=name, file="specs/s.yaml", line=7, verdict=verdict,  # type: ignore[arg-type]
        seed=0, points=1, dims={}, backend="cpu", dtypes={"x": "float64"}, method="x: full",
        comparisons=comparisons, seconds=2.0, **kw,
    )  # fmt: skip


@pytest.fixture
def report() -> CheckReport:
    good = _result("good", "pass", (_comparison("fwd", "pass"), _comparison("rev", "pass")))
    bad = _result(
        "bad, really: 100%",
        "fail",
        (_comparison("fwd", "pass"), _comparison("rev", "fail", margin=4e6)),
        diagnoses=("x: reverse mode disagrees with FD: the custom VJP rule is suspect",),
    )
    unsure = _result("unsure", "inconclusive", (_comparison("fwd", "inconclusive", 2.0),))
    broken = _result("broken", "error", (), error="specs/s.yaml:30: the function fails")
    skipped = _result(
        "skip", "skipped", (_comparison("fwd", "skipped", reason="custom_vjp: no forward mode"),)
    )
    return CheckReport(
        results=(good, bad, unsure, broken, skipped),
        seconds=10.0,
        errors=("specs/other.yaml:3: inputs.x: unknown key 'shap' (did you mean 'shape'?)",),
    )


def test_junit_parses_back_with_cases_per_spec_and_kind(report: CheckReport) -> None:
    root = ET.fromstring(junit.render(report))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "2", "2")
    suites = root.findall("testsuite")
    assert sum(int(s.get("skipped", "0")) for s in suites) == 1
    assert [s.get("name") for s in suites] == ["adcli.s", "adcli.load"]
    cases = {c.get("name"): c for s in suites for c in s.findall("testcase")}
    assert set(cases) >= {"good [fwd]", "good [rev]", "bad, really: 100% [rev]", "broken [spec]"}
    for case in cases.values():
        assert case.get("classname", "").startswith("adcli.")
        float(case.get("time", "x"))  # every case has a numeric time
    assert cases["good [fwd]"].get("time") == "1.000"  # the spec's 2 s shared by 2 kinds
    assert cases["good [fwd]"].find("failure") is None
    failure = cases["bad, really: 100% [rev]"].find("failure")
    assert failure is not None
    assert failure.get("type") == "GradientMismatch"
    assert "reverse mode (VJP) vs FD: fail" in (failure.get("message") or "")
    assert "x[1]" in (failure.text or "") and "custom VJP rule is suspect" in (failure.text or "")
    assert suites[0].get("file") == "specs/s.yaml"
    assert "specs/s.yaml:7" in (failure.text or "")  # the report names file and line
    assert cases["unsure [fwd]"].find("failure").get("type") == "Inconclusive"  # type: ignore[union-attr]
    assert cases["broken [spec]"].find("error") is not None
    assert cases["skip [fwd]"].find("skipped").get("message") == "custom_vjp: no forward mode"  # type: ignore[union-attr]
    load = suites[1].find("testcase")
    assert load is not None and load.get("name") == "load specs/other.yaml:3"
    _conforms_to_junit_10_xsd(root)


# Attributes and children that the Jenkins/Surefire junit-10.xsd allows (pytest validates its
# xunit2 output against it): a strict consumer rejects anything else.
_XSD = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": (
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp",
         "hostname", "id", "package", "file", "log", "url", "version"},
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "testcase": (
        {"name", "time", "classname", "group"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": ({"type", "message"}, set()),
    "error": ({"type", "message"}, set()),
    "skipped": ({"type", "message"}, set()),
}  # fmt: skip
_REQUIRED = {"testsuite": {"name", "tests", "failures", "errors"}, "testcase": {"name"}}
_TIME = re.compile(r"^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?$")  # SUREFIRE_TIME


def _conforms_to_junit_10_xsd(element: ET.Element) -> None:
    attributes, children = _XSD[element.tag]
    assert set(element.attrib) <= attributes, (element.tag, set(element.attrib) - attributes)
    assert _REQUIRED.get(element.tag, set()) <= set(element.attrib), element.tag
    if element.tag in ("testsuites", "testsuite") and "time" in element.attrib:
        assert _TIME.match(element.attrib["time"]), element.attrib["time"]
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        _conforms_to_junit_10_xsd(child)


def test_junit_inconclusive_allowed_is_skipped(report: CheckReport) -> None:
    from dataclasses import replace

    root = ET.fromstring(junit.render(replace(report, allow_inconclusive=True)))
    case = next(c for c in root.iter("testcase") if c.get("name") == "unsure [fwd]")
    assert case.find("skipped") is not None and case.find("failure") is None


def test_github_annotations_point_at_the_spec_and_escape(report: CheckReport) -> None:
    lines = github.workflow_commands(report)
    assert lines[0].startswith("::error file=specs/other.yaml,line=3,title=adcli%3A invalid spec::")
    bad = next(line for line in lines if "bad" in line)
    head, message = bad.split("::", 2)[1:]
    assert head.startswith("error file=specs/s.yaml,line=7,title=")
    title = head.split("title=", 1)[1]
    # ':' and ',' are escaped in properties; '%' everywhere; newlines in the message
    assert "bad%2C really%3A 100%25" in title and "," not in title and ":" not in title
    assert "\n" not in message and "%0A" in message and "100%25" in message
    assert "x[1]" in message
    assert sum(line.startswith("::warning ") for line in lines) == 1  # the inconclusive one
    assert any(line.startswith("::error ") and "broken" in line for line in lines)
    assert not any("good" in line for line in lines)
    text = github.render(report)
    assert text.startswith("::error ") and "1 passed" in text  # then the log report


def test_github_escaping_rules() -> None:
    assert github.escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert github.escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"
    line = github.command("error", "two\nlines", file="a,b.yaml", line=None, title="t")
    assert line == "::error file=a%2Cb.yaml,title=t::two%0Alines"


def test_markdown_summary_table(report: CheckReport) -> None:
    text = markdown.render(report)
    lines = text.splitlines()
    assert lines[0] == "## adcli check"
    header = lines.index("| spec | verdict | margin | method | dtypes | file | time |")
    rows = [line for line in lines[header + 2 :] if line.startswith("| ")]
    assert len(rows) == 6  # five specs and one load error
    assert rows[0].startswith("| good | ✅ pass | 0.5 |")
    assert "`specs/s.yaml:7`" in rows[0]
    assert "❌ fail" in rows[1]
    assert text.count("<details>") == 3  # fail, inconclusive, error
    assert "```text" in text and "x[1]" in text


def test_markdown_escapes_pipes_in_cells() -> None:
    result = _result("a|b", "pass", (_comparison("fwd", "pass"),))
    row = next(r for r in markdown.render(CheckReport((result,))).splitlines() if "a\\|b" in r)
    assert row.count(" | ") == 6


def test_cli_junit_and_github_on_a_failing_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adcli._cli.main import cli

    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # when the suite runs in Actions
    xml = tmp_path / "report.xml"
    result = CliRunner().invoke(
        cli,
        ["check", "examples/wrong_vjp.yaml", "--spec", "linear_solve_wrong_vjp",
         "--points", "1", "--junit-xml", str(xml), "--format", "github"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.output.startswith("::error file=examples/wrong_vjp.yaml,line=2,title=adcli%3A")
    root = ET.fromstring(xml.read_text())
    _conforms_to_junit_10_xsd(root)
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["linear_solve_wrong_vjp [rev]"]
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["linear_solve_wrong_vjp [fwd]"]
    assert not list(tmp_path.glob(".adcli-*"))  # no temporary file left behind


def test_cli_github_format_appends_the_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adcli._cli.main import cli

    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nfunction: {expr: 'sum(x * x)'}\ninputs: {x: [2]}\n")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = CliRunner().invoke(cli, ["check", str(spec), "--format", "github", "--points", "1"])
    assert result.exit_code == 0, result.output
    assert not result.output.startswith("::")  # nothing failed: no annotations
    text = summary.read_text()
    assert text.startswith("earlier step\n## adcli check") and "| s | ✅ pass |" in text


def test_cli_junit_into_a_missing_directory_exits_2(tmp_path: Path) -> None:
    from adcli._cli.main import cli

    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nfunction: {expr: 'sum(x * x)'}\ninputs: {x: [2]}\n")
    result = CliRunner().invoke(
        cli,
        ["check", str(spec), "--junit-xml", str(tmp_path / "no" / "r.xml"), "--format", "markdown"],
    )
    assert result.exit_code == 2
    assert "cannot write" in result.output
