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
) -> fdiff.Estimate:
    """FD for n rows at the base level, refining only the rows ``needs_more`` names.

    Refining a row first redoes the base level with the noise probe (its estimate then
    replaces the first, whose rounding floor was only modelled), then tries the finer and
    coarser levels, keeping for each element the level with the smallest error bound.
    """
    h = fdiff.level_step(eps, 0)
    est = fdiff.combine(sample(np.arange(n), h, False), h, eps)
    redo = np.nonzero(needs_more(est))[0]
    if redo.size == 0:
        return est
    est = _put(est, redo, fdiff.combine(sample(redo, h, True), h, eps))
    for level in fdiff.LEVEL_ORDER[1:]:
        redo = np.nonzero(needs_more(est))[0]
        if redo.size == 0:
            break
        h = fdiff.level_step(eps, level)
        finer = fdiff.combine(sample(redo, h, True), h, eps, strict=level < 0)
        est = _put(est, redo, fdiff.best([est.take(redo), finer]))
    return est


def _put(est: fdiff.Estimate, rows: np.ndarray, new: fdiff.Estimate) -> fdiff.Estimate:
    """``est`` with ``rows`` replaced by ``new``."""
    parts = [np.array(a, copy=True) for a in dataclasses.astuple(est)]
    for part, value in zip(parts, dataclasses.astuple(new), strict=True):
        part[rows] = value
    return fdiff.Estimate(*parts)


def failing_rows(
    est: fdiff.Estimate, candidates: list[np.ndarray], scale: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """Rows with an untrusted element, or where some AD candidate is outside tolerance."""
    base = rtol * (np.abs(est.value) + scale) + atol
    error = np.where(est.trusted, est.error, 0)
    # Untrusted, or too vague to tell a 5% error: a finer or coarser step may do better.
    bad = ~est.trusted | (2.0 * error > 0.05 * (np.abs(est.value) + scale))
    tol = 2.0 * error + base
    for ad in candidates:
        bad = bad | (np.abs(ad - est.value) > tol) | ~np.isfinite(ad)
    rows: np.ndarray = bad.reshape(bad.shape[0], -1).any(axis=1)
    return rows
