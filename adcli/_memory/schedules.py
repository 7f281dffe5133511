"""Checkpointing schedules for an L-layer stack of one block: pure arithmetic, no jax.

A block stores ``a`` bytes of activations for its backward pass (its residuals plus its input,
the ``carry`` of ``c`` bytes that the previous block produced), does ``F`` forward FLOPs, and
``V`` FLOPs for its value and VJP together. Memory figures count activations only: never the
parameters, their gradients or optimiser state. Recompute is extra FLOPs as a percentage of a
training step without checkpointing (L·V).

The binomial schedule is Griewank's Revolve (Griewank & Walther, ACM TOMS 26(1), 2000,
Algorithm 799): with ``s`` checkpoint slots (one holds the stack's input) and ``r`` the least
integer with L ≤ β(s, r) = C(s + r, s), reversing L steps needs

    t(L, s) = r·L − β(s + 1, r − 1)

extra forward steps, the minimum over all schedules; ``revolve_dp`` recomputes it by dynamic
programming as a check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from adcli._results.memory import ScheduleResult
from adcli._units import format_size


def beta(s: int, r: int) -> int:
    """β(s, r) = C(s + r, s): the most steps s slots reverse with r repetitions (0 if r < 0).

    >>> beta(2, 3), beta(1, 5), beta(3, -1)
    (10, 6, 0)
    """
    return math.comb(s + r, s) if r >= 0 else 0


def revolve_extra_steps(steps: int, slots: int) -> int:
    """Fewest extra forward steps to reverse ``steps`` steps holding ``slots`` states.

    One slot: t = L(L−1)/2 (re-run from the start for every step); slots ≥ L − 1: t = L − 1.

    >>> revolve_extra_steps(10, 1), revolve_extra_steps(10, 2), revolve_extra_steps(10, 9)
    (45, 20, 9)
    """
    if steps < 1 or slots < 1:
        raise ValueError("need at least one step and one slot")
    r = 0
    while beta(slots, r) < steps:
        r += 1
    return r * steps - beta(slots + 1, r - 1)


@cache
def revolve_dp(steps: int, slots: int) -> int:
    """``revolve_extra_steps`` by dynamic programming: advance j steps, store a state,
    reverse the rest with one slot fewer, then the first j with all slots."""
    if steps <= 1:
        return 0
    if slots == 1:
        return steps * (steps - 1) // 2
    return min(j + revolve_dp(steps - j, slots - 1) + revolve_dp(j, slots) for j in range(1, steps))


@dataclass(frozen=True)
class Block:
    """One block's figures, from the residual and cost analyses."""

    activation_bytes: int  # a: residuals (no arguments) + carry
    carry_bytes: int  # c: the block's input that the previous block produced
    forward_flops: float  # F
    step_flops: float  # V: value and VJP of the block


def stack_schedules(
    block: Block,
    layers: int,
    policies: list[tuple[str, int, float]],
    budget: int | None = None,
) -> list[ScheduleResult]:
    """No checkpointing, each policy per block, √L segments and Revolve for several slot
    counts (with a budget: also the most slots that fit), each with memory and recompute.

    ``policies`` are (name, residual bytes the policy saves, extra FLOPs % for one block).
    """
    a, c, L = block.activation_bytes, block.carry_bytes, layers
    fwd_pct = 100.0 * block.forward_flops / block.step_flops if block.step_flops else 0.0
    out = [ScheduleResult("no checkpointing", "none", L * a, 0.0, f"{L} × {format_size(a)}")]
    for name, saved, pct in policies:
        kept = min(saved + c, a)
        out.append(
            ScheduleResult(
                f"{name} per block",
                "policy",
                L * kept + (a - kept),
                pct,
                "scan over checkpointed blocks; one block rematerialised at a time",
            )
        )
    seg = math.ceil(math.sqrt(L))
    count = math.ceil(L / seg)
    out.append(
        ScheduleResult(
            f"√L segments ({count} × {seg} layers)",
            "sqrt",
            count * c + seg * a,
            fwd_pct,
            "keep segment inputs; re-run each segment once",
            checkpoints=count,
        )
    )
    slots = sorted({s for s in (1, 2, 4, seg, 2 * seg, L - 1) if 1 <= s < L})
    if budget is not None and c > 0 and budget > a:
        most = min((budget - a) // c, L - 1)
        if most >= 1:
            slots = sorted({*slots, int(most)})
    for s in slots:
        t = revolve_extra_steps(L, s)
        out.append(
            ScheduleResult(
                f"Revolve, {s} checkpoint{'s' if s > 1 else ''}",
                "revolve",
                s * c + a,
                fwd_pct * t / L,
                f"{t} extra block forwards for {L} blocks",
                checkpoints=s,
            )
        )
    if budget is not None:
        out = [
            ScheduleResult(
                s.name,
                s.kind,
                s.memory_bytes,
                s.extra_flops_pct,
                s.detail,
                s.checkpoints,
                fits=s.memory_bytes <= budget,
            )
            for s in out
        ]
    return out


def pick(
    options: list[ScheduleResult], budget: int | None, full: int
) -> tuple[ScheduleResult, str] | None:
    """The recommended schedule and why: with a budget, the least recompute that fits (then
    the least memory); without one, the best trade (memory saved as a fraction of ``full``
    minus the recompute fraction). None when nothing fits the budget.
    """
    if not options:
        return None
    if budget is not None:
        fitting = [s for s in options if s.memory_bytes <= budget]
        if not fitting:
            return None
        best = min(fitting, key=lambda s: (round(s.extra_flops_pct, 6), s.memory_bytes))
        return best, "the least recompute among the options that fit the budget"
    best = max(
        options,
        key=lambda s: (1 - s.memory_bytes / full if full else 0) - s.extra_flops_pct / 100,
    )
    return best, (
        "no budget given: the best trade of memory saved (share of the uncheckpointed figure) "
        "against extra compute (share of a step); give --budget to choose by memory"
    )
