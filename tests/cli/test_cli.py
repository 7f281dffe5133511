"""``adcli`` on the command line: exit codes, messages, options, reports.

Most cases go through click's ``CliRunner`` (in process, fast); a few run the real
``python -m adcli`` and ``adcli`` console script as subprocesses, to cover the entry points.
Every user mistake must end in a message and exit code 2, never in a traceback.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import adcli
from adcli._cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
ADCLI = shutil.which("adcli", path=str(Path(sys.executable).parent)) or "adcli"

LECTURE = "specs/lecture_L.yaml"
LOGISTIC = "specs/logistic.yaml"
WRONG_SCALE = "examples/wrong_scale.yaml"
# The only fields that differ between two identical runs (a later run reuses programs).
TIMING = {"seconds", "compiles", "compiles_cached", "compile_seconds"}

UNKNOWN_KEY = """\
name: typo
function:
  expr: sum(x)
inputs:
  x: [3]
chek:
  points: 1
"""

KINK = """\
name: kink
description: relu at its kink, where left and right slopes differ.
function:
  expr: sum(relu(x))
inputs:
  x: {shape: [3], init: zeros}
check:
  points: 1
"""

# No per-input seed, so --seed moves the points.
SEEDED = """\
name: seeded
function:
  expr: sum(sin(x) * x)
inputs:
  x: [4]
"""

# The where/sqrt trap: the value is finite, reverse mode gives 0 · ∞ = NaN for x < 0.
WHERE_SQRT = """\
name: where_sqrt
function:
  expr: sum(where(x > 0, sqrt(x), 0.0))
inputs:
  x: {shape: [4], init: {value: [-1.0, 2.0, -3.0, 4.0]}}
check:
  points: 1
"""

USER_CODE = """\
import jax
import numpy as np


def boom(x):
    raise ValueError("boom in user code")


def host_sin(x):
    # A host callback without a vmap rule: evaluating it works, batching it does not.
    out = jax.ShapeDtypeStruct((), x.dtype)
    return jax.pure_callback(lambda a: np.sum(np.sin(a)), out, x)
"""

USER_SPECS = """\
name: raises
function:
  python: user.py:boom
inputs:
  x: [3]
---
name: missing
function:
  python: user.py:nothere
inputs:
  x: [3]
"""

CALLBACK_SPECS = """\
name: host_callback
function:
  python: user.py:host_sin
inputs:
  x: [3]
check:
  points: 1
---
name: fine
function:
  expr: sum(x ** 2)
inputs:
  x: [3]
check:
  points: 1
"""


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths in the reports are as given: run from the root so they read "specs/...".
    monkeypatch.chdir(ROOT)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def no_traceback(result: Result) -> None:
    """The command ended through sys.exit with a message, not with an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def flat(text: str) -> str:
    """Text with its line breaks undone (rich wraps messages on a non-terminal stderr)."""
    return " ".join(text.split())


def strict_json(text: str) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def check_json(*args: str | Path) -> tuple[Result, dict]:
    result = invoke("check", *args, "--format", "json")
    no_traceback(result)
    return result, strict_json(result.stdout)


def without_timing(data: object) -> object:
    if isinstance(data, dict):
        return {k: without_timing(v) for k, v in data.items() if k not in TIMING}
    if isinstance(data, list):
        return [without_timing(v) for v in data]
    return data


