"""Run a function's jaxpr in float64: the reference for FD of low-precision functions.

Casting the inputs is not enough when a function closes over float32 arrays (weights
captured by a closure) or casts inside (``x.astype(jnp.float32)``): those show up in its
jaxpr as float32 constants and conversions. This interpreter evaluates the jaxpr with
every floating value, constant and dtype parameter promoted (float32/bfloat16/float16 →
float64, complex64 → complex128):

* calls (``jit``, ``closed_call``, ``remat``) and custom-derivative wrappers
  (``custom_jvp_call``, ``custom_vjp_call``) are inlined: the reference needs the
  function's values, and the derivatives of its actual math;
* control flow (``cond``, ``while``, ``scan``) is rebuilt with ``lax.switch``,
  ``lax.while_loop`` and ``lax.scan`` around promoted bodies, and ``custom_linear_solve``
  runs its solve promoted;
* anything else that holds a program (callbacks, ``shard_map``, ``pmap``, ...), or a
  primitive that cannot run on float64 values (``bitcast_convert_type``), raises
  ``NotPromotable`` naming it: the caller then keeps the function's own precision and
  says why in a note. Never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from adcli._problem import host
from adcli._problem.jaxpr import Environment
from adcli._problem.runtime import JaxMode

# Primitives that call a program on their operands (its outputs are theirs), by the name
# of the parameter that holds it.
_CALLS = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "remat": "jaxpr",
    "remat2": "jaxpr",
    "checkpoint": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "custom_vjp_call_jaxpr": "fun_jaxpr",
}


class NotPromotable(Exception):
    """The jaxpr uses a primitive this interpreter does not promote (the message names it)."""


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
        return host.cast(value, promoted_dtype(dtype))
    return value


def _promote_param(value: Any) -> Any:
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        try:
            return promoted_dtype(value)
        except TypeError:
            return value
    return value


def _promote_const(value: Any) -> Any:
    """A captured constant in float64: concrete data is converted now (no float32 constant
    and conversion left in the trace); a traced value is converted in the program."""
    if isinstance(value, jax.core.Tracer):
        return _promote_value(value)
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.inexact):
        return np.asarray(value, promoted_dtype(dtype))
    return value


def eval_promoted(closed: Any, *args: Any, consts: list[Any] | None = None) -> list[Any]:
    """Evaluate a (Closed)Jaxpr with every floating value in float64 (complex128)."""
    jaxpr = getattr(closed, "jaxpr", closed)
    if consts is None:
        consts = [_promote_const(c) for c in getattr(closed, "consts", ())]
    return _eval(jaxpr, consts, [_promote_value(a) for a in args])


def _eval(jaxpr: Any, consts: list[Any], args: list[Any]) -> list[Any]:
    env = Environment(jaxpr, consts, args)
    for eqn in jaxpr.eqns:
        operands = [_promote_value(env.read(v)) for v in eqn.invars]
        env.write(eqn.outvars, _equation(eqn, operands))
    return [env.read(v) for v in jaxpr.outvars]


def _equation(eqn: Any, operands: list[Any]) -> list[Any]:
    """One equation's outputs, computed in float64."""
    name = eqn.primitive.name
    if name in _CALLS and _CALLS[name] in eqn.params:
        # Custom rules are inlined too: the reference differentiates the function's own
        # math, which is what a custom rule must agree with.
        return eval_promoted(eqn.params[_CALLS[name]], *operands)
    if name in _CONTROL:
        return _CONTROL[name](eqn.params, operands)
    if _holds_program(eqn):
        raise NotPromotable(f"'{name}', whose program adcli does not run in float64")
    params = {k: _promote_param(v) for k, v in eqn.params.items()}
    try:
        result = eqn.primitive.bind(*operands, **params)
    except Exception as exc:
        raise NotPromotable(f"'{name}', which fails in float64 ({type(exc).__name__})") from exc
    outs = list(result) if eqn.primitive.multiple_results else [result]
    for var, out in zip(eqn.outvars, outs, strict=True):
        # bitcast_convert_type of a float64 value has twice the int32 words: not the program
        if tuple(getattr(out, "shape", ())) != tuple(var.aval.shape):
            raise NotPromotable(f"'{name}', which computes other shapes in float64")
    return outs


