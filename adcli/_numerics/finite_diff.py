"""Finite differences with an error model: the value, how wrong it may be, and whether to trust it.

Along a direction v, g(t) = f(x + t·v) is sampled at t = ±h, ±h/2, ±h/4 (one *level*).
Central differences D(h), D(h/2), D(h/4) are combined by two Richardson steps into an
O(h⁶) estimate RR; |RR − R(h/2)| (the error of the O(h⁴) estimate it improves on) bounds
its truncation error, and a rounding floor of 7·ε·max|g|/h (the Richardson weights
amplify ε·|g|/h by at most 6.6) bounds its rounding error. A level is *trusted* when the
differences D(h) − D(h/2) and D(h/2) − D(h/4) shrink by about 4× (smooth, h in the
asymptotic range) or are both within the rounding floor; at a kink or under noise they
do not, and that level is not used; nor is one whose second difference grows like 1/h
as the step shrinks (a kink inside the stencil, where central differences can agree
with each other and still be wrong). Levels are tried from coarse to fine (step ratio 1/32),
so a kink near the point is stepped under instead of reported.

The base step is h₀ = ε^(1/7), optimal for an O(h⁶) formula, times the magnitude of each
coordinate (directions are scaled elementwise by |xᵢ|, so 1e-4 next to 1e4 is perturbed
in proportion and a log near its singularity stays in its domain).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

# Multiples of the level step h at which g is evaluated, in this order.
# The last pair is a noise probe: so close to the point that g's curvature cannot show,
# their second difference with g(0) measures the rounding noise of g itself (as Moré and
# Wild's ECnoise does), which a model ε·|g| underestimates for long sums.
NOISE_PROBE = 2.0**-20
# The point itself is part of the same batched call (no separate program for it). The
# noise probe pair is evaluated only when a row is refined: a rounding floor that is too
# low can only make a check stricter, never let an error through.
OFFSETS = np.array([1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 0.0, NOISE_PROBE, -NOISE_PROBE])


def offsets(h: float, noise: bool) -> np.ndarray:
    """The points t at which g is sampled for one level (7, or 9 with the noise probe)."""
    return OFFSETS[: 9 if noise else 7] * h


LEVEL_RATIO = 1.0 / 32.0
ROUNDING_FACTOR = 7.0


COARSE_RATIO = 8.0
# The order levels are tried in: the base step, two finer (kinks, fast variation), then two
# coarser (rounding: a large |f| next to a small derivative needs a longer step).
LEVEL_ORDER = (0, 1, 2, -1, -2)


def level_step(eps: float, level: int) -> float:
    """The step of ``level`` for a function evaluated with machine epsilon ``eps``.

    Level 0 is ε^(1/7) (optimal for an O(h⁶) formula); level k > 0 is 32^k times finer,
    level k < 0 is 8^|k| times coarser."""
    base: float = eps ** (1.0 / 7.0)
    return base * LEVEL_RATIO**level if level >= 0 else base * COARSE_RATIO ** (-level)


@dataclass(frozen=True)
class Estimate:
    """FD derivative estimates (any shape ``S``) with error bounds and trust flags."""

    value: np.ndarray  # S
    error: np.ndarray  # S, ≥ 0; inf where untrusted
    trusted: np.ndarray  # S, bool
    step: np.ndarray  # S, the level step h used for each element
    slope_jump: np.ndarray  # S, |right − left one-sided slope| at the finest step tried

    def take(self, index: Any) -> Estimate:
        """The estimates at ``index`` (rows, a column, a slice) of every field."""
        return Estimate(*(np.asarray(getattr(self, f.name))[index] for f in fields(self)))

    def per_unit(self, scale: np.ndarray) -> Estimate:
        """Derivatives along coordinates stepped by ``scale`` (x + t·sᵢ·eᵢ) as derivatives
        per unit of each coordinate: value and error ÷ s, the step × s (an absolute step).
        The slope jump is kept as measured along the scaled step."""
        return Estimate(
            self.value / scale,
            self.error / scale,
            self.trusted,
            self.step * scale,
            self.slope_jump,
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
    # ≈ 2.4 σ of the evaluation noise, where the noise probe was evaluated
    measured = np.abs(g[7] - 2 * center + g[8]) if len(g) == 9 else np.zeros_like(center)
    noise = np.maximum(eps * magnitude, measured)
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
    return Estimate(value, error, trusted, np.full(np.shape(value), h), jump)


@np.errstate(invalid="ignore")
def best(estimates: list[Estimate]) -> Estimate:
    """Element by element, the trusted level with the smallest error bound.

    Where no level is trusted, the finest level's value is kept with error = inf.
    """
    value = estimates[-1].value.copy()
    error = np.full(np.shape(value), np.inf)
    step = estimates[-1].step.copy()
    for est in estimates:
        better = est.error < error
        value = np.where(better, est.value, value)
        error = np.where(better, est.error, error)
        step = np.where(better, est.step, step)
    trusted = np.isfinite(error)
    return Estimate(value, error, trusted, step, estimates[-1].slope_jump)
