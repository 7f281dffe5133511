"""Cost guards for ``adcli estimate``: predict each method's call from T, one evaluation of
f, and skip or refuse what would not finish (or fit) rather than run it for days."""

from __future__ import annotations

import time
from typing import Any

import jax

from adcli._errors import UsageError

# A method whose one call is predicted (passes × T) to take longer than this is skipped,
# not run: central differences of a 10⁸-parameter model would otherwise run for days.
DEFAULT_MAX_SECONDS = 60.0
# Passes of each method, in units of T, used for that prediction. AD passes cost a small
# multiple of T (a JVP ~ 2-3 T, a VJP ~ 3-4 T); 3 is the usual textbook bound.
AD_PASS_COST = 3.0


def check_fits(f_exe: Any, name: str) -> None:
    """Refuse (exit 2) a function whose one evaluation needs more than the memory budget."""
    from adcli._problem.runtime import default_memory_budget, memory_needed
    from adcli._units import format_size

    needed, budget = memory_needed(f_exe), default_memory_budget()
    if needed is not None and needed > budget:
        raise UsageError(
            f"{name}: one evaluation of f needs {format_size(needed)}, over the memory budget "
            f"({format_size(budget)}, half of RAM); estimate runs f, so shrink it with --dim "
            "(e.g. to the spec's check.dims)"
        )


def quick_eval_seconds(f_exe: Any, x: jax.Array, aux: Any) -> float:
    """T from a second call, or from the first when that is already slow (over a second):
    enough to tell milliseconds from days."""
    t0 = time.perf_counter()
    jax.block_until_ready(f_exe(x, aux))
    first = time.perf_counter() - t0
    if first > 1.0:
        return first
    t0 = time.perf_counter()
    jax.block_until_ready(f_exe(x, aux))
    return time.perf_counter() - t0


def too_slow(t_eval: float, d: int, k: int, max_seconds: float) -> dict[str, str]:
    """Methods whose one call is predicted to exceed ``max_seconds``, with the reason."""
    cost = {
        "forward-diff": (d + 1, 1.0, "d + 1 evaluations"),
        "central-diff": (2 * d, 1.0, "2d evaluations"),
        "zero-order": (2 * k, 1.0, "2k evaluations"),
        "forward-ad": (d, AD_PASS_COST, "d JVPs"),
        "reverse-ad": (1, AD_PASS_COST, "1 VJP"),
    }
    out = {}
    for method, (passes, per_pass, what) in cost.items():
        predicted = passes * per_pass * t_eval
        if predicted > max_seconds:
            out[method] = (
                f"skipped: {what} = {passes:,} × {per_pass:g}·T (T = {seconds(t_eval)}) "
                f"≈ {seconds(predicted)}, over --max-seconds {max_seconds:g}"
            )
    return out


def seconds(t: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if t >= size:
            return f"{t / size:.3g} {unit}"
    return f"{t * 1e3:.3g} ms" if t >= 1e-3 else f"{t * 1e6:.3g} µs"
