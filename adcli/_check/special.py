"""Special points: where a point or the function's value is not finite, no derivative is
judged.

At a sample point adcli drew (a spec), that is the spec's problem: a ``value`` comparison
fails, naming the output (an init outside the function's domain). At a point the caller
gave (``check_function``, ``assert_grads``), NaN and ±inf inputs, and values that are not
finite there, are legitimate things to call a function at (a test that NaN propagates, a
point outside the domain), but no derivative can be compared with finite differences: a
``value`` comparison is ``skipped`` with a reason that starts ``not judged:``.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from adcli._problem.build import Problem
from adcli._results.check import CheckKind, Comparison
from adcli._results.common import Verdict

NOT_JUDGED = "not judged: "


def special_point(
    problem: Problem, inputs: Any, constants: Any, point: int, *, given: bool
) -> Comparison | None:
    """A ``value`` comparison when the point or f's value there is not finite, else None."""
    if given:
        found = _not_finite({n: inputs[n] for n in problem.spec.wrt}, "")
        if found is not None:
            label, value = found
            return _value(
                point,
                "skipped",
                f"{NOT_JUDGED}the point is not finite ({label} = {value}): derivatives at "
                "NaN or ±inf are not compared with finite differences",
            )
    if given:  # a caller's point: op by op (JAX's per-primitive programs, no compile of f)
        with problem.mode.apply():
            out = problem.fn(**inputs, **constants)
    else:
        out = problem.evaluate("f", problem.fn, inputs, constants)
    found = _not_finite(out, "out")
    if found is None:
        return None
    label, value = found
    if given:
        return _value(
            point,
            "skipped",
            f"{NOT_JUDGED}f is not finite at the point ({label} = {value}): there is no "
            "derivative to compare with finite differences",
        )
    return _value(
        point,
        "fail",
        f"the function is not finite at point {point}: {label} = {value}; is the init inside "
        "its domain (e.g. init: positive for log and sqrt)?",
    )


def not_judged(comparison: Comparison) -> bool:
    """Whether ``comparison`` records a special point where nothing was judged."""
    return comparison.kind == CheckKind.VALUE and (comparison.reason or "").startswith(NOT_JUDGED)


def _value(point: int, verdict: Verdict, reason: str) -> Comparison:
    return Comparison(
        point=point, wrt="-", kind=CheckKind.VALUE, method="-", verdict=verdict, reason=reason
    )


def _not_finite(tree: Any, root: str) -> tuple[str, Any] | None:
    """The first non-finite entry of a pytree of arrays: (``out[1][2, 0]``, its value)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        values = np.asarray(leaf)
        if not np.issubdtype(values.dtype, np.inexact) or np.all(np.isfinite(values)):
            continue
        where = tuple(np.argwhere(~np.isfinite(values))[0]) if values.ndim else ()
        index = f"[{', '.join(str(int(i)) for i in where)}]" if where else ""
        label = (root + jax.tree_util.keystr(path) + index).strip()
        if label.startswith("['") and not root:  # a named input: x[...] rather than ['x']
            label = label[2:].replace("']", "", 1)
        return label, values[where] if where else values
    return None
