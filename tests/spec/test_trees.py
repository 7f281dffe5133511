"""Argument trees in specs: any key name in a subtree, YAML list pytrees, values from code
(``{python: REF}``), the spec-wide ``dtype:`` and ``randint`` inits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adcli._errors import SpecError
from adcli._spec.load import load_text
from adcli._spec.model import ArraySpec, Init, PythonTree, Spec

_PY = "name: t\nfunction: {python: m.mod:loss}\n"


def _one(text: str, tmp_path: Path | None = None) -> Spec:
    (spec,) = load_text(text, file="t.yaml", base_dir=str(tmp_path or "."))
    return spec


def _error(text: str, tmp_path: Path | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_text(text, file="t.yaml", base_dir=str(tmp_path or "."))
    return info.value


@pytest.mark.parametrize("key", ["scale", "state", "stage", "slope", "input", "type", "shap"])
def test_any_key_name_is_a_subtree_name(key: str) -> None:
    spec = _one(
        _PY + f"inputs:\n  params:\n    {key}: [h]\n    bias: {{shape: [h]}}\ndims: {{h: 3}}\n"
    )
    leaf = spec.inputs["params"][key]  # type: ignore[index]
    assert isinstance(leaf, ArraySpec) and leaf.shape == ("h",)


def test_flax_layernorm_params_load() -> None:
    text = _PY + (
        "inputs:\n  params:\n    LayerNorm_0: {scale: [h], bias: [h]}\n"
        "    Dense_0: {kernel: [d, h], bias: [h]}\ndims: {d: 2, h: 3}\n"
    )
    params = _one(text).inputs["params"]
    assert params["LayerNorm_0"]["scale"].shape == ("h",)  # type: ignore[index]


@pytest.mark.parametrize(
    ("tree", "field", "message"),
    [
        ("{shap: [3], dtype: float32}", "inputs.p.shap", r"unknown key 'shap' \(did you mean"),
        ("{dtype: float32}", "inputs.p", r"missing required key 'shape'"),
        ("{init: {uniform: [0, 1]}}", "inputs.p", r"missing required key 'shape'"),
        ("{w: 3}", "inputs.p.w", r"expected a shape list like \[n, 3\] or a mapping"),
        ("[{shape: [2]}, 3]", "inputs.p[1]", r"expected a shape list .* got an int"),
    ],
)
def test_what_cannot_be_a_subtree_is_a_leaf_mistake(tree: str, field: str, message: str) -> None:
    error = _error(_PY + f"inputs:\n  p: {tree}\n")
    assert error.field == field
    assert re.search(message, str(error)), str(error)


def test_a_sequence_of_mappings_or_sequences_is_a_list_pytree() -> None:
    text = _PY + (
        "inputs:\n  params:\n"
        "    - [{shape: [h, d], init: {normal: [0, 0.1]}}, {shape: [h], init: zeros}]\n"
        "    - [[k, h], [k]]\n"
        "constants:\n  x: [N, d]\ndims: {N: 2, d: 3, h: 4, k: 5}\n"
    )
    params = _one(text).inputs["params"]
    assert isinstance(params, tuple) and len(params) == 2
    (w1, b1), (w2, b2) = params  # type: ignore[misc]
    assert (w1.shape, w1.init) == (("h", "d"), Init("normal", params=(0.0, 0.1)))
    assert (b1.init.kind, w2.shape, b2.shape) == ("zeros", ("k", "h"), ("k",))


def test_a_sequence_of_sizes_is_still_a_shape() -> None:
    spec = _one(_PY + "inputs:\n  x: [n, 3]\n  s: []\ndims: {n: 2}\n")
    assert spec.inputs["x"] == ArraySpec(shape=("n", 3), where=spec.inputs["x"].where)  # type: ignore[union-attr]
    assert spec.inputs["s"].shape == ()  # type: ignore[union-attr]


def test_list_pytrees_are_for_python_functions_only() -> None:
    error = _error("name: t\nfunction: {expr: x}\ninputs:\n  x: [[3], [2]]\n")
    assert error.field == "inputs.x"
    assert "a list of arrays is a pytree, and pytree arguments are for python:" in str(error)


def test_spec_wide_dtype_is_every_leafs_default(tmp_path: Path) -> None:
    text = _PY + (
        "dtype: float32\ninputs:\n  params: {w: [3], b: {shape: [], dtype: float64}}\n"
        "constants:\n  x: [3]\n  labels: {shape: [3], dtype: int32, init: {randint: [0, 10]}}\n"
        "output: {shape: []}\n"
    )
    spec = _one(text)
    assert spec.dtype == "float32"
    assert spec.inputs["params"]["w"].dtype == "float32"  # type: ignore[index]
    assert spec.inputs["params"]["b"].dtype == "float64"  # type: ignore[index]
    assert spec.constants["x"].dtype == "float32"  # type: ignore[union-attr]
    assert spec.constants["labels"].init == Init("randint", params=(0, 10))  # type: ignore[union-attr]
    assert spec.output.dtype is None  # type: ignore[union-attr]  # outputs: not defaulted


def test_spec_wide_dtype_must_be_a_float_dtype() -> None:
    error = _error(_PY + "dtype: int32\ninputs: {x: [3]}\n")
    assert (error.field, error.line) == ("dtype", 3)
    assert "an input cannot be int32" in str(error)


@pytest.mark.parametrize(
    ("init", "field", "message"),
    [
        ("{randint: [3, 3]}", "inputs.x.init.randint", r"expected lo < hi, got \[3, 3\]"),
        ("{randint: [0, 2.5]}", "inputs.x.init.randint[1]", r"expected an int, got a float"),
        ("{randint: [0.0, 2]}", "inputs.x.init.randint[0]", r"expected an int, got 0.0 \(write 0"),
        ("{randint: 3}", "inputs.x.init.randint", r"expected two ints \[lo, hi\], got an int"),
    ],
)
def test_randint_mistakes(init: str, field: str, message: str) -> None:
    error = _error(_PY + f"inputs:\n  x: {{shape: [3], init: {init}}}\n")
    assert error.field == field
    assert re.search(message, str(error)), str(error)


def test_values_from_code(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def init(key): ...\n")
    text = (
        "name: t\nfunction: {python: m.py:init}\ndtype: float32\ninputs:\n"
        "  params: {python: m.py:init}\n"
        "  other: {python: m.py:init, init: {normal: [0, 2]}, dtype: float64, seed: 4}\n"
        "constants:\n  table: {python: pkg.mod:TABLE}\n"
    )
    spec = _one(text, tmp_path)
    params, other = spec.inputs["params"], spec.inputs["other"]
    assert isinstance(params, PythonTree) and isinstance(other, PythonTree)
    assert (params.ref, params.init, params.dtype, params.where.line) == (
        "m.py:init",
        None,
        "float32",
        5,
    )
    assert (other.init, other.dtype, other.seed) == (
        Init("normal", params=(0.0, 2.0)),
        "float64",
        4,
    )
    assert spec.constants["table"].ref == "pkg.mod:TABLE"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("node", "field", "message"),
    [
        ("{python: m.py:init, shape: [3]}", "inputs.p.python", r"unknown key 'python'"),
        ("{python: m.py:init, sed: 1}", "inputs.p.sed", r"unknown key 'sed' \(did you mean 'seed'"),
        ("{python: nope.py:init}", "inputs.p.python", r"no such file 'nope.py'"),
        ("{python: m.py:init, init: {value: 1}}", "inputs.p.init", r"init value needs a shape"),
        ("{python: m.py:init, dtype: int32}", "inputs.p.dtype", r"an input cannot be int32"),
    ],
)
def test_mistakes_in_values_from_code(tmp_path: Path, node: str, field: str, message: str) -> None:
    (tmp_path / "m.py").write_text("def init(key): ...\n")
    error = _error(_PY + f"inputs:\n  p: {node}\n", tmp_path)
    assert error.field == field, str(error)
    assert re.search(message, str(error)), str(error)


def test_a_constant_from_code_cannot_be_cast_to_an_integer_dtype(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("X = 1\n")
    error = _error(
        _PY + "inputs: {x: [2]}\nconstants:\n  c: {python: m.py:X, dtype: int8}\n", tmp_path
    )
    assert error.field == "constants.c.dtype"
    assert "int8 is not a float or complex dtype" in str(error)


def test_requires_lists_packages() -> None:
    spec = _one(_PY + "requires: [flax, jax.numpy]\ninputs: {x: [2]}\n")
    assert spec.requires == ("flax", "jax.numpy")
    for bad, message in (
        ("flax", "expected a list, got a string"),
        ("['no-pkg']", "is not a package"),
    ):
        error = _error(_PY + f"requires: {bad}\ninputs: {{x: [2]}}\n")
        assert error.field is not None and error.field.startswith("requires")
        assert message in str(error)
