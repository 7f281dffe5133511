"""The FD error model (adcli._numerics.finite_diff) on functions with known derivatives: its
bound must cover the true error, stay informative, grow with a large offset, and refuse
to vouch for a kink or a step that leaves the domain.

The sampling mirrors the checker's: along a direction scaled by |x| (1 at x = 0), in the
dtype the function computes in, with that dtype's ε.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from adcli._numerics import finite_diff as fd

Fn = Callable[[np.ndarray], np.ndarray]

# name: (f, f', x)
SMOOTH: dict[str, tuple[Fn, Fn, float]] = {
    "sin": (np.sin, np.cos, 0.7),
    "exp": (np.exp, np.exp, 1.3),
    "log near 0": (np.log, lambda x: 1 / x, 1e-3),
}
OFFSET = 1e6


def with_offset(x: np.ndarray) -> np.ndarray:
    shifted: np.ndarray = np.sin(x) + np.asarray(OFFSET, x.dtype)
    return shifted


ALL: dict[str, tuple[Fn, Fn, float]] = {**SMOOTH, "sin + 1e6": (with_offset, np.cos, 0.7)}
DTYPES = [np.float64, np.float32]


def sample(f: Fn, x: float, dtype: type, h: float, noise: bool) -> np.ndarray:
    """g(t) = f(x + t·|x|) at the level's offsets, as a (7 | 9, 1) column."""
    scale = abs(x) or 1.0
    t = fd.offsets(h, noise)
    with np.errstate(invalid="ignore", divide="ignore"):  # a step out of the domain: NaN
        g = f(np.asarray(x, dtype) + (t * scale).astype(dtype))
    return np.asarray(g, np.float64)[:, None]


def estimate(f: Fn, x: float, dtype: type, level: int = 0, noise: bool = False) -> fd.Estimate:
    eps = float(np.finfo(dtype).eps)
    h = fd.level_step(eps, level)
    return fd.combine(sample(f, x, dtype, h, noise), h, eps)


def true_slope(df: Fn, x: float) -> float:
    """dg/dt at 0 for g(t) = f(x + t·|x|)."""
    return (abs(x) or 1.0) * float(df(np.asarray(x, np.float64)))


# --- the formulas, by hand -----------------------------------------------------------------


def test_level_steps_and_offsets() -> None:
    eps = float(np.finfo(np.float64).eps)
    base = 2.0 ** (-52 / 7)  # ε^(1/7), optimal for the O(h⁶) combination
    assert fd.level_step(eps, 0) == pytest.approx(base, rel=1e-15)
    assert fd.level_step(eps, 1) == pytest.approx(base / 32, rel=1e-15)
    assert fd.level_step(eps, 2) == pytest.approx(base / 1024, rel=1e-15)
    assert fd.level_step(eps, -1) == pytest.approx(base * 8, rel=1e-15)
    assert fd.level_step(eps, -2) == pytest.approx(base * 64, rel=1e-15)
    assert fd.offsets(2.0, False).tolist() == [2.0, -2.0, 1.0, -1.0, 0.5, -0.5, 0.0]
    assert fd.offsets(2.0, True).tolist()[7:] == [0.75, -0.75]  # the noise probe, ±3h/8


def test_a_cubic_is_exact_and_its_bound_is_the_rounding_floor() -> None:
    """g(t) = 2t + 5t³ at h = 1/2, every sample exact in binary: the central differences
    are 2 + 5h², 2 + 5h²/4, 2 + 5h²/16, whose differences shrink exactly 4×; the two
    Richardson steps give 2 exactly, and the bound is the rounding floor 7·ε·max|g|/h."""
    h = 0.5
    t = fd.offsets(h, False)
    est = fd.combine((2 * t + 5 * t**3)[:, None], h, 1e-16)
    assert est.value.tolist() == [2.0]
    assert est.trusted.tolist() == [True]
    assert est.error[0] == pytest.approx(7 * 1e-16 * 1.625 / 0.5, rel=1e-12)  # max|g| = g(h)
    assert est.step.tolist() == [0.5] and est.slope_jump.tolist() == [0.0]


def test_an_unconverged_coarse_level_is_trusted_only_without_strict() -> None:
    """exp(t) at h = 4: the differences shrink 7.8× (not ≈4×, h is not asymptotic). The
    default keeps the level with the differences' spread in its bound (wide, but it covers
    the truth); strict, as for steps above the base step, refuses it."""
    h = 4.0
    g = np.exp(fd.offsets(h, False))[:, None]
    loose = fd.combine(g, h, 1e-16)
    d1, d2, d4 = np.sinh(4) / 4, np.sinh(2) / 2, np.sinh(1)
    assert (d1 - d2) / (d2 - d4) == pytest.approx(7.85, abs=0.01)
    assert loose.trusted[0] and abs(loose.value[0] - 1) <= loose.error[0]
    assert loose.error[0] >= abs(d1 - d2)  # the spread is part of the bound
    strict = fd.combine(g, h, 1e-16, strict=True)
    assert not strict.trusted[0] and strict.error[0] == np.inf


# --- the bound covers the true error ---------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(ALL))
def test_the_base_level_bound_covers_the_true_error(name: str, dtype: type) -> None:
    f, df, x = ALL[name]
    est = estimate(f, x, dtype)
    assert est.trusted[0]
    assert abs(est.value[0] - true_slope(df, x)) <= est.error[0]


@pytest.mark.parametrize(
    ("dtype", "relative"), [(np.float64, 1e-10), (np.float32, 2e-4)], ids=["float64", "float32"]
)
@pytest.mark.parametrize("name", list(SMOOTH))
def test_the_bound_is_informative_for_smooth_functions(
    name: str, dtype: type, relative: float
) -> None:
    f, df, x = SMOOTH[name]
    est = estimate(f, x, dtype)
    assert est.error[0] < relative * abs(true_slope(df, x))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(ALL))
