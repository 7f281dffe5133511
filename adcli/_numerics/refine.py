"""Finite differences with refinement: the base level for every row, finer and coarser
levels (``adcli._numerics.finite_diff``) only for the rows whose verdict is still open."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from adcli._numerics import finite_diff as fdiff

# (rows, h, noise) -> g at fdiff.offsets(h, noise) along each row's direction: (7|9, rows, q)
Sampler = Callable[[np.ndarray, float, bool], np.ndarray]


def fd_estimate(
    sample: Sampler,
    n: int,
    eps: float,
    needs_more: Callable[[fdiff.Estimate], np.ndarray],
    max_step: float | None = None,
) -> fdiff.Estimate:
    """FD for n rows at the base level, refining only the rows ``needs_more`` names.

    Every level is sampled with the noise probe (its measured noise sets the rounding
    floor). Refining a row tries the finer and coarser levels (those within
    ``max_step``), keeping for each element the level with the smallest error bound.
    """
    h = fdiff.level_step(eps, 0, max_step)
    est = fdiff.combine(sample(np.arange(n), h, True), h, eps)
    for level in fdiff.LEVEL_ORDER[1:]:
        if not fdiff.allowed(eps, level, max_step):
            continue
        redo = np.nonzero(needs_more(est))[0]
        if redo.size == 0:
            break
        h = fdiff.level_step(eps, level, max_step)
        finer = fdiff.combine(sample(redo, h, True), h, eps, strict=level < 0)
        est = _put(est, redo, fdiff.best([est.take(redo), finer]))
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
