"""Gauge-dependent outputs: eigenvectors and singular vectors in a fixed gauge.

The eigenvectors of ``eigh`` and ``eig`` and the singular vectors of ``svd`` are defined up
to a sign (real) or a phase (complex) that the solver picks anew at every call: finite
differences of a function that returns them compare vectors whose signs may flip between
the points of the stencil, and even a right derivative rule "disagrees". Nor is the
derivative itself unique: JAX's rule picks one gauge (vᴴ·dv imaginary-free), another rule
could pick another.

Here each such vector is aligned with its own value at the point, v₀: v ↦ v·c with
c = conj(⟨v₀, v⟩)/|⟨v₀, v⟩| (the sign of ⟨v₀, v⟩ for real vectors), and an SVD's right
vectors get the same factor as its left ones (u·c and c̄·vᴴ leave A unchanged). The
aligned function equals f at the point, is smooth near it, and no longer depends on the
solver's choice: a gauge-invariant function of f's outputs, whose derivatives by any
correct rule agree, and which finite differences can estimate. AD of the aligned function
(which differentiates the alignment too) is compared with FD of it; together with the
adjoint identity between JVP and VJP (which needs no FD at all), that checks the rules
up to the gauge, which is all they define.

``decompositions`` finds them in a jaxpr (inside calls too; not inside custom rules or
control flow, whose insides stay as they are); ``vectors`` evaluates a function and
returns their vectors at a point; ``aligned`` is the function with them aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend.core import Literal

from adcli._problem.jaxpr import Environment

# The key under which a point's reference vectors travel in the function's other inputs.
GAUGE_KEY = "__adcli_gauge__"
# Calls whose insides are inlined to find decompositions (the program parameter's name).
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "remat2": "jaxpr",
    "checkpoint": "jaxpr",
}


def _vector_outputs(eqn: Any) -> list[int]:
    """Which outputs of a decomposition are gauge-dependent vectors (none for others)."""
    name, params = eqn.primitive.name, eqn.params
    if name == "eigh":
        return [0]
    if name == "svd" and params.get("compute_uv", True):
        return [1, 2]
    if name == "eig":
        return list(range(1, len(eqn.outvars)))
    return []


def _used(jaxpr: Any, live_out: list[bool] | None = None) -> set[Any]:
    """The variables of ``jaxpr`` its live outputs depend on (``live_out``: which outputs
    the caller reads; default all), by one backward pass."""
    live_out = live_out if live_out is not None else [True] * len(jaxpr.outvars)
    used = {v for v, on in zip(jaxpr.outvars, live_out, strict=True) if on}
    used = {v for v in used if not isinstance(v, Literal)}
    for eqn in reversed(jaxpr.eqns):
        if any(v in used for v in eqn.outvars):
            used.update(v for v in eqn.invars if not isinstance(v, Literal))
    return used


def _gauged(eqn: Any, used: set[Any]) -> list[int]:
    """The gauge-dependent vector outputs of an equation that are used (eigvalsh computes
    eigenvectors and drops them: nothing to align)."""
    return [i for i in _vector_outputs(eqn) if eqn.outvars[i] in used]


def _live(eqn: Any, used: set[Any]) -> list[bool]:
    return [v in used for v in eqn.outvars]


def decompositions(jaxpr: Any, live_out: list[bool] | None = None) -> list[str]:
    """The decompositions whose vector outputs are used, in evaluation order."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    used = _used(jaxpr, live_out)
    found: list[str] = []
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in _CALLS and _CALLS[name] in eqn.params:
            found += decompositions(eqn.params[_CALLS[name]], _live(eqn, used))
        elif _gauged(eqn, used):
            found.append(name)
    return found


def vectors(fn: Callable[..., Any], *args: Any) -> list[Any]:
    """The vector outputs of every decomposition ``fn`` computes at ``args``."""
    closed = jax.make_jaxpr(fn)(*args)
    found: list[Any] = []
    _eval(closed.jaxpr, list(closed.consts), jax.tree_util.tree_leaves(args), None, found, None)
    return found


def aligned(fn: Callable[..., Any], refs: list[Any]) -> Callable[..., Any]:
    """``fn`` with each decomposition's vectors aligned with ``refs`` (its vectors at the
    point, from ``vectors``)."""

    def run(*args: Any) -> Any:
        closed = jax.make_jaxpr(fn)(*args)
        out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *args))
        leaves = jax.tree_util.tree_leaves(args)
        outs = _eval(closed.jaxpr, list(closed.consts), leaves, iter(refs), None, None)
        return jax.tree_util.tree_unflatten(out_tree, outs)

    return run


def _eval(
    jaxpr: Any,
    consts: list[Any],
    args: list[Any],
    refs: Iterator[Any] | None,
    found: list[Any] | None,
    live_out: list[bool] | None,
) -> list[Any]:
    env = Environment(jaxpr, consts, args)
    used = _used(jaxpr, live_out)
    for eqn in jaxpr.eqns:
        operands = [env.read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name in _CALLS and _CALLS[name] in eqn.params:
            sub = eqn.params[_CALLS[name]]
            inner = getattr(sub, "jaxpr", sub)
            consts_in = list(getattr(sub, "consts", ()))
            outs = _eval(inner, consts_in, operands, refs, found, _live(eqn, used))
        else:
            params = eqn.primitive.get_bind_params(eqn.params)  # as jax's own eval_jaxpr
            result = eqn.primitive.bind(*operands, **params)
            outs = list(result) if eqn.primitive.multiple_results else [result]
            which = _gauged(eqn, used)
            if which and found is not None:
                found.extend(outs[i] for i in which)
            if which and refs is not None:
                outs = _align(name, outs, which, [next(refs) for _ in which])
        env.write(eqn.outvars, outs)
    return [env.read(v) for v in jaxpr.outvars]


def _phase(v: jax.Array, ref: jax.Array, axis: int = -2) -> jax.Array:
    """Per column k (per row with ``axis=-1``), the factor c with ⟨ref_k, v_k·c⟩ real and
    positive (its sign for real vectors)."""
    overlap = jnp.sum(jnp.conj(jnp.asarray(ref, v.dtype)) * v, axis=axis)
    if not jnp.iscomplexobj(v):
        return jnp.where(overlap < 0, -1.0, 1.0).astype(v.dtype)
    size = jnp.abs(overlap)
    # Explicit dtypes: the caller may run under strict dtype promotion.
    safe = jnp.where(size > 0, size, 1.0).astype(v.dtype)
    return jnp.where(size > 0, jnp.conj(overlap) / safe, jnp.ones((), v.dtype))


def _align(name: str, outs: list[Any], which: list[int], refs: list[Any]) -> list[Any]:
    outs = list(outs)
    if name == "svd":  # u·c and c̄·vᴴ (A unchanged): the right vectors follow the left ones
        given = dict(zip(which, refs, strict=True))
        if 1 in given:
            c = _phase(outs[1], given[1])
        else:  # only vᴴ is used: align its rows
            c = jnp.conj(_phase(outs[2], given[2], axis=-1))
        outs[1] = outs[1] * c[..., None, :]
        outs[2] = outs[2] * jnp.conj(c)[..., :, None]
        return outs
    for i, ref in zip(which, refs, strict=True):
        outs[i] = outs[i] * _phase(outs[i], ref)[..., None, :]
    return outs
