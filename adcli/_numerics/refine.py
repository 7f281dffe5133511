"""Finite differences with refinement: the screening stencil (``adcli._numerics.screen``)
for every row, the base level (``adcli._numerics.finite_diff``) for the rows the screen
does not decide, and finer and coarser levels only for the rows whose verdict is still
open."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from adcli._numerics import finite_diff as fdiff
from adcli._numerics.screen import SCREEN_MIN_ROWS, SCREEN_SHARE, as_level, screen, screen_step

# (rows, h, stencil) -> g along each row's direction at the stencil's offsets times h:
# "level": fdiff.OFFSETS (9, rows, q); "screen": screen.SCREEN_OFFSETS, then t = 0 (5, rows, q)
Sampler = Callable[[np.ndarray, float, fdiff.Stencil], np.ndarray]
Rows = Callable[[fdiff.Estimate], np.ndarray]


def fd_estimate(
    sample: Sampler,
    n: int,
    eps: float,
    needs_more: Rows,
    max_step: float | None = None,
    decided: Rows | None = None,
) -> fdiff.Estimate:
    """FD for n rows, refining only the rows ``needs_more`` names.

    With ``decided`` (the rows a screened estimate decides, e.g. ``screen_decided``) and
    at least ``SCREEN_MIN_ROWS`` rows (the screen's noise estimate pools them), every row
    is screened first (four evaluations per row, ``adcli._numerics.screen``) and only
    the others go on to the base level (four more evaluations per row). Every level is
    sampled with the noise probe (its measured noise sets the rounding floor). Refining a
    row tries the finer and coarser levels (those within ``max_step``), keeping for each
    element the level with the smallest error bound.
    """
    h = fdiff.level_step(eps, 0, max_step)
    if decided is None or n < SCREEN_MIN_ROWS:
        est = fdiff.combine(sample(np.arange(n), h, "level"), h, eps)
    else:
        est = _screened(sample, n, eps, needs_more, max_step, decided)
    for level in fdiff.LEVEL_ORDER[1:]:
        if not fdiff.allowed(eps, level, max_step):
            continue
        redo = np.nonzero(needs_more(est))[0]
        if redo.size == 0:
            break
        h = fdiff.level_step(eps, level, max_step)
        finer = fdiff.combine(sample(redo, h, "level"), h, eps, strict=level < 0)
        est = _put(est, redo, fdiff.best([est.take(redo), finer]))
    return est


def _screened(
    sample: Sampler, n: int, eps: float, needs_more: Rows, max_step: float | None, decided: Rows
) -> fdiff.Estimate:
    """Screen every row; the base level for the rows the screen leaves open (its samples
    are five of that level's nine), and for any screened row that ``needs_more`` names
    once the others' values are in (block scales are RMS over rows: they move a little)."""
    h = screen_step(eps, max_step)
    values = sample(np.arange(n), h, "screen")
    est = screen(values, h, eps)
    full = ~decided(est)

    def level(rows: np.ndarray) -> fdiff.Estimate:
        return fdiff.combine(as_level(values[:, rows], sample(rows, h, "rest")), h, eps)

    if full.any():
        rows = np.flatnonzero(full)
        est = _put(est, rows, level(rows))
        late = np.flatnonzero(~full & needs_more(est))
        if late.size:
            est = _put(est, late, level(late))
    return est


def _put(est: fdiff.Estimate, rows: np.ndarray, new: fdiff.Estimate) -> fdiff.Estimate:
    """``est`` with ``rows`` replaced by ``new`` (a field either lacks stays None)."""
    parts: list[np.ndarray | None] = []
    for f in dataclasses.fields(est):
        old, value = getattr(est, f.name), getattr(new, f.name)
        if old is None or value is None:
            parts.append(None)
            continue
        part = np.array(old, copy=True)
        part[rows] = value
        parts.append(part)
    return fdiff.Estimate(*parts)  # type: ignore[arg-type]


def failing_rows(
    est: fdiff.Estimate, candidates: list[np.ndarray], scale: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """Rows with an untrusted element, or where some AD candidate is outside tolerance."""
    base = rtol * (np.abs(est.value) + scale) + atol
    error = np.where(est.trusted, est.error, 0)
    # Untrusted, or too vague to tell a 5% error: a finer or coarser step may do better.
    # So may an error bound that dominates the tolerance (a ReLU network's row crossing
    # kinks inside the stencil): left alone it would widen the tolerance by its own size,
    # and a 1% error in a rule could hide behind a 1% error bar.
    bad = ~est.trusted | vague(est, scale) | (2.0 * error > base)
    tol = 2.0 * error + base
    for ad in candidates:
        bad = bad | (np.abs(ad - est.value) > tol) | ~np.isfinite(ad)
    rows: np.ndarray = bad.reshape(bad.shape[0], -1).any(axis=1)
    return rows


def screen_decided(
    est: fdiff.Estimate, candidates: list[np.ndarray], scale: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """Rows a screened estimate decides: none of ``failing_rows``' reasons to refine, and
    every element's error bound within ``tight``'s share of its base tolerance."""
    base = rtol * (np.abs(est.value) + scale) + atol
    ok: np.ndarray = ~failing_rows(est, candidates, scale, rtol, atol) & tight(est, base)
    return ok


def tight(est: fdiff.Estimate, base: np.ndarray) -> np.ndarray:
    """Rows whose every element is trusted with 2·error ≤ SCREEN_SHARE · ``base`` (the
    tolerance without the FD error bound, broadcastable to the estimate)."""
    good = np.asarray(est.trusted & (2.0 * est.error <= SCREEN_SHARE * base))
    rows: np.ndarray = np.asarray(good.reshape(good.shape[0], -1).all(axis=1))
    return rows


def vague(est: fdiff.Estimate, scale: np.ndarray | float) -> np.ndarray:
    """Trusted elements whose error bound is too wide to see a 5% error: above 5% of the
    value, its block's scale and the function's magnitude (``Estimate.magnitude``) together.
    A zero derivative resolved to a small fraction of that magnitude is not vague."""
    error = np.where(est.trusted, est.error, 0.0)
    size = np.abs(np.where(np.isfinite(est.value), est.value, 0.0)) + scale
    if est.magnitude is not None:
        size = size + np.where(np.isfinite(est.magnitude), est.magnitude, 0.0)
    found: np.ndarray = est.trusted & (2.0 * error > 0.05 * size)
    return found
