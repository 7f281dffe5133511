"""The screening stencil (adcli._numerics.screen): ±h, ±h/4 and the point, a Richardson
value whose error bound holds, and kinks near the point left untrusted."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from adcli._numerics.finite_diff import OFFSETS, level_step
from adcli._numerics.screen import (
    REST_OFFSETS as REST,
)
from adcli._numerics.screen import (
    SCREEN_MIN_ROWS,
    SCREEN_SHARE,
    as_level,
    screen,
    screen_step,
    stencil_offsets,
)

EPS = float(np.finfo(np.float64).eps)
H = screen_step(EPS)


def _screen(g: Callable[[np.ndarray], np.ndarray], h: float = H) -> tuple[float, float, bool]:
    est = screen(g(stencil_offsets("screen", h))[:, None], h, EPS)
    return float(est.value[0]), float(est.error[0]), bool(est.trusted[0])


def test_the_step_is_the_base_levels_and_its_samples_are_five_of_nine() -> None:
    assert level_step(EPS, 0) == H
    assert screen_step(EPS, 1e-7) == 1e-7
    assert stencil_offsets("screen", 2.0).tolist() == [2.0, -2.0, 0.5, -0.5, 0.0]
    rest = (np.exp(REST * 0.1) * np.arange(4.0))[:, None]  # marked: 0×, 1×, 2×, 3×
    level = as_level(np.exp(stencil_offsets("screen", 0.1))[:, None], rest)
    mine = [0, 1, 4, 5, 6]  # OFFSETS' places of ±h, ±h/4 and 0
    np.testing.assert_allclose(level[mine, 0], np.exp(OFFSETS[mine] * 0.1))
    other = [2, 3, 7, 8]
    np.testing.assert_allclose(level[other, 0], np.exp(OFFSETS[other] * 0.1) * np.arange(4.0))


@pytest.mark.parametrize(
    ("g", "slope"),
    [(np.sin, 1.0), (lambda t: np.exp(0.3 + t), np.exp(0.3)), (lambda t: t**3 + 2 * t, 2.0)],
)
def test_smooth_values_are_decided_with_an_error_bound_that_holds(
    g: Callable[[np.ndarray], np.ndarray], slope: float
) -> None:
    value, error, trusted = _screen(g)
    assert trusted
    assert abs(value - slope) <= error
    assert error < 5e-5  # the spread: 15/16 of D(h)'s O(h²) error, g‴·h²·(15/16)/6


def test_one_sided_derivatives_and_magnitude_of_a_smooth_function() -> None:
    est = screen(np.exp(0.3 + stencil_offsets("screen", H))[:, None], H, EPS)
    assert est.left is not None and est.right is not None and est.side_error is not None
    for side in (est.left, est.right):
        assert abs(side[0] - np.exp(0.3)) <= est.side_error[0]
    assert est.side_step is not None and est.side_step[0] == H / 4
    assert est.magnitude is not None
    # max |g| over the stencil, or the grid its samples lie on (a few units of rounding)
    assert np.exp(0.3) <= est.magnitude[0] <= 4 * np.exp(0.3)


@pytest.mark.parametrize("a_over_h", np.linspace(-1.3, 1.3, 105))
def test_a_kink_anywhere_in_the_stencil_is_untrusted_or_within_the_bound(a_over_h: float) -> None:
    """sin(t) + 3·max(t − a, 0): the derivative at 0 is 1 for a > 0 and 4 for a < 0. A
    kink close to the point (|a| < h/7, at 0 itself) must not be trusted; farther away the
    spread covers the Richardson value's error."""
    a = a_over_h * H
    value, error, trusted = _screen(lambda t: np.sin(t) + 3 * np.maximum(t - a, 0))
    if abs(a_over_h) < 1 / 7.5:
        assert not trusted
    if trusted:
        assert abs(value - (1.0 if a > 0 else 4.0)) <= error


def test_a_jump_next_to_the_point_is_untrusted() -> None:
    _, _, trusted = _screen(lambda t: np.sin(t) + 1e-3 * (t > 0.1 * H))
    assert not trusted


@pytest.mark.parametrize("factor", [1.0, 0.3])
@pytest.mark.parametrize("big", [1e4, 1e8])
def test_noise_above_the_rounding_model_widens_the_bound(factor: float, big: float) -> None:
    """g = c·((B + sin t) − B) rounds like B while |g| < 1, on a grid (of a power of two
    when c = 1): over 32 rows the grid and the pooled null combination widen the bound
    so that no element is decided at float64's tolerance (its error is ~1e-4); the full
    levels measure that noise with nine samples."""
    shift = np.random.default_rng(0).uniform(0.1, 1.0, size=(20, SCREEN_MIN_ROWS))
    t = stencil_offsets("screen", H)[:, None]
    for row in shift:
        est = screen(factor * ((big + np.sin(row[None] + t)) - big), H, EPS)
        base = SCREEN_SHARE * 1e-8 * (np.abs(est.value) + 1)
        decided = est.trusted & (2 * est.error <= base)
        assert not decided.any()


def test_a_step_out_of_the_domain_is_untrusted() -> None:
    with np.errstate(invalid="ignore"):  # log of a negative number: NaN, as in JAX
        _, error, trusted = _screen(lambda t: np.log(t + 0.5 * H))
    assert not trusted and error == np.inf
