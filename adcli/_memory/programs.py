"""The three programs adcli memory compiles, and what XLA says about each, from shapes alone.

- ``forward``: the function's value;
- ``vjp``: the value and the VJP of a cotangent (reverse mode: what a training step runs);
- ``jvp``: the value and one JVP (forward mode keeps no tape).

Each is lowered and compiled on ``jax.ShapeDtypeStruct``s (nothing is allocated). FLOPs come
from the LOWERED cost analysis (before XLA optimises, so recomputation that XLA would merge
still counts), with each ``lax.scan`` body multiplied by its trip count, since XLA's cost
analysis counts a loop body once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax

from adcli._memory.residuals import block_function
from adcli._results.memory import CompiledMemory

PROGRAMS = ("forward", "vjp", "jvp")


def make_program(kind: str, f: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``f(inputs, constants)`` as the ``kind`` program; its arguments are ``program_args``."""
    if kind == "forward":
        return f
    if kind == "vjp":

        def vjp(inputs: Any, constants: Any, cotangent: Any) -> Any:
            out, pullback = jax.vjp(lambda i: f(i, constants), inputs)
            return out, pullback(cotangent)

        return vjp
    if kind == "jvp":

        def jvp(inputs: Any, constants: Any, tangents: Any) -> Any:
            return jax.jvp(lambda i: f(i, constants), (inputs,), (tangents,))

        return jvp
    raise ValueError(f"unknown program {kind!r}")


def program_args(kind: str, inputs: Any, constants: Any, output: Any) -> tuple[Any, ...]:
    """Abstract arguments of a program: the cotangent has the output's shape, the tangents
    the inputs' (both as ShapeDtypeStructs)."""
    if kind == "forward":
        return (inputs, constants)
    return (inputs, constants, output if kind == "vjp" else inputs)


@dataclass
class Analysis:
    """One program lowered and compiled: FLOPs, memory and the op counts before/after."""

    flops: float | None
    memory: Any  # CompiledMemoryStats or None
    barriers_lowered: int
    barriers_compiled: int
    dots_lowered: int
    dots_compiled: int
    loop_note: str | None


def analyse(
    program: Callable[..., Any], args: tuple[Any, ...], *, compile: bool = True
) -> Analysis:
    """Lower (and compile) ``program`` on abstract ``args``; never runs it."""
    lowered = jax.jit(program).lower(*args)
    flops, note = loop_corrected_flops(program, args, lowered)
    text = lowered.as_text()
    memory, compiled_text = None, ""
    if compile:
        compiled = lowered.compile()
        try:
            memory = compiled.memory_analysis()
        except Exception:  # documented as best-effort; some backends raise
            memory = None
        compiled_text = compiled.as_text() or ""
    return Analysis(
        flops=flops,
        memory=memory,
        barriers_lowered=text.count("stablehlo.optimization_barrier"),
        barriers_compiled=compiled_text.count("opt-barrier("),
        dots_lowered=text.count("stablehlo.dot_general"),
        dots_compiled=compiled_text.count(" dot(") + compiled_text.count(" convolution("),
        loop_note=note,
    )


def _flops(cost: Any) -> float | None:
    if isinstance(cost, list | tuple):  # older JAX returned one dict per device
        cost = cost[0] if cost else None
    if not cost:
        return None
    value = cost.get("flops")
    return float(value) if value is not None and value >= 0 else None


def loop_corrected_flops(
    program: Callable[..., Any], args: tuple[Any, ...], lowered: Any
) -> tuple[float | None, str | None]:
    """Lowered FLOPs with every ``scan`` body counted ``length`` times, and a note when a
    loop's trip count is unknown (``while_loop``: its body is counted once)."""
    base = _flops(lowered.cost_analysis())
    if base is None:
        return None, "the backend gives no FLOP estimate"
    closed = jax.make_jaxpr(program)(*args)
    extra, unknown = _scan_correction(closed.jaxpr)
    note = None
    if unknown:
        note = f"{unknown} while loop(s) of unknown trip count: each body counted once"
    return base + extra, note


def _scan_correction(jaxpr: Any) -> tuple[float, int]:
    """FLOPs to add to a lowered estimate that counted each scan body once; and how many
    while loops were left uncorrected."""
    extra, unknown = 0.0, 0
    for eqn in _equations(jaxpr):
        if eqn.primitive.name == "scan":
            body = eqn.params["jaxpr"]
            once = _closed_jaxpr_flops(body)
            inner, inner_unknown = _scan_correction(body.jaxpr)
            unknown += inner_unknown
            extra += eqn.params["length"] * (once + inner) - once
        elif eqn.primitive.name == "while":
            unknown += 1
    return extra, unknown


def _equations(jaxpr: Any) -> Iterator[Any]:
    """The equations of a jaxpr, descending into calls (jit, checkpoint, custom rules) but
    not into loop bodies (the caller handles those) or cond branches (one runs)."""
    for eqn in jaxpr.eqns:
        yield eqn
        if eqn.primitive.name in ("scan", "while", "cond"):
            continue
        for sub in _sub_jaxprs(eqn.params):
            yield from _equations(sub)


def _sub_jaxprs(params: dict[str, Any]) -> Iterator[Any]:
    for value in params.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            if hasattr(item, "jaxpr") and hasattr(item, "consts"):  # ClosedJaxpr
                yield item.jaxpr
            elif hasattr(item, "eqns") and hasattr(item, "invars"):  # Jaxpr
                yield item


def _closed_jaxpr_flops(closed: Any) -> float:
    from jax.extend.core import jaxpr_as_fun

    structs = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in closed.jaxpr.invars]
    return _flops(jax.jit(jaxpr_as_fun(closed)).lower(*structs).cost_analysis()) or 0.0


def tagged_names(fn: Callable[..., Any], inputs: Any, constants: Any) -> tuple[str, ...]:
    """The names the function tags with ``jax.ad_checkpoint.checkpoint_name``, in order."""
    closed = jax.make_jaxpr(block_function(fn))(inputs, constants)
    names: dict[str, None] = {}

    def walk(jaxpr: Any) -> None:
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "name" and "name" in eqn.params:
                names[str(eqn.params["name"])] = None
            for sub in _sub_jaxprs(eqn.params):
                walk(sub)

    walk(closed.jaxpr)
    return tuple(names)


def compiled_memory(kind: str, analysis: Analysis) -> CompiledMemory:
    """The CompiledMemory record of one analysed program."""
    stats = analysis.memory
    if stats is None:
        return CompiledMemory(
            kind, None, None, None, None, None, analysis.flops, "no memory analysis on this backend"
        )
    arg, out = stats.argument_size_in_bytes, stats.output_size_in_bytes
    temp, alias = stats.temp_size_in_bytes, stats.alias_size_in_bytes
    return CompiledMemory(
        program=kind,
        argument_bytes=arg,
        output_bytes=out,
        temp_bytes=temp,
        alias_bytes=alias,
        peak_bytes=arg + out + temp - alias,
        flops=analysis.flops,
        note=analysis.loop_note,
    )