def section(output: str, name: str) -> str:
    """The lines of a text report about one spec: its line, up to the next spec's line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"[A-Z]+ +{name}\s", line))
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if re.match(r"(PASS|FAIL|INCONCLUSIVE|ERROR|SKIPPED) ", lines[i])
        ),
        len(lines),
    )
    return "\n".join(lines[start:end])


ROW = re.compile(
    r"^\s*(?P<input>\S+(?:, \d+\])?)\s+(?P<output>\S+)\s+(?P<ad>-?[\d.]+(?:e[-+]\d+)?)\s+"
    r"(?P<ref>-?[\d.]+(?:e[-+]\d+)?)\s",
    re.M,
)


def table_rows(text: str) -> list[tuple[str, float, float]]:
    """(input element, AD, reference) of every row of the worst-element tables."""
    return [(m["input"], float(m["ad"]), float(m["ref"])) for m in ROW.finditer(text)]


# --- exit codes ------------------------------------------------------------------------


def test_passing_spec_exits_0() -> None:
    result = invoke("check", LECTURE)
    no_traceback(result)
    assert result.exit_code == 0
    assert re.search(r"^PASS +lecture_L +specs/lecture_L.yaml:2 +margin ", result.stdout, re.M)
    assert "w1: full, w2: full  float64  seed 0 · 2 pt" in result.stdout
    assert "1 passed, 0 failed in " in result.stdout
    assert result.stderr == ""


def test_failing_example_exits_1() -> None:
    result = invoke("check", WRONG_SCALE)
    no_traceback(result)
    assert result.exit_code == 1
    assert re.search(
        r"^FAIL +least_squares_wrong_scale  examples/wrong_scale.yaml:2", result.stdout, re.M
    )
    assert "0 passed, 1 failed in " in result.stdout


def test_unknown_key_exits_2_naming_file_line_field_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", UNKNOWN_KEY)
    result = invoke("check", path)
    no_traceback(result)
    assert result.exit_code == 2
    assert f"{path}:6: chek: unknown key 'chek' (did you mean 'check'?)" in flat(result.stdout)
    assert "0 passed, 0 failed, 1 error " in result.stdout


def test_yaml_syntax_error_exits_2_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "syntax.yaml", "name: x\nfunction: {expr: sum(x)\ninputs:\n  x: [3]\n")
    result = invoke("check", path)
    no_traceback(result)
    assert result.exit_code == 2
    assert f"{path}:3: invalid YAML" in flat(result.stdout)
    assert "quote formulas" in result.stdout


def test_nonexistent_path_exits_2() -> None:
    result = invoke("check", "specs/no_such_spec.yaml")
    no_traceback(result)
    assert result.exit_code == 2
    assert flat(result.stderr) == "adcli: error: specs/no_such_spec.yaml: no such file or directory"
    assert result.stdout == ""


def test_directory_without_specs_exits_2(tmp_path: Path) -> None:
    result = invoke("check", tmp_path)
    no_traceback(result)
    assert result.exit_code == 2
    assert "no *.yaml or *.yml spec files in this directory" in flat(result.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            [LECTURE, "--points", "0"],
            "Invalid value for '--points': 0 is not in the range x>=1",
            id="points-0",
        ),
        pytest.param([LECTURE, "--seed", "-1"], "Invalid value for '--seed'", id="seed-negative"),
        pytest.param([LECTURE, "--order", "0"], "Invalid value for '--order'", id="order-0"),
        pytest.param(
            [LECTURE, "--method", "jacfwd"],
            "'jacfwd' is not one of 'auto', 'full', 'directions'",
            id="method",
        ),
        pytest.param(
            [LECTURE, "--format", "xml"], "'xml' is not one of 'text', 'json'", id="format"
        ),
        pytest.param(
            [LOGISTIC, "--dim", "n"],
            "expected NAME=SIZE (e.g. n=1000), got 'n'",
            id="dim-without-equals",
        ),
        pytest.param(
            [LOGISTIC, "--dim", "n=ten"],
            "expected NAME=SIZE (e.g. n=1000), got 'n=ten'",
            id="dim-not-int",
        ),
        pytest.param(
            [LOGISTIC, "--dim", "n=0"], "--dim n: expected an int >= 1, got 0", id="dim-zero"
        ),
        pytest.param(
            [LOGISTIC, "--dim", "nn=3"],
            "--dim nn: no spec has a dim 'nn' (did you mean 'n'?)",
            id="dim-typo",
        ),
        pytest.param(
            [LOGISTIC, "--dim", "nope=3"], "--dim nope: no spec has a dim 'nope'", id="dim-unknown"
        ),
        pytest.param(
            [LOGISTIC, "--spec", "logistc"],
            "--spec logistc: no such spec (did you mean 'logistic'?)",
            id="spec-typo",
        ),
        pytest.param([LECTURE, "--bogus"], "No such option '--bogus'", id="unknown-option"),
        pytest.param(
            [LECTURE, "--rtol", "nan"], "expected a finite number, got 'nan'", id="rtol-nan"
        ),
        pytest.param(
            [LECTURE, "--atol", "inf"], "expected a finite number, got 'inf'", id="atol-inf"
        ),
        pytest.param([], "no PATHS given and no [tool.adcli] specs", id="no-paths"),
        pytest.param([LECTURE, "-o", "specs"], "'specs' is a directory", id="output-is-dir"),
    ],
)
def test_bad_usage_exits_2_with_a_message(args: list[str], message: str) -> None:
    result = invoke("check", *args)
    no_traceback(result)
    assert result.exit_code == 2
    assert message in flat(result.stderr)
    assert result.stdout == ""


def test_inconclusive_exits_1_unless_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "kink.yaml", KINK)
    out = tmp_path / "kink.json"
    result = invoke("check", path, "-o", out)
    no_traceback(result)
    assert result.exit_code == 1
    assert re.search(r"^INCONCLUSIVE +kink ", result.stdout, re.M)
    assert "FD cannot decide at x[0]: left and right slopes differ by 1 (a kink within" in flat(
        result.stdout
    )
    assert "0 passed, 0 failed, 1 inconclusive" in result.stdout
    report = strict_json(out.read_text(encoding="utf-8"))
    assert (report["verdict"], report["exit_code"]) == ("inconclusive", 1)

    allowed = invoke("check", path, "--allow-inconclusive", "-o", out)
    no_traceback(allowed)
    assert allowed.exit_code == 0
    assert "1 inconclusive" in allowed.stdout
    report = strict_json(out.read_text(encoding="utf-8"))
    assert (report["verdict"], report["exit_code"]) == ("inconclusive", 0)


def test_errors_in_user_code_exit_2_with_a_message(tmp_path: Path) -> None:
    write(tmp_path, "user.py", USER_CODE)
    path = write(tmp_path, "user.yaml", USER_SPECS)
    result = invoke("check", path)
    no_traceback(result)
    assert result.exit_code == 2
    assert re.search(r"^ERROR +raises ", result.stdout, re.M)
    assert (
        f"{path}:2: function: the function fails on the declared shapes: "
        "ValueError: boom in user code"
    ) in flat(result.stdout)
    assert f"{path}:9: function.python: 'user.py' has no attribute 'nothere'" in flat(result.stdout)
    assert "0 passed, 0 failed, 2 errors" in result.stdout


def test_function_that_cannot_be_batched_is_checked_point_by_point(tmp_path: Path) -> None:
    """A host callback without a vmap rule (nor any derivative rule): adcli batches its
    points with lax.map instead of vmap, and reports both modes skipped, with why."""
    write(tmp_path, "user.py", USER_CODE)
    path = write(tmp_path, "callback.yaml", CALLBACK_SPECS)
    result = invoke("check", path)
    no_traceback(result)
    assert result.exit_code == 0
    assert re.search(r"^SKIPPED +host_callback ", result.stdout, re.M)
    assert re.search(r"^PASS +fine ", result.stdout, re.M)
    report = json.loads(invoke("check", path, "--format", "json").stdout)
    (callback, _) = report["specs"]
    reasons = {c["kind"]: c["reason"] for c in callback["comparisons"]}
    assert set(reasons) == {"fwd", "rev"}
    assert all("Pure callbacks do not support JVP" in r for r in reasons.values())


def test_output_into_missing_directory_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "report.json"
    result = invoke("check", LECTURE, "-o", target)
    no_traceback(result)
    assert result.exit_code == 2
    assert str(target.parent) in flat(result.stderr)


def test_spec_filter_does_not_hide_load_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", UNKNOWN_KEY)
    result = invoke("check", path, "--spec", "typo")
    no_traceback(result)
    assert result.exit_code == 2
    assert "unknown key 'chek' (did you mean 'check'?)" in flat(result.output)


# --- options change what is checked ----------------------------------------------------


def test_dim_points_seed_and_spec_are_reported() -> None:
    result, report = check_json(
        LOGISTIC, "--spec", "logistic", "--dim", "n=7", "--points", "1", "--seed", "3"
    )
    assert result.exit_code == 0
    (spec,) = report["specs"]
    assert spec["name"] == "logistic"
    assert (spec["dims"], spec["points"], spec["seed"]) == ({"n": 7}, 1, 3)
    assert {c["point"] for c in spec["comparisons"]} == {0}
    fwd = [c for c in spec["comparisons"] if c["kind"] == "fwd"]
    assert [c["compared"] for c in fwd] == [7]  # one JVP per coordinate of x in R^7


def test_spec_is_repeatable_and_keeps_file_order() -> None:
    result, report = check_json(
        LOGISTIC,
        "--spec",
        "logistic_large",
        "--spec",
        "logistic",
        "--dim",
        "n=5",
        "--points",
        "1",
        "--order",
        "1",
    )
    assert result.exit_code == 0
    assert [s["name"] for s in report["specs"]] == ["logistic", "logistic_large"]
    assert all(s["dims"] == {"n": 5} for s in report["specs"])


# directions: 3 random ones, 1 along the AD gradient, 8 single coordinates of the leaf
@pytest.mark.parametrize(("method", "compared"), [("full", 40), ("directions", 12)])
def test_method_is_reflected_in_the_result(method: str, compared: int) -> None:
    _, report = check_json(
        LOGISTIC, "--spec", "logistic_large", "--dim", "n=40", "--points", "1", "--method", method
    )
    (spec,) = report["specs"]
    assert spec["verdict"] == "pass"
    assert spec["method"] == f"x: {method}"
    first = [c for c in spec["comparisons"] if c["kind"] in ("fwd", "rev", "adjoint")]
    assert [c["method"] for c in first] == [method] * 3
    assert [c["compared"] for c in first] == [compared] * 3


def test_order_2_adds_hessian_vector_products() -> None:
    kinds = {}
    for order in ("1", "2"):
        _, report = check_json("specs/mds.yaml", "--points", "1", "--order", order)
        (spec,) = report["specs"]
        assert spec["verdict"] == "pass"
        kinds[order] = {c["kind"] for c in spec["comparisons"]}
    assert not any(k.startswith("hvp") for k in kinds["1"])
    added = kinds["2"] - kinds["1"]
    assert added == {"hvp:fwd-over-rev", "hvp:rev-over-rev", "hvp:fwd-over-fwd", "hessian-symmetry"}


def test_same_seed_same_numbers_other_seed_other_points(tmp_path: Path) -> None:
    path = write(tmp_path, "seeded.yaml", SEEDED)
    out = tmp_path / "report.json"
    first, report = check_json(path, "--seed", "4")
    text = invoke("check", path, "--seed", "4", "-o", out)  # text on stdout, JSON to file
    no_traceback(text)
    assert first.exit_code == text.exit_code == 0
    assert text.stdout.startswith("margin = ")
    again = strict_json(out.read_text(encoding="utf-8"))
    assert without_timing(again) == without_timing(report)
    assert set(report) == set(again)  # timing fields are dropped from the comparison only

    _, other = check_json(path, "--seed", "5")

    def values(data: dict) -> list[tuple[float, float]]:
        return [
            (w["ad"], w["reference"]) for c in data["specs"][0]["comparisons"] for w in c["worst"]
        ]

    assert other["specs"][0]["seed"] == 5
    assert values(other) != values(report)


def test_output_file_is_written_atomically_and_matches_stdout(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = invoke("check", WRONG_SCALE, "--format", "json", "-o", out)
    no_traceback(result)
    assert result.exit_code == 1
    written = out.read_text(encoding="utf-8")
    assert written.endswith("}\n")
    assert strict_json(written) == strict_json(result.stdout)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left


# --- the text report of a failure ------------------------------------------------------


@pytest.fixture(scope="module")
def examples_report() -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        result = CliRunner().invoke(cli, ["check", "examples/", "--no-color", "--points", "1"])
    no_traceback(result)
    assert result.exit_code == 1
    return result.stdout


def test_examples_summary(examples_report: str) -> None:
    # 12 lecture examples, the 5 model twins of examples/models/, 7 kernels against their
    # references in examples/kernels/, 3 wrong collectives in a sharded layer
    # (examples/sharded.yaml).
    assert re.search(r"^0 passed, 27 failed in [\d.]+s$", examples_report, re.M)
    assert examples_report.count("\nFAIL ") == 27


@pytest.mark.parametrize(
    ("name", "ratio", "lines"),
    [
        (
            "least_squares_wrong_scale",
            2.0,
            [
                "x · reverse mode (VJP) vs FD · point 0 · full · 5/5 outside tolerance · FAIL",
                "pattern: constant ratio: AD = 2 × FD (a scale bug)",
                "→ x: reverse mode disagrees with FD: the custom VJP rule is suspect",
                "note: x: the function uses jax.custom_vjp: forward mode is unavailable",
            ],
        ),
        (
            "log_sigmoid_sign_flip",
            -1.0,
            [
                "x · forward mode (JVP) vs FD · point 0 · full · 6/6 outside tolerance · FAIL",
                "pattern: sign flip: AD = −FD",
                "→ x: fwd, rev: sign flip: AD = −FD",
            ],
        ),
        (
            "softplus_one_coordinate",
            1.1,
            [
                "x · reverse mode (VJP) vs FD · point 0 · directions · 4/12 outside tolerance",
                "localised by group testing to x[4321]",
                "→ x: reverse mode disagrees with FD: the custom VJP rule is suspect",
            ],
        ),
        ("sin_wrong_jvp", 2.0, ["→ x: fwd, rev: constant ratio: AD = 2 × FD (a scale bug)"]),
        (
            "sin_wrong_jvp_only",
            2.0,
            [
                "x · adjoint identity ⟨u, Jv⟩ (fwd) = ⟨Jᵀu, v⟩ (rev) · point 0",
                "pattern: constant ratio: fwd = 2 × rev (a scale bug)",
                "→ x: fwd wrong, rev right: the custom JVP rule is suspect",
            ],
        ),
        (
            "cube_wrong_hessian",
            None,
            [
                "Hessian-vector product, fwd-over-rev, vs FD of the gradient",
                "pattern: constant ratio: AD = 0.5 × FD (a scale bug)",
                "→ x: first derivatives right, only second derivatives wrong",
                "→ x: the hand-derived hessian agrees with FD but not with AD: "
                "the AD rule is suspect",
            ],
        ),
        (
            "symmetric_quadratic_wrong_grad",
            0.5,
            [
                "x · expect.grad formula vs AD · point 0",
                "pattern: constant ratio: the formula = 0.5 × AD (a scale bug)",
                "→ x: the hand-derived grad disagrees with both AD and FD: the formula is wrong",
            ],
        ),
        (
            "quadratic_wrong_hessian",
            None,
            [
                "x · expect.hessian formula vs FD · point 0",
                "AD Hessian by fwd-over-rev",
                "→ x: the hand-derived hessian disagrees with both AD and FD: the formula is wrong",
            ],
        ),
        (
            "linear_solve_wrong_vjp",
            None,
            [
                "A · reverse mode (VJP) vs FD · point 0 · full · 48/64 outside tolerance · FAIL",
                "→ A: reverse mode disagrees with FD: the custom VJP rule is suspect",
            ],
        ),
        (
            "linear_solve_wrong_vjp_loss",
            None,
            [
                "→ A: the hand-derived grad agrees with FD but not with AD: the AD rule is suspect",
            ],
        ),
        (
            "softplus_wrong_region",
            None,
            [
                "→ x: reverse mode disagrees with FD: the custom VJP rule is suspect",
            ],
        ),
        (
            "exp2_float32_bug",
            None,
            [
                "pattern: constant ratio: AD = 1.001 × FD (a scale bug)",
                "→ x: rev: constant ratio: AD = 1.001 × FD (a scale bug)",
            ],
        ),
    ],
)
def test_failure_report_names_elements_numbers_and_diagnosis(
    examples_report: str, name: str, ratio: float | None, lines: list[str]
) -> None:
    text = section(examples_report, name)
    for line in lines:
        assert line in text
    assert re.search(
        r"^\s*input\s+output\s+(AD|formula)\s+reference\s+step\s+FD error\s+tolerance\s+margin$",
        text,
        re.M,
    )
    rows = table_rows(text)
    assert rows, "no table of the worst elements"
    if ratio is not None:
        for element, ad, ref in rows:
            assert ad == pytest.approx(ratio * ref, rel=2e-5, abs=2e-6), element


def test_failure_report_of_one_coordinate_shows_the_element(examples_report: str) -> None:
    rows = table_rows(section(examples_report, "softplus_one_coordinate"))
    assert {element for element, _, _ in rows} == {"x[4321]"}


def test_failure_report_of_a_matrix_input_names_the_entry(examples_report: str) -> None:
    rows = table_rows(section(examples_report, "linear_solve_wrong_vjp"))
    assert rows and all(re.fullmatch(r"A\[\d, \d\]", element) for element, _, _ in rows)


def test_float32_example_line_shows_the_dtype(examples_report: str) -> None:
    line = section(examples_report, "exp2_float32_bug").splitlines()[0]
    assert "x: full  float32  seed 0 · 1 pt" in line


def test_verbose_shows_every_comparison_and_why_fwd_is_skipped() -> None:
    result = invoke("check", WRONG_SCALE, "-v", "--no-color", "--points", "1")
    no_traceback(result)
    assert result.exit_code == 1
    overview = re.findall(r"^\s*0\s+x\s+(\S+)\s+(\S+)\s+(\S+)", result.stdout, re.M)
    assert overview == [("fwd", "full", "SKIPPED"), ("rev", "full", "FAIL")]
    assert "can't apply forward-mode autodiff" in result.stdout


def test_reverse_mode_nan_is_reported_as_a_rev_failure(tmp_path: Path) -> None:
    path = write(tmp_path, "where.yaml", WHERE_SQRT)
    result = invoke("check", path)
    no_traceback(result)
    assert result.exit_code == 1
    assert "AD gave nan at x[0] → out" in result.stdout
    assert "→ x: rev wrong, fwd right: a reverse-mode rule is suspect" in result.stdout
    assert {e for e, _, _ in table_rows(result.stdout)} <= {"x[0]", "x[2]"}
    assert re.search(r"^\s*x\[0\]\s+out\s+nan\s+0\s", result.stdout, re.M)


# --- help, version, start-up -----------------------------------------------------------


def test_help_lists_commands_and_exit_codes() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert re.search(r"^  check +Compare forward/reverse-mode derivatives", result.stdout, re.M)
    assert "Exit codes:" in result.stdout
    for line in ("0  every check passed", "1  a check failed", "2  bad usage or a spec"):
        assert line in result.stdout
    assert invoke("-h").stdout == result.stdout


def test_check_help_lists_the_options() -> None:
    result = invoke("check", "--help")
    assert result.exit_code == 0
    for option in (
        "--dim NAME=SIZE",
        "--points",
        "--seed",
        "--method [auto|full|directions]",
        "--order",
        "--spec NAME",
        "--format [text|json|github|markdown]",
        "--junit-xml FILE",
        "--rtol FLOAT RANGE",
        "--show-config",
        "-o, --output FILE",
        "--allow-inconclusive",
        "--no-color",
        "-v, --verbose",
    ):
        assert option in result.stdout


def test_check_help_lists_exit_codes() -> None:
    result = invoke("check", "--help")
    assert "Exit codes:" in result.stdout
    assert "2  bad usage or a spec" in result.stdout


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"adcli, version {adcli.__version__}\n"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_console_script_version_and_help() -> None:
    proc = run(ADCLI, "--version")
    assert (proc.returncode, proc.stdout) == (0, f"adcli, version {adcli.__version__}\n")
    proc = run(ADCLI, "check", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: adcli check [OPTIONS] [PATHS]...")


def test_python_dash_m_runs_the_checks() -> None:
    proc = run(sys.executable, "-m", "adcli", "check", "specs/sin_AX.yaml", "--points", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^PASS +sin_AX +specs/sin_AX.yaml:1 ", proc.stdout, re.M)
    assert re.search(r"^PASS +sum_sin_AX +specs/sin_AX.yaml:15 ", proc.stdout, re.M)
    assert "2 passed, 0 failed in " in proc.stdout
    assert proc.stderr == ""


def test_console_script_exit_codes_without_tracebacks(tmp_path: Path) -> None:
    failing = run(ADCLI, "check", WRONG_SCALE, "--points", "1", "--format", "json")
    assert failing.returncode == 1
    assert strict_json(failing.stdout)["exit_code"] == 1

    bad = write(tmp_path, "typo.yaml", UNKNOWN_KEY)
    for args, message in (
        ([str(bad)], "unknown key 'chek' (did you mean 'check'?)"),
        (["nowhere.yaml"], "adcli: error: nowhere.yaml: no such file or directory"),
        ([LECTURE, "--dim", "n"], "expected NAME=SIZE"),
    ):
        proc = run(ADCLI, "check", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["explain", LECTURE],
        ["estimate", LECTURE, "--time-budget", "0", "--rounds", "1", "--seeds", "1"],
        ["curvature", LECTURE, "--check-directions", "1", "--measure", "none"],
        ["memory", "specs/memory/mlp.yaml", "--no-policies"],
        ["choose-mode", "specs/modes/loss.yaml", "--measure", "none"],
    ],
    ids=lambda args: args[0],
)
def test_an_unwritable_output_file_is_an_error_not_a_traceback(args, tmp_path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "report.json"
    result = CliRunner().invoke(cli, [*args, "-o", str(missing)])
    assert result.exit_code == 2, result.output
    assert f"cannot write {missing}: No such file or directory" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_reports_are_written_with_the_usual_file_mode(tmp_path: Path) -> None:
    # The atomic write goes through mkstemp (0600): the report must get 0666 & ~umask.
    import os

    mask = os.umask(0o022)
    try:
        out = tmp_path / "r.json"
        result = CliRunner().invoke(cli, ["check", LECTURE, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o600)  # an existing file keeps its mode when rewritten
        CliRunner().invoke(cli, ["check", LECTURE, "-o", str(out)])
        assert out.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(mask)


def test_a_spec_filter_shows_why_its_file_did_not_load(tmp_path: Path) -> None:
    # One invalid document makes the whole file fail to load: "--spec ok: no such spec"
    # alone would hide the reason.
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "name: ok\nfunction: {expr: sum(x**2)}\ninputs: {x: [2]}\n---\n"
        "name: bad\nfunction: {expr: sum(x)}\ninputs: {x: {shape: [3], dtype: int32}}\n"
    )
    for command in ("memory", "explain", "choose-mode"):
        result = CliRunner().invoke(cli, [command, str(spec), "--spec", "ok"])
        assert result.exit_code == 2, result.output
        assert "--spec ok: no such spec among those that loaded; 1 could not be loaded" in (
            result.output
        )
        assert f"{spec}:7: inputs.x.dtype: an input cannot be int32" in result.output
