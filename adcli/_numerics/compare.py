"""Compare derivative values against a reference, element by element, and give a verdict.

A tolerance means the same thing everywhere: for each element,

    tol = SAFETY · (FD error bound) + rtol · (|reference| + block scale) + atol
          + ROUNDING_ULPS · ε · (the comparison's RMS)

where the block scale is the RMS of the element's neighbours (the other outputs of the
same directional derivative, or the magnitude of the terms of a dot product), so values
that are small by cancellation are judged on the scale they were computed at. ``rtol``
defaults to the rounding allowance of the dtype the derivative was computed in
(``DEFAULT_RTOL``) and is replaced by the spec's ``check.rtol`` when given. The last term
is the derivative's own rounding: ε of the dtype it is computed in (``Tolerance.eps``)
times the RMS of every reference value compared, so an identically-zero block beside
others (the imaginary part of a real eigenvalue) is held to the rounding of the whole
derivative, not to exactly zero. Where one comparison holds rows of different kinds
(``method: directions``: random directions, directions along the gradient, single
coordinates far smaller), each element's rounding is relative to its own block scale
instead (``Tolerance.rounding_scale``), so a coordinate is not judged on the rounding of
a gradient-sized row.

An element FD agrees with is still *undecided* when FD's error bound is too wide to
see a 5% error: above 5% of |reference| + block scale + the function's magnitude per unit
step (``Estimate.magnitude``), so a zero derivative that FD resolves to a small fraction of
the function's size (tanh″(0), cos′(π), erf′(10)) is decided, and passes when AD agrees.

At a kink exactly at the point (no FD level trusted, the one-sided derivatives differ) an
element is undecided; with the ``subgradient`` policy it passes when AD lies between the
one-sided derivatives (within tolerance and their error): a subgradient, which is what
JAX's rules for relu, abs and max choose there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from adcli._numerics.finite_diff import Estimate
from adcli._numerics.refine import vague
from adcli._results.check import CheckKind, Comparison, Mismatch
from adcli._results.common import Verdict

SAFETY = 2.0
ROUNDING_ULPS = 16.0
DEFAULT_RTOL = {
    "float64": 1e-8,
    "complex128": 1e-8,
    "float32": 2e-4,
    "complex64": 2e-4,
    "float16": 2e-2,
    "bfloat16": 1e-1,
}
WORST_SHOWN = 5


def default_rtol(dtype_name: str) -> float:
    return DEFAULT_RTOL.get(dtype_name, 1e-8)


def block_rms(values: np.ndarray, axis: int | None = -1) -> np.ndarray:
    """RMS of the finite entries along ``axis`` (kept as a broadcastable dimension)."""
    finite = np.where(np.isfinite(values), values, 0.0)
    if axis is None:
        return np.asarray(np.sqrt(np.mean(finite**2)) if finite.size else 0.0)
    rms: np.ndarray = np.sqrt(np.mean(finite**2, axis=axis, keepdims=True))
    return rms


def directional_scale(values: np.ndarray) -> np.ndarray:
    """Scale of directional derivatives (rows = directions): the RMS of each row, but never
    below the RMS of all rows, so a direction that happens to be nearly orthogonal to
    the gradient is judged on the scale of the others."""
    scale: np.ndarray = np.maximum(block_rms(values, axis=-1), block_rms(values, axis=None))
    return scale


Namer = Callable[[tuple[int, ...]], str]


@dataclass(frozen=True)
class Subject:
    """What a comparison is about: the sample point, the input, what is compared, how."""

    point: int
    wrt: str
    kind: CheckKind
    method: str

    def __post_init__(self) -> None:
        # A kind given by its string ("fwd") becomes the CheckKind it names.
        object.__setattr__(self, "kind", CheckKind(self.kind))


@dataclass(frozen=True)
class Tolerance:
    """The rounding allowance (``rtol``, relative to the value and its block scale), the
    absolute floor (``atol``), the machine epsilon of the dtype the derivative is computed
    in (``eps``: 0 adds no rounding term) and what a kink at the point does (``kinks``:
    ``inconclusive`` or ``subgradient``). ``rounding_scale``: what the rounding term is
    relative to — the RMS of the whole comparison (one Jacobian, element by element), or
    each element's own block scale (rows of different kinds judged side by side: random
    directions, directions along the gradient, single coordinates 10⁵× smaller)."""

    rtol: float
    atol: float = 0.0
    eps: float = 0.0
    kinks: str = "inconclusive"
    rounding_scale: Literal["comparison", "element"] = "comparison"


@dataclass(frozen=True)
class Labels:
    """Readable names for a compared element's multi-index: its input side (a coordinate
    such as ``x[3]``, or a direction ``x·v2``) and its output side."""

    input: Namer
    output: Namer


@dataclass(frozen=True)
class Margins:
    """Element by element: AD against the reference, in units of the tolerance."""

    ad: np.ndarray
    ref: np.ndarray
    error: np.ndarray  # the FD error bound (0 against an AD reference)
    trusted: np.ndarray  # where the reference can decide (always, against AD)
    tol: np.ndarray
    base_tol: np.ndarray  # the tolerance without the FD error bound
    diff: np.ndarray
    margin: np.ndarray
    ad_bad: np.ndarray  # AD (or an AD reference) not finite
    failed: np.ndarray  # ad_bad included
    undecided: np.ndarray
    subgradient: np.ndarray  # kinks at the point passed by the subgradient policy

    @property
    def shown(self) -> np.ndarray:
        """The elements a report lists: failed or undecided."""
        shown: np.ndarray = self.failed | self.undecided
        return shown


# NaN/inf in AD or FD values are verdicts here (fail, untrusted), not warnings.
@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def margins(
    ad: np.ndarray,
    reference: np.ndarray | Estimate,
    scale: np.ndarray | float,
    tolerance: Tolerance,
) -> Margins:
    """Each element's margin |AD − reference| ÷ tolerance and what it decides.

    ``reference`` is an FD ``Estimate`` (its error bound widens the tolerance; where it is
    untrusted it cannot decide) or an array of AD values (an AD-vs-AD identity).
    """
    fd = reference if isinstance(reference, Estimate) else None
    ad = np.asarray(ad, np.float64)
    ref = np.asarray(reference if fd is None else fd.value, np.float64)
    error = np.zeros_like(ref) if fd is None else np.asarray(fd.error, np.float64)
    ok_fd = np.ones(ref.shape, bool) if fd is None else np.asarray(fd.trusted, bool)
    rtol, atol = tolerance.rtol, tolerance.atol
    finite_ref = np.where(np.isfinite(ref) & ok_fd, ref, 0.0)
    if tolerance.rounding_scale == "element":
        own = np.broadcast_to(np.asarray(scale, np.float64), ref.shape)
        rounding: np.ndarray | float = (
            ROUNDING_ULPS * tolerance.eps * np.where(np.isfinite(own), own, 0.0)
        )
    else:
        whole = block_rms(finite_ref, None) if ref.size else 0.0
        rounding = ROUNDING_ULPS * tolerance.eps * whole
    base_tol = rtol * (np.abs(np.where(np.isfinite(ref), ref, 0.0)) + scale) + atol + rounding
    tol = SAFETY * np.where(ok_fd, error, 0.0) + base_tol
    diff = np.abs(ad - ref)
    margin = np.where(tol > 0, diff / np.where(tol > 0, tol, 1.0), np.where(diff > 0, np.inf, 0.0))
    # AD not finite fails; so does a non-finite AD reference (AD-vs-AD checks).
    ad_bad = ~np.isfinite(ad) | (~np.isfinite(ref) if fd is None else False)
    margin = np.where(ad_bad, np.inf, margin)
    # FD too uncertain to tell a 5% error: agreement within its error bar proves nothing.
    unclear = np.zeros(ref.shape, bool) if fd is None else vague(fd, scale)
    failed = ok_fd & (margin > 1)
    undecided = ~ad_bad & ((~ok_fd & ~(margin <= 1)) | (unclear & ~failed & (diff > base_tol)))
    accepted = np.zeros(ref.shape, bool)
    if fd is not None and tolerance.kinks == "subgradient":
        accepted = undecided & ~ok_fd & subgradient(ad, fd, base_tol)
        undecided &= ~accepted
    failed |= ad_bad
    return Margins(
        ad, ref, error, ok_fd, tol, base_tol, diff, margin, ad_bad, failed, undecided, accepted
    )


@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def compare(
    about: Subject,
    ad: np.ndarray,
    reference: np.ndarray | Estimate,
    scale: np.ndarray | float,
    tolerance: Tolerance,
    labels: Labels,
) -> Comparison:
    """Compare ``ad`` with ``reference`` (same shape) and summarise into a Comparison.

    ``reference`` is an FD ``Estimate`` or AD values (see ``margins``); ``scale`` is the
    block scale of each element (broadcast against it).
    """
    m = margins(ad, reference, scale, tolerance)
    fd = reference if isinstance(reference, Estimate) else None
    verdict, reason = _verdict(m, labels, fd)
    decided = np.where(m.trusted | m.ad_bad, m.margin, 0.0)
    big = np.maximum(np.abs(m.ref), np.abs(m.ad))
    rel = np.where(big > 0, m.diff / np.where(big > 0, big, 1.0), 0.0)
    clear = m.failed & ~m.ad_bad
    return Comparison(
        point=about.point,
        wrt=about.wrt,
        kind=about.kind,
        method=about.method,
        verdict=verdict,
        locations=_locations(m, labels) if about.method == "full" else (),
        margin=float(np.max(decided)) if decided.size else 0.0,
        compared=int(m.ad.size),
        failed=int(m.failed.sum() + m.undecided.sum()),
        max_abs_error=_max(np.where(m.trusted, m.diff, 0.0)),
        max_rel_error=_max(np.where(m.trusted, rel, 0.0)),
        step=None if fd is None or np.size(fd.step) == 0 else float(np.min(fd.step)),
        worst=_mismatches(m, labels, fd),
        reason=reason,
        diagnosis=ratio_pattern(m.ad[clear], m.ref[clear], m.tol[clear], about.kind.labels),
    )


def skipped(about: Subject, reason: str) -> Comparison:
    """A comparison that could not be made (a mode that cannot trace, a missing rule)."""
    return Comparison(
        point=about.point,
        wrt=about.wrt,
        kind=about.kind,
        method=about.method,
        verdict="skipped",
        reason=reason,
    )


def _verdict(m: Margins, labels: Labels, fd: Estimate | None) -> tuple[Verdict, str | None]:
    """fail (with the reason when AD is not finite), inconclusive (with why FD cannot
    decide), or pass."""
    if m.failed.any():
        if not m.ad_bad.any():
            return "fail", None
        idx = _index(np.argmax(m.ad_bad), m.ad.shape)
        which = "AD" if not np.isfinite(m.ad[idx]) else "the AD value compared against"
        value = m.ad[idx] if not np.isfinite(m.ad[idx]) else m.ref[idx]
        return "fail", f"{which} gave {value} at {labels.input(idx)} → {labels.output(idx)}"
    if not m.undecided.any():
        if m.subgradient.any() and fd is not None and fd.left is not None:
            assert fd.right is not None
            idx = _index(np.argmax(m.subgradient), m.ad.shape)
            return "pass", (
                f"a kink at {labels.input(idx)}: AD ({m.ad[idx]:.6g}) lies between the "
                f"one-sided derivatives ({fd.left[idx]:.6g}, {fd.right[idx]:.6g}), a "
                "subgradient (passed by the subgradient policy)"
            )
        return "pass", None
    idx = _index(np.argmax(m.undecided), m.ad.shape)
    if m.trusted[idx]:
        return "inconclusive", (
            f"FD cannot decide at {labels.input(idx)}: its error bound {m.error[idx]:.2g} is "
            f"above 5% of the value (the function is too noisy here for FD)"
        )
    jump = None if fd is None else fd.slope_jump
    step = None if fd is None else fd.step
    return "inconclusive", _undecided_reason(m.ref, jump, idx, labels.input(idx), step)


def _mismatches(m: Margins, labels: Labels, fd: Estimate | None) -> tuple[Mismatch, ...]:
    """The worst shown elements (largest margin first, at most WORST_SHOWN), or the one
    element with the largest margin when none is shown."""
    shown = m.shown
    finite = np.where(np.isfinite(m.margin), m.margin, 1e300)
    # The shown elements by margin; when none is shown, the one with the largest margin.
    order = np.argsort(-np.where(shown, finite, -1) if shown.any() else -finite, axis=None)
    worst = []
    for flat in order[: WORST_SHOWN if shown.any() else 1]:
        idx = _index(flat, m.ad.shape)
        if shown.any() and not shown[idx]:
            break
        worst.append(
            Mismatch(
                input_index=labels.input(idx),
                output_index=labels.output(idx),
                ad=float(m.ad[idx]),
                reference=float(m.ref[idx]),
                step=None if fd is None else float(np.broadcast_to(fd.step, m.ref.shape)[idx]),
                fd_error=None if fd is None else float(m.error[idx]),
                tolerance=float(m.tol[idx]),
                margin=float(m.margin[idx]) if m.trusted[idx] else float("nan"),
            )
        )
    return tuple(worst)


def _locations(m: Margins, labels: Labels) -> tuple[str, ...]:
    """Element by element (the ``full`` method): the inputs that are wrong, worst first."""
    if not m.failed.any():
        return ()
    flat = np.flatnonzero(m.failed)
    order = flat[np.argsort(-np.where(np.isfinite(m.margin), m.margin, 1e300).ravel()[flat])]
    names = (labels.input(_index(i, m.ad.shape)) for i in order[:64])
    return tuple(dict.fromkeys(names))[:8]


def _max(values: np.ndarray) -> float:
    """Largest entry, with NaN (an AD value that is not a number) counting as infinite."""
    return float(np.max(np.where(np.isnan(values), np.inf, values), initial=0.0))


def _index(flat: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The multi-index of flat position ``flat`` in ``shape``, as plain ints."""
    return tuple(int(i) for i in np.unravel_index(int(flat), shape))


