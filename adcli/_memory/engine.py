"""``adcli memory``: what a spec's derivatives store, what XLA allocates, what checkpointing
would buy back, and (``--measure``) what a run really takes.

Everything except ``--measure`` works on abstract values: the function is traced, lowered and
compiled on ``jax.ShapeDtypeStruct``s, so a GPT-2-XL block at batch 32 × 1024 tokens is
analysed without allocating it. Engines here return data (adcli._results.check); the CLI renders it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from adcli._errors import SpecError, UsageError, first_line
from adcli._memory import advice
from adcli._memory.policies import available_policies, evaluate_policy, mark_pareto
from adcli._memory.programs import (
    PROGRAMS,
    Analysis,
    analyse,
    compiled_memory,
    make_program,
    program_args,
    tagged_names,
)
from adcli._memory.residuals import block_function, residuals
from adcli._memory.schedules import Block, stack_schedules
from adcli._memory.sharded import mesh_memory, output_sharded
from adcli._problem.build import Problem, build
from adcli._problem.mesh import shard_bytes
from adcli._problem.runtime import jax_scope
from adcli._results.memory import (
    CompiledMemory,
    MemoryReport,
    MemoryResult,
    MeshMemory,
    PolicyResult,
    ResidualSummary,
    ScheduleResult,
)
from adcli._spec.model import Spec
from adcli._units import format_size


def memory_report(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Callable[..., Any],
    *args: Any,
    wrt: Sequence[int | str] | int | str | None = None,
    dims: Mapping[str, int] | None = None,
    only: Sequence[str] = (),
    layers: int | None = None,
    budget: int | None = None,
    measure: bool = False,
    policies: bool = True,
) -> MemoryReport:
    """``analyse_memory`` for every spec under ``paths`` (files or directories), or for a
    function at its example arguments ``*args`` (any JAX pytrees; ``wrt``: the arguments
    to differentiate, by default those that hold floating arrays).

    Raises:
        SpecError: a spec cannot be loaded or built; UsageError: a bad option.

    >>> report = memory_report(["specs/memory/mlp.yaml"], dims={"L": 2, "N": 4, "h": 8})
    >>> r = report.results[0]
    >>> r.residuals.bytes == 3 * 2 * 4 * 8 * 4   # three float32 [N, h] arrays per layer
    True
    >>> full = next(p for p in r.policies if p.name == "nothing_saveable")
    >>> full.residual_bytes, 25 < full.extra_flops_pct < 40   # recompute all: about a third
    (0, True)
    >>> report.exit_code                          # mlp.yaml's budget (64MiB) is respected
    0
    """
    from adcli._problem.callable import problem_of
    from adcli._spec.select import all_loaded, select_specs

    start = time.perf_counter()
    problem = problem_of(paths, args, wrt=wrt, what="memory_report")
    if problem is not None:
        result = analyse_memory(
            problem, layers=layers, budget=budget, measure=measure, policies=policies
        )
        return MemoryReport((result,), seconds=time.perf_counter() - start)
    assert not callable(paths)
    chosen = all_loaded(select_specs(paths, only=only, dims=dims))
    results = []
    for spec in chosen:
        results.append(
            analyse_memory(spec, layers=layers, budget=budget, measure=measure, policies=policies)
        )
    return MemoryReport(tuple(results), seconds=time.perf_counter() - start)


@jax_scope()
def analyse_memory(
    spec: Spec | Problem,
    *,
    layers: int | None = None,
    budget: int | None = None,
    measure: bool = False,
    policies: bool = True,
) -> MemoryResult:
    """The memory figures of one spec (or a built Problem) at its full ``dims`` (not
    ``check.dims``).

    Cost: one trace for the residuals; three lower+compile (forward, VJP, JVP); one more
    VJP lower+compile per checkpoint policy. Only ``measure=True`` allocates and runs.

    Args:
        layers: treat the function as one block of an L-layer stack (default: the spec's
            ``memory.layers``) and extrapolate schedules.
        budget: bytes the recommendation must fit (default: the spec's ``memory.budget``).
        measure: also run the VJP program on sampled inputs and measure peak memory and time.
        policies: evaluate JAX's checkpoint policies (the slow part on large functions).

    Raises:
        SpecError: the spec cannot be built; UsageError: ``layers`` cannot be applied.
    """

    start = time.perf_counter()
    problem = spec if isinstance(spec, Problem) else build(spec)
    spec = problem.spec
    if problem.mesh is not None:  # per device: the cotangent laid out as the output is
        problem = output_sharded(problem)
    options = spec.memory
    layers = layers if layers is not None else (options.layers if options else None)
    budget = budget if budget is not None else (options.budget if options else None)
    saved = _residuals(problem)
    analyses, compiled = _programs(problem)
    if "vjp" not in analyses:
        policies = False
    warnings: list[str] = []
    results: list[PolicyResult] = []
    if policies:
        results = _policies(problem, analyses["vjp"], warnings)
    stack = _stack(problem, saved.bytes, analyses, results, layers, budget)
    guard = advice.guard(spec, saved.bytes, compiled, layers, stack.carry_bytes)
    recommendation = advice.recommend(saved.bytes, results, stack.schedules, budget, layers)
    measurement = _measure(problem, compiled) if measure else None
    return MemoryResult(
        name=spec.name,
        file=spec.where.file,
        line=spec.where.line,
        backend=f"{jax.default_backend()} ({jax.devices()[0].device_kind})",
        dtypes=_dtypes(problem),
        dims=dict(problem.dims),
        residuals=saved,
        compiled=compiled,
        policies=tuple(results),
        layers=layers,
        carry=stack.carry,
        carry_bytes=stack.carry_bytes,
        block_flops=stack.block_flops,
        schedules=stack.schedules,
        budget=budget,
        guard=guard,
        recommendation=recommendation,
        measurement=measurement,
        notes=tuple(_notes(saved.method, compiled, policies)),
        warnings=tuple(warnings),
        seconds=time.perf_counter() - start,
        mesh=None if problem.mesh is None else _mesh(problem),
    )


def _mesh(problem: Problem) -> MeshMemory:
    """A sharded spec's mesh and its residuals replicated where they could be split."""
    f = block_function(problem.fn)
    return mesh_memory(problem, f, (problem.input_structs, problem.constant_structs))


def _residuals(problem: Problem) -> ResidualSummary:
    """What reverse mode saves between the passes (a SpecError when it cannot run)."""
    spec = problem.spec
    try:
        return residuals(problem.fn, problem.input_structs, problem.constant_structs)
    except Exception as exc:  # the user's function cannot be differentiated in reverse mode
        raise SpecError(
            f"reverse mode fails on this function: {first_line(exc)}",
            file=spec.where.file,
            line=spec.line_of("function"),
            field="function",
        ) from exc


def _programs(problem: Problem) -> tuple[dict[str, Analysis], tuple[CompiledMemory, ...]]:
    """Each program (forward, VJP, JVP) lowered and compiled on abstract values; one that
    fails is reported in its row, not raised."""
    inputs, constants = problem.input_structs, problem.constant_structs
    f = block_function(problem.fn)
    analyses: dict[str, Analysis] = {}
    failed: dict[str, str] = {}
    for kind in PROGRAMS:
        try:
            args = program_args(kind, inputs, constants, problem.output_struct)
            analyses[kind] = analyse(make_program(kind, f), args)
        except Exception as exc:  # e.g. forward mode of a custom_vjp: report, go on
            failed[kind] = first_line(exc)
    compiled = tuple(
        compiled_memory(kind, analyses[kind])
        if kind in analyses
        else CompiledMemory(kind, None, None, None, None, None, None, f"failed: {failed[kind]}")
        for kind in PROGRAMS
    )
    return analyses, compiled


def _notes(method: str, compiled: tuple[CompiledMemory, ...], policies: bool) -> list[str]:
    notes = [f"residuals listed by {method}"]
    if policies:
        notes.append(
            "a policy on the whole function cuts what is kept between the forward and the "
            "backward pass, not this function's own peak (its backward pass rematerialises "
            "what it needs, so compiled temp does not drop): it pays off across blocks, "
            "see --layers"
        )
    if policies and jax.default_backend() == "cpu":
        notes.append("offload policies skipped: on CPU, host memory is the device memory")
    notes += sorted({f"{c.program}: {c.note}" for c in compiled if c.note})
    return notes


@dataclass(frozen=True)
class _Stack:
    """The function as one block of an L-layer stack (empty without ``layers``)."""

    carry: tuple[str, ...] = ()
    carry_bytes: int = 0
    block_flops: dict[str, float] = field(default_factory=dict)
    schedules: tuple[ScheduleResult, ...] = ()


def _stack(
    problem: Problem,
    saved_bytes: int,
    analyses: dict[str, Analysis],
    policies: list[PolicyResult],
    layers: int | None,
    budget: int | None,
) -> _Stack:
    """The carried activation, the block's FLOPs and the schedules of ``layers`` blocks."""
    fwd_flops = analyses["forward"].flops if "forward" in analyses else None
    vjp_flops = analyses["vjp"].flops if "vjp" in analyses else None
    block_flops = {"forward": fwd_flops, "vjp": vjp_flops} if fwd_flops and vjp_flops else {}
    if layers is None:
        return _Stack(block_flops=block_flops)
    carry, carry_bytes = _carry(problem)
    if not block_flops:
        raise UsageError("--layers needs FLOP estimates, which this backend does not give")
    block = Block(
        saved_bytes + carry_bytes, carry_bytes, block_flops["forward"], block_flops["vjp"]
    )
    per_policy = [
        (p.name, p.residual_bytes, p.extra_flops_pct)
        for p in policies
        if p.error is None and p.extra_flops_pct is not None and p.name != "everything_saveable"
    ]
    schedules = tuple(stack_schedules(block, layers, per_policy, budget))
    return _Stack(carry, carry_bytes, block_flops, schedules)


def _policies(problem: Problem, plain: Analysis, warnings: list[str]) -> list[PolicyResult]:
    inputs, constants = problem.input_structs, problem.constant_structs
    names = tagged_names(problem.fn, inputs, constants)
    # On CPU the device memory is host memory: offloading to pinned_host saves nothing.
    memories = ()
    if jax.default_backend() != "cpu":
        memories = tuple(m.kind for m in jax.devices()[0].addressable_memories())
    results = []
    for policy in available_policies(names, memories):
        try:
            result = evaluate_policy(
                policy, problem.fn, inputs, constants, problem.output_struct, plain
            )
        except Exception as exc:  # one policy failing (e.g. offload) must not hide the others
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            result = PolicyResult(
                policy.name,
                policy.description,
                0,
                0,
                None,
                None,
                None,
                error=f"{type(exc).__name__}: {message}"[:200],
            )
        results.append(result)
    stripped = [p.name for p in results if p.stripped]
    if stripped:
        backend = jax.default_backend()
        warnings.append(
            f"XLA:{backend} removed the optimisation barriers of jax.checkpoint and merged the "
            f"recompute for {', '.join(stripped)} (no more dots after compiling than without "
            f"checkpointing, {plain.dots_compiled}): their compiled temp bytes do not show what "
            "the policy saves. Checkpoint the body of a lax.scan over layers instead (a loop "
            "body keeps its recompute); the lowered FLOPs and saved bytes above show the plan."
        )
    return mark_pareto(results)


def _carry(problem: Problem) -> tuple[tuple[str, ...], int]:
    """The inputs shaped like the output: the activation the previous block hands on."""
    out = problem.output_struct
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise UsageError(
            f"--layers: spec '{problem.spec.name}' returns a pytree; a block of a stack must "
            "return one array shaped like one of its inputs (the activation it hands on)"
        )
    names = tuple(
        name
        for name, struct in problem.input_structs.items()
        if isinstance(struct, jax.ShapeDtypeStruct)
        and struct.shape == out.shape
        and struct.dtype == out.dtype
    )
    if not names:
        shape = f"{out.dtype}{list(out.shape)}"
        raise UsageError(
            f"--layers: spec '{problem.spec.name}' returns {shape}, but no input has that "
            "shape and dtype; a block of a stack maps its input activation to one of the same "
            "shape (e.g. x [batch, seq, hidden] -> [batch, seq, hidden])"
        )
    return names[:1], shard_bytes(out)  # per device on a mesh


def _dtypes(problem: Problem) -> dict[str, str]:
    found = {}
    for group in (problem.input_structs, problem.constant_structs):
        for name, tree in group.items():
            kinds = sorted({str(leaf.dtype) for leaf in jax.tree_util.tree_leaves(tree)})
            found[name] = ",".join(kinds)
    found["output"] = ",".join(
        sorted({str(leaf.dtype) for leaf in jax.tree_util.tree_leaves(problem.output_struct)})
    )
    return found


def _measure(problem: Problem, compiled: tuple[Any, ...]) -> Any:
    from adcli._memory.measure import available_bytes, measure

    vjp = next(c for c in compiled if c.program == "vjp")
    free = available_bytes()
    if vjp.peak_bytes is not None and free is not None and vjp.peak_bytes > 0.8 * free:
        raise UsageError(
            f"--measure: spec '{problem.spec.name}' needs about {format_size(vjp.peak_bytes)} "
            f"(XLA's estimate for its value and VJP) but only {format_size(free)} is available; "
            "measure a smaller size with --dim"
        )
    inputs, constants = problem.sample_inputs(0), problem.sample_constants()
    cotangent = jax.tree_util.tree_map(lambda s: jnp.ones(s.shape, s.dtype), problem.output_struct)
    program = make_program("vjp", block_function(problem.fn))
    return measure(program, (inputs, constants, cotangent))
