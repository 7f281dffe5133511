"""FD with refinement (adcli._numerics.refine): every row at the base level (or screened
first), then finer and coarser levels for the rows still open, keeping each row's smallest
trusted bound."""

from __future__ import annotations

import numpy as np
import pytest

from adcli._numerics import finite_diff as fd
from adcli._numerics.refine import failing_rows, fd_estimate, screen_decided, tight
from adcli._numerics.screen import SCREEN_MIN_ROWS, SCREEN_SHARE, screen_step, stencil_offsets

EPS = float(np.finfo(np.float64).eps)

# One scalar function per row, each at its point x, sampled along |x| (1 at x = 0).
ROWS = [
    (np.sin, 0.7, 0.7 * np.cos(0.7)),
    (np.exp, 1.3, 1.3 * np.exp(1.3)),
    (np.abs, 0.0, None),  # a kink at the point: no derivative to find
    (lambda x: np.sin(x) + 1e6, 0.7, 0.7 * np.cos(0.7)),  # rounding-bound: wants a longer step
]


class Sampler:
    """g of each requested row at the stencil's offsets, recording every call."""

    def __init__(self, rows: list | None = None) -> None:
        self.rows = ROWS if rows is None else rows
        self.calls: list[tuple[list[int], float, fd.Stencil]] = []

    def __call__(self, rows: np.ndarray, h: float, stencil: fd.Stencil) -> np.ndarray:
        self.calls.append((rows.tolist(), h, stencil))
        t = stencil_offsets(stencil, h)
        columns = [f(x + t * (abs(x) or 1.0)) for f, x, _ in (self.rows[r] for r in rows)]
        return np.stack(columns, axis=1)[:, :, None]  # (9 | 5, rows, q = 1)


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
    assert sampler.calls[0] == ([0, 1, 2, 3], h[0], "level")
    assert [call[1] for call in sampler.calls[1:]] == h[1:]
    assert all(call[0] in ([2], [3], [2, 3]) and call[2] == "level" for call in sampler.calls[1:])

    base = fd.combine(Sampler()(np.arange(4), h[0], "level"), h[0], EPS)
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
    def sample(rows: np.ndarray, h: float, stencil: fd.Stencil) -> np.ndarray:
        t = stencil_offsets(stencil, h)[:, None, None]
        return np.broadcast_to(np.sin(0.5 + t), (len(t), len(rows), q)).copy()

    est = fd_estimate(sample, 2, EPS, lambda e: np.array([True, False]))
    assert est.value.shape == est.error.shape == est.trusted.shape == (2, q)
    np.testing.assert_allclose(est.value, np.cos(0.5), rtol=1e-10)


# --- screening first ------------------------------------------------------------------------


RTOL = 1e-4  # the screen's bound is an O(h²) spread: ~1e-6 for these rows


def open_rows(est: fd.Estimate) -> np.ndarray:
    """As failing_rows with rtol 1e-4 and no AD values: untrusted, or 2·error > base."""
    open_ = ~est.trusted | (2 * est.error > RTOL * (np.abs(est.value) + 1))
    rows: np.ndarray = open_.reshape(len(open_), -1).any(axis=1)
    return rows


def decided(est: fd.Estimate) -> np.ndarray:
    found: np.ndarray = ~open_rows(est) & tight(est, RTOL * (np.abs(est.value) + 1.0))
    return found


MANY = ROWS * (SCREEN_MIN_ROWS // len(ROWS))  # enough rows to screen: 8 of each kind


def test_a_smooth_row_is_decided_by_the_screen_alone() -> None:
    """Smooth rows: one call, the screen (±h, ±h/4 per row and the point once), and an
    error bound that holds and fits in SCREEN_SHARE of the tolerance."""
    smooth = [ROWS[i % 2] for i in range(SCREEN_MIN_ROWS)]
    sampler = Sampler(smooth)
    est = fd_estimate(sampler, len(smooth), EPS, open_rows, decided=decided)
    assert sampler.calls == [(list(range(len(smooth))), screen_step(EPS), "screen")]
    for row in (0, 1):
        assert abs(est.value[row, 0] - ROWS[row][2]) <= est.error[row, 0]
        assert 2 * est.error[row, 0] <= SCREEN_SHARE * RTOL * (abs(est.value[row, 0]) + 1)
    assert est.step[0, 0] == screen_step(EPS)


def test_too_few_rows_are_not_screened() -> None:
    sampler = Sampler(MANY[1:])
    fd_estimate(sampler, SCREEN_MIN_ROWS - 1, EPS, open_rows, decided=decided)
    assert sampler.calls[0][2] == "level"


def test_rows_the_screen_leaves_open_take_the_full_path_unchanged() -> None:
    """The kinks go on to the base level (the screen's five samples and four more) and are
    refined there, exactly as without a screen; the other rows keep the screen's
    estimate."""
    screened, plain = Sampler(MANY), Sampler(MANY)
    est = fd_estimate(screened, len(MANY), EPS, open_rows, decided=decided)
    ref = fd_estimate(plain, len(MANY), EPS, open_rows)
    h0 = fd.level_step(EPS, 0)
    hard = [r for r in range(len(MANY)) if r % 4 == 2]  # the kinks
    assert screened.calls[1] == (hard, h0, "rest")  # the rest of the base level
    assert screened.calls[2:] == plain.calls[1:]  # the same refinement
    for row in hard:
        assert est.value[row, 0] == ref.value[row, 0] or np.isnan(ref.value[row, 0])
        assert est.error[row, 0] == ref.error[row, 0]
    assert est.step[0, 0] == screen_step(EPS) and est.step[1, 0] == screen_step(EPS)


def test_screen_decided_holds_failing_rows_criteria_and_the_share() -> None:
    est = fd.Estimate(
        value=np.ones((3, 1)),
        error=np.array([[1e-12], [2e-8], [1e-12]]),
        trusted=np.array([[True], [True], [True]]),
        step=np.full((3, 1), 1e-5),
        slope_jump=np.zeros((3, 1)),
    )
    ad = np.array([[1.0], [1.0], [1.0 + 1e-7]])
    # Row 1: 2·2e-8 is above the base tolerance 1e-8·2 (failing_rows refines it); row 2:
    # AD is outside the tolerance.
    assert screen_decided(est, [ad], np.ones((3, 1)), 1e-8, 0.0).tolist() == [True, False, False]
