"""Arguments from the user's code (``{python: REF}``) and YAML list pytrees, built into a
Problem: shapes read without allocating, a key per point (or the same values and a note),
dims by name, ``item``, ``init`` keeping only the structure, ``dtype`` casts, and the
errors when the code cannot be called."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adcli._check.engine import check_spec
from adcli._errors import SpecError
from adcli._problem.build import build
from adcli._problem.partition import Leaves
from adcli._spec.load import load_text

MODELS = """\
import jax, jax.numpy as jnp
from typing import NamedTuple


class Layer(NamedTuple):
    w: jax.Array
    act: object
    steps: jax.Array

def loss(params, x):
    return jnp.sum(jnp.tanh(x @ params["w"] + params["b"]) ** 2)

def init_params(key, d, h):
    k1, k2 = jax.random.split(key)
    return {"w": jax.random.normal(k1, (d, h)), "b": 0.1 * jax.random.normal(k2, (h,))}

def seeded_params(seed=0, d=3):
    import numpy as np
    rng = np.random.default_rng(seed)
    return {"w": jnp.asarray(rng.normal(size=(d, 2))), "b": jnp.zeros(2)}

def fixed_params():
    return {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}

TABLE = {"w": jnp.full((3, 2), 0.5), "b": jnp.ones(2)}

def layer(key):
    return Layer(jax.random.normal(key, (3, 2)), jnp.tanh, jnp.asarray(4, jnp.int32))

def layer_loss(layer, x):
    return jnp.sum(layer.act(x @ layer.w)) * layer.steps

def example_args(key):
    return fixed_params(), jnp.ones((4, 3))

def needs(width):
    return {"w": jnp.ones(width)}

def broken(key):
    raise RuntimeError("no weights here")

def list_loss(params, x):
    for w, b in params:
        x = jnp.tanh(x @ w + b)
    return jnp.sum(x)
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text(MODELS)
    return tmp_path


def _spec(folder: Path, inputs: str, *, function: str = "loss", extra: str = "") -> str:
    return (
        f"name: t\nfunction: {{python: m.py:{function}}}\ninputs:\n{inputs}"
        f"constants:\n  x: [N, d]\ndims: {{N: 4, d: 3, h: 2}}\n{extra}"
    )


def _build(folder: Path, text: str):  # type: ignore[no-untyped-def]
    (spec,) = load_text(text, file=str(folder / "s.yaml"), base_dir=str(folder))
    return build(spec)


def test_a_callable_with_a_key_gets_a_key_per_point_and_dims_by_name(folder: Path) -> None:
    problem = _build(folder, _spec(folder, "  params: {python: m.py:init_params}\n"))
    struct = problem.input_structs["params"]
    assert {k: v.shape for k, v in struct.items()} == {"w": (3, 2), "b": (2,)}
    a, b = problem.sample_inputs(0), problem.sample_inputs(1)
    assert not np.allclose(a["params"]["w"], b["params"]["w"])
    np.testing.assert_array_equal(problem.sample_inputs(0)["params"]["w"], a["params"]["w"])
    assert problem.notes == []


def test_a_seed_parameter_gets_an_int_per_point(folder: Path) -> None:
    """``def init(seed=0)`` (NumPy-style code): an int drawn from the point's key, so each
    point differs and the same point repeats; shapes are read with seed 0."""
    problem = _build(folder, _spec(folder, "  params: {python: m.py:seeded_params}\n"))
    assert problem.input_structs["params"]["w"].shape == (3, 2)
    a, b = problem.sample_inputs(0), problem.sample_inputs(1)
    assert not np.allclose(a["params"]["w"], b["params"]["w"])
    np.testing.assert_array_equal(problem.sample_inputs(0)["params"]["w"], a["params"]["w"])
    assert problem.notes == []


def test_without_a_key_every_point_is_the_same_and_the_report_says_so(folder: Path) -> None:
    text = _spec(folder, "  params: {python: m.py:fixed_params}\n")
    problem = _build(folder, text)
    np.testing.assert_array_equal(
        problem.sample_inputs(0)["params"]["w"], problem.sample_inputs(1)["params"]["w"]
    )
    note = (
        "params: m.py:fixed_params takes no key, so every point uses the same values "
        "(adcli passes a PRNG key to a parameter named key or rng, an int to one named seed)"
    )
    assert problem.notes == [note]
    (spec,) = load_text(text, file=str(folder / "s.yaml"), base_dir=str(folder))
    result = check_spec(spec)
    assert result.verdict == "pass" and note in result.notes


