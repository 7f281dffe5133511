"""Does a ``stop_gradient`` change the derivatives? Most do not: ``logsumexp`` (and so every
softmax cross-entropy, optax's included) stops the gradient of the max it subtracts and adds
back, which cancels. A note "uses stop_gradient" on such a function explains nothing.

The test: the function's jaxpr run with every ``stop_gradient`` as the identity, its JVP
along one direction against the JVP of the function as written. Equal within rounding: the
stops are inert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.extend.core import Literal

from adcli._check.point import Point
from adcli._numerics.compare import Tolerance, directional_scale, margins
from adcli._problem.jaxpr import equations
from adcli._results.check import Comparison

_INLINE = ("jaxpr", "call_jaxpr")  # params holding the body of a call (jit, closed_call)
_CALLS = frozenset({"pjit", "jit", "closed_call", "core_call", "remat", "checkpoint"})
_RULES = frozenset({"custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr"})


def _run(jaxpr: Any, consts: list[Any], args: list[Any]) -> list[Any]:
    """Evaluate ``jaxpr`` with every stop_gradient replaced by the identity."""
    env: dict[Any, Any] = {}

    def read(var: Any) -> Any:
        return var.val if isinstance(var, Literal) else env[var]

    env.update(zip(jaxpr.constvars, consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "stop_gradient":
            outs = ins
        elif name in _CALLS:
            body = next(eqn.params[k] for k in _INLINE if k in eqn.params)
            outs = _run(getattr(body, "jaxpr", body), list(getattr(body, "consts", ())), ins)
        else:
            # As jax.core.eval_jaxpr binds an equation (older JAX returned subfunctions too).
            bound = eqn.primitive.get_bind_params(eqn.params)
            subfuns, params = bound if isinstance(bound, tuple) else ((), bound)
            result = eqn.primitive.bind(*subfuns, *ins, **params)
            outs = result if eqn.primitive.multiple_results else [result]
        env.update(zip(eqn.outvars, outs, strict=True))
    return [read(v) for v in jaxpr.outvars]


def _reachable(jaxpr: Any) -> bool:
    """Whether every stop_gradient sits where ``_run`` replaces it (not inside a loop, a
    branch or a custom rule's body)."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in _CALLS:
            body = next(eqn.params[k] for k in _INLINE if k in eqn.params)
            if not _reachable(getattr(body, "jaxpr", body)):
                return False
        elif eqn.primitive.name not in _RULES:
            for value in eqn.params.values():
                for sub in value if isinstance(value, tuple | list) else (value,):
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns") and any(
                        e.primitive.name == "stop_gradient" for e in equations(inner)
                    ):
                        return False
    return True


def stop_gradient_inert(pt: Point) -> bool | None:
    """True when removing every stop_gradient leaves this input's JVP unchanged (within
    the check's tolerance); False when it changes it; None when it cannot be told (a stop
    inside a loop or a branch, or a function that cannot be re-run so)."""
    at = pt.at
    closed = jax.make_jaxpr(pt.fn.g)(at.x0, at.inputs, at.constants)
    if not _reachable(closed.jaxpr):
        return None
    rest = jax.tree_util.tree_leaves((at.inputs, at.constants))

    def without(x: jax.Array) -> jax.Array:
        out: jax.Array = _run(closed.jaxpr, list(closed.consts), [x, *rest])[0]
        return out

    rev = pt.modes.get("rev", "off") is None
    try:
        if rev:  # gradients ⟨u, J·⟩ of one cotangent, this input's part
            u = np.random.default_rng([pt.point, 11]).standard_normal(pt.fn.m)
            plain = np.asarray(jax.jit(lambda x, w: jax.vjp(without, x)[1](w)[0])(at.x0, u))
            written = pt.evals.vjp(at, u[None])[0]
            plain, written = plain[pt.segment], written[pt.segment]
        else:  # JVPs along one direction in this input
            v = np.zeros(pt.fn.d)
            v[pt.segment] = np.random.default_rng([pt.point, 11]).standard_normal(pt.d)
            v = pt.fn.layout.round_to_leaves((v * pt.scale)[None])[0]
            plain = np.asarray(jax.jit(lambda x, t: jax.jvp(without, (x,), (t,))[1])(at.x0, v))
            written = pt.evals.jvp(at, v[None])[0]
    except Exception:  # a primitive that cannot be re-bound outside its own trace
        return None
    scale = directional_scale(written[None])
    found = margins(plain[None], written[None], scale, Tolerance(pt.rtol, pt.atol))
    return not bool(found.failed.any())


def inert_stops(
    points: Mapping[str, Point], notes: list[str], comparisons: list[Comparison]
) -> dict[str, bool | None]:
    """For each failing input whose function uses stop_gradient: whether the stops are
    inert there (see ``stop_gradient_inert``)."""
    failing = {c.wrt for c in comparisons if c.verdict in ("fail", "inconclusive")}
    noted = {n.partition(":")[0] for n in notes if "stop_gradient" in n}
    return {name: stop_gradient_inert(pt) for name, pt in points.items() if name in failing & noted}
