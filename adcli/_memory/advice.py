"""What to do about the memory figures: the spec's CI guard and the recommendation.

Pure decisions over results (adcli._results.check): no jax, no tracing.
"""

from __future__ import annotations

from typing import Any

from adcli._errors import UsageError
from adcli._memory.schedules import pick
from adcli._results.memory import Guard, PolicyResult, Recommendation, ScheduleResult
from adcli._spec.model import Spec
from adcli._units import format_size


def guard(
    spec: Spec, saved: int, compiled: tuple[Any, ...], layers: int | None, carry: int
) -> Guard | None:
    """The spec's ``memory.budget`` against its ``memory.figure``, or None without one."""
    options = spec.memory
    if options is None or options.budget is None:
        return None
    vjp = next(c for c in compiled if c.program == "vjp")
    if options.figure == "residuals":
        if layers is not None:
            value, what = (
                layers * (saved + carry),
                f"activations of {layers} stacked blocks, no checkpointing",
            )
        else:
            value, what = saved, "residuals the backward pass stores (arguments excluded)"
    else:
        field = "temp_bytes" if options.figure == "compiled-temp" else "peak_bytes"
        value = getattr(vjp, field)
        kind = "temporary" if field == "temp_bytes" else "total"
        what = f"XLA {kind} bytes of the value-and-VJP program"
        if value is None:
            raise UsageError(
                f"memory.figure {options.figure}: this backend gives no memory analysis; "
                "use figure: residuals"
            )
    return Guard(options.figure, options.budget, int(value), value > options.budget, what)


def recommend(
    saved: int,
    policies: list[PolicyResult],
    schedules: tuple[ScheduleResult, ...],
    budget: int | None,
    layers: int | None,
) -> Recommendation | None:
    """With ``layers``: a schedule; else a policy on the whole function, or none needed.
    With a budget: the least recompute that fits (or "none fits"); without: the best trade.
    """
    if layers is not None:
        options = list(schedules)
        full = schedules[0].memory_bytes if schedules else 0
    else:
        options = [ScheduleResult("no checkpointing (as written)", "none", saved, 0.0, "")]
        options += [
            ScheduleResult(p.name, "policy", p.residual_bytes, p.extra_flops_pct, p.description)
            for p in policies
            if p.error is None and p.extra_flops_pct is not None and p.name != "everything_saveable"
        ]
        full = saved
    if len(options) == 1 and budget is None:
        return None
    chosen = pick(options, budget, full)
    if chosen is None:
        least = min(options, key=lambda s: s.memory_bytes)
        return Recommendation(
            "none fits",
            f"the least memory is {format_size(least.memory_bytes)} ({least.name}), above the "
            f"budget of {format_size(budget)}: reduce the batch or sequence, shard, or offload",
            least.memory_bytes,
            least.extra_flops_pct,
            fits=False,
        )
    best, why = chosen
    if best.kind == "none":
        fits = "fits the budget" if budget is not None else "is the best trade here"
        return Recommendation(
            best.name,
            f"no checkpointing: {format_size(best.memory_bytes)} of activations {fits} "
            "without any recompute",
            best.memory_bytes,
            0.0,
            fits=None if budget is None else True,
        )
    stripped = any(p.stripped and p.name in best.name for p in policies)
    reason = (
        f"{why}: {format_size(best.memory_bytes)} of activations instead of "
        f"{format_size(full)}, for {best.extra_flops_pct:.1f}% more FLOPs"
    )
    host = next((p.host_bytes for p in policies if p.name in best.name and p.host_bytes), 0)
    if host:
        reason += f"; {format_size(host)} per block move to host memory (transfers not counted)"
    if stripped and layers is None:
        reason += " (XLA strips this checkpoint on one block: apply it to a lax.scan body)"
    return Recommendation(
        best.name,
        reason,
        best.memory_bytes,
        best.extra_flops_pct,
        fits=None if budget is None else True,
    )
