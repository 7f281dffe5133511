"""A third opinion for low-precision functions: the derivative's own rounding, measured.

The float64 reference makes FD far more precise than AD in float32, so AD's rounding
becomes the error that decides. Usually rtol covers it; not where the derivative is small
by cancellation of larger terms: the gradient of a float32 determinant near singularity
(1e-9, from 2×2 minors of entries of size 1, rounded to ~1e-8) or tanh′ = 1 − tanh² at
a large argument. FD in float32 (the second opinion) cannot settle those either when the
function's own rounding is a smooth bias.

Where f has no custom derivative rule, the float64 reference is differentiated by the
very rules f uses, in float64: |AD₃₂ − AD₆₄| is then exactly AD's rounding in float32 (a
wrong rule is equally wrong in both, so this does not hide it). A failing first-order
comparison is judged again with twice that added to its tolerance, element by element;
one that passes says so. With a custom rule (``jax.custom_jvp``/``custom_vjp``) the
reference differentiates the function's math instead of the rule, and nothing is re-judged.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from adcli._check.point import Point, coordinate_labels
from adcli._numerics.compare import block_rms, compare
from adcli._problem.jaxpr import equations
from adcli._results.check import Comparison

if TYPE_CHECKING:
    from adcli._check.first_order import FirstOrderResult

CUSTOM = frozenset({"custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr", "custom_lin"})


def applies(pt: Point, comparisons: tuple[Comparison, ...]) -> bool:
    """A low-precision function with a float64 reference, a failing fwd/rev comparison, a
    positive rtol, and no custom rule anywhere in it."""
    if not (pt.fn.promoted and pt.dtype != "float64" and pt.rtol > 0):
        return False
    if not any(c.verdict == "fail" and c.kind in ("fwd", "rev") for c in comparisons):
        return False
    names = {eqn.primitive.name for eqn in equations(pt.fn.jaxpr(pt.at).jaxpr)}
    return not names & CUSTOM


def rounding_opinion(pt: Point, result: FirstOrderResult) -> tuple[Comparison, ...]:
    """The comparisons, with failing fwd/rev ones re-judged within AD's measured rounding."""
    out = []
    for comp in result.comparisons:
        if comp.verdict != "fail" or comp.kind not in ("fwd", "rev"):
            out.append(comp)
            continue
        again = _full(pt, result, comp) if pt.method == "full" else _directions(pt, result, comp)
        out.append(again if again is not None and again.verdict == "pass" else comp)
    return tuple(out)


def _passed(comp: Comparison, allowance: np.ndarray, dtype: str) -> Comparison:
    note = (
        f"agrees with FD within AD's own rounding in {dtype}, measured against the same "
        f"rules in float64 (up to {float(np.max(allowance, initial=0.0)):.2g})"
    )
    return dataclasses.replace(comp, reason=note)


def _full(pt: Point, result: FirstOrderResult, comp: Comparison) -> Comparison | None:
    """Element by element: the Jacobian against FD, with 2·|J₃₂ − J₆₄| more tolerance."""
    mode = str(comp.kind)
    jac = result.jacobians.get(mode)
    if jac is None:
        return None
    cols, s = pt.columns, pt.scale[pt.columns][:, None]
    if mode == "fwd":
        ref = pt.evals.jacobian_fwd(pt.ref_at, cols, ref=True).T * s
    else:
        ref = pt.evals.jacobian_rev(pt.ref_at, ref=True)[:, cols].T * s
    allowance = 2 * np.abs(jac - ref) / s
    est = result.fd
    block = block_rms(est.value, axis=0) / s + allowance / pt.rtol
    labels = coordinate_labels(pt, cols)
    again = compare(pt.about(mode), jac / s, est.per_unit(s), block, pt.tolerance, labels)
    return _passed(again, allowance, pt.dtype) if again.verdict == "pass" else again


def _directions(pt: Point, result: FirstOrderResult, comp: Comparison) -> Comparison | None:
    """Along the directions: JVPs (or ⟨Jᵀu, v⟩) with 2·|AD₃₂ − AD₆₄| more tolerance."""
    from adcli._check.first_order import fwd_terms, rev_terms

    dirs, cots, rows = result.directions, result.cotangents, result.rows
    if dirs is None or cots is None or rows is None:
        return None
    if comp.kind == "fwd" and result.jvps is not None:
        allowance = 2 * np.abs(result.jvps - pt.evals.jvp(pt.ref_at, dirs, ref=True))
        terms = fwd_terms(pt, rows, dirs, result.jvps, cots, result.fd, allowance)
    elif comp.kind == "rev" and result.vjps is not None:
        diff = (result.vjps - pt.evals.vjp(pt.ref_at, cots, ref=True)) @ dirs.T
        allowance = 2 * np.abs(diff).T
        terms = rev_terms(pt, rows, dirs, result.vjps, cots, result.fd, allowance)
    else:
        return None
    about = pt.about(comp.kind)
    again = compare(about, terms.ad, terms.reference, terms.scale, pt.tolerance, terms.labels)
    return _passed(again, allowance, pt.dtype) if again.verdict == "pass" else again
