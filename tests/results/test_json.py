"""The JSON report: strict JSON, every documented field with its type, in a stable order.

One ``adcli check --format json -o FILE`` run over a mix of specs (passing, failing with a
localised coordinate, NaN from AD, inconclusive at a kink, not finite, unbuildable, and a
file that does not load) feeds most tests; docs/json.md must describe every field and kind.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._results.check import CheckKind, CheckReport, Comparison, Mismatch, SpecResult
from adcli._results.json import to_json_data, to_json_text

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "json.md"

TOP_KEYS = ["schema_version", "verdict", "exit_code", "seconds", "errors", "specs"]
SPEC_KEYS = [
    "name",
    "file",
    "line",
    "verdict",
    "seed",
    "points",
    "dims",
    "backend",
    "dtypes",
    "method",
    "comparisons",
    "notes",
    "diagnoses",
    "error",
    "seconds",
    "compiles",
    "compiles_cached",
    "compile_seconds",
    "margin",
]
COMPARISON_KEYS = [
    "point",
    "wrt",
    "kind",
    "method",
    "verdict",
    "margin",
    "compared",
    "failed",
    "max_abs_error",
    "max_rel_error",
    "step",
    "worst",
    "reason",
    "diagnosis",
    "locations",
    "tolerances",
]
WORST_KEYS = [
    "input_index",
    "output_index",
    "ad",
    "reference",
    "step",
    "fd_error",
    "tolerance",
    "margin",
]
# From the Comparison docstring in adcli/_results/check.py.
KINDS = {
    "fwd",
    "rev",
    "adjoint",
    "hvp:fwd-over-rev",
    "hvp:rev-over-rev",
    "hvp:fwd-over-fwd",
    "hessian-symmetry",
    "expect-grad:ad",
    "expect-grad:fd",
    "expect-hessian:ad",
    "expect-hessian:fd",
    "value",
}
# The kinds of a comparison with a reference implementation (docs/reference.md).
REFERENCE_KINDS = {
    "reference-value",
    "reference-jvp",
    "reference-vjp",
    "self-jvp",
    "self-vjp",
    "repeat",
}
TOLERANCE_KEYS = [
    "tensor",
    "dtype",
    "kernel_error",
    "baseline_error",
    "factor",
    "floor",
    "tolerance",
    "set_by",
    "baseline_dtype",
    "baseline_scale",
    "ratio",
]
PARITY_KINDS = {"parity:value", "parity:fwd", "parity:rev"}  # --parity, docs/sharding.md
VERDICTS = {"pass", "fail", "inconclusive", "skipped", "error"}
NON_FINITE = {"nan", "inf", "-inf"}

SPECS = {
    "where.yaml": """\
name: where_sqrt
function:
  expr: sum(where(x > 0, sqrt(x), 0.0))
inputs:
  x: {shape: [4], init: {value: [-1.0, 2.0, -3.0, 4.0]}}
check:
  points: 1
""",
    "kink.yaml": """\
name: kink
function:
  expr: sum(relu(x))
inputs:
  x: {shape: [3], init: zeros}
check:
  points: 1
""",
    "log.yaml": """\
name: log_of_normal
function:
  expr: sum(log(x))
inputs:
  x: [3]
check:
  points: 1
""",
    "unbuildable.yaml": """\
name: unbuildable
function:
  expr: sum(x)
inputs:
  x: [3]
output: {shape: [2]}
""",
    "typo.yaml": """\
name: typo
function:
  expr: sum(x)
inputs:
  x: [3]