def test_an_attribute_holding_a_pytree_is_a_value(folder: Path) -> None:
    problem = _build(folder, _spec(folder, "  params: {python: m.py:TABLE}\n"))
    np.testing.assert_array_equal(problem.sample_inputs(0)["params"]["w"], np.full((3, 2), 0.5))


def test_init_keeps_the_structure_and_draws_the_values(folder: Path) -> None:
    problem = _build(
        folder, _spec(folder, "  params: {python: m.py:TABLE, init: {uniform: [2, 3]}}\n")
    )
    w = np.asarray(problem.sample_inputs(0)["params"]["w"])
    assert w.shape == (3, 2) and np.all((w >= 2) & (w <= 3))


def test_dtype_casts_the_floating_leaves(folder: Path) -> None:
    text = _spec(folder, "  params: {python: m.py:init_params}\n", extra="").replace(
        "inputs:", "dtype: float32\ninputs:"
    )
    problem = _build(folder, text)
    assert problem.input_structs["params"]["w"].dtype == jnp.float32
    assert problem.sample_inputs(0)["params"]["w"].dtype == jnp.float32
    assert problem.constant_structs["x"].dtype == jnp.float32


def test_item_takes_one_of_the_arguments_an_example_function_returns(folder: Path) -> None:
    problem = _build(folder, _spec(folder, "  params: {python: m.py:example_args, item: 0}\n"))
    np.testing.assert_array_equal(problem.sample_inputs(0)["params"]["w"], np.ones((3, 2)))


def test_a_module_like_pytree_is_split_into_what_is_differentiated_and_held(
    folder: Path,
) -> None:
    text = _spec(folder, "  layer: {python: m.py:layer}\n", function="layer_loss")
    problem = _build(folder, text)
    assert isinstance(problem.input_structs["layer"], Leaves)
    assert problem.input_structs["layer"].labels == (".w",)
    assert set(problem.constant_structs) == {"x", "layer (held)"}
    (spec,) = load_text(text, file=str(folder / "s.yaml"), base_dir=str(folder))
    result = check_spec(spec)
    assert result.verdict == "pass", result
    assert {c.wrt for c in result.comparisons} == {"layer"}


def test_yaml_list_pytrees_are_lists(folder: Path) -> None:
    text = (
        "name: t\nfunction: {python: m.py:list_loss}\ninputs:\n  params:\n"
        "    - [[d, h], [h]]\n    - [{shape: [h, h], init: {normal: [0, 0.5]}}, [h]]\n"
        "constants:\n  x: [N, d]\ndims: {N: 4, d: 3, h: 2}\n"
    )
    problem = _build(folder, text)
    params = problem.sample_inputs(0)["params"]
    assert isinstance(params, list) and isinstance(params[0], list)
    assert [tuple(np.shape(a)) for a in jax.tree_util.tree_leaves(params)] == [
        (3, 2),
        (2,),
        (2, 2),
        (2,),
    ]
    (spec,) = load_text(text, file=str(folder / "s.yaml"), base_dir=str(folder))
    result = check_spec(spec)
    assert result.verdict == "pass"


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ("{python: m.py:needs}", r"m.py:needs: adcli cannot fill its parameter 'width' \(adcli"),
        ("{python: m.py:broken}", r"calling it failed: RuntimeError: no weights here"),
        ("{python: m.py:nothing}", r"'m.py' has no attribute 'nothing'"),
        (
            "{python: m.py:example_args, item: 5}",
            r"calling it failed: ValueError: it has no item 5",
        ),
    ],
)
def test_code_that_cannot_be_called_is_a_spec_error(folder: Path, node: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        _build(folder, _spec(folder, f"  params: {node}\n"))
    assert info.value.field == "inputs.params.python"
    assert re.search(message, str(info.value)), str(info.value)
