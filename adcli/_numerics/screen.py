"""The screening stencil: the cheapest FD level that can decide an element with a bound.

Along a direction v, g(t) = f(x + t·v) is sampled at t = ±h and ±h/4 (four evaluations
per row) and at t = 0, which is the same point for every row of a batch and is evaluated
once. Two central differences D(h), D(h/4) give a Richardson estimate
R = (16·D(h/4) − D(h))/15, and their spread |D(h) − D(h/4)| bounds R's truncation error:
it is 15/16 of D(h)'s O(h²) error where R's is O(h⁴), so it is wide, but honest without a
third difference to prove h asymptotic (the same bound as a level of
``adcli._numerics.finite_diff`` that has not converged). A rounding floor of 5·δ/h (R's
weights amplify an error δ in each value by at most 4.33/h) is added, where δ is the
largest of ε·max|g|, 3× the noise seen by the one combination of the five samples that
vanishes on cubics, g(h) + g(−h) − 16·(g(h/4) + g(−h/4)) + 30·g(0), in this row or as
the RMS over the rows of the same output, and the grid the samples lie on.

**Noise above the model** (g small by cancellation of large terms) is what a screen can
miss: one combination per row can be zero by chance, and values on a grid (c·((B +
sin(ωt)/ω) − B)) make it, and the spread, exactly zero often. Screened one row at a
time, up to 500 of 3,200 such rows (B = 1e8, c = 0.3, ω = 0.01) were decided at
float64's tolerance with a bound too small. Pooling the combination over the rows of an
output (they share the hidden term) and reading the grid from the samples' binary digits
left none of 3,200 so (B = 1e2 … 1e8, c = 1, 0.3, 1.7), in batches of 32 rows: a caller
screens only batches of at least ``SCREEN_MIN_ROWS`` rows (a full Jacobian's
coordinates), and fewer rows (a few random directions, HVPs) take the full levels, whose
nine samples measure the noise themselves.

**Kinks.** The step ratio 4 keeps a kink inside the stencil visible. A slope jump J at
distance a < h/7 from the point (where the spread no longer bounds R's error) makes the
second difference grow as the step shrinks and the one-sided slopes at h/4 differ by more
than twice the spread; that element is untrusted, as in ``finite_diff.combine``. A kink
farther away (h/7 ≤ a < h) leaves R's error within the spread.

**Step.** The screen takes the base level's step h₀ (``finite_diff.level_step``), so its
five samples are five of that level's nine: a row the screen leaves open needs only the
other four (±h₀/2, ±3h₀/8: ``REST_OFFSETS``) to be combined as a full level, eight
evaluations per row where a level alone takes nine. Rows are many only for large inputs,
where a coordinate's higher derivatives are small beside the function's rounding (a dot
product of 10⁴ terms), which a long step suits.

A screen decides an element or hands its row to the full levels
(``adcli._numerics.refine``): it is never the reason an element fails.
"""

from __future__ import annotations

import numpy as np

from adcli._numerics.finite_diff import (
    NOISE_PROBE,
    NOISE_SIGMAS,
    Estimate,
    Stencil,
    level_step,
    offsets,
)

# Multiples of h at which g is evaluated along each row, then the shared point t = 0.
SCREEN_OFFSETS = np.array([1.0, -1.0, 0.25, -0.25])
# The rest of a level's offsets (``finite_diff.OFFSETS``), and where each of the nine
# comes from in (screen samples + these): OFFSETS = (1, −1, ½, −½, ¼, −¼, 0, ⅜, −⅜).
REST_OFFSETS = np.array([0.5, -0.5, NOISE_PROBE, -NOISE_PROBE])
_LEVEL_ORDER = np.array([0, 1, 5, 6, 2, 3, 4, 7, 8])
ROUNDING_FACTOR = 5.0
SCREEN_MIN_ROWS = 32  # fewer rows: too few to pool the noise estimate over
# Fewer numbers than this in a batch (rows × (d + m)): the screen's two extra programs
# (its stencil and the rest of a level) cost more to compile than its four saved
# evaluations per row return. A float32 CNN of 5,122 parameters, 75 rows a batch: its
# first check took 21.8 s unscreened, 32.7 s screened; a full Jacobian at d = 10⁴
# (10⁸ numbers) 2.1 s unscreened, 0.20 s screened.
SCREEN_MIN_WORK = 1 << 22
# A screened element's error bound may use at most this share of its base tolerance
# (SAFETY · error ≤ SCREEN_SHARE · (rtol·(|value| + scale) + atol)): as much as
# ``refine.failing_rows`` lets an element of the full levels use without refining it.
SCREEN_SHARE = 1.0
# g(h) + g(−h) − 16·(g(h/4) + g(−h/4)) + 30·g(0): blind to cubics, unit-normalised.
_NULL = np.array([1.0, 1.0, -16.0, -16.0, 30.0]) / np.sqrt(1414.0)


def stencil_offsets(stencil: Stencil, h: float) -> np.ndarray:
    """The points t a sampler evaluates for ``stencil`` at step h (9, 5 or 4, in order)."""
    if stencil == "screen":
        return np.append(SCREEN_OFFSETS * h, 0.0)
    if stencil == "rest":
        return REST_OFFSETS * h
    return offsets(h, True)


