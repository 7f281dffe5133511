"""A second opinion on the failures of a low-precision function, cleared only on evidence.

A float32 function is checked against FD of its float64 version (``use_promoted_reference``),
which is far more precise. The float64 version can differ from the function as it runs:
where float32 underflows or saturates, AD of the float32 function is exactly 0 while the
float64 FD is 1e-11. Such a failure is not the rule's fault. But FD in float32 is loose
(its step is 10% of each coordinate, across every ReLU kink of a network), so "FD in
float32 agrees with AD within its error bound" is no evidence at all: it let a 1% error in
a float32 layer's custom VJP pass. A failure is cleared only where, for every failing
element, the float64 version really differs from the function as it runs:

- their FD estimates along that row disagree beyond both error bounds, or
- the disagreement is below what the function resolves: over the FD step it would move
  the function by less than one rounding unit (|Δ|·h ≤ ε·|f|), so no evaluation of the
  function as it runs could show it.

Cleared failures are then judged against FD in the function's own precision.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from adcli._check.point import Point
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import SAFETY, margins
from adcli._results.check import Comparison

if TYPE_CHECKING:
    from adcli._check.first_order import FirstOrderResult, Terms

Method = Callable[[Point, int], "FirstOrderResult"]


def second_opinion(
    pt: Point, first: FirstOrderResult, run: Method, directions: int
) -> tuple[Comparison, ...]:
    """The comparisons of ``first`` with each failure re-judged where the evidence allows."""
    own_pt = dataclasses.replace(
        pt,
        use_ref=False,
        ref_inputs=pt.inputs,
        ref_constants=pt.constants,
        eps=float(jnp.finfo(pt.dtype).eps),
    )
    own = run(own_pt, directions)
    verdicts = {c.kind: c.verdict for c in own.comparisons}
    differs = _fd_differs(first.fd, own.fd)
    floor = _resolution(pt)
    judged = []
    for c in first.comparisons:
        terms = first.terms.get(c.kind)
        if (
            c.verdict != "fail"
            or terms is None
            or verdicts.get(c.kind) not in ("pass", "inconclusive")
        ):
            judged.append(c)
            continue
        how = _evidence(pt, c.kind, terms, first, differs, floor)
        if how is None:
            judged.append(c)  # the float64 version does not differ: the failure stands
        elif verdicts[c.kind] == "pass":
            judged.append(dataclasses.replace(c, verdict="pass", reason=_cleared(pt, how)))
        else:
            note = (
                f"disagrees with FD of the float64 version, and FD in {pt.dtype} cannot "
                f"decide: the difference is below what {pt.dtype} resolves here (underflow "
                "or saturation?)"
            )
            judged.append(dataclasses.replace(c, verdict="inconclusive", reason=note))
    return tuple(judged)


def _cleared(pt: Point, how: str) -> str:
    if how == "fd":
        return (
            f"agrees with FD of the function in its own precision ({pt.dtype}); its "
            "float64 version differs here (underflow or saturation)"
        )
    return (
        f"differs from FD of its float64 version by less than {pt.dtype} resolves here "
        "(underflow or saturation): it agrees with FD of the function in its own precision"
    )


def _fd_differs(ref: fdiff.Estimate, own: fdiff.Estimate) -> np.ndarray:
    """Per FD row: the float64 version's FD and the function's own disagree beyond both
    error bounds, where both are trusted."""
    both = np.asarray(ref.trusted) & np.asarray(own.trusted)
    gap = np.abs(np.asarray(own.value) - np.asarray(ref.value))
    bound = SAFETY * (np.where(both, own.error, 0) + np.where(both, ref.error, 0))
    found: np.ndarray = (both & (gap > bound)).reshape(len(gap), -1).any(axis=1)
    return found


def _resolution(pt: Point) -> np.ndarray:
    """Per output: the smallest derivative (along a row of scaled step h) that moves the
    function as it runs by one rounding unit: ε·|f(x)|/h, with the function's own ε and
    its base FD step."""
    problem = pt.fn.problem
    value = problem.evaluate("f", problem.fn, pt.inputs, pt.constants)
    f = np.abs(np.asarray(pt.fn.out_layout.flatten(value, jnp.float64)))
    eps = float(jnp.finfo(pt.dtype).eps)
    floor: np.ndarray = eps * f / fdiff.level_step(eps, 0)
    return floor


def _evidence(
    pt: Point,
    kind: str,
    terms: Terms,
    first: FirstOrderResult,
    differs: np.ndarray,
    floor: np.ndarray,
) -> str | None:
    """``fd`` or ``resolution`` when every failing element has that evidence that the
    float64 version differs from the function as it runs (``fd`` if any needed it); None
    when some failing element has none."""
    m = margins(terms.ad, terms.reference, terms.scale, pt.tolerance)
    failed = m.failed & ~m.ad_bad
    if m.ad_bad.any() or not failed.any():
        return None
    gap = np.abs(m.ad - m.ref)
    below = gap <= _floor_of(kind, floor, first, pt, gap.shape)
    rows = np.broadcast_to(differs[:, None], gap.shape) if differs.size == gap.shape[0] else False
    if not np.all((below | rows)[failed]):
        return None
    return "resolution" if np.all(below[failed]) else "fd"


def _floor_of(
    kind: str, floor: np.ndarray, first: FirstOrderResult, pt: Point, shape: tuple[int, ...]
) -> np.ndarray:
    """The resolution floor in the units of a comparison's elements."""
    if first.directions is None:  # full: per unit of each coordinate (its step is h·sᵢ)
        s = pt.scale[pt.columns][:, None]
        return np.broadcast_to(floor[None, :] / s, shape)
    if kind == "rev" and first.cotangents is not None:  # ⟨u, ·⟩ of each cotangent
        per_cot = np.abs(first.cotangents) @ floor  # (J,)
        return np.broadcast_to(per_cot[None, :], shape)
    return np.broadcast_to(floor[None, :], shape)
