"""The float64 interpreter of jaxprs (adcli._problem.promote): every primitive it meets
is either promoted or refused by name, never a traceback."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax._src import core

from adcli._problem.promote import NotPromotable, promote_function

X = np.linspace(0.1, 0.9, 3).astype(np.float32)
W = jnp.asarray([1.5, -0.5, 2.0], jnp.float32)  # captured float32 weights


def _closed_call(x: jax.Array) -> jax.Array:
    closed = jax.make_jaxpr(lambda y: jnp.sin(y) * W)(x)
    out: jax.Array = core.closed_call_p.bind(
        x, **core.closed_call_p.get_bind_params({"call_jaxpr": closed})
    )[0]
    return out


@jax.custom_jvp
def _custom(x: jax.Array) -> jax.Array:
    return jnp.sin(x) * W


@_custom.defjvp
def _custom_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return _custom(x), 3.0 * t  # a wrong rule: the reference must not use it


CASES = {
    "jit": lambda x: jax.jit(lambda y: jnp.sin(y) * W)(x),
    "closed_call": _closed_call,
    "custom_jvp (inlined)": _custom,
    "checkpoint": lambda x: jax.checkpoint(lambda y: jnp.sin(y) * W)(x),
    "cond": lambda x: lax.cond(x[0] > 0, lambda y: jnp.sin(y) * W, lambda y: y, x),
    "while": lambda x: lax.while_loop(
        lambda c: c[0] < 1, lambda c: (c[0] + 1, jnp.sin(c[1]) * W), (0, x)
    )[1],
    "scan": lambda x: lax.scan(lambda c, y: (c, jnp.sin(y) * c), W, x[None, :])[1][0],
    "custom_linear_solve": lambda x: jnp.linalg.solve(jnp.diag(W), jnp.sin(x) * W * W),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_primitive_is_promoted_to_float64(name: str) -> None:
    """sin(x)·w in float64 from a float32 function: exact to float64 rounding, and no
    float32 value left in the promoted program."""
    fn = CASES[name]
    promoted = promote_function(fn, X)
    out = np.asarray(promoted(X.astype(np.float64)))
    assert out.dtype == np.float64
    expected = np.sin(X.astype(np.float64)) * np.asarray(W, np.float64)
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    text = str(jax.make_jaxpr(promoted)(X.astype(np.float64)))
    assert "f32[" not in text


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (
            lambda x: jax.pure_callback(np.sin, jax.ShapeDtypeStruct((3,), jnp.float32), x),
            "'pure_callback'",
        ),
        (
            lambda x: lax.bitcast_convert_type(x, jnp.int32).astype(jnp.float32),
            "'bitcast_convert_type'",
        ),
    ],
    ids=["pure_callback", "bitcast"],
)
def test_what_cannot_be_promoted_is_named(fn: Any, name: str) -> None:
    with pytest.raises(NotPromotable, match=name):
        promote_function(fn, X)


def test_the_caller_mode_is_the_one_traced() -> None:
    """A function written for x64 off (jnp.zeros(3) is float32 there) under strict
    promotion traces in that mode, and is promoted in adcli's scope."""
    from adcli._problem.runtime import caller_mode, jax_scope

    def f(x: jax.Array) -> jax.Array:
        return jnp.sin(x) + jnp.zeros(3)  # float32 + float32 only with x64 off

    with jax.enable_x64(False), jax.numpy_dtype_promotion("strict"):
        mode = caller_mode()
        with jax_scope():
            promoted = promote_function(f, X, mode=mode)
            out = np.asarray(promoted(X.astype(np.float64)))
    assert out.dtype == np.float64