def _undecided_reason(
    ref: np.ndarray,
    slope_jump: np.ndarray | None,
    idx: tuple[int, ...],
    where: str,
    step: np.ndarray | None,
) -> str:
    if not np.isfinite(ref[idx]):
        return (
            f"FD cannot decide at {where}: the function is not finite near the point "
            "(a step leaves its domain?)"
        )
    if slope_jump is not None and np.isfinite(slope_jump[idx]) and slope_jump[idx] > 0:
        h = "" if step is None else f" within {float(np.min(step)) / 4:.1e}"
        return (
            f"FD cannot decide at {where}: left and right slopes differ by "
            f"{float(slope_jump[idx]):.3g} (a kink{h} of the point?) or the function is noisy"
        )
    return f"FD cannot decide at {where}: its estimates do not converge as the step shrinks"


@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def ratio_pattern(
    ad: np.ndarray, ref: np.ndarray, tol: np.ndarray, labels: tuple[str, str] = ("AD", "FD")
) -> str | None:
    """Recognise AD = r × FD (a scale bug) or AD = −FD (a sign flip) over failing elements.

    The ratios must agree to 1e-4, or AD must equal r × FD within each element's own
    tolerance (low-precision AD values scatter about r by their rounding): at 9 of 10
    elements, and within 3 tolerances at every one."""
    clear = np.abs(ref) > 10 * tol
    if clear.sum() < 2:
        return None
    ratios = ad[clear] / ref[clear]
    r = float(np.median(ratios))
    if not np.isfinite(r):
        return None
    close = np.max(np.abs(ratios - r)) <= 1e-3 * max(abs(r), 1e-12) * 0.1
    off = np.abs(ad[clear] - r * ref[clear]) / tol[clear]
    if not (close or (np.mean(off <= 1) >= 0.9 and np.all(off <= 3))):
        return None
    a, b = labels
    if abs(r + 1) < 1e-4:
        return f"sign flip: {a} = −{b}"
    if abs(r) < 1e-12:
        return f"{a} is zero where {b} is not (a missing term or stop_gradient?)"
    # Enough digits that a ratio close to 1 does not print as "1".
    digits = max(3, int(np.ceil(-np.log10(abs(r - 1)))) + 2) if r != 1 else 3
    return f"constant ratio: {a} = {r:.{digits}g} × {b} (a scale bug)"


@np.errstate(invalid="ignore")
def subgradient(ad: np.ndarray, fd: Estimate, tol: np.ndarray) -> np.ndarray:
    """Elements at a kink exactly at the point (untrusted at every level, one-sided
    derivatives that differ) where AD lies between the left and right derivatives, within
    ``tol`` and twice their error bound: a subgradient."""
    if fd.left is None or fd.right is None or fd.side_error is None:
        return np.zeros(np.shape(ad), bool)
    low, high = np.minimum(fd.left, fd.right), np.maximum(fd.left, fd.right)
    slack = tol + SAFETY * fd.side_error
    kink = ~np.asarray(fd.trusted, bool) & np.isfinite(low) & np.isfinite(high)
    found: np.ndarray = kink & (ad >= low - slack) & (ad <= high + slack)
    return found
