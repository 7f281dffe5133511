"""The ways to compute a derivative that choose-mode compares, on a flat view Rⁿ → Rᵐ.

Every candidate is a function ``(x, rest) -> array`` of the flat input x (the ``wrt``
inputs, flattened by FlatLayout) and ``rest`` (the other inputs, the constants, and for
``hvp`` the vector ``v``), so it can be lowered on ShapeDtypeStructs and jitted once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from adcli._errors import UsageError
from adcli._modes.cut import Split, find_cut
from adcli._modes.decide import ORDER as ORDER
from adcli._problem.flat import FlatProblem

TARGETS = ("jacobian", "hessian", "hvp")


@dataclass(frozen=True)
class Candidate:
    """One strategy: its name, the function computing the derivative, and its pass count."""

    name: str
    fn: Callable[[Any, Any], Any]
    passes: str  # e.g. "100 JVPs", "1 VJP, then 100 JVPs of it"
    count: int  # passes over the function (the fallback prediction when FLOPs are unknown)


def make_candidates(flat: FlatProblem, target: str, *, cut: Split | None = None) -> list[Candidate]:
    """The candidates for ``target`` (jacobian: forward, reverse, and mixed if ``cut``)."""
    n, m, f = flat.n, flat.m, flat.fn
    if target == "jacobian":
        out = [
            Candidate("forward", jax.jacfwd(f), _count(n, "JVP"), n),
            Candidate("reverse", jax.jacrev(f), _count(m, "VJP"), m),
        ]
        if cut is not None:
            out.append(_mixed(cut))
        return out
    if target not in ("hessian", "hvp"):
        raise UsageError(f"--target: expected one of {', '.join(TARGETS)}, got {target!r}")
    if m != 1:
        raise UsageError(
            f"--target {target} needs a scalar function, but '{flat.problem.spec.name}' "
            f"has {m} outputs; use --target jacobian"
        )

    def s(x: jax.Array, rest: Any) -> jax.Array:
        return f(x, rest)[0]

    grad = jax.grad(s)
    dfwd = jax.jacfwd(s)  # the gradient by n JVPs
    jvps, vjps = _count(n, "JVP"), _count(n, "VJP")
    if target == "hessian":
        return [
            Candidate("fwd-over-rev", jax.jacfwd(grad), f"1 VJP, then {jvps} of it", n),
            Candidate("rev-over-rev", jax.jacrev(grad), f"1 VJP, then {vjps} of it", n),
            Candidate("rev-over-fwd", jax.jacrev(dfwd), f"{jvps}, then {vjps} of them", n * n),
            Candidate("fwd-over-fwd", jax.jacfwd(dfwd), f"{jvps}, then {jvps} of them", n * n),
        ]

    def jvp_v(x: jax.Array, rest: Any) -> jax.Array:
        hvp: jax.Array = jax.jvp(lambda y: s(y, rest), (x,), (rest["v"],))[1]
        return hvp

    def fwd_rev(x: jax.Array, rest: Any) -> jax.Array:
        hvp: jax.Array = jax.jvp(lambda y: grad(y, rest), (x,), (rest["v"],))[1]
        return hvp

    def rev_rev(x: jax.Array, rest: Any) -> jax.Array:
        hvp: jax.Array = jax.grad(lambda y: jnp.vdot(grad(y, rest), rest["v"]))(x)
        return hvp

    return [
        Candidate("fwd-over-rev", fwd_rev, "1 VJP, then 1 JVP of it", 1),
        Candidate("rev-over-rev", rev_rev, "1 VJP, then 1 VJP of it", 1),
        Candidate("rev-over-fwd", jax.grad(jvp_v), "1 JVP, then 1 VJP of it", 1),
        Candidate("fwd-over-fwd", jax.jacfwd(jvp_v), f"1 JVP, then {jvps} of it", n),
    ]


def find_split(flat: FlatProblem) -> Split | None:
    """A cut narrower than min(n, m) / 2 (else mixed cannot beat both plain modes)."""
    limit = min(flat.n, flat.m) // 2 + 1
    if limit <= 1:
        return None
    return find_cut(flat.fn, flat.x_struct, flat.rest_struct, max_size=limit)


def _mixed(cut: Split) -> Candidate:
    h, g, k = cut.h, cut.g, cut.size

    def mixed(x: jax.Array, rest: Any) -> jax.Array:
        v, pullback = jax.vjp(lambda y: h(y, rest), x)
        jh = jax.vmap(pullback)(jnp.eye(k, dtype=v.dtype))[0]  # k VJPs: (k, n)
        jg = jax.jacfwd(lambda u: g(u, rest))(v)  # k JVPs: (m, k)
        jacobian: jax.Array = jg @ jh
        return jacobian

    passes = f"{_count(k, 'VJP')} + {_count(k, 'JVP')} + one {k}-inner product"
    return Candidate("mixed", mixed, passes, 2 * k)


def _count(count: int, what: str) -> str:
    """``1 JVP``, ``3 JVPs``."""
    return f"{count} {what}" + ("" if count == 1 else "s")
