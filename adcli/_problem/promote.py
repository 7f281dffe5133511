"""Run a function's jaxpr in float64: the reference for FD of low-precision functions.

Casting the inputs is not enough when a function closes over float32 arrays (weights
captured by a closure) or casts inside (``x.astype(jnp.float32)``): those show up in its
jaxpr as float32 constants and conversions. This interpreter evaluates the jaxpr with
every floating value, constant and dtype parameter promoted (float32/bfloat16/float16 →
float64, complex64 → complex128), inlining calls and custom-derivative wrappers (the
reference needs the function's values, and the derivatives of its actual math).
Primitives it cannot promote safely (loops, conditionals) raise ``NotPromotable``; the
caller then keeps the function's own precision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

_INLINE = {
    "pjit",
    "jit",
    "closed_call",
    "core_call",
    "remat",
    "checkpoint",
    "custom_jvp_call",
    "custom_vjp_call",
    "custom_vjp_call_jaxpr",
}
_UNSUPPORTED = {
    "scan",
    "while",
    "cond",
    "custom_linear_solve",
    "linear_call",
    "pure_callback",
    "io_callback",
    "shard_map",
    "xla_pmap",
}
_SUB_JAXPR_PARAMS = ("jaxpr", "call_jaxpr", "fun_jaxpr")


class NotPromotable(Exception):
    """The jaxpr uses a primitive this interpreter does not promote."""


def promoted_dtype(dtype: Any) -> Any:
    if not jnp.issubdtype(dtype, jnp.inexact):  # ints, bools, PRNG keys (no numpy dtype)
        return dtype
    dtype = np.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return np.dtype(np.complex128)
    if jnp.issubdtype(dtype, jnp.floating):
        return np.dtype(np.float64)
    return dtype


def _promote_value(value: Any) -> Any:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.inexact):
        return jnp.asarray(value, promoted_dtype(dtype))
    return value


def _promote_param(value: Any) -> Any:
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        try:
            return promoted_dtype(value)
        except TypeError:
            return value
    return value


def _sub_jaxpr(eqn: Any) -> Any:
    for name in _SUB_JAXPR_PARAMS:
        if name in eqn.params:
            return eqn.params[name]
    raise NotPromotable(f"cannot find the body of '{eqn.primitive.name}'")


def eval_promoted(closed: Any, *args: Any, consts: list[Any] | None = None) -> list[Any]:
    """Evaluate a ClosedJaxpr with every floating value in float64 (complex128)."""
    jaxpr = getattr(closed, "jaxpr", closed)
    if consts is None:
        consts = [_promote_value(c) for c in getattr(closed, "consts", ())]
    return _eval(jaxpr, consts, [_promote_value(a) for a in args])


def _eval(jaxpr: Any, consts: list[Any], args: list[Any]) -> list[Any]:
    env: dict[Any, Any] = {}

    def read(var: Any) -> Any:
        return var.val if isinstance(var, Literal) else env[var]

    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = value
    for var, value in zip(jaxpr.invars, args, strict=True):
        env[var] = value
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        operands = [_promote_value(read(v)) for v in eqn.invars]
        if name in _UNSUPPORTED:
            raise NotPromotable(f"'{name}' is not promoted")
        if name in _INLINE:
            sub = _sub_jaxpr(eqn)
            inner = getattr(sub, "jaxpr", sub)
            inner_consts = [_promote_value(c) for c in getattr(sub, "consts", ())]
            # Custom rules are inlined too: the reference differentiates the function's own
            # math, which is what a custom rule must agree with.
            outs = _eval(inner, inner_consts, operands)
        else:
            if any(
                hasattr(v, "eqns") or hasattr(getattr(v, "jaxpr", None), "eqns")
                for v in eqn.params.values()
            ):
                raise NotPromotable(f"'{name}' has a sub-program")
            params = {k: _promote_param(v) for k, v in eqn.params.items()}
            result = eqn.primitive.bind(*operands, **params)
            outs = result if eqn.primitive.multiple_results else [result]
        for var, value in zip(eqn.outvars, outs, strict=True):
            env[var] = value
    return [read(v) for v in jaxpr.outvars]


def promote_function(fn: Callable[..., Any], *example: Any) -> Callable[..., Any]:
    """``fn`` computed in float64 throughout (same signature, flat outputs as a list).

    Raises:
        NotPromotable: ``fn`` uses a primitive that cannot be promoted here.
    """
    closed = jax.make_jaxpr(fn)(*example)
    # Captured arrays are promoted once, as concrete float64 data, so that no float32
    # constant remains in the traces of the promoted function.
    consts = [np.asarray(_promote_value(c)) for c in closed.consts]
    # Fail now, on the abstract values, rather than at the first evaluation.
    flat_example = jax.tree_util.tree_leaves(example)
    jax.eval_shape(lambda *a: eval_promoted(closed, *a, consts=consts), *flat_example)
    out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *example))

    def promoted(*args: Any) -> Any:
        outs = eval_promoted(closed, *jax.tree_util.tree_leaves(args), consts=consts)
        return jax.tree_util.tree_unflatten(out_tree, outs)

    return promoted


def promote(tree: Any) -> Any:
    """Cast every floating leaf to float64 (complex to complex128); exact, no rounding."""
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, promoted_dtype(a.dtype)), tree)
