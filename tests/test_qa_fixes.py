"""Regression tests for QA report c: API option checks, integer and empty arguments,
leaf-key typos, pytrees under expr:, numeric strings for ints, per-input dtypes, dir()."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

import adcli
from adcli._cli.main import cli
from adcli._errors import SpecError, UsageError
from adcli._spec.load import load_text


def _sq(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.sum(x**2)


# --- 3: integer arguments -------------------------------------------------------------


def test_python_int_is_taken_as_float64() -> None:
    result = adcli.check_function(lambda x: x**3, 2)
    assert result.verdict == "pass" and result.dtypes == {"x": "float64"}
    worst = [w.ad for c in result.comparisons for w in c.worst]
    assert worst and all(abs(ad - 12.0) < 1e-9 for ad in worst)


@pytest.mark.parametrize(
    ("arg", "dtype"), [(jnp.arange(3), "int64"), (np.array([True, False]), "bool")]
)
def test_integer_array_to_differentiate_is_a_usage_error(arg: object, dtype: str) -> None:
    with pytest.raises(UsageError, match=rf"argument 'x' has dtype {dtype}.*pass floats"):
        adcli.check_function(lambda x: jnp.sum(x**2), arg)


def test_integer_argument_outside_wrt_is_fine() -> None:
    result = adcli.check_function(lambda x, n: jnp.sum(x**n), jnp.ones(3), jnp.asarray(2), wrt=[0])
    assert result.verdict == "pass"


# --- 4: zero-size inputs --------------------------------------------------------------


def test_empty_argument_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"x has no entries \(shape \(0,\)\): nothing to diff"):
        adcli.check_function(_sq, jnp.ones((0,)))


def test_empty_argument_beside_another_is_left_out_with_a_note() -> None:
    result = adcli.check_function(lambda x, y: _sq(x) + jnp.sum(y), jnp.ones(3), jnp.ones(0))
    assert result.verdict == "pass"
    assert {c.wrt for c in result.comparisons} == {"x"}
    assert any("y (no entries" in n for n in result.notes)


def test_empty_spec_input_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "z.yaml"
    spec.write_text("name: z0\nfunction:\n  expr: sum(x**2)\ninputs:\n  x: [0]\n")
    out = CliRunner().invoke(cli, ["check", str(spec)])
    assert out.exit_code == 2, out.output
    assert "z.yaml:5: inputs.x.shape: x has no entries (shape (0,)): nothing to" in out.output
    assert "concatenate" not in out.output


def test_empty_spec_input_beside_another_is_skipped(tmp_path: Path) -> None:
    spec = tmp_path / "z.yaml"
    spec.write_text(
        "name: z2\nfunction:\n  expr: sum(x**2) + sum(y**3)\ninputs:\n  x: [0]\n  y: [3]\n"
    )
    assert CliRunner().invoke(cli, ["check", str(spec)]).exit_code == 0


# --- 5 and 10: typos in leaf and output keys, pytrees under expr: ----------------------

_EXPR = "name: t\nfunction:\n  expr: sum(x**2)\ninputs:\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_EXPR + "  x: {shap: [n]}\ndims: {n: 3}\n",
         r"t.yaml:5: inputs.x.shap: unknown key 'shap' \(did you mean 'shape'\?\)"),
        (_EXPR + "  x: {a: [3], sed: 1}\n",
         r"t.yaml:5: inputs.x.sed: unknown key 'sed' \(did you mean 'seed'\?\)"),
        (_EXPR + "  x:\n    a: {shape: [3]}\n",
         r"t.yaml:5: inputs.x: a mapping without 'shape' is a pytree, and pytree arguments "
         r"are for python: functions only \(give it a shape"),
        (_EXPR + "  x: [3]\noutput: {shpe: []}\n",
         r"t.yaml:6: output.shpe: unknown key 'shpe' \(did you mean 'shape'\?\)"),
        (_EXPR + "  x: [3]\noutput: {shpe: [3]}\n",
         r"t.yaml:6: output.shpe: unknown key 'shpe' \(did you mean 'shape'\?\)"),
        (_EXPR + "  x: [3]\noutput: {a: {shape: []}, dtyp: float64}\n",
         r"t.yaml:6: output.dtyp: unknown key 'dtyp' \(did you mean 'dtype'\?\)"),
    ],
)  # fmt: skip
def test_spec_mistakes(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_text(text, file="t.yaml")


def test_pytree_leaf_typo_in_python_spec(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def loss(params):\n    return params['w'].sum()\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: s\nfunction: {python: m.py:loss}\ninputs:\n  params:\n"
        "    w: {shape: [3]}\n    b: {shap: []}\n"
    )
    out = CliRunner().invoke(cli, ["validate", str(spec)])
    assert out.exit_code == 2
    assert "s.yaml:6: inputs.params.b.shap: unknown key 'shap' (did you mean 'shape'?)" in (
        out.output
    )


def test_pytree_still_works_for_python_functions() -> None:
    text = "name: p\nfunction: {python: mod.ule:f}\ninputs:\n  p: {w: [3], b: {shape: []}}\n"
    (spec,) = load_text(text)
    assert set(spec.inputs["p"]) == {"w", "b"}  # type: ignore[arg-type]


# --- 8: numeric strings for ints ------------------------------------------------------


def test_numeric_strings_are_accepted_for_ints() -> None:
    text = _EXPR + '  x: {shape: [3], seed: "4"}\ncheck: {points: "2", seed: " 3", rtol: "1e-6"}\n'
    (spec,) = load_text(text)
    assert (spec.check.points, spec.check.seed, spec.check.rtol) == (2, 3, 1e-6)
    assert spec.inputs["x"].seed == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "message"),
    [('"2.5"', "expected an int >= 1, got 2.5"), ('"two"', "expected an int >= 1, got a string"),
     ('"0"', "expected an int >= 1, got 0")],
)  # fmt: skip
def test_non_integer_strings_are_refused_for_ints(value: str, message: str) -> None:
    with pytest.raises(SpecError, match=f"check.points: {message}"):
        load_text(_EXPR + f"  x: [3]\ncheck: {{points: {value}}}\n")


# --- 6: options of check_function / assert_grads --------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"order": 3}, r"order must be 1 or 2, got 3"),
        ({"modes": ["bogus"]}, r"unknown mode 'bogus' \(modes are 'fwd'"),
        ({"modes": ["rvs"]}, r"unknown mode 'rvs' \(did you mean 'rev'\?\)"),
        ({"modes": []}, r"modes is empty"),
        ({"method": "ful"}, r"unknown method 'ful' \(did you mean 'full'\?\)"),
        ({"wrt": [5]}, r"wrt: position 5 is out of range.*1 argument \(positions 0 to 0\)"),
        ({"wrt": ["y"]}, r"wrt: 'y' is not an argument"),
        ({"wrt": ["xx"]}, r"did you mean 'x'\?"),
        ({"directions": 0}, r"directions must be an int >= 1"),
        ({"rtol": float("nan")}, r"rtol must be a number >= 0"),
    ],
)
def test_check_function_validates_its_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        adcli.check_function(_sq, jnp.ones(3), **options)  # type: ignore[arg-type]


def test_check_function_needs_arguments() -> None:
    with pytest.raises(UsageError, match="no arguments"):
        adcli.check_function(lambda: 1.0)


def test_check_function_modes_as_one_string() -> None:
    result = adcli.check_function(_sq, jnp.ones(3), modes="rev")
    assert result.verdict == "pass" and {c.kind for c in result.comparisons} == {"rev"}


def test_assert_grads_takes_a_single_array_as_one_argument() -> None:
    adcli.assert_grads(_sq, jnp.ones(3))
    adcli.assert_grads(lambda x: x**2, 3.0)
    with pytest.raises(UsageError, match="order must be 1 or 2"):
        adcli.assert_grads(_sq, jnp.ones(3), order=0)


# --- 12: per-input dtypes -------------------------------------------------------------


def test_mixed_precision_dtypes_are_per_input(tmp_path: Path) -> None:
    import json

    spec = tmp_path / "h.yaml"
    spec.write_text(
        "name: h\nfunction:\n  expr: sum(tanh(x)*w)\ninputs:\n"
        "  x: {shape: [4], dtype: float16}\n  w: {shape: [4], dtype: bfloat16}\n"
    )
    out = CliRunner().invoke(cli, ["check", str(spec), "--format", "json"])
    assert out.exit_code == 0, out.output
    (result,) = json.loads(out.output)["specs"]
    assert result["dtypes"] == {"x": "float16", "w": "bfloat16"}


def test_low_precision_on_another_inputs_way_counts() -> None:
    """d/dx of tanh(w)·x is tanh(w), computed in bfloat16: x's derivative is bfloat16."""
    f = lambda x, w: jnp.sum(jnp.tanh(w) * x)  # noqa: E731
    result = adcli.check_function(f, jnp.ones(3, jnp.float32), jnp.ones(3, jnp.bfloat16))
    assert result.verdict == "pass"
    assert result.dtypes == {"x": "bfloat16", "w": "bfloat16"}


# --- 13: dir(adcli) -------------------------------------------------------------------


def test_dir_lists_only_the_public_api() -> None:
    names = dir(adcli)
    assert not {"Any", "TYPE_CHECKING", "annotations"} & set(names)
    assert {"check", "check_function", "assert_grads", "SpecError"} <= set(names)
    assert sorted(adcli.__all__) == names
