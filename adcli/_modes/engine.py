"""``adcli choose-mode``: predict, compile, guard memory, time, cross-check and recommend.

The steps, in order: (1) predict each candidate's FLOPs by lowering it on
ShapeDtypeStructs (no data, no run) beside its count of JVPs/VJPs; (2) compile each and
read its memory; a candidate over the memory budget is skipped, never run; (3) time the
candidates whose predicted FLOPs are within ``CLOSE``× of the best, and the runner-up if
within ``FAR``× (all with ``measure="all"``), by the protocol of ``adcli._numerics.timing``;
(4) check that every candidate that ran gives the same derivative; (5) recommend by
``adcli._modes.decide.decide``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import jax
import numpy as np

from adcli._errors import UsageError, first_line
from adcli._modes.candidates import ORDER, Candidate, find_split, make_candidates
from adcli._modes.decide import decide
from adcli._modes.sharded import on_mesh, sharded_flat
from adcli._numerics.agree import check_agreement
from adcli._numerics.timing import measure as measure_calls
from adcli._numerics.timing import timed
from adcli._problem.build import Problem, build
from adcli._problem.callable import problem_of
from adcli._problem.flat import FlatProblem, flatten_problem
from adcli._problem.one_device import one_device
from adcli._problem.runtime import default_memory_budget, jax_scope, memory_needed
from adcli._results.modes import CandidateResult, CandidateStatus, CutInfo, ModeResult
from adcli._spec.model import Spec
from adcli._spec.select import one_spec
from adcli._units import format_size

CLOSE = 3.0  # time the candidates predicted within 3× of the best
FAR = 10.0  # … and the runner-up within 10×, so the reason can quote a measured ratio
MEASURES = ("close", "all", "none")
Progress = Callable[[str], None]
_REPORT = "choose_mode_report"  # what a file of several specs needs instead
TIMING_METHOD = (
    "median of interleaved rounds after a discarded first call and a warm-up "
    "(block_until_ready); a tie = within the paired noise band"
)


@jax_scope()
def choose_mode(
    spec: Spec | Problem | str | os.PathLike[str] | Callable[..., Any],
    *args: Any,
    wrt: Sequence[int | str] | int | str | None = None,
    target: str = "jacobian",
    measure: str = "close",
    memory_budget: int | None = None,
    time_budget: float = 1.0,
    progress: Progress | None = None,
    candidates: Sequence[Candidate] | None = None,
) -> ModeResult:
    """Recommend forward, reverse or mixed mode (or a Hessian composition) for a spec.

    Cost: one lowering and one compilation per candidate, plus ``time_budget`` seconds of
    timing at most (a candidate slower than that still gets 5 rounds).

    Args:
        spec: a Spec (built here), a built Problem, a file holding one spec, or a
            function, with its example arguments ``*args`` (any JAX pytrees).
        wrt: for a function, the arguments to differentiate (positions or names; by
            default those that hold floating arrays).
        target: ``jacobian`` (default), ``hessian`` or ``hvp`` (scalar functions only).
        measure: ``close`` (time the candidates predicted close to the best), ``all``, or
            ``none`` (predict and compile only).
        memory_budget: bytes a candidate may need; None: half the machine's memory.
        candidates: replace the built-in candidates (tests inject a wrong one this way).

    Returns:
        A ModeResult; a disagreement between candidates is in ``errors`` (exit code 1).

    Raises:
        UsageError: an unknown target/measure, or hessian/hvp of a non-scalar function.
        SpecError: the spec cannot be built.

    >>> from adcli import load_file
    >>> r = choose_mode(load_file("specs/modes/linear_map.yaml")[0])
    >>> r.recommendation
    'forward'
    >>> import jax.numpy as jnp
    >>> choose_mode(lambda w, x: jnp.tanh(x @ w), jnp.ones((40, 2)), jnp.ones(40), wrt="w").m
    2
    """
    start = time.perf_counter()
    if measure not in MEASURES:
        raise UsageError(f"--measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
    problem, flat = _flat_problem(spec, args, wrt, target)
    say = progress or (lambda what: None)
    sharded = problem.mesh is not None and problem.mesh.mesh.devices.size > 1
    split = None
    if candidates is None:
        if target == "jacobian":
            say("looking for a narrow intermediate")
            split = find_split(flat)
        candidates = make_candidates(flat, target, cut=split)
    budget = default_memory_budget() if memory_budget is None else memory_budget
    results, compiled = _predict_and_compile(flat, candidates, budget, say)
    results, errors = _time(flat, results, compiled, measure, time_budget, say)
    cut = _cut_info(split, problem.spec)
    decision = decide(results, target=target, n=flat.n, m=flat.m, cut=cut)
    sp = problem.spec
    result = ModeResult(
        name=sp.name,
        file=sp.where.file,
        line=sp.where.line,
        target=target,
        n=flat.n,
        m=flat.m,
        dims=dict(problem.dims),
        backend=jax.default_backend(),
        dtypes=dict.fromkeys(sp.wrt, str(np.dtype(flat.dtype))),
        candidates=tuple(results),
        recommendation=decision.recommendation,
        reason=decision.reason,
        predicted=decision.predicted,
        tied=decision.tied,
        cut=cut,
        errors=tuple(errors),
        memory_budget_bytes=budget,
        measure=measure,
        timing_method=TIMING_METHOD,
        seconds=time.perf_counter() - start,
    )
    if not sharded:
        return result

    def alone() -> ModeResult:  # the same question on one device: do collectives matter?
        say("the same on one device")
        return choose_mode(
            one_device(problem),
            target=target,
            measure=measure,
            memory_budget=memory_budget,
            time_budget=time_budget,
        )

    result = on_mesh(result, problem, compiled, alone)
    return dataclasses.replace(result, seconds=time.perf_counter() - start)


def _flat_problem(
    spec: Spec | Problem | str | os.PathLike[str] | Callable[..., Any],
    args: tuple[Any, ...],
    wrt: Sequence[int | str] | int | str | None,
    target: str,
) -> tuple[Problem, FlatProblem]:
    """The problem ``choose_mode`` was given (built from a spec or a function) and its flat
    form: with the HVP's vector for ``hvp``, placed on its mesh for a sharded spec."""
    problem = problem_of(spec, args, wrt=wrt, what="choose_mode")
    if problem is None:
        assert not callable(spec)  # problem_of took the function
        problem = spec if isinstance(spec, Problem) else build(one_spec(spec, instead=_REPORT))
    flat = flatten_problem(problem, with_vector=target == "hvp")
    if problem.mesh is not None:  # a sharded spec: candidates compiled and timed sharded
        flat = sharded_flat(flat, problem)
    return problem, flat


