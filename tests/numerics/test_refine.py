"""FD with refinement (adcli._numerics.refine): every row at the base level, then finer and
coarser levels for the rows still open, keeping each row's smallest trusted bound."""

from __future__ import annotations

import numpy as np
import pytest

from adcli._numerics import finite_diff as fd
from adcli._numerics.refine import failing_rows, fd_estimate

EPS = float(np.finfo(np.float64).eps)

# One scalar function per row, each at its point x, sampled along |x| (1 at x = 0).
ROWS = [
    (np.sin, 0.7, 0.7 * np.cos(0.7)),
    (np.exp, 1.3, 1.3 * np.exp(1.3)),
    (np.abs, 0.0, None),  # a kink at the point: no derivative to find
    (lambda x: np.sin(x) + 1e6, 0.7, 0.7 * np.cos(0.7)),  # rounding-bound: wants a longer step
]


class Sampler:
    """g of each requested row at fdiff.offsets(h, noise), recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], float, bool]] = []

    def __call__(self, rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        self.calls.append((rows.tolist(), h, noise))
        t = fd.offsets(h, noise)
        columns = [f(x + t * (abs(x) or 1.0)) for f, x, _ in (ROWS[r] for r in rows)]
        return np.stack(columns, axis=1)[:, :, None]  # (7 | 9, rows, q = 1)


def needs_more(est: fd.Estimate) -> np.ndarray:
    open_ = ~est.trusted | (est.error > 1e-12 * (np.abs(est.value) + 1))
    rows: np.ndarray = open_.reshape(len(open_), -1).any(axis=1)
    return rows


def test_only_the_open_rows_are_refined_and_each_keeps_its_best_level() -> None:
    sampler = Sampler()
    est = fd_estimate(sampler, len(ROWS), EPS, needs_more)
    h = [fd.level_step(EPS, level) for level in fd.LEVEL_ORDER]
    # All rows once at the base level, with the noise probe; then the two open rows at the
    # finer and coarser levels in turn (each with its noise probe too).
    assert sampler.calls[0] == ([0, 1, 2, 3], h[0], True)
    assert [call[1] for call in sampler.calls[1:]] == h[1:]
    assert all(call[0] in ([2], [3], [2, 3]) and call[2] for call in sampler.calls[1:])

    base = fd.combine(Sampler()(np.arange(4), h[0], True), h[0], EPS)
    for row in (0, 1):  # closed at the base level: untouched
        assert est.value[row, 0] == base.value[row, 0]
        assert est.error[row, 0] == base.error[row, 0]
    for row in (0, 1, 3):
        assert est.trusted[row, 0]
        assert abs(est.value[row, 0] - ROWS[row][2]) <= est.error[row, 0]
    assert est.error[3, 0] < base.error[3, 0] / 5  # a coarser step beat the rounding
    assert est.step[3, 0] > h[0]
    assert not est.trusted[2, 0] and est.error[2, 0] == np.inf  # the kink stays open


def test_nothing_is_refined_when_every_row_is_closed() -> None:
    sampler = Sampler()
    est = fd_estimate(sampler, 2, EPS, lambda e: np.zeros(len(e.value), bool))
    assert len(sampler.calls) == 1 and est.value.shape == (2, 1)


def test_failing_rows_by_hand() -> None:
    """tol = 2·error + rtol·(|FD| + scale) + atol per element; a row fails on any element
    outside it, on an untrusted element, or on a bound too vague to see a 5% error."""
    est = fd.Estimate(
        value=np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]),
        error=np.array([[1e-3, 1e-3], [1e-3, 1e-3], [1e-3, np.inf], [0.06, 1e-3]]),
        trusted=np.array([[True, True], [True, True], [True, False], [True, True]]),
        step=np.full((4, 2), 0.01),
        slope_jump=np.zeros((4, 2)),
    )
    scale = np.array([[1.0], [1.0], [1.0], [1.0]])
    # Row 0: |AD − FD| = 0.0029 ≤ tol = 0.002 + 0.001·(2 + 1) = 0.005 (rtol 1e-3, atol 0).
    # Row 1: 0.0051 > 0.005. Row 2: its second element is untrusted. Row 3: 2·0.06 = 0.12
    # is above 5% of |FD| + scale = 0.1.
    ad = np.array([[1.0, 2.0029], [1.0, 2.0051], [1.0, 2.0], [1.0, 2.0]])
    assert failing_rows(est, [ad], scale, 1e-3, 0.0).tolist() == [False, True, True, True]
    assert failing_rows(est, [], scale, 1e-3, 0.0).tolist() == [False, False, True, True]
    nan = ad.copy()
    nan[0, 0] = np.nan
    assert failing_rows(est, [nan], scale, 1e-3, 0.0)[0]


@pytest.mark.parametrize("q", [1, 3])
def test_refining_keeps_the_shape_of_the_outputs(q: int) -> None:
    def sample(rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        t = fd.offsets(h, noise)[:, None, None]
        return np.broadcast_to(np.sin(0.5 + t), (len(t), len(rows), q)).copy()

    est = fd_estimate(sample, 2, EPS, lambda e: np.array([True, False]))
    assert est.value.shape == est.error.shape == est.trusted.shape == (2, q)
    np.testing.assert_allclose(est.value, np.cos(0.5), rtol=1e-10)
