"""``adcli estimate``: the gradient five ways (FD, central FD, zero-order, forward AD, reverse
AD) side by side, with counted passes, measured time and error against reverse AD.

The methods are in ``adcli._estimate.estimators``; ``adcli._estimate.methods`` compiles and
times them (compile time apart, by the protocol of ``adcli._numerics.timing``); this module
checks f and x (``adcli._estimate.target``), compares the methods and writes the notes;
``adcli._estimate.sweep`` sweeps a dim.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import UsageError
from adcli._estimate import cost
from adcli._estimate.errors import agreement, reference_doubt, theory
from adcli._estimate.methods import (
    Progress,
    batch_rows,
    compile_timed,
    make_programs,
    method_row,
    run_methods,
)
from adcli._estimate.options import DEFAULT_MEMORY_BUDGET, EstimateOptions
from adcli._estimate.target import Target, scalar_target
from adcli._numerics.domain import require_finite
from adcli._options import from_keywords
from adcli._problem.runtime import jax_scope
from adcli._results.estimate import FORMULAS, EstimateResult, MethodResult
from adcli._spec.model import Spec

TIMING_METHOD = (
    "median of interleaved rounds after a discarded first call and a warm-up "
    "(block_until_ready); compile time apart"
)


def estimate_function(
    f: Callable[[jax.Array, Any], jax.Array],
    x: jax.Array,
    aux: Any = None,
    *,
    name: str = "f",
    k: int | None = None,
    directions: str = "sphere",
    seeds: int = 3,
    seed: int = 0,
    sequential: bool = False,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    time_budget: float = 1.0,
    max_seconds: float = cost.DEFAULT_MAX_SECONDS,
    min_rounds: int = 5,
    progress: Progress | None = None,
) -> EstimateResult:
    """The gradient of a scalar ``f(x, aux)`` at x by the five methods, timed and compared.

    Cost: one compile per method and of f; then ``time_budget`` seconds of timing (at least
    ``min_rounds`` rounds each): about (min_rounds + 2)·(2d + d + 1 + 2k)·T for the
    difference methods. ``seeds − 1`` further runs of the zero-order estimator.

    Args:
        f: scalar function of a flat real vector x and anything else (``aux``, not
            differentiated).
        k: zero-order directions (default d: the cost of central differences, 2d evals).
        directions: ``sphere`` (the lecture's d·(…)·v) or ``gaussian`` (v ~ N(0, I)).
        seeds: zero-order runs with different directions; the error is their mean ± std.
        sequential: evaluate one point (or JVP) at a time instead of vmapped chunks.
        memory_budget: bytes of rows evaluated together per chunk.

    Raises:
        UsageError: a bad k, direction kind, seed count or a non-scalar f.

    >>> import jax.numpy as jnp
    >>> r = estimate_function(lambda x, _: jnp.sum(x ** 3), jnp.arange(1.0, 5.0),
    ...                       time_budget=0.01, min_rounds=1)
    >>> {m.name: m.passes for m in r.methods}   # counted from what ran
    ... # doctest: +NORMALIZE_WHITESPACE
    {'forward-diff': 5, 'central-diff': 8, 'zero-order': 8, 'forward-ad': 4,
     'reverse-ad': 1}
    >>> r.method("central-diff").rel_error < 1e-9
    True
    """
    options = from_keywords(EstimateOptions, locals())
    return estimate_with(f, x, aux, name, options, progress)


def estimate(
    spec: Spec | str | os.PathLike[str],
    *,
    dims: Mapping[str, int] | None = None,
    point: int = 0,
    seed: int | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> EstimateResult:
    """``estimate_function`` on a spec's ``wrt`` inputs, flattened into one x ∈ Rᵈ.

    The other inputs and the constants are held at sample ``point`` (``seed`` replaces the
    spec's ``check.seed``). A function with m > 1 outputs is reduced to ⟨u, f⟩ for a unit u
    drawn with that seed. ``options`` are those of ``estimate_function``.

    Raises:
        SpecError: the spec cannot be built; UsageError: bad options or dims.

    >>> r = estimate("specs/estimate/rosenbrock.yaml", dims={"n": 8}, time_budget=0.01,
    ...              min_rounds=1)
    >>> r.d, r.method("central-diff").passes, r.method("reverse-ad").passes
    (8, 16, 1)
    """
    from adcli._spec.select import one_spec

    chosen = one_spec(spec, instead="run_estimate")
    return estimate_spec(chosen, EstimateOptions(**options), Sample(dims, point, seed), progress)


@dataclass(frozen=True)
class Sample:
    """Which version of a spec is estimated: its sizes (``dims`` over the spec's own), its
    sample ``point``, and ``seed`` in place of its ``check.seed``."""

    dims: Mapping[str, int] | None = None
    point: int = 0
    seed: int | None = None


@jax_scope()
def estimate_spec(
    spec: Spec, options: EstimateOptions, sample: Sample, progress: Progress | None = None
) -> EstimateResult:
    """``estimate`` of one loaded Spec with validated options (see there)."""
    from adcli._problem.build import build
    from adcli._problem.flat import flatten_problem
    from adcli._spec.load import apply_overrides

    point = sample.point
    if sample.dims or sample.seed is not None:
        spec = apply_overrides(spec, dims=sample.dims, seed=sample.seed)
    if point < 0:
        raise UsageError(f"--point: expected a sample point ≥ 0, got {point}")
    start = time.perf_counter()
    problem = build(spec)
    flat = flatten_problem(problem)
    x, rest = flat.sample(point)
    scalarized = flat.m != 1
    rng = np.random.default_rng([spec.check.seed, point, 11])
    u = rng.normal(size=flat.m)
    rest = {"rest": rest, "u": jnp.asarray(u / np.linalg.norm(u), flat.dtype)}

    def f(y: jax.Array, aux: Any) -> jax.Array:
        out = flat.fn(y, aux["rest"])
        return jnp.vdot(aux["u"], out) if scalarized else out[0]

    result = estimate_with(f, x, rest, spec.name, options, progress)
    notes = result.notes
    if scalarized:
        notes += (
            f"f has {flat.m} outputs: the gradient is that of ⟨u, f⟩ for a seeded random unit u",
        )
    return dataclasses.replace(
        result,
        file=spec.where.file,
        line=spec.where.line,
        dims=dict(problem.dims),
        m=flat.m,
        scalarized=scalarized,
        dtypes=dict.fromkeys(spec.wrt, result.dtype),
        notes=notes,
        seconds=time.perf_counter() - start,
    )


@jax_scope()
def estimate_with(
    f: Callable[[jax.Array, Any], jax.Array],
    x: Any,
    aux: Any,
    name: str,
    options: EstimateOptions,
    progress: Progress | None = None,
) -> EstimateResult:
    """``estimate_function`` with validated options (see there)."""

    start = time.perf_counter()
    say = progress or (lambda what: None)
    target = scalar_target(f, x, aux, name)
    k = target.d if options.k is None else options.k
    say("compiling f")
    f_exe, f_compile = compile_timed(jax.jit(target.f), target.x, target.aux)
    cost.check_fits(f_exe, name)
    require_finite(name, f_exe(target.x, target.aux))
    batch = 1 if options.sequential else batch_rows(f_exe, target.x, options.memory_budget)
    say("timing f")
    too_slow = _too_slow(f_exe, target, k, options)
    programs = make_programs(target.f, batch, k, options.directions, target.dtype)
    programs = {m: p for m, p in programs.items() if m not in too_slow or m == "reverse-ad"}
    runs = run_methods(target, f_exe, programs, options, say)
    f0 = f_exe(target.x, target.aux)
    predictions = theory(
        target.x, runs.grads, runs.rows, f0, target.d, k, options.directions, runs.scale,
        target.dtype,
    )  # fmt: skip
    results = [
        method_row(method, runs, too_slow, predictions, options.directions) for method in FORMULAS
    ]
    errors = []
    if "forward-ad" in runs.grads:
        errors = agreement(
            runs.grads["forward-ad"], runs.grads["reverse-ad"], runs.scale, target.dtype
        )
    return EstimateResult(
        name=name,
        file=None,
        line=None,
        dims={},
        d=target.d,
        m=1,
        dtypes={"x": str(target.dtype)},
        backend=f"{jax.default_backend()} ({jax.devices()[0].device_kind})",
        scalarized=False,
        k=k,
        directions=options.directions,
        seeds=options.seeds,
        batch=batch,
        sequential=options.sequential,
        eval_seconds=runs.timings["f"].median,
        eval_compile_seconds=f_compile,
        grad_norm=runs.scale,
        methods=tuple(results),
        notes=tuple(_notes(target, results, k, batch, options)),
        errors=tuple(errors),
        timing_method=TIMING_METHOD,
        seconds=time.perf_counter() - start,
    )


def _too_slow(f_exe: Any, target: Target, k: int, options: EstimateOptions) -> dict[str, str]:
    """The methods predicted to take over ``max_seconds`` (with why); a UsageError when f
    and reverse AD alone, the least that can be timed, would."""
    t_quick = cost.quick_eval_seconds(f_exe, target.x, target.aux)
    reference = (1 + cost.AD_PASS_COST) * t_quick * (options.min_rounds + 1)  # f, reverse AD
    if reference > options.max_seconds:
        raise UsageError(
            f"{target.name}: one evaluation of f takes {cost.seconds(t_quick)}, so timing f and "
            f"reverse AD alone would take about {cost.seconds(reference)} (over --max-seconds "
            f"{options.max_seconds:g}); shrink the function with --dim (e.g. to the spec's "
            "check.dims)"
        )
    return cost.too_slow(t_quick, target.d, k, options.max_seconds)


def _notes(
    target: Target, results: list[MethodResult], k: int, batch: int, options: EstimateOptions
) -> list[str]:
    """What a reader needs beside the numbers: input changes, doubts, dtype, how it ran."""
    seeds, sphere = options.seeds, options.directions == "sphere"
    notes = [*target.notes, *reference_doubt(results, target.dtype)]
    if target.dtype != target.x.dtype:
        notes.append(
            f"f computes in {target.dtype} (x is {np.dtype(target.x.dtype)}): ε, the steps and "
            "the predicted errors are "
            f"{target.dtype}'s"
        )
    notes += [
        "evaluations and JVPs run "
        + ("one at a time" if batch == 1 else f"{batch} per vmapped chunk")
        + " in a compiled loop (lax.map); forward AD: d JVPs along the basis; reverse AD: one VJP",
        f"zero-order: {k} direction{'s' if k != 1 else ''} "
        + ("uniform on the unit sphere, G = d·" if sphere else "~ N(0, I), G = ")
        + "mean of (f(x+δv) − f(x−δv))/(2δ)·v; error mean ± std over "
        f"{seeds} seed{'s' if seeds != 1 else ''}",
    ]
    return notes
