"""Group testing: find the few faulty coordinates behind a failing directional check.

A random direction sees an error in any single coordinate; restricting the direction to
half of the coordinates and testing again tells which half holds it. Halving the failing
ranges round by round finds up to ``max_found`` faulty coordinates in O(log d) batched
tests, instead of the d evaluations a per-coordinate scan would need.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# A tester takes ranges (B, 2) of [lo, hi) coordinate intervals and returns, for each,
# the margin of the restricted check (> 1 means it still fails).
Tester = Callable[[np.ndarray], np.ndarray]


def localize(test: Tester, d: int, *, max_found: int = 4) -> list[tuple[int, int]]:
    """Intervals [lo, hi) of coordinates that carry the error, narrowest possible.

    Single coordinates come back as (i, i + 1). An interval whose halves both pass while
    it fails (errors that only show together) is returned whole.
    """
    active = [(0, d)]
    done: list[tuple[int, int]] = []
    while active:
        splittable = [(lo, hi) for lo, hi in active if hi - lo > 1]
        done += [(lo, hi) for lo, hi in active if hi - lo <= 1]
        if not splittable:
            break
        halves = []
        for lo, hi in splittable:
            mid = (lo + hi) // 2
            halves += [(lo, mid), (mid, hi)]
        margins = test(np.asarray(halves, dtype=np.int64))
        failing = [(m, half) for m, half in zip(margins, halves, strict=True) if m > 1]
        for lo, hi in splittable:
            mid = (lo + hi) // 2
            if not any(half in ((lo, mid), (mid, hi)) for _, half in failing):
                done.append((lo, hi))
        failing.sort(key=lambda item: -item[0])
        room = max(0, max_found - len(done))
        active = [half for _, half in failing[:room]]
    return sorted(done)[:max_found]


def range_masks(ranges: np.ndarray, d: int) -> np.ndarray:
    """(B, d) 0/1 masks, one per interval."""
    index = np.arange(d)
    return ((index >= ranges[:, :1]) & (index < ranges[:, 1:])).astype(np.float64)
