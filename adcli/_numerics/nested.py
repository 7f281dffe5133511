"""Directional derivatives of any order by nesting first-order AD.

For φ(x) = ⟨u, g(x)⟩ and directions w₁ … w_k, the order-k directional derivative

    Dᵏφ(x)[w₁, …, w_k] = d/dt₁ … d/dt_k φ(x + t₁w₁ + … + t_kw_k) at t = 0

is built one order at a time: φ₀ = φ, and φ_j = Dφ_{j−1}[w_j] either by forward mode
(``jax.jvp`` of φ_{j−1} along w_j) or by reverse mode (⟨∇φ_{j−1}, w_j⟩ with ``jax.grad``).
``how`` names the mode of each order, innermost first: ``("fwd",) * k`` is k nested JVPs,
``("fwd",) * (k − 1) + ("rev",)`` the gradient of k − 1 nested JVPs. Every composition
gives the same number when the derivative rules are right, so each is checked against
FD of order k − 1 (``adcli._check.higher_order``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

Scalar = Callable[[jax.Array], jax.Array]


def _forward(f: Scalar, w: jax.Array) -> Scalar:
    def jvp(z: jax.Array) -> jax.Array:
        out: jax.Array = jax.jvp(f, (z,), (w,))[1]
        return out

    return jvp


def _reverse(f: Scalar, w: jax.Array) -> Scalar:
    def grad(z: jax.Array) -> jax.Array:
        return jnp.dot(jax.grad(f)(z), w)

    return grad


def nested(
    g: Callable[..., jax.Array],
    u: jax.Array,
    inputs: Any,
    constants: Any,
    directions: jax.Array,
    how: Sequence[str],
) -> Scalar:
    """x ↦ Dᵏφ(x)[w₁, …, w_k] for φ = ⟨u, g(·, inputs, constants)⟩, where w_j is row j of
    ``directions`` (k, d) and ``how[j]`` (``"fwd"`` or ``"rev"``) its mode."""

    def phi(z: jax.Array) -> jax.Array:
        return jnp.dot(u, g(z, inputs, constants))

    f: Scalar = phi
    for j, mode in enumerate(how):
        f = _forward(f, directions[j]) if mode == "fwd" else _reverse(f, directions[j])
    return f


def compositions(order: int, modes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The compositions checked at ``order`` for the usable ``modes``, by comparison mode:
    ``fwd`` = nested JVPs; ``rev`` = the gradient of nested JVPs, or nested gradients when
    forward mode cannot trace."""
    found: dict[str, tuple[str, ...]] = {}
    if "fwd" in modes:
        found["fwd"] = ("fwd",) * order
    if "rev" in modes:
        inner = "fwd" if "fwd" in modes else "rev"
        found["rev"] = (inner,) * (order - 1) + ("rev",)
    return found


def reference_composition(order: int, modes: Sequence[str]) -> tuple[str, ...]:
    """How the FD reference's order-(k − 1) derivative is taken: nested JVPs where forward
    mode traces (cheapest), else nested gradients."""
    return ("fwd" if "fwd" in modes else "rev",) * (order - 1)


def grad_phi(g: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """(x, u, inputs, constants) ↦ ∇φ(x) = J(x)ᵀu for φ = ⟨u, g⟩, by reverse mode."""

    def grad(x: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> jax.Array:
        grad: jax.Array = jax.vjp(lambda y: g(y, inputs, constants), x)[1](u)[0]
        return grad

    return grad
