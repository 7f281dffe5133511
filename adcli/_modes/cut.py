"""Find a narrow cut in a function's jaxpr and split the function there: f = g ∘ h.

A *cut* is one intermediate array v that every path from the input x to the output passes
through: once v is known, the output no longer depends on x. If v has k entries with
k < min(n, m), the Jacobian factors as J = J_g (m×k) · J_h (k×n), and the *mixed* mode
computes J_h by k VJPs, J_g by k JVPs and one k-inner product — fewer passes than either
plain mode when k ≪ min(n, m).

Calls to ``jax.jit``-wrapped functions are inlined first, so a cut inside one is found;
control flow (``scan``, ``while``, ``cond``) stays opaque: a cut inside a loop body is not.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend import core as jcore

MAX_TRIED = 400  # intermediates tried, narrowest first (each try is one pass over the jaxpr)


@dataclass(frozen=True)
class Split:
    """f(x, rest) = g(h(x, rest), rest), with the cut value flattened to a k-vector."""

    h: Callable[[Any, Any], jax.Array]  # (x, rest) -> v, shape (k,)
    g: Callable[[jax.Array, Any], jax.Array]  # (v, rest) -> y, shape (m,)
    shape: tuple[int, ...]
    dtype: str
    size: int
    primitive: str
    source: str | None


def find_cut(
    fn: Callable[[Any, Any], jax.Array], x: Any, rest: Any, *, max_size: int
) -> Split | None:
    """The narrowest intermediate of ``fn(x, rest)`` that separates x from the output.

    ``x``/``rest`` may be ShapeDtypeStructs (nothing is computed). Only intermediates with
    fewer than ``max_size`` entries qualify; None when there is none.
    """
    closed = _inline_calls(jax.make_jaxpr(fn)(x, rest), x, rest)
    jaxpr = closed.jaxpr
    x_vars = set(jaxpr.invars[:1])  # fn flattens x into one vector: the first invar
    tainted = _taint(jaxpr, x_vars, blocked=None)
    candidates = []
    for index, eqn in enumerate(jaxpr.eqns):
        for var in eqn.outvars:
            if var in tainted and _size(var) < max_size and hasattr(var, "aval"):
                candidates.append((_size(var), index, var))
    candidates.sort(key=lambda c: (c[0], c[1]))
    for size, index, var in candidates[:MAX_TRIED]:
        after = _taint(jaxpr, x_vars, blocked=var)
        if any(not _is_literal(v) and v in after for v in jaxpr.outvars):
            continue
        eqn = jaxpr.eqns[index]
        return Split(
            h=_sub_function(closed, jaxpr.invars, [var], size),
            g=_sub_function(closed, [var, *jaxpr.invars[1:]], jaxpr.outvars, size, cut=var),
            shape=tuple(int(d) for d in var.aval.shape),
            dtype=str(var.aval.dtype),
            size=size,
            primitive=str(eqn.primitive),
            source=source_line(eqn),
        )
    return None


_CALLS = {"pjit", "jit", "closed_call", "core_call"}


def _inline_calls(closed: Any, x: Any, rest: Any) -> Any:
    """The jaxpr with ``jax.jit``-wrapped calls inlined, so a cut inside one can be found.

    Re-traces an interpreter that evaluates call equations' bodies in place; the user's
    source lines are kept (a private JAX context, isolated here: on any failure the jaxpr
    is returned as it was, and only top-level cuts are found).
    """
    if not any(str(e.primitive) in _CALLS for e in closed.jaxpr.eqns):
        return closed
    try:
        from jax._src import source_info_util

        def run(jaxpr: Any, consts: Any, args: list[Any]) -> list[Any]:
            env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts, strict=True))
            env.update(zip(jaxpr.invars, args, strict=True))
            for eqn in jaxpr.eqns:
                ins = [v.val if _is_literal(v) else env[v] for v in eqn.invars]
                info = eqn.source_info
                with source_info_util.user_context(info.traceback, name_stack=info.name_stack):
                    sub = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
                    if str(eqn.primitive) in _CALLS and sub is not None:
                        inner = getattr(sub, "jaxpr", sub)
                        outs = run(inner, getattr(sub, "consts", []), ins)
                    else:
                        params = eqn.primitive.get_bind_params(eqn.params)
                        outs = eqn.primitive.bind(*ins, **params)
                        outs = outs if eqn.primitive.multiple_results else [outs]
                env.update(zip(eqn.outvars, outs, strict=True))
            return [v.val if _is_literal(v) else env[v] for v in jaxpr.outvars]

        leaves = jax.tree_util.tree_leaves

        def flat(x_: Any, rest_: Any) -> list[Any]:
            return run(closed.jaxpr, closed.consts, [x_, *leaves(rest_)])

        return jax.make_jaxpr(flat)(x, rest)
    except Exception:  # a JAX internals change: fall back to the top level
        return closed


def source_line(eqn: Any) -> str | None:
    """``file:line (function)`` of the user code that made an equation, or None.

    Uses a private JAX helper (``source_info_util.summarize``), isolated here with a
    fallback because private modules move between releases.
    """
    try:
        from jax._src import source_info_util

        text = source_info_util.summarize(eqn.source_info)
    except Exception:  # the private API moved: the cut is still named by its shape
        return None
    if not text or text.startswith("unknown"):
        return None
    path, sep, rest = text.partition(":")
    if sep and os.path.isabs(path):  # a path under the working directory reads better short
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            text = relative + sep + rest
    return text


def _size(var: Any) -> int:
    return math.prod(int(d) for d in getattr(var.aval, "shape", ()))


def _is_literal(atom: Any) -> bool:
    return isinstance(atom, jcore.Literal)


def _taint(jaxpr: Any, sources: set[Any], blocked: Any) -> set[Any]:
    """Variables that depend on ``sources``; ``blocked`` is treated as not depending."""
    tainted = set(sources)
    for eqn in jaxpr.eqns:
        if any(not _is_literal(v) and v in tainted for v in eqn.invars):
            tainted.update(v for v in eqn.outvars if v is not blocked)
    return tainted


def _live(jaxpr: Any, outs: list[Any], given: set[Any]) -> list[Any]:
    """The equations needed to compute ``outs`` when the ``given`` variables are known."""
    needed = {v for v in outs if not _is_literal(v)} - given
    keep = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in needed for v in eqn.outvars) and not all(v in given for v in eqn.outvars):
            keep.append(eqn)
            needed.update(v for v in eqn.invars if not _is_literal(v) and v not in given)
    return keep[::-1]


def _sub_function(
    closed: Any, invars: list[Any], outvars: list[Any], size: int, cut: Any = None
) -> Callable[..., jax.Array]:
    jaxpr = closed.jaxpr
    given = set(invars) | set(jaxpr.constvars)
    eqns = _live(jaxpr, list(outvars), given)
    if cut is not None:  # g: drop the equation that made v, and anything before that needs x
        eqns = [e for e in eqns if cut not in e.outvars]
    sub = jaxpr.replace(invars=list(invars), outvars=list(outvars), eqns=eqns)
    run = jcore.jaxpr_as_fun(jcore.ClosedJaxpr(sub, closed.consts))
    shape = tuple(int(d) for d in cut.aval.shape) if cut is not None else None

    def call(first: Any, rest: Any) -> jax.Array:
        leaves = jax.tree_util.tree_leaves(rest)
        if shape is not None:  # g: the cut arrives flat
            first = jnp.reshape(first, shape)
        outs = run(first, *leaves)
        return jnp.reshape(outs[0], (-1,))

    return call