chek: {points: 1}
""",
}


def strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def is_number(value: Any) -> bool:
    """A JSON number, or a non-finite float written as a string."""
    return (isinstance(value, int | float) and not isinstance(value, bool)) or (value in NON_FINITE)


def as_float(value: Any) -> float:
    assert is_number(value), value
    return float(value)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("specs")
    for name, text in SPECS.items():
        (folder / name).write_text(text, encoding="utf-8")
    out = folder.parent / "report.json"
    paths = [
        str(ROOT / "specs" / "lecture_L.yaml"),
        str(ROOT / "examples" / "one_coordinate.yaml"),
        str(folder),
    ]
    result = CliRunner().invoke(cli, ["check", *paths, "--format", "json", "-o", str(out)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "file": out.read_text(encoding="utf-8"),
        "report": strict_json(result.stdout),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def report(run: dict[str, Any]) -> dict[str, Any]:
    return run["report"]


def spec(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in report["specs"] if s["name"] == name]
    return found


def comparisons(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for s in report["specs"] for c in s["comparisons"]]


# --- strict and stable -----------------------------------------------------------------


def test_report_is_strict_json(run: dict[str, Any]) -> None:
    for text in (run["stdout"], run["file"]):
        strict_json(text)
        assert not re.search(r"\bNaN\b|\bInfinity\b", text)
    # The report really has non-finite numbers, written as strings.
    assert '"nan"' in run["stdout"] and '"inf"' in run["stdout"]


def test_file_and_stdout_are_the_same_document(run: dict[str, Any]) -> None:
    assert run["file"] == run["stdout"]  # both end in one newline


def test_keys_in_the_documented_order(report: dict[str, Any]) -> None:
    assert list(report) == TOP_KEYS
    assert report["specs"]
    for s in report["specs"]:
        assert list(s) == SPEC_KEYS
        for c in s["comparisons"]:
            assert list(c) == COMPARISON_KEYS
            for w in c["worst"]:
                assert list(w) == WORST_KEYS


def test_render_is_deterministic_and_keeps_non_ascii() -> None:
    row = Mismatch("x·v1", "⟨u1, ·⟩", 1.0, 1.0, None, None, 1e-9, 0.0)
    comp = Comparison(0, "x", "adjoint", "directions", "pass", compared=1, worst=(row,))
    report = CheckReport(results=(_result(comp),))
    assert to_json_text(report) == to_json_text(report)
    assert "⟨u1, ·⟩" in to_json_text(report)  # not escaped as \u27e8


# --- fields and their types ------------------------------------------------------------


def test_top_level(run: dict[str, Any], report: dict[str, Any]) -> None:
    assert report["schema_version"] == 1
    assert report["exit_code"] == run["exit_code"] == 2  # a file did not load
    assert report["verdict"] == "error"
    assert is_number(report["seconds"]) and report["seconds"] >= 0
    (error,) = report["errors"]
    assert (
        error
        == f"{run['folder'] / 'typo.yaml'}:6: chek: unknown key 'chek' (did you mean 'check'?)"
    )
    names = [s["name"] for s in report["specs"]]
    assert names == [
        "lecture_L",
        "softplus_one_coordinate",
        "kink",
        "log_of_normal",
        "unbuildable",
        "where_sqrt",
    ]


def test_spec_fields(report: dict[str, Any]) -> None:
    for s in report["specs"]:
        assert isinstance(s["name"], str)
        assert isinstance(s["file"], str) and s["file"].endswith(".yaml")
        assert isinstance(s["line"], int) and s["line"] >= 1
        assert s["verdict"] in VERDICTS
        assert isinstance(s["seed"], int) and isinstance(s["points"], int)
        assert all(isinstance(k, str) and isinstance(v, int) for k, v in s["dims"].items())
        assert isinstance(s["backend"], str) and isinstance(s["method"], str)
        assert all(isinstance(v, str) for v in s["dtypes"].values())
        assert all(isinstance(n, str) for n in s["notes"] + s["diagnoses"])
        assert s["error"] is None or isinstance(s["error"], str)
        assert is_number(s["seconds"]) and is_number(s["margin"])
        assert isinstance(s["compiles"], int) and 0 <= s["compiles_cached"] <= s["compiles"]
        assert is_number(s["compile_seconds"]) and s["compile_seconds"] >= 0


def test_comparison_and_worst_fields(report: dict[str, Any]) -> None:
    for c in comparisons(report):
        assert isinstance(c["point"], int) and c["point"] >= 0
        assert isinstance(c["wrt"], str)
        assert c["kind"] in KINDS
        assert c["method"] in ("full", "directions", "-")
        assert c["verdict"] in VERDICTS - {"error"}
        for key in ("margin", "max_abs_error", "max_rel_error"):
            assert is_number(c[key])
        assert isinstance(c["compared"], int) and isinstance(c["failed"], int)
        assert 0 <= c["failed"] <= c["compared"] or c["kind"] == "value"
        assert c["step"] is None or is_number(c["step"])
        assert c["reason"] is None or isinstance(c["reason"], str)
        assert c["diagnosis"] is None or isinstance(c["diagnosis"], str)
        assert all(isinstance(loc, str) for loc in c["locations"])
        for w in c["worst"]:
            assert isinstance(w["input_index"], str) and isinstance(w["output_index"], str)
            for key in ("ad", "reference", "tolerance", "margin"):
                assert is_number(w[key])
            for key in ("step", "fd_error"):
                assert w[key] is None or is_number(w[key])


def test_spec_context_to_reproduce(report: dict[str, Any]) -> None:
    lecture = spec(report, "lecture_L")
    assert lecture["file"].endswith("specs/lecture_L.yaml") and lecture["line"] == 2
    assert (lecture["verdict"], lecture["seed"], lecture["points"]) == ("pass", 0, 2)
    assert lecture["dtypes"] == {"w1": "float64", "w2": "float64"}
    assert lecture["method"] == "w1: full, w2: full"
    assert lecture["backend"] not in ("", "-")
    kinds = {c["kind"] for c in lecture["comparisons"]}
    assert kinds == KINDS - {"value"}  # order 2 with expect: every derivative kind
    assert 0 < lecture["margin"] <= 1


def test_spec_margin_is_the_worst_comparison_margin(report: dict[str, Any]) -> None:
    for s in report["specs"]:
        made = [as_float(c["margin"]) for c in s["comparisons"] if c["verdict"] != "skipped"]
        finite = [m for m in made if not math.isnan(m)]
        assert as_float(s["margin"]) == max(finite, default=0.0)


def test_pass_and_fail_agree_with_the_margins(report: dict[str, Any]) -> None:
    for c in comparisons(report):
        margin = as_float(c["margin"])
        if math.isnan(margin):
            continue  # see test_no_comparison_with_a_nan_passes
        if c["verdict"] == "pass":
            assert margin <= 1 and c["failed"] == 0
        if c["verdict"] == "fail" and c["kind"] != "value":
            assert margin > 1 and c["failed"] > 0


def test_failing_directions_comparison_carries_the_location(report: dict[str, Any]) -> None:
    s = spec(report, "softplus_one_coordinate")
    assert (s["verdict"], s["method"], s["dims"]) == ("fail", "x: directions", {"n": 10000})
    rev = [c for c in s["comparisons"] if c["kind"] == "rev"]
    assert len(rev) == 2
    for c in rev:
        assert (c["verdict"], c["method"], c["locations"]) == ("fail", "directions", ["x[4321]"])
        assert c["reason"] == "localised by group testing to x[4321]"
        (w,) = c["worst"]
        assert (w["input_index"], w["output_index"]) == ("x[4321]", "out")
        assert w["ad"] / w["reference"] == pytest.approx(1.1, rel=1e-6)
    assert s["diagnoses"] == ["x: reverse mode disagrees with FD: the custom VJP rule is suspect"]


def test_nan_from_ad_is_a_string_and_a_failure(report: dict[str, Any]) -> None:
    s = spec(report, "where_sqrt")
    assert (s["verdict"], s["margin"]) == ("fail", "inf")
    (rev,) = [c for c in s["comparisons"] if c["kind"] == "rev"]
    assert (rev["verdict"], rev["margin"], rev["failed"]) == ("fail", "inf", 2)
    assert rev["reason"] == "AD gave nan at x[0] → out"
    assert [(w["input_index"], w["ad"], w["margin"]) for w in rev["worst"]] == [
        ("x[0]", "nan", "inf"),
        ("x[2]", "nan", "inf"),
    ]
    assert "x: rev wrong, fwd right: a reverse-mode rule is suspect" in s["diagnoses"]


def test_inconclusive_elements_have_nan_margin_and_inf_fd_error(report: dict[str, Any]) -> None:
    s = spec(report, "kink")
    assert s["verdict"] == "inconclusive"
    undecided = [c for c in s["comparisons"] if c["verdict"] == "inconclusive"]
    assert {c["kind"] for c in undecided} == {"fwd", "rev"}
    for c in undecided:
        assert c["reason"].startswith("FD cannot decide at x[0]: left and right slopes differ")
        assert c["failed"] == c["compared"] == 3
        for w in c["worst"]:
            assert (w["margin"], w["fd_error"]) == ("nan", "inf")
            assert (w["ad"], w["reference"]) == (0.0, 0.5)  # relu'(0) = 0; FD: the mean slope


def test_function_not_finite_is_a_value_failure(report: dict[str, Any]) -> None:
    s = spec(report, "log_of_normal")
    assert s["verdict"] == "fail"
    (c,) = s["comparisons"]
    assert (c["kind"], c["wrt"], c["method"], c["verdict"]) == ("value", "-", "-", "fail")
    assert c["worst"] == [] and c["step"] is None
    assert c["reason"].startswith("the function is not finite at point 0: out = nan")


def test_unbuildable_spec_is_an_error_entry(report: dict[str, Any]) -> None:
    s = spec(report, "unbuildable")
    assert s["verdict"] == "error"
    assert (s["backend"], s["method"], s["comparisons"], s["dtypes"]) == ("-", "-", [], {})
    assert s["error"].endswith(
        "unbuildable.yaml:6: output.shape: declared shape [2], but the function returns shape []"
    )
    assert s["line"] == 6


@pytest.mark.parametrize(
    ("path", "verdict", "code"),
    [("specs/sin_AX.yaml", "pass", 0), ("examples/wrong_scale.yaml", "fail", 1)],
)
def test_exit_code_field_is_the_exit_status(path: str, verdict: str, code: int) -> None:
    result = CliRunner().invoke(cli, ["check", str(ROOT / path), "--format", "json"])
    data = strict_json(result.stdout)
    assert (data["verdict"], data["exit_code"], result.exit_code) == (verdict, code, code)
    assert data["errors"] == []


def test_load_errors_alone_do_not_make_a_passing_report(run: dict[str, Any]) -> None:
    typo = run["folder"] / "typo.yaml"
    result = CliRunner().invoke(cli, ["check", str(typo), "--format", "json"])
    data = strict_json(result.stdout)
    assert (data["exit_code"], data["specs"], len(data["errors"])) == (2, [], 1)
    assert data["verdict"] == "error"


def test_no_comparison_with_a_nan_passes(report: dict[str, Any]) -> None:
    for c in comparisons(report):
        if c["verdict"] == "pass":
            assert math.isfinite(as_float(c["margin"])), (c["kind"], c["margin"])
            assert math.isfinite(as_float(c["max_abs_error"])), (c["kind"], c["max_abs_error"])


# --- non-finite numbers without jax ----------------------------------------------------


def _result(*comps: Comparison, error: str | None = None) -> SpecResult:
    return SpecResult(
        name="s",
        file="s.yaml",
        line=1,
        verdict="fail",
        seed=0,
        points=1,
        dims={"n": 2},
        backend="cpu",
        dtypes={"x": "float64"},
        method="x: full",
        comparisons=comps,
        error=error,
    )


def test_non_finite_floats_become_strings_everywhere() -> None:
    inf, nan = float("inf"), float("nan")
    worst = Mismatch("x[0]", "⟨u1, ·⟩", nan, -inf, None, inf, 1e-9, nan)
    comp = Comparison(
        0,
        "x",
        "rev",
        "full",
        "fail",
        margin=inf,
        max_abs_error=-inf,
        max_rel_error=nan,
        step=inf,
        worst=(worst,),
    )
    text = to_json_text(CheckReport(results=(_result(comp),), seconds=nan))
    data = strict_json(text)
    assert data["seconds"] == "nan"
    (c,) = data["specs"][0]["comparisons"]
    assert (c["margin"], c["max_abs_error"], c["max_rel_error"], c["step"]) == (
        "inf",
        "-inf",
        "nan",
        "inf",
    )
    (w,) = c["worst"]
    assert (w["ad"], w["reference"], w["fd_error"], w["margin"], w["step"]) == (
        "nan",
        "-inf",
        "inf",
        "nan",
        None,
    )
    assert data["specs"][0]["margin"] == "inf"
    assert to_json_data(comp)["margin"] == "inf"


# --- the documentation -----------------------------------------------------------------


def test_docs_describe_every_field_kind_verdict_and_exit_code() -> None:
    doc = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([^`]+)` \|", doc, re.M))
    for key in TOP_KEYS + SPEC_KEYS + COMPARISON_KEYS + WORST_KEYS + TOLERANCE_KEYS:
        assert key in documented, key
    for kind in KINDS | REFERENCE_KINDS | PARITY_KINDS:
        assert f"| `{kind}` |" in doc, kind
    for verdict in VERDICTS:
        assert f"| `{verdict}` |" in doc, verdict
    for code in ("0", "1", "2"):
        assert f"\n| {code} |" in doc
    for token in ('"nan"', '"inf"', '"-inf"'):
        assert token in doc
    assert "schema_version" in doc


def test_docs_list_every_check_kind() -> None:
    # hvp:rev-over-fwd is curvature's (--hvp-strategy); check never composes it.
    assert {k.value for k in CheckKind} == KINDS | REFERENCE_KINDS | PARITY_KINDS | {
        "hvp:rev-over-fwd"
    }
    assert "`hvp:rev-over-fwd`" in DOC.read_text(encoding="utf-8")


def test_docs_example_is_strict_json_with_the_documented_keys() -> None:
    doc = DOC.read_text(encoding="utf-8")
    (example,) = re.findall(r"```json\n(.*?)```", doc, re.S)
    data = strict_json(example)
    assert list(data) == TOP_KEYS
    (s,) = data["specs"]
    assert list(s) == SPEC_KEYS
    for c in s["comparisons"]:
        assert list(c) == COMPARISON_KEYS
        assert all(list(w) == WORST_KEYS for w in c["worst"])
