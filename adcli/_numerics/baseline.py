"""Judge a kernel against a trusted reference: errors against float64, a tolerance from a baseline.

One quantity (values, JVPs along tangents, or VJPs of cotangents) is evaluated three ways,
as float64 arrays of shape (rows, n), rows being tangents or cotangents: ``truth``, the
reference implementation in float64; the plain reference run in the kernel's own precision,
whose elementwise error |plain − truth| is the ``baseline`` given here; and ``kernel``, the
fast implementation under test.

The elements are split into tensors (an output, or one input's VJP). In each tensor the
baseline error e_B = max |plain − truth| is what a plain implementation in that precision
gets wrong, and each element i passes when

    |kernel_i − truth_i| ≤ factor · e_B + rtol · |truth_i| + atol

where the rounding floor rtol · |truth_i| is the unit roundoff of the tensor's dtype (half its
machine epsilon; or ``check.rtol``): a kernel may be off by the rounding of its exact result
to its dtype even where the plain implementation happens to be exact. docs/reference.md
explains the choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from adcli._numerics.compare import Labels, Subject
from adcli._results.check import CheckKind, Comparison, Mismatch, TensorTolerance
from adcli._results.common import Verdict

WORST_SHOWN = 5
# A failing kernel within this many units of rounding of its largest entry computes the right
# thing too imprecisely; a wrong formula is off by a sizeable fraction of the entries.
PRECISION_ROUNDINGS = 16

_WHAT = {
    CheckKind.REFERENCE_VALUE: "value",
    CheckKind.REFERENCE_JVP: "JVP",
    CheckKind.REFERENCE_VJP: "VJP",
    CheckKind.SELF_JVP: "JVP",
    CheckKind.SELF_VJP: "VJP",
}

_VJP = frozenset({CheckKind.REFERENCE_VJP, CheckKind.SELF_VJP})


@dataclass(frozen=True)
class Tensor:
    """One compared tensor: its name, its elements (columns of the arrays) and its dtype."""

    name: str
    columns: slice
    dtype: str

    @property
    def eps(self) -> float:
        """Machine epsilon of the dtype (of its real part)."""
        return float(jnp.finfo(self.dtype).eps)

    @property
    def unit(self) -> float:
        """The unit roundoff: the largest relative error of rounding a number to the dtype."""
        return self.eps / 2


@dataclass(frozen=True)
class Rule:
    """How strict: ``factor`` × the baseline plus the floor (``rtol`` None: the unit roundoff
    of each tensor's dtype), and how the baseline was measured."""

    factor: float
    rtol: float | None
    atol: float
    baseline_dtype: str
    baseline_scale: float = 1.0


@dataclass(frozen=True)
class _Judged:
    """Element by element: the errors, tolerances, margins, and what is not finite."""

    diff: np.ndarray
    tol: np.ndarray
    margin: np.ndarray
    kernel_bad: np.ndarray
    truth_bad: np.ndarray
    tolerances: tuple[TensorTolerance, ...]


@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def judge(
    about: Subject,
    kernel: np.ndarray,
    truth: np.ndarray,
    baseline: np.ndarray,
    tensors: Sequence[Tensor],
    rule: Rule,
    labels: Labels,
) -> Comparison:
    """Compare ``kernel`` with ``truth`` (shape (rows, n)) tensor by tensor, each element
    allowed ``factor`` × the tensor's largest ``baseline`` error (|plain − truth|) plus its
    rounding floor; see the module."""
    kernel, truth, baseline = (np.asarray(a, np.float64) for a in (kernel, truth, baseline))
    j = _margins(kernel, truth, baseline, tensors, rule)
    failed = j.margin > 1
    undecided = j.truth_bad & ~j.kernel_bad
    failed &= ~undecided
    verdict: Verdict = "fail" if failed.any() else ("inconclusive" if undecided.any() else "pass")
    finite = ~(j.kernel_bad | j.truth_bad)
    big = np.maximum(np.abs(kernel), np.abs(truth))
    rel = np.where(finite & (big > 0), j.diff / np.where(big > 0, big, 1.0), 0.0)
    return Comparison(
        point=about.point,
        wrt=about.wrt,
        kind=about.kind,
        method=about.method,
        verdict=verdict,
        margin=float(np.max(np.where(undecided, 0.0, j.margin), initial=0.0)),
        compared=int(kernel.size),
        failed=int(failed.sum() + undecided.sum()),
        max_abs_error=_max(np.where(finite, j.diff, 0.0)),
        max_rel_error=_max(rel),
        worst=_worst(kernel, truth, j, failed | undecided, labels),
        reason=_reason(about.kind, kernel, truth, j, labels, failed),
        diagnosis=_diagnosis(about.kind, kernel, truth, j, failed, tensors)
        if failed.any()
        else None,
        locations=_locations(j.margin, failed, labels) if about.kind in _VJP else (),
        tolerances=j.tolerances,
    )


def _margins(
    kernel: np.ndarray,
    truth: np.ndarray,
    baseline: np.ndarray,
    tensors: Sequence[Tensor],
    rule: Rule,
) -> _Judged:
    diff = np.abs(kernel - truth)
    kernel_bad, truth_bad = ~np.isfinite(kernel), ~np.isfinite(truth)
    tol = np.zeros_like(truth)
    for t in tensors:
        r = truth[:, t.columns]
        e_b = _baseline_error(baseline[:, t.columns], rule)
        rtol = t.unit if rule.rtol is None else rule.rtol
        floor = rtol * np.abs(np.where(np.isfinite(r), r, 0.0)) + rule.atol
        tol[:, t.columns] = rule.factor * e_b + floor
    positive = tol > 0
    margin = np.where(
        positive, diff / np.where(positive, tol, 1.0), np.where(diff > 0, np.inf, 0.0)
    )
    margin = np.where(kernel_bad | truth_bad, np.inf, margin)
    found = tuple(
        _tensor_tolerance(t, diff, tol, margin, (kernel_bad, truth_bad), baseline, rule)
        for t in tensors
    )
    return _Judged(diff, tol, margin, kernel_bad, truth_bad, found)


def _tensor_tolerance(
    t: Tensor,
    diff: np.ndarray,
    tol: np.ndarray,
    margin: np.ndarray,
    bad: tuple[np.ndarray, np.ndarray],
    baseline: np.ndarray,
    rule: Rule,
) -> TensorTolerance:
    """The tensor's errors and how its tolerance was set at its worst element; a kernel
    value that is not finite makes its error infinite (one the reference lacks, none)."""
    cols = t.columns
    kernel_bad, truth_bad = bad[0][:, cols], bad[1][:, cols]
    e_b = _baseline_error(baseline[:, cols], rule)
    part = np.where(np.isnan(margin[:, cols]), np.inf, margin[:, cols])
    worst = _index(np.argmax(part), part.shape) if part.size else ()
    floor = float(tol[:, cols][worst] - rule.factor * e_b) if part.size else 0.0
    return TensorTolerance(
        tensor=t.name,
        dtype=t.dtype,
        kernel_error=math.inf
        if (kernel_bad & ~truth_bad).any()
        else _max(np.where(kernel_bad | truth_bad, 0.0, diff[:, cols])),
        baseline_error=e_b,
        factor=rule.factor,
        floor=max(floor, 0.0),
        tolerance=float(tol[:, cols][worst]) if part.size else 0.0,
        set_by="baseline" if rule.factor * e_b >= floor else "floor",
        baseline_dtype=rule.baseline_dtype,
        baseline_scale=rule.baseline_scale,
    )


def _baseline_error(errors: np.ndarray, rule: Rule) -> float:
    """The tensor's largest baseline error, scaled; a plain run that overflowed (inf or NaN)
    sets no baseline there (it would excuse anything)."""
    return _max(errors[np.isfinite(errors)]) * rule.baseline_scale


def _reason(
    kind: CheckKind,
    kernel: np.ndarray,
    truth: np.ndarray,
    j: _Judged,
    labels: Labels,
    failed: np.ndarray,
) -> str | None:
    """Why a comparison fails or cannot decide: a value that is not finite, named by its
    element; otherwise each failing tensor's error against the plain implementation's."""
    what = _WHAT.get(kind, "value")
    if j.kernel_bad.any():
        idx = _index(np.argmax(j.kernel_bad), kernel.shape)
        count = int(j.kernel_bad.sum())
        more = f" (and {count - 1} more elements)" if count > 1 else ""
        return (
            f"the kernel's {what} is {kernel[idx]} at {_name(idx, labels)}{more}: a non-finite "
            "value leaks into it (from a masked or padded region?)"
        )
    if j.truth_bad.any():
        idx = _index(np.argmax(j.truth_bad), truth.shape)
        return (
            f"the reference's {what} (float64) is {truth[idx]} at {_name(idx, labels)}: it "
            "cannot judge the kernel there; make the reference finite on the sample points"
        )
    if failed.any():
        worse = [t for t in j.tolerances if t.kernel_error > t.tolerance]
        return "; ".join(
            f"{t.tensor}: error {t.kernel_error:.3g}, {t.accuracy} (allowed {t.factor:g}× "
            f"{t.baseline_error:.3g} + floor {t.floor:.2g})"
            for t in worse or j.tolerances
        )
    return None


def _diagnosis(
    kind: CheckKind,
    kernel: np.ndarray,
    truth: np.ndarray,
    j: _Judged,
    failed: np.ndarray,
    tensors: Sequence[Tensor],
) -> str | None:
    """A pattern over the failing elements: a constant ratio (scale bug, sign flip), a
    backward that ignores its cotangent, or an error of a few roundings (precision)."""
    for t, tt in zip(tensors, j.tolerances, strict=True):
        cols = t.columns
        if not failed[:, cols].any():
            continue
        ratio = _constant_ratio(kernel[:, cols], truth[:, cols], failed[:, cols], t.eps)
        if ratio is not None:
            return ratio
        if kind in _VJP and _ignores_rows(kernel[:, cols], truth[:, cols], j.tol[:, cols]):
            return (
                "the VJP does not change with the cotangent: the backward ignores its incoming "
                "gradient (an all-ones cotangent, as in grad(f(x).sum()), would not show this)"
            )
        lower = _lower_precision(tt, truth[:, cols], t)
        if lower is not None:
            return (
                f"precision: the error is that of {lower} rounding, not {t.dtype}: the kernel "
                f"computes in {lower} inside (a cast, or an accumulator in {lower}?)"
            )
        if _roundings(tt, truth[:, cols], t.eps) <= PRECISION_ROUNDINGS and tt.ratio > tt.factor:
            return (
                f"precision: several times the error of the plain {tt.baseline_dtype} "
                f"implementation, yet within a few units of {t.dtype} rounding: the right "
                f"formula computed too imprecisely (an accumulation or intermediate kept in "
                f"{t.dtype}?)"
            )
    return None


def _roundings(tt: TensorTolerance, truth: np.ndarray, eps: float) -> float:
    """The kernel's error in units of the dtype's rounding of the tensor's largest entry."""
    scale = _max(np.where(np.isfinite(truth), np.abs(truth), 0.0))
    return tt.kernel_error / (eps * scale) if scale > 0 else math.inf


def _lower_precision(tt: TensorTolerance, truth: np.ndarray, t: Tensor) -> str | None:
    """The dtype, less precise than the tensor's, whose rounding explains the kernel's error
    (the most precise one within a few of its units), if any."""
    if _roundings(tt, truth, t.eps) <= PRECISION_ROUNDINGS:
        return None
    for name in ("float32", "float16", "bfloat16"):
        eps = float(jnp.finfo(name).eps)
        if eps > t.eps and _roundings(tt, truth, eps) <= PRECISION_ROUNDINGS:
            return name
    return None


def _ignores_rows(kernel: np.ndarray, truth: np.ndarray, tol: np.ndarray) -> bool:
    """The kernel's rows (one per cotangent) are all equal while the reference's are not."""
    if kernel.shape[0] < 2 or not np.all(np.isfinite(kernel)):
        return False
    same = bool(np.all(kernel == kernel[:1]))
    return same and bool(np.any(np.abs(truth - truth[:1]) > tol))


def _constant_ratio(
    kernel: np.ndarray, truth: np.ndarray, failed: np.ndarray, eps: float
) -> str | None:
    """``the kernel = r × the reference`` over the failing elements that are not small."""
    finite = np.isfinite(kernel) & np.isfinite(truth)
    scale = _max(np.where(finite, np.abs(truth), 0.0))
    clear = failed & finite & (np.abs(truth) >= 0.1 * scale) & (scale > 0)
    if clear.sum() < 2:
        return None
    ratios = kernel[clear] / truth[clear]
    r = float(np.median(ratios))
    # Each element carries a few roundings of its dtype: a ratio constant up to those.
    spread = 8 * eps * max(abs(r), 1.0) + 1e-12
    if not np.isfinite(r) or np.max(np.abs(ratios - r)) > spread or abs(r - 1) <= 2 * spread:
        return None  # not constant, or not told apart from 1 at this precision
    if abs(r + 1) <= spread:
        return "sign flip: the kernel = −the reference"
    if abs(r) <= spread:
        return "the kernel is zero where the reference is not (a missing term?)"
    hint = _root_hint(r)
    return f"constant ratio: the kernel = {r:.4g} × the reference (a scale bug{hint})"


def _root_hint(r: float) -> str:
    """``: a missing 1/√8?`` when r (or 1/r) is the square root of an integer that r is not."""
    for value, words in ((r, "a missing 1/√{n}"), (1 / r, "an extra 1/√{n}")):
        square = value * value
        n = round(square)
        if n >= 2 and abs(square - n) <= 1e-2 * n and abs(value - round(value)) > 1e-2:
            return ": " + words.format(n=n) + "?"
    return ""


def _worst(
    kernel: np.ndarray, truth: np.ndarray, j: _Judged, shown: np.ndarray, labels: Labels
) -> tuple[Mismatch, ...]:
    """The worst shown elements (largest margin first), or the single worst when none is."""
    key = np.where(np.isfinite(j.margin), j.margin, 1e300)  # NaN/inf first
    order = np.argsort(-np.where(shown, key, -1.0) if shown.any() else -key, axis=None)
    out = []
    for flat in order[: WORST_SHOWN if shown.any() else 1]:
        idx = _index(flat, kernel.shape)
        if shown.any() and not shown[idx]:
            break
        out.append(
            Mismatch(
                input_index=labels.input(idx),
                output_index=labels.output(idx),
                ad=float(kernel[idx]),
                reference=float(truth[idx]),
                step=None,
                fd_error=None,
                tolerance=float(j.tol[idx]),
                margin=float(j.margin[idx]) if not j.truth_bad[idx] else math.nan,
            )
        )
    return tuple(out)


def _locations(margin: np.ndarray, failed: np.ndarray, labels: Labels) -> tuple[str, ...]:
    """The input elements of a failing VJP, worst first (at most 8)."""
    if not failed.any():
        return ()
    flat = np.flatnonzero(failed)
    key = np.where(np.isfinite(margin), margin, 1e300).ravel()[flat]
    names = (labels.input(_index(i, margin.shape)) for i in flat[np.argsort(-key)][:64])
    return tuple(dict.fromkeys(names))[:8]


def _name(idx: tuple[int, ...], labels: Labels) -> str:
    return f"{labels.input(idx)} → {labels.output(idx)}"


def _max(values: np.ndarray) -> float:
    """Largest entry (0 when empty), NaN counting as infinite."""
    return float(np.max(np.where(np.isnan(values), np.inf, values), initial=0.0))


def _index(flat: object, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(flat), shape))  # type: ignore[call-overload]