def _holds_program(eqn: Any) -> bool:
    def program(v: Any) -> bool:
        return hasattr(v, "eqns") or hasattr(getattr(v, "jaxpr", None), "eqns")

    return (
        any(
            program(v) or (isinstance(v, tuple | list) and any(program(w) for w in v))
            for v in eqn.params.values()
        )
        or eqn.primitive.name in _OPAQUE
    )


# Primitives without a jaxpr parameter whose work is a Python function or a device layout
# adcli cannot promote.
_OPAQUE = frozenset({"pure_callback", "io_callback", "shard_map", "xla_pmap", "linear_call"})


def _cond(params: dict[str, Any], operands: list[Any]) -> list[Any]:
    index, *args = operands
    branches = [lambda *a, br=br: eval_promoted(br, *a) for br in params["branches"]]
    out: list[Any] = lax.switch(index, branches, *args)
    return list(out)


def _while(params: dict[str, Any], operands: list[Any]) -> list[Any]:
    nc, nb = params["cond_nconsts"], params["body_nconsts"]
    cconsts, bconsts, init = operands[:nc], operands[nc : nc + nb], operands[nc + nb :]
    out = lax.while_loop(
        lambda carry: eval_promoted(params["cond_jaxpr"], *cconsts, *carry)[0],
        lambda carry: eval_promoted(params["body_jaxpr"], *bconsts, *carry),
        list(init),
    )
    return list(out)


def _scan(params: dict[str, Any], operands: list[Any]) -> list[Any]:
    nconsts, ncarry = params["num_consts"], params["num_carry"]
    consts = operands[:nconsts]
    init, xs = operands[nconsts : nconsts + ncarry], operands[nconsts + ncarry :]

    def body(carry: list[Any], x: list[Any]) -> tuple[list[Any], list[Any]]:
        out = eval_promoted(params["jaxpr"], *consts, *carry, *x)
        return out[:ncarry], out[ncarry:]

    carry, ys = lax.scan(
        body,
        list(init),
        list(xs),
        length=params["length"],
        reverse=params["reverse"],
        unroll=params.get("unroll", 1),
    )
    return [*carry, *ys]


def _linear_solve(params: dict[str, Any], operands: list[Any]) -> list[Any]:
    """``custom_linear_solve``: its value is its solve applied to b (as JAX's impl)."""
    lengths, jaxprs = params["const_lengths"], params["jaxprs"]
    start = sum(lengths[:2])  # matvec and vecmat consts come first, then solve's
    solve_consts = operands[start : start + lengths[2]]
    b = operands[sum(lengths) :]
    return eval_promoted(jaxprs.solve, *solve_consts, *b)


_CONTROL: dict[str, Callable[[dict[str, Any], list[Any]], list[Any]]] = {
    "cond": _cond,
    "while": _while,
    "scan": _scan,
    "custom_linear_solve": _linear_solve,
}


def promote_function(
    fn: Callable[..., Any], *example: Any, mode: JaxMode | None = None
) -> Callable[..., Any]:
    """``fn`` computed in float64 throughout (same signature, flat outputs as a list).

    ``fn`` is traced in ``mode`` (as it runs; default: the current settings); the promoted
    function runs in the current ones (adcli's scope, where float64 exists).

    Raises:
        NotPromotable: ``fn`` uses a primitive that cannot be promoted here (named).
    """
    if mode is None:
        closed = jax.make_jaxpr(fn)(*example)
        out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *example))
    else:
        with mode.apply():
            closed = jax.make_jaxpr(fn)(*example)
            out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *example))
    # Captured arrays are promoted once, as concrete float64 data, so that no float32
    # constant remains in the traces of the promoted function.
    consts = [np.asarray(_promote_value(c)) for c in closed.consts]
    # Fail now, on the abstract values, rather than at the first evaluation.
    flat_example = [_promote_value(a) for a in jax.tree_util.tree_leaves(example)]
    jax.eval_shape(lambda *a: eval_promoted(closed, *a, consts=consts), *flat_example)

    def promoted(*args: Any) -> Any:
        outs = eval_promoted(closed, *jax.tree_util.tree_leaves(args), consts=consts)
        return jax.tree_util.tree_unflatten(out_tree, outs)

    return promoted


def promote(tree: Any) -> Any:
    """Cast every floating leaf to float64 (complex to complex128); exact, no rounding."""
    return jax.tree_util.tree_map(lambda a: host.cast(a, promoted_dtype(a.dtype)), tree)
