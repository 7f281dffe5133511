"""Walking jaxprs (adcli._problem.jaxpr): every equation, inside jit, scan, cond and custom
rules; the floating dtypes a program computes in and the least precise of them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from adcli._problem.jaxpr import equations, float_dtypes, least_precise, real_dtype


@jax.custom_jvp
def _softplus(x: jax.Array) -> jax.Array:
    return jnp.log1p(jnp.exp(x))


_softplus.defjvp(lambda primals, tangents: (_softplus(primals[0]), tangents[0]))


def _nested(x: jax.Array) -> jax.Array:
    inner = jax.jit(lambda y: jnp.sin(y))(x)
    carry, _ = jax.lax.scan(lambda c, _: (jnp.tanh(c), None), inner, None, length=2)
    branch = jax.lax.cond(x[0] > 0, jnp.cos, jnp.exp, carry)
    return _softplus(branch)


def _names(jaxpr: object, **options: frozenset[str]) -> set[str]:
    return {eqn.primitive.name for eqn in equations(jaxpr, **options)}


def test_equations_reach_into_every_sub_jaxpr() -> None:
    jaxpr = jax.make_jaxpr(_nested)(jnp.ones(3)).jaxpr
    top = {eqn.primitive.name for eqn in jaxpr.eqns}
    assert "sin" not in top and "tanh" not in top and "cos" not in top
    found = _names(jaxpr)
    assert {"sin", "tanh", "cos", "exp", "log1p"} <= found  # jit, scan, both branches, jvp rule
    assert {"scan", "cond"} <= found


def test_opaque_primitives_are_not_entered() -> None:
    jaxpr = jax.make_jaxpr(_nested)(jnp.ones(3)).jaxpr
    found = _names(jaxpr, opaque=frozenset({"scan", "cond"}))
    assert "scan" in found and "tanh" not in found and "cos" not in found
    assert "sin" in found  # the jit is still entered


def test_float_dtypes_and_the_least_precise() -> None:
    def mixed(x: jax.Array) -> jax.Array:
        y = jnp.sin(x.astype(jnp.float16)).astype(jnp.float32)
        return jnp.sum(y * jnp.ones(3, jnp.complex64).real)

    jaxpr = jax.make_jaxpr(mixed)(jnp.ones(3, jnp.float64)).jaxpr
    dtypes = float_dtypes(jaxpr)
    assert dtypes == {np.dtype("float64"), np.dtype("float32"), np.dtype("float16")}
    assert least_precise(dtypes) == np.dtype("float16")
    assert least_precise(dtypes | {jnp.dtype(jnp.bfloat16)}) == jnp.dtype(jnp.bfloat16)  # ε 2⁻⁷
    assert least_precise(set()) == np.dtype("float64")
    assert float_dtypes(jax.make_jaxpr(lambda n: n + 1)(3).jaxpr) == set()  # integers only


def test_real_dtype() -> None:
    assert real_dtype(jnp.complex64) == np.dtype("float32")
    assert real_dtype(jnp.complex128) == np.dtype("float64")
    assert real_dtype(jnp.bfloat16) == jnp.dtype(jnp.bfloat16)
