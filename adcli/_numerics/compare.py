"""Compare derivative values against a reference, element by element, and give a verdict.

A tolerance means the same thing everywhere: for each element,

    tol = SAFETY · (FD error bound) + rtol · (|reference| + block scale) + atol

where the block scale is the RMS of the element's neighbours (the other outputs of the
same directional derivative, or the magnitude of the terms of a dot product), so values
that are small by cancellation are judged on the scale they were computed at. ``rtol``
defaults to the rounding allowance of the dtype the derivative was computed in
(``DEFAULT_RTOL``) and is replaced by the spec's ``check.rtol`` when given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adcli._results.check import CheckKind, Comparison, Mismatch
from adcli._results.common import Verdict

SAFETY = 2.0
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


# NaN/inf in AD or FD values are verdicts here (fail, untrusted), not warnings.
@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def compare(
    *,
    point: int,
    wrt: str,
    kind: CheckKind,
    method: str,
    ad: np.ndarray,
    reference: np.ndarray,
    scale: np.ndarray | float,
    rtol: float,
    atol: float,
    fd_error: np.ndarray | None = None,
    trusted: np.ndarray | None = None,
    step: np.ndarray | None = None,
    slope_jump: np.ndarray | None = None,
    name_in: Callable[[tuple[int, ...]], str],
    name_out: Callable[[tuple[int, ...]], str],
) -> Comparison:
    """Compare ``ad`` with ``reference`` (same shape) and summarise into a Comparison.

    ``fd_error``/``trusted``/``step`` describe an FD reference (None for AD-vs-AD checks).
    ``name_in``/``name_out`` turn an element's multi-index into readable input/output names.
    """
    ad = np.asarray(ad, np.float64)
    ref = np.asarray(reference, np.float64)
    error = np.zeros_like(ref) if fd_error is None else np.asarray(fd_error, np.float64)
    ok_fd = np.ones(ref.shape, bool) if trusted is None else np.asarray(trusted, bool)
    base_tol = rtol * (np.abs(np.where(np.isfinite(ref), ref, 0.0)) + scale) + atol
    tol = SAFETY * np.where(ok_fd, error, 0.0) + base_tol
    diff = np.abs(ad - ref)
    margin = np.where(tol > 0, diff / np.where(tol > 0, tol, 1.0), np.where(diff > 0, np.inf, 0.0))
    # AD not finite fails; so does a non-finite AD reference (AD-vs-AD checks).
    ad_bad = ~np.isfinite(ad) | (~np.isfinite(ref) if fd_error is None else False)
    margin = np.where(ad_bad, np.inf, margin)
    # FD too uncertain to tell a 5% error: agreement within its error bar proves nothing.
    vague = ok_fd & (SAFETY * np.where(ok_fd, error, 0.0) > 0.05 * (np.abs(ref) + scale))
    failed = ok_fd & (margin > 1)
    undecided = ~ad_bad & ((~ok_fd & ~(margin <= 1)) | (vague & ~failed & (diff > base_tol)))
    failed |= ad_bad
    n_compared = int(ad.size)
    reason = None
    verdict: Verdict = "pass"
    if failed.any():
        verdict = "fail"
        if ad_bad.any():
            idx = _index(np.argmax(ad_bad), ad.shape)
            which = "AD" if not np.isfinite(ad[idx]) else "the AD value compared against"
            value = ad[idx] if not np.isfinite(ad[idx]) else ref[idx]
            reason = f"{which} gave {value} at {name_in(idx)} → {name_out(idx)}"
    elif undecided.any():
        verdict = "inconclusive"
        idx = _index(np.argmax(undecided), ad.shape)
        if ok_fd[idx]:
            reason = (
                f"FD cannot decide at {name_in(idx)}: its error bound {error[idx]:.2g} is "
                f"above 5% of the value (the function is too noisy here for FD)"
            )
        else:
            reason = _undecided_reason(ref, slope_jump, idx, name_in(idx), step)
    shown = failed | undecided
    order = np.argsort(
        -np.where(shown, np.where(np.isfinite(margin), margin, 1e300), -1), axis=None
    )
    worst = []
    for flat in order[: WORST_SHOWN if shown.any() else 1]:
        idx = _index(flat, ad.shape)
        if shown.any() and not shown[idx]:
            break
        worst.append(
            Mismatch(
                input_index=name_in(idx),
                output_index=name_out(idx),
                ad=float(ad[idx]),
                reference=float(ref[idx]),
                step=None if step is None else float(np.broadcast_to(step, ref.shape)[idx]),
                fd_error=None if fd_error is None else float(error[idx]),
                tolerance=float(tol[idx]),
                margin=float(margin[idx]) if ok_fd[idx] else float("nan"),
            )
        )
    decided = np.where(ok_fd | ad_bad, margin, 0.0)
    big = np.maximum(np.abs(ref), np.abs(ad))
    rel = np.where(big > 0, diff / np.where(big > 0, big, 1.0), 0.0)
    locations: tuple[str, ...] = ()
    if method == "full" and failed.any():  # element by element: the inputs that are wrong
        flat = np.flatnonzero(failed)
        order_failed = flat[np.argsort(-np.where(np.isfinite(margin), margin, 1e300).ravel()[flat])]
        names = (name_in(_index(i, ad.shape)) for i in order_failed[:64])
        locations = tuple(dict.fromkeys(names))[:8]
    return Comparison(
        point=point,
        wrt=wrt,
        kind=kind,
        method=method,
        verdict=verdict,
        locations=locations,
        margin=float(np.max(decided)) if decided.size else 0.0,
        compared=n_compared,
        failed=int(failed.sum() + undecided.sum()),
        max_abs_error=_max(np.where(ok_fd, diff, 0.0)),
        max_rel_error=_max(np.where(ok_fd, rel, 0.0)),
        step=None if step is None or np.size(step) == 0 else float(np.min(step)),
        worst=tuple(worst),
        reason=reason,
        diagnosis=ratio_pattern(
            ad[failed & ~ad_bad], ref[failed & ~ad_bad], tol[failed & ~ad_bad], kind.labels
        ),
    )


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
    """Recognise AD = r × FD (a scale bug) or AD = −FD (a sign flip) over failing elements."""
    clear = np.abs(ref) > 10 * tol
    if clear.sum() < 2:
        return None
    ratios = ad[clear] / ref[clear]
    r = float(np.median(ratios))
    if not np.isfinite(r) or np.max(np.abs(ratios - r)) > 1e-3 * max(abs(r), 1e-12) * 0.1:
        return None
    a, b = labels
    if abs(r + 1) < 1e-4:
        return f"sign flip: {a} = −{b}"
    if abs(r) < 1e-12:
        return f"{a} is zero where {b} is not (a missing term or stop_gradient?)"
    # Enough digits that a ratio close to 1 does not print as "1".
    digits = max(3, int(np.ceil(-np.log10(abs(r - 1)))) + 2) if r != 1 else 3
    return f"constant ratio: {a} = {r:.{digits}g} × {b} (a scale bug)"
