"""``adcli check`` with a ``reference:``: --factor, --repeat, the JSON, validate without jax."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from adcli._cli.main import cli

SPEC = """\
name: softplus32
function: {expr: "softplus(x)"}
reference: {expr: "log1p(exp(x))"}
inputs:
  x: {shape: [n], dtype: float32}
dims: {n: 8}
check: {points: 1}
"""


def _write(tmp_path: Path) -> str:
    path = tmp_path / "softplus.yaml"
    path.write_text(SPEC)
    return str(path)


def test_factor_and_repeat_options(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["check", _write(tmp_path), "--factor", "5", "--repeat", "3", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    (spec,) = json.loads(result.stdout)["specs"]
    kinds = [(c["wrt"], c["kind"], c["verdict"]) for c in spec["comparisons"]]
    assert ("-", "reference-value", "pass") in kinds and ("x", "repeat", "pass") in kinds
    assert ("x", "fwd", "pass") in kinds  # float32: finite differences run too
    factors = {t["factor"] for c in spec["comparisons"] for t in c["tolerances"]}
    assert factors == {5.0}
    assert "verdicts: finite differences pass, reference pass" in spec["notes"]


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    for option, value in (("--repeat", "0"), ("--factor", "-1")):
        result = CliRunner().invoke(cli, ["check", _write(tmp_path), option, value])
        assert result.exit_code == 2
        assert option in result.output


def test_help_lists_the_options() -> None:
    text = CliRunner().invoke(cli, ["check", "--help"]).output
    assert "--repeat N" in text and "--factor" in text


def test_validate_a_reference_spec_imports_no_jax(tmp_path: Path) -> None:
    code = (
        "import atexit, sys; from adcli._cli.main import cli; "
        "atexit.register(lambda: print('jax' in sys.modules)); "
        f"cli(['validate', {_write(tmp_path)!r}])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