def test_the_best_level_covers_the_truth_with_the_smallest_bound(name: str, dtype: type) -> None:
    f, df, x = ALL[name]
    levels = [estimate(f, x, dtype, level, noise=True) for level in fd.LEVEL_ORDER]
    best = fd.best(levels)
    trusted = [e for e in levels if e.trusted[0]]
    assert best.trusted[0] and abs(best.value[0] - true_slope(df, x)) <= best.error[0]
    assert best.error[0] == min(e.error[0] for e in trusted)
    assert best.step[0] == next(e.step[0] for e in trusted if e.error[0] == best.error[0])


def test_a_large_offset_gets_a_larger_rounding_bound() -> None:
    """sin(x) + 10⁶ rounds each sample to ε·10⁶: the bound carries at least the floor
    7·ε·10⁶/h, while the same slope without the offset is bounded 10⁵× tighter."""
    eps = float(np.finfo(np.float64).eps)
    h = fd.level_step(eps, 0)
    plain = estimate(np.sin, 0.7, np.float64)
    offset = estimate(with_offset, 0.7, np.float64)
    assert offset.error[0] >= 7 * eps * OFFSET / h
    assert plain.error[0] * 1e5 < offset.error[0]
    for est in (plain, offset):
        assert abs(est.value[0] - 0.7 * np.cos(0.7)) <= est.error[0]


# --- what it must not vouch for --------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "jump"),
    [(np.abs, 2.0), (lambda x: np.maximum(x, 0.0), 1.0)],
    ids=["abs", "relu"],
)
def test_a_kink_at_the_point_is_untrusted_at_every_level(f: Fn, jump: float) -> None:
    """relu at 0: every central difference is exactly 1/2 and they agree with each other;
    the second difference growing like 1/h and the one-sided slopes give the kink away."""
    levels = [estimate(f, 0.0, np.float64, level, noise=True) for level in fd.LEVEL_ORDER]
    for est in levels:
        assert not est.trusted[0] and est.error[0] == np.inf
        assert est.slope_jump[0] == pytest.approx(jump)
    best = fd.best(levels)
    assert not best.trusted[0] and best.error[0] == np.inf
    assert best.value[0] == levels[-1].value[0]  # the finest level's value is kept


def test_a_step_that_leaves_the_domain_is_untrusted_not_a_warning() -> None:
    """log at 10⁻³ in float32: the coarsest level steps to x·(1 − 6.6) < 0."""
    est = estimate(np.log, 1e-3, np.float32, level=-2)  # filterwarnings = error
    assert not est.trusted[0] and np.isnan(est.value[0]) and est.error[0] == np.inf


# --- measured noise, magnitude, one-sided derivatives ------------------------------------------


def _noisy(t: np.ndarray) -> np.ndarray:
    """A slope of 1e-9 under rounding noise of 1e-12, on values of 1e-13: a sum whose
    terms of size ~1e4 cancel (a nearly singular determinant behaves so). Deterministic
    noise: a hash of t's bits."""
    bits = np.asarray(t, np.float64).view(np.uint64)
    unit = ((bits * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)).astype(np.float64) / 2.0**53
    noise: np.ndarray = 1e-12 * (2 * unit - 1)
    return 1e-13 + 1e-9 * t + noise


def test_the_noise_probe_measures_noise_a_model_of_the_value_misses() -> None:
    """ε·|g| says 2e-29; the values carry 1e-12 of noise. The bound (and the magnitude
    noise/ε) must come from the noise, and cover the true slope."""
    eps = float(np.finfo(np.float64).eps)
    levels = []
    for level in fd.LEVEL_ORDER:
        h = fd.level_step(eps, level)
        est = fd.combine(_noisy(fd.offsets(h, True))[:, None], h, eps)
        levels.append(est)
        assert not est.trusted[0] or abs(est.value[0] - 1e-9) <= est.error[0]
        assert est.magnitude is not None and est.magnitude[0] > 1e-12 / eps
    best = fd.best(levels)
    assert best.trusted[0] and abs(best.value[0] - 1e-9) <= best.error[0] < 1e-9


def test_a_smooth_function_keeps_a_tight_bound_and_its_magnitude() -> None:
    est = estimate(np.exp, 1.3, np.float64, noise=True)
    assert est.trusted[0] and est.error[0] < 1e-10 * true_slope(np.exp, 1.3)
    assert est.magnitude is not None  # at least max|g|, at most a few times it
    largest = np.exp(1.3 * (1 + fd.level_step(2.0**-52, 0)))
    assert largest <= est.magnitude[0] < 4 * largest


@pytest.mark.parametrize(
    ("f", "left", "right"),
    [(np.abs, -1.0, 1.0), (lambda x: np.maximum(x, 0.0), 0.0, 1.0)],
    ids=["abs", "relu"],
)
def test_a_kink_at_the_point_has_its_one_sided_derivatives(
    f: Fn, left: float, right: float
) -> None:
    """The noise estimate sees the kink's shape (not noise), so the kink stays visible,
    and the one-sided derivatives of the finest level are the pieces' slopes."""
    levels = [estimate(f, 0.0, np.float64, level, noise=True) for level in fd.LEVEL_ORDER]
    best = fd.best(levels)
    assert not best.trusted[0]
    assert best.left is not None and best.right is not None and best.side_error is not None
    assert (best.left[0], best.right[0]) == (pytest.approx(left), pytest.approx(right))
    assert best.side_error[0] < 1e-9
    assert best.side_step is not None and best.side_step[0] == min(e.step[0] for e in levels)
