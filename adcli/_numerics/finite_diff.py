"""Finite differences with an error model: the value, how wrong it may be, and whether to trust it.

Along a direction v, g(t) = f(x + t·v) is sampled at t = ±h, ±h/2, ±h/4 (one *level*).
Central differences D(h), D(h/2), D(h/4) are combined by two Richardson steps into an
O(h⁶) estimate RR; |RR − R(h/2)| (the error of the O(h⁴) estimate it improves on) bounds
its truncation error, and a rounding floor of 7·δ/h (the Richardson weights amplify an
error δ in each value by at most 6.6) bounds its rounding error, where δ is the larger of
ε·max|g| and the noise measured at this level (below). A level is *trusted* when the
differences D(h) − D(h/2) and D(h/2) − D(h/4) shrink by about 4× (smooth, h in the
asymptotic range) or are both within the rounding floor; at a kink or under noise they
do not, and that level is not used; nor is one whose second difference grows like 1/h
as the step shrinks (a kink inside the stencil, where central differences can agree
with each other and still be wrong). Levels are tried from coarse to fine (step ratio 1/32),
so a kink near the point is stepped under instead of reported.

**Measured noise.** Two more points, t = ±3h/8, make nine samples at the scale of the
stencil. The three orthonormal combinations of them that vanish on every polynomial of
degree ≤ 5 see only what is not smooth at that scale: their RMS estimates the standard
deviation σ of g's own noise (as Moré and Wild's ECnoise does), and δ takes 3σ. This is
what a model ε·|g| misses when g is small by cancellation of large terms: the determinant
of a nearly singular matrix is 1e-20 while each LU step rounds terms of size 1.

**Magnitude.** ``Estimate.magnitude`` is δ/ε: the size of the values g is computed from
(|g| itself, or the larger terms its noise reveals), per unit of t. A derivative FD
resolves to a small fraction of it is decided even when it is zero (tanh″(0), cos′(π)).

**One-sided derivatives.** ``left`` and ``right`` are the second-order one-sided
derivatives at s = h/4 (from g(0), g(±s), g(±2s)) of the finest level tried, with their
error ``side_error``: at a kink exactly at the point they are the slopes of the two
pieces, between which a subgradient lies.

**Screening.** Where many rows are estimated at once (a full Jacobian's coordinates),
``adcli._numerics.screen`` first samples five of a level's nine points (±h, ±h/4 and the
point, once for all rows) and bounds a Richardson value by the spread of its two
differences; the rows it cannot decide are completed to a full level here
(``adcli._numerics.refine``).

The base step is h₀ = ε^(1/7), optimal for an O(h⁶) formula, times the magnitude of each
coordinate (directions are scaled elementwise by |xᵢ|, so 1e-4 next to 1e4 is perturbed
in proportion and a log near its singularity stays in its domain; a coordinate that is 0
or not finite is stepped by h₀ itself).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

# The stencils a sampler evaluates: a full level (OFFSETS), the screen
# (``adcli._numerics.screen``: ±h, ±h/4 and the point) or the rest of a level after it.
Stencil = Literal["level", "screen", "rest"]

# Multiples of the level step h at which g is evaluated, in this order: the stencil, the
# point itself (part of the same batched call), and the noise probe pair.
NOISE_PROBE = 0.375
OFFSETS = np.array([1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 0.0, NOISE_PROBE, -NOISE_PROBE])
NOISE_SIGMAS = 3.0


def _null_rows(basis: np.ndarray) -> np.ndarray:
    """Orthonormal rows c with Σᵢ cᵢ·b(tᵢ) = 0 for every column b of ``basis`` (9, k)."""
    _, _, vt = np.linalg.svd(basis.T)
    null: np.ndarray = vt[basis.shape[1] :]
    return null


_T = OFFSETS
# Smooth: polynomials of degree ≤ 5 (3 combinations). Kinked: pieces that meet at t = 0
# with a jump in value or slope (1, t, |t|, sign t, t², t·|t|, t³; 2 combinations). Where
# the samples fit the second far better than the first, what the first sees is a kink
# (or jump) exactly at the point, not noise.
NOISE_COMBINATIONS = _null_rows(_T[:, None] ** np.arange(6)[None, :])
KINK_COMBINATIONS = _null_rows(
    np.stack([_T**0, _T, np.abs(_T), np.sign(_T), _T**2, _T * np.abs(_T), _T**3], axis=1)
)


def offsets(h: float, noise: bool) -> np.ndarray:
    """The points t at which g is sampled for one level (7, or 9 with the noise probe)."""
    return OFFSETS[: 9 if noise else 7] * h


LEVEL_RATIO = 1.0 / 32.0
ROUNDING_FACTOR = 7.0


COARSE_RATIO = 8.0
# The order levels are tried in: the base step, two finer (kinks, fast variation), then two
# coarser (rounding: a large |f| next to a small derivative needs a longer step).
LEVEL_ORDER = (0, 1, 2, -1, -2)


def level_step(eps: float, level: int, max_step: float | None = None) -> float:
    """The step of ``level`` for a function evaluated with machine epsilon ``eps``.

    Level 0 is ε^(1/7) (optimal for an O(h⁶) formula), or ``max_step`` when that is
    smaller (the caller's ``eps``: the largest step it allows); level k > 0 is 32^k times
    finer, level k < 0 is 8^|k| times coarser."""
    base: float = eps ** (1.0 / 7.0)
    if max_step is not None:
        base = min(base, max_step)
    return base * LEVEL_RATIO**level if level >= 0 else base * COARSE_RATIO ** (-level)


def allowed(eps: float, level: int, max_step: float | None) -> bool:
    """Whether ``level`` stays within ``max_step`` (coarser levels may not)."""
    return max_step is None or level_step(eps, level, max_step) <= max_step * (1 + 1e-12)


@dataclass(frozen=True)
class Estimate:
    """FD derivative estimates (any shape ``S``) with error bounds and trust flags.

    The last five fields may be None (an estimate assembled by hand): no magnitude is
    known, and no one-sided derivatives.
    """

    value: np.ndarray  # S
    error: np.ndarray  # S, ≥ 0; inf where untrusted
    trusted: np.ndarray  # S, bool
    step: np.ndarray  # S, the level step h used for each element
    slope_jump: np.ndarray  # S, |right − left one-sided slope| at the finest step tried
    magnitude: np.ndarray | None = None  # S, δ/ε: the size of what g is computed from
    left: np.ndarray | None = None  # S, one-sided derivatives at the finest step tried
    right: np.ndarray | None = None
    side_error: np.ndarray | None = None  # S, a bound on the error of left and right
    side_step: np.ndarray | None = None  # S, the step they were taken at

    def take(self, index: Any) -> Estimate:
        """The estimates at ``index`` (rows, a column, a slice) of every field."""
        parts = [getattr(self, f.name) for f in fields(self)]
        return Estimate(*(None if p is None else np.asarray(p)[index] for p in parts))  # type: ignore[arg-type]

    def per_unit(self, scale: np.ndarray) -> Estimate:
        """Derivatives along coordinates stepped by ``scale`` (x + t·sᵢ·eᵢ) as derivatives
        per unit of each coordinate: values, errors and magnitudes ÷ s, steps × s (absolute
        steps). The slope jump is kept as measured along the scaled step."""

        def div(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a / scale

        return Estimate(
            self.value / scale,
            self.error / scale,
            self.trusted,
            self.step * scale,
            self.slope_jump,
            div(self.magnitude),
            div(self.left),
            div(self.right),
            div(self.side_error),
            None if self.side_step is None else self.side_step * scale,
        )


# Steps that leave the domain give NaN/inf: they make a level untrusted, not a warning.
@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def combine(values: np.ndarray, h: float, eps: float, *, strict: bool = False) -> Estimate:
    """One level: ``values`` has shape (7 or 9, *S), g at ``offsets(h, noise)``.

    ``strict``: trust the level only where it has converged (used for steps longer than
    the base step, where the error estimate of an unconverged level is not reliable)."""
    g = values.astype(np.float64)
    center = g[6]
    d1 = (g[0] - g[1]) / (2 * h)
    d2 = (g[2] - g[3]) / h
    d4 = (g[4] - g[5]) / (h / 2)
    r1 = (4 * d2 - d1) / 3
    r2 = (4 * d4 - d2) / 3
    rr = (16 * r2 - r1) / 15
    magnitude = np.maximum(np.max(np.abs(g[:6]), axis=0), np.abs(center))
    noise = np.maximum(eps * magnitude, _measured_noise(g))
    noise_d4 = noise / (h / 4)
    rounding = ROUNDING_FACTOR * noise / h
    delta1, delta2 = d1 - d2, d2 - d4
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = delta1 / delta2
    within_noise = (np.abs(delta1) <= 8 * noise_d4) & (np.abs(delta2) <= 8 * noise_d4)
    asymptotic = (ratio >= 2.5) & (ratio <= 6.5)
    finite = np.all(np.isfinite(g[:6]), axis=0) & np.isfinite(center)
    right = (g[4] - center) / (h / 4)
    left = (center - g[5]) / (h / 4)
    jump = np.abs(right - left)
    spread = np.maximum(np.abs(delta1), np.abs(delta2))
    # A kink inside the stencil: central differences may agree with each other (relu at 0
    # gives 1/2 at every step) but the second difference grows like 1/h instead of
    # staying put, and the one-sided slopes differ by far more than the differences do.
    s2_wide = (g[0] - 2 * center + g[1]) / h**2
    s2_narrow = (g[4] - 2 * center + g[5]) / (h / 4) ** 2
    noise_s2 = 64 * noise / h**2
    grows = np.abs(s2_narrow - s2_wide) > np.maximum(
        0.5 * np.maximum(np.abs(s2_wide), np.abs(s2_narrow)), 10 * noise_s2
    )
    kink = grows & (jump > 2 * spread + 8 * noise_d4)
    # Converged: differences shrink like h² or sit within the rounding model. Otherwise
    # (rounding above the model, as in long sums, or h not yet asymptotic) the spread of
    # the differences themselves bounds the error: wider, but still honest.
    converged = within_noise | asymptotic
    trusted = finite & ~kink & (asymptotic if strict else True)
    # Two estimates of the O(h⁴) error that bounds RR's: they agree when h is asymptotic
    # and the larger is the safer where it is only nearly so.
    truncation = np.maximum(np.abs(rr - r2), np.abs(r2 - r1) / 16)
    error = np.where(converged, truncation, truncation + spread) + rounding
    error = np.where(trusted, error, np.inf)
    value = np.where(finite, rr, np.nan)
    steps = np.full(np.shape(value), h)
    sides = _one_sided(g, h, noise)
    return Estimate(value, error, trusted, steps, jump, noise / eps, *sides, steps)


def _measured_noise(g: np.ndarray) -> np.ndarray:
    """3σ of g's noise from the nine samples of a level (zeros with only seven): from the
    combinations blind to smooth functions, or, where the samples are a kink or jump at
    t = 0 (they fit that shape ten times better), from those blind to that shape."""
    if len(g) < len(OFFSETS):
        return np.zeros(g.shape[1:])
    smooth = _rms(np.tensordot(NOISE_COMBINATIONS, g, axes=(1, 0)))
    kinked = _rms(np.tensordot(KINK_COMBINATIONS, g, axes=(1, 0)))
    sigma: np.ndarray = np.where(10 * kinked < smooth, kinked, smooth)
    return NOISE_SIGMAS * sigma


def _rms(combos: np.ndarray) -> np.ndarray:
    rms: np.ndarray = np.sqrt(np.mean(combos**2, axis=0))
    return rms


def _one_sided(
    g: np.ndarray, h: float, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-order one-sided derivatives at s = h/4 (left, right) and a bound on their
    error: the change from the first-order ones (their truncation) plus rounding."""
    s, center = h / 4, g[6]
    right = (-3 * center + 4 * g[4] - g[2]) / (2 * s)
    left = (3 * center - 4 * g[5] + g[3]) / (2 * s)
    change = np.maximum(np.abs(right - (g[4] - center) / s), np.abs(left - (center - g[5]) / s))
    return left, right, change + 4 * noise / s


@np.errstate(invalid="ignore")
def best(estimates: list[Estimate]) -> Estimate:
    """Element by element, the trusted level with the smallest error bound.

    Where no level is trusted, the finest level's value is kept with error = inf.
    """
    value = estimates[-1].value.copy()
    error = np.full(np.shape(value), np.inf)
    step = estimates[-1].step.copy()
    magnitude = np.zeros(np.shape(value))
    for est in estimates:
        better = est.error < error
        value = np.where(better, est.value, value)
        error = np.where(better, est.error, error)
        step = np.where(better, est.step, step)
        if est.magnitude is not None:  # the largest seen: the function's size near x
            magnitude = np.fmax(magnitude, est.magnitude)
    trusted = np.isfinite(error)
    sides = _finest_sides(estimates)
    return Estimate(value, error, trusted, step, estimates[-1].slope_jump, magnitude, *sides)


def _finest_sides(
    estimates: list[Estimate],
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Element by element, the one-sided derivatives taken at the smallest step."""
    with_sides = [e for e in estimates if e.side_step is not None]
    if not with_sides:
        return None, None, None, None
    first = with_sides[0]
    assert first.left is not None and first.right is not None and first.side_error is not None
    assert first.side_step is not None
    left, right = first.left.copy(), first.right.copy()
    side_error, side_step = first.side_error.copy(), first.side_step.copy()
    for est in with_sides[1:]:
        assert est.left is not None and est.right is not None and est.side_error is not None
        assert est.side_step is not None
        finer = np.asarray(est.side_step) < side_step
        left = np.where(finer, est.left, left)
        right = np.where(finer, est.right, right)
        side_error = np.where(finer, est.side_error, side_error)
        side_step = np.where(finer, est.side_step, side_step)
    return left, right, side_error, side_step