def _cut_info(split: Any, spec: Spec) -> CutInfo | None:
    if split is None:
        return None
    source = split.source
    if spec.function.expr is not None:  # JAX's line is inside adcli's formula compiler
        line = spec.function.expr_line or spec.where.line
        source = f"{spec.where.file or '<spec>'}:{line} (function.expr)"
    return CutInfo(split.shape, split.dtype, split.size, split.primitive, source)


def _predict_and_compile(
    flat: FlatProblem, candidates: Sequence[Candidate], budget: int, say: Progress
) -> tuple[list[CandidateResult], dict[str, Any]]:
    lowered: dict[str, Any] = {}
    results: dict[str, CandidateResult] = {}
    for cand in candidates:  # predict all first: shapes only, nothing runs
        say(f"predicting {cand.name}")
        try:
            low = jax.jit(cand.fn).lower(flat.x_struct, flat.rest_struct)
        except Exception as exc:  # a candidate JAX cannot build (e.g. no JVP rule): report it
            results[cand.name] = CandidateResult(
                cand.name,
                cand.passes,
                status=CandidateStatus.ERROR,
                detail=first_line(exc),
                count=cand.count,
            )
            continue
        lowered[cand.name] = low
        results[cand.name] = CandidateResult(
            cand.name, cand.passes, predicted_flops=_flops(low), count=cand.count
        )
    compiled: dict[str, Any] = {}
    for name, low in lowered.items():
        say(f"compiling {name}")
        try:
            exe, seconds = timed(low.compile)
        except Exception as exc:
            results[name] = replace(
                results[name], status=CandidateStatus.ERROR, detail=first_line(exc)
            )
            continue
        need = memory_needed(exe)
        status, detail = CandidateStatus.OK, None
        if need is not None and need > budget:
            status = CandidateStatus.SKIPPED
            detail = f"needs {format_size(need)} (budget {format_size(budget)})"
        else:
            compiled[name] = exe
        results[name] = replace(
            results[name], status=status, detail=detail, compile_seconds=seconds, memory_bytes=need
        )
    return [results[c.name] for c in candidates], compiled


def _time(
    flat: FlatProblem,
    results: list[CandidateResult],
    compiled: dict[str, Any],
    measure: str,
    budget: float,
    say: Progress,
) -> tuple[list[CandidateResult], list[str]]:
    runnable = [r for r in results if r.name in compiled]
    chosen = select_to_time(runnable, measure)
    out = {r.name: r for r in results}
    for r in runnable:
        if measure == "close" and r.name not in chosen:
            best = min(_cost(c) for c in runnable)
            out[r.name] = replace(
                r,
                status=CandidateStatus.NOT_TIMED,
                detail=f"{_cost(r) / best:.2g}× the best FLOPs",
            )
    errors: list[str] = []
    if chosen:
        say(f"timing {', '.join(chosen)}")
        x, rest = flat.sample(0)
        calls = {name: (lambda e=compiled[name]: e(x, rest)) for name in chosen}
        outputs: dict[str, object] = {}
        try:
            timings = measure_calls(calls, budget_s=budget, first_outputs=outputs)
        except Exception as exc:  # e.g. out of memory at run time despite the estimate
            errors.append(f"timing failed: {first_line(exc)}")
            timings = {}
        for name, t in timings.items():
            out[name] = replace(
                out[name],
                first_call_seconds=t.first_call,
                median_seconds=t.median,
                spread=t.spread,
                samples=t.samples,
            )
        say("comparing the candidates' results")
        disagreements, errors_ = check_agreement(outputs, flat.dtype, ORDER, flat)
        errors += errors_
        for name, detail in disagreements.items():
            out[name] = replace(out[name], status=CandidateStatus.DISAGREES, detail=detail)
    return [out[r.name] for r in results], errors


def select_to_time(runnable: Sequence[CandidateResult], measure: str) -> list[str]:
    """Names to time: all (``all``), none (``none``), or those within CLOSE× of the best."""
    if measure == "none" or not runnable:
        return []
    if measure == "all":
        return [r.name for r in runnable]
    best = min(_cost(r) for r in runnable)
    close = [r.name for r in runnable if _cost(r) <= CLOSE * best]
    if len(close) == 1:  # time the runner-up too, for a measured ratio, unless it is far off
        close += [r.name for r in sorted(runnable, key=_cost)[1:2] if _cost(r) <= FAR * best]
    return close


def _cost(r: CandidateResult) -> float:
    return r.predicted_flops if r.predicted_flops else float(max(r.count, 1))


def _flops(lowered: Any) -> float | None:
    try:
        cost = lowered.cost_analysis()
    except Exception:  # best-effort API: no prediction, the pass count stands in
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    value = cost.get("flops") if isinstance(cost, dict) else None
    return float(value) if value is not None and value >= 0 else None