def screen_step(eps: float, max_step: float | None = None) -> float:
    """The screening step: the base level's (see the module docstring)."""
    return level_step(eps, 0, max_step)


def as_level(screened: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """A full level's nine samples (``finite_diff.OFFSETS`` order) from the screen's five
    and the ``rest`` four, taken at the same step."""
    level: np.ndarray = np.concatenate([screened, rest])[_LEVEL_ORDER]
    return level


# Steps that leave the domain give NaN/inf: they make an element untrusted, not a warning.
@np.errstate(invalid="ignore", divide="ignore", over="ignore")
def screen(values: np.ndarray, h: float, eps: float) -> Estimate:
    """Estimates from ``values`` (5, *S): g at t = h, −h, h/4, −h/4 and 0 along each row."""
    g = values.astype(np.float64)
    center = g[4]
    d1 = (g[0] - g[1]) / (2 * h)
    d4 = (g[2] - g[3]) / (h / 2)
    value = (16 * d4 - d1) / 15
    spread = np.abs(d1 - d4)
    magnitude = np.max(np.abs(g), axis=0)
    model = eps * magnitude
    null = np.tensordot(_NULL, g, axes=(0, 0))
    # The kink test uses the model alone: the null combination is also what a kink shows.
    s2_wide = (g[0] - 2 * center + g[1]) / h**2
    s2_narrow = (g[2] - 2 * center + g[3]) / (h / 4) ** 2
    grows = np.abs(s2_narrow - s2_wide) > np.maximum(
        0.5 * np.maximum(np.abs(s2_wide), np.abs(s2_narrow)), 10 * 64 * model / h**2
    )
    right = (g[2] - center) / (h / 4)
    left = (center - g[3]) / (h / 4)
    jump = np.abs(right - left)
    kink = grows & (jump > 2 * spread + 8 * model / (h / 4))
    # The null combination also holds the O(h⁴) truncation a step of ε^(1/5) leaves: in
    # the rounding bound, that only widens it; the magnitude (δ/ε, which lets ``vague``
    # call a zero derivative decided) takes only the values and their grid.
    grid = np.maximum(model, _quantum(values))
    measured = NOISE_SIGMAS * np.maximum(np.abs(null), _pooled(null, kink))
    noise = np.maximum(grid, measured)
    finite = np.all(np.isfinite(g), axis=0)
    trusted = finite & ~kink
    error = np.where(trusted, spread + ROUNDING_FACTOR * noise / h, np.inf)
    steps = np.full(np.shape(value), h)
    sides = _one_sided(g, h, noise)
    return Estimate(
        np.where(finite, value, np.nan), error, trusted, steps, jump, grid / eps, *sides
    )


def _pooled(null: np.ndarray, kink: np.ndarray) -> np.ndarray:
    """The RMS of the null combination over the rows (axis 0) without a kink, for each
    output: one combination per row can be zero by chance (values on a grid from a larger
    hidden term are, often), but the rows of one output share that term and its noise."""
    if null.ndim == 0:
        single: np.ndarray = np.abs(null)
        return single
    quiet = np.where(kink | ~np.isfinite(null), 0.0, null)
    count = np.maximum(np.sum(~kink, axis=0, keepdims=True), 1)
    rms: np.ndarray = np.sqrt(np.sum(quiet**2, axis=0, keepdims=True) / count)
    return np.broadcast_to(rms, null.shape)


def _quantum(values: np.ndarray) -> np.ndarray:
    """The largest power of two that every sample is a multiple of: the rounding unit of
    what g was computed from when that was larger than g (1e8 + sin t − 1e8 takes values
    on a grid of 1.5e-8). A grid the samples lie on is invisible to the null combination
    and the spread, which it often makes exactly zero: five values of full precision
    share a quantum above ε·|g| with probability 2⁻⁵ᵏ for k spare bits."""
    v = np.asarray(values, dtype=np.float64)
    mantissa, exponent = np.frexp(v)
    digits = np.abs(mantissa * 2.0**53).astype(np.int64)  # exact: a 53-bit integer
    trailing = np.where(digits == 0, 64, _trailing_zeros(digits))
    quantum = np.where(
        np.isfinite(v) & (digits != 0), np.ldexp(1.0, exponent - 53 + trailing), np.inf
    )
    found: np.ndarray = np.min(quantum, axis=0)
    return np.where(np.isfinite(found), found, 0.0)


def _trailing_zeros(n: np.ndarray) -> np.ndarray:
    low = n & -n  # the lowest set bit
    zeros: np.ndarray = np.log2(low.astype(np.float64)).astype(np.int64)
    return zeros


def _one_sided(
    g: np.ndarray, h: float, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Second-order one-sided derivatives at s = h/4 from g(0), g(±s), g(±4s), a bound on
    their error (the change from the first-order ones, plus rounding) and the step s."""
    s, center = h / 4, g[4]
    right = (16 * g[2] - 15 * center - g[0]) / (12 * s)
    left = (15 * center - 16 * g[3] + g[1]) / (12 * s)
    change = np.maximum(np.abs(right - (g[2] - center) / s), np.abs(left - (center - g[3]) / s))
    return left, right, change + 4 * noise / s, np.full(np.shape(right), s)
