"""adcli.check_function and assert_grads: the arguments they take (Python numbers, one
array, integers not differentiated), the options they refuse as the CLI does, and the dtype
each input's derivative is judged in."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import adcli
from adcli._errors import UsageError


def _sq(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.sum(x**2)


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


# --- empty arguments ----------------------------------------------------------------------


def test_arguments_without_entries_have_nothing_to_check_and_pass() -> None:
    """As check_grads: nothing to compare is not an error; the result says so."""
    result = adcli.check_function(_sq, jnp.ones((0,)))
    assert (result.verdict, result.comparisons) == ("pass", ())
    assert result.notes == (
        "nothing to check: the differentiated arguments have no entries ((0,))",
    )
    adcli.assert_grads(lambda x, y: jnp.sum(x) * y, (jnp.ones((2, 0)), jnp.ones(0)))


def test_empty_argument_beside_another_is_left_out_with_a_note() -> None:
    result = adcli.check_function(lambda x, y: _sq(x) + jnp.sum(y), jnp.ones(3), jnp.ones(0))
    assert result.verdict == "pass"
    assert {c.wrt for c in result.comparisons} == {"x"}
    assert any("y (no entries" in n for n in result.notes)


# --- options: refused as the CLI refuses them, with did-you-mean --------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"order": 0}, r"order must be an int >= 1, got 0"),
        ({"order": 2.0}, r"order must be an int >= 1, got 2.0"),
        ({"eps": 0.0}, r"eps must be a number > 0 or None, got 0.0"),
        ({"kinks": "subgradents"}, r"did you mean 'subgradient'\?"),
        ({"rtol": {"nope": 1e-3}}, r"rtol: 'nope' is not a dtype"),
        ({"atol": {"float32": -1.0}}, r"atol must be a number >= 0 .* for float32"),
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
    with pytest.raises(UsageError, match="order must be an int >= 1"):
        adcli.assert_grads(_sq, jnp.ones(3), order=0)


# --- dtypes -------------------------------------------------------------------------------


def test_low_precision_on_another_inputs_way_counts() -> None:
    """d/dx of tanh(w)·x is tanh(w), computed in bfloat16: x's derivative is bfloat16."""
    f = lambda x, w: jnp.sum(jnp.tanh(w) * x)  # noqa: E731
    result = adcli.check_function(f, jnp.ones(3, jnp.float32), jnp.ones(3, jnp.bfloat16))
    assert result.verdict == "pass"
    assert result.dtypes == {"x": "bfloat16", "w": "bfloat16"}


# --- any pytree, as jax.grad takes it --------------------------------------------------------


def _eqx_model():  # type: ignore[no-untyped-def]
    import equinox as eqx
    import jax

    return eqx.nn.MLP(3, "scalar", 8, 1, activation=jax.nn.softplus, key=jax.random.key(0))


def _eqx_loss(model, x, y):  # type: ignore[no-untyped-def]
    import jax

    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


def test_an_equinox_module_is_an_argument() -> None:
    x, y = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3))), jnp.zeros(5)
    result = adcli.check_function(_eqx_loss, _eqx_model(), x, y, wrt="model")
    assert result.verdict == "pass"
    assert {c.wrt for c in result.comparisons} == {"model"}
    adcli.assert_grads(_eqx_loss, (_eqx_model(), x, y), wrt=["model"])
    from adcli._report.console import render_text

    assert "PASS" in render_text(result)


def test_integer_bool_and_static_arguments_outside_wrt() -> None:
    def loss(w, x, steps, labels, squash, flag):  # type: ignore[no-untyped-def]
        out = x @ w
        for _ in range(steps):  # a Python int: static, as jax.jit would need it
            out = squash(out)
        return jnp.sum(out * labels) if flag else jnp.sum(out)

    w, x = jnp.ones((3, 2)) / 3, jnp.ones((4, 3))
    labels = jnp.asarray([[0, 1]] * 4)
    result = adcli.check_function(loss, w, x, 2, labels, jnp.tanh, True, wrt=[0, "x"])
    assert result.verdict == "pass"
    assert {c.wrt for c in result.comparisons} == {"w", "x"}


def test_integer_leaves_inside_a_differentiated_pytree_are_held() -> None:
    state = {"w": jnp.ones(3), "count": jnp.asarray(3, jnp.int32)}
    result = adcli.check_function(lambda s: jnp.sum(s["w"] ** s["count"]), state)
    assert result.verdict == "pass"
    assert all(c.compared for c in result.comparisons)


def test_a_pytree_without_floats_cannot_be_differentiated() -> None:
    with pytest.raises(UsageError, match=r"argument 'n' has no floating-point array .*int64"):
        adcli.check_function(lambda x, n: jnp.sum(x) * n["k"], jnp.ones(2), {"k": jnp.asarray(2)})


def test_assert_grads_wrt_by_name() -> None:
    adcli.assert_grads(lambda x, n: jnp.sum(x**n), (jnp.ones(3), jnp.asarray(2)), wrt="x")
    with pytest.raises(UsageError, match=r"wrt: 'y' is not an argument"):
        adcli.assert_grads(lambda x, n: jnp.sum(x**n), (jnp.ones(3), 2), wrt="y")
