"""A spec whose ``requires:`` package is not installed is skipped with the reason, and the
run does not fail (``pip install . && adcli check specs/`` without the models extra)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from adcli._check.engine import check_spec
from adcli._cli.main import cli
from adcli._spec.load import load_text

SPEC = """\
name: needs_it
requires: [{package}]
function: {{python: m.py:f}}
inputs: {{x: [3]}}
"""


def test_a_missing_package_skips_the_spec(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import adcli_no_such_package\n")
    (spec,) = load_text(SPEC.format(package="adcli_no_such_package"), base_dir=str(tmp_path))
    result = check_spec(spec)
    assert result.verdict == "skipped" and result.comparisons == ()
    assert result.notes == ("not checked: adcli_no_such_package is not installed",)


def test_the_models_extra_is_named(tmp_path: Path) -> None:
    from adcli._check.requires import not_installed
    from adcli._spec.model import Formula, Spec

    spec = Spec("s", Formula(python="m.py:f"), {}, requires=("flax", "adcli_nope", "optax"))
    result = not_installed(spec)
    assert result is not None
    missing = [n for n in ("flax", "optax") if n in result.notes[0]]
    assert "adcli_nope" in result.notes[0]
    if missing:  # only where flax/optax are absent does the hint name the extra
        assert "pip install 'adcli[models]'" in result.notes[0]


def test_the_cli_reports_skipped_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import jax.numpy as jnp\n\ndef f(x):\n    return jnp.sum(x**2)\n"
    )
    (tmp_path / "a.yaml").write_text(SPEC.format(package="adcli_no_such_package"))
    (tmp_path / "b.yaml").write_text(SPEC.format(package="numpy").replace("needs_it", "has_it"))
    out = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "SKIPPED      needs_it" in out.output
    assert "    not checked: adcli_no_such_package is not installed" in out.output
    assert "1 passed, 0 failed, 1 skipped" in out.output
