"""Checkpoint policies applied to the spec's function as one block: what each saves, what
XLA allocates, how much it recomputes, which are Pareto-optimal, and whether the backend kept
the checkpoint at all.

Recompute is measured as the extra LOWERED FLOPs of the value-and-VJP program over the same
program without checkpointing: XLA:CPU strips the optimisation barriers of an unrolled
``jax.checkpoint`` and may merge the recomputation away, so the compiled figures can show
~0% (see ``stripped``). A checkpointed body of a ``lax.scan`` keeps its recompute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.ad_checkpoint  # jax.checkpoint_policies needs the submodule imported

from adcli._memory.programs import Analysis, analyse, make_program, program_args
from adcli._memory.residuals import _raw_residuals, block_function, summarize
from adcli._results.memory import PolicyResult


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    policy: Callable[..., Any]


def available_policies(names: tuple[str, ...], backend_memories: tuple[str, ...]) -> list[Policy]:
    """JAX's policies that apply here: names only when the function tags some, offload only
    when the backend has a ``pinned_host`` memory."""
    cp = jax.checkpoint_policies
    policies = [
        Policy(
            "everything_saveable",
            "save every intermediate (checkpoint as a no-op)",
            cp.everything_saveable,
        ),
        Policy(
            "dots_saveable", "save matmul outputs, recompute the elementwise ops", cp.dots_saveable
        ),
        Policy(
            "dots_with_no_batch_dims_saveable",
            "save matmuls without batch dimensions (not attention's batched ones)",
            cp.dots_with_no_batch_dims_saveable,
        ),
    ]
    if names:
        policies.append(
            Policy(
                f"save_only_these_names({', '.join(names)})",
                "save the values tagged with checkpoint_name, recompute the rest",
                cp.save_only_these_names(*names),
            )
        )
    policies.append(
        Policy(
            "nothing_saveable", "save only the block's inputs, recompute all", cp.nothing_saveable
        )
    )
    if "pinned_host" in backend_memories:
        policies.append(
            Policy(
                "offload_dot_with_no_batch_dims(device→pinned_host)",
                "move non-batched matmul outputs to host memory, recompute the rest",
                cp.offload_dot_with_no_batch_dims("device", "pinned_host"),
            )
        )
        if names:
            policies.append(
                Policy(
                    f"save_and_offload_only_these_names(offload: {', '.join(names)})",
                    "move the tagged values to host memory, recompute the rest",
                    cp.save_and_offload_only_these_names(
                        names_which_can_be_saved=(),
                        names_which_can_be_offloaded=names,
                        offload_src="device",
                        offload_dst="pinned_host",
                    ),
                )
            )
    return policies


def evaluate_policy(
    policy: Policy,
    fn: Callable[..., Any],
    inputs: Any,
    constants: Any,
    output: Any,
    plain: Analysis,
) -> PolicyResult:
    """One policy: saved bytes (device and host), compiled temp, extra FLOPs, strip check."""
    checkpointed = jax.checkpoint(block_function(fn), policy=policy.policy)
    raw, method = _raw_residuals(checkpointed, inputs, constants)
    summary = summarize(raw, method, constants=constants)
    host = sum(
        r.bytes
        for (aval, _), r in zip(raw, _parsed(raw), strict=True)
        if _on_host(aval) and r.origin != "argument"
    )
    analysis = analyse(
        make_program("vjp", checkpointed), program_args("vjp", inputs, constants, output)
    )
    extra = None
    if analysis.flops is not None and plain.flops:
        extra = 100.0 * (analysis.flops - plain.flops) / plain.flops
    stripped = (
        analysis.barriers_lowered > 0
        and analysis.barriers_compiled == 0
        and analysis.dots_compiled <= plain.dots_compiled
        and (extra or 0.0) > 0.5
    )
    temp = analysis.memory.temp_size_in_bytes if analysis.memory is not None else None
    return PolicyResult(
        name=policy.name,
        description=policy.description,
        residual_bytes=summary.bytes - host,
        host_bytes=host,
        compiled_temp_bytes=temp,
        flops=analysis.flops,
        extra_flops_pct=extra,
        barriers_lowered=analysis.barriers_lowered,
        barriers_compiled=analysis.barriers_compiled,
        dots_lowered=analysis.dots_lowered,
        dots_compiled=analysis.dots_compiled,
        stripped=stripped,
    )


def _parsed(raw: list[tuple[Any, str]]) -> list[Any]:
    from adcli._memory.residuals import parse_reason

    return [parse_reason(aval, reason) for aval, reason in raw]


def _on_host(aval: Any) -> bool:
    space = getattr(aval, "memory_space", None)
    return space is not None and "host" in str(space).lower()


def mark_pareto(results: list[PolicyResult]) -> list[PolicyResult]:
    """Mark the policies no other beats on both saved bytes and extra FLOPs.

    >>> a = PolicyResult("a", "", 10, 0, None, None, 0.0)
    >>> b = PolicyResult("b", "", 5, 0, None, None, 30.0)
    >>> c = PolicyResult("c", "", 8, 0, None, None, 35.0)
    >>> [p.pareto for p in mark_pareto([a, b, c])]
    [True, True, False]
    """
    usable = [p for p in results if p.error is None and p.extra_flops_pct is not None]

    def dominated(p: PolicyResult) -> bool:
        return any(
            q.residual_bytes <= p.residual_bytes
            and (q.extra_flops_pct or 0) <= (p.extra_flops_pct or 0)
            and (
                q.residual_bytes < p.residual_bytes
                or (q.extra_flops_pct or 0) < (p.extra_flops_pct or 0)
            )
            for q in usable
        )

    return [replace(p, pareto=p in usable and not dominated(p)) for p in results]
