"""``adcli estimate``: the gradient five ways (FD, central FD, zero-order, forward AD, reverse
AD) side by side, with counted passes, measured time and error against reverse AD.

The methods are in ``adcli._estimate.estimators``; this module compiles and times them (compile time
apart, by the protocol of ``adcli._numerics.timing``), compares them, and sweeps a dim.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import UsageError, first_line
from adcli._estimate import cost
from adcli._estimate import estimators as est
from adcli._estimate.errors import agreement, reference_doubt, rel_error, theory
from adcli._numerics.domain import require_finite
from adcli._results.estimate import FORMULAS, UNITS, EstimateResult, MethodResult
from adcli._spec.model import Spec

# Bytes of rows evaluated at once (one vmapped chunk). Small on purpose: on a 2-core CPU,
# central differences at d = 10⁴ ran 0.22 s in chunks of 8 rows (0.6 MB) and 0.70–0.87 s
# in chunks of 128–512 (10–40 MB): a chunk that stays in cache wins.
DEFAULT_MEMORY_BUDGET = 8 * 2**20
TIMING_METHOD = (
    "median of interleaved rounds after a discarded first call and a warm-up "
    "(block_until_ready); compile time apart"
)
Progress = Callable[[str], None]


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
        directions: ``sphere`` (the issue's d·(…)·v) or ``gaussian`` (v ~ N(0, I)).
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
    from adcli._problem.runtime import enable_x64

    enable_x64()
    start = time.perf_counter()
    say = progress or (lambda what: None)
    x, f, input_notes = flat_real_input(f, x, name)
    d = int(x.size)
    if d == 0:  # before k, whose default (d) would be 0: the real problem comes first
        raise UsageError(f"{name}: the function has no real inputs to differentiate")
    k = d if k is None else k
    validate_options(k, directions, seeds)
    out = jax.eval_shape(f, x, aux)
    if out.shape not in ((), (1,)):
        raise UsageError(f"{name}: estimate needs a scalar function, got shape {out.shape}")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise UsageError(
            f"{name}: estimate needs a real scalar function, got {out.dtype}; for a complex f "
            "estimate the gradient of a real function of it (e.g. its real part or |f|²)"
        )

    def fs(y: jax.Array, a: Any) -> jax.Array:
        return jnp.reshape(f(y, a), ())

    dtype = compute_dtype(fs, x, aux)
    say("compiling f")
    f_exe, f_compile = _compile(jax.jit(fs), x, aux)
    cost.check_fits(f_exe, name)
    require_finite(name, f_exe(x, aux))
    batch = 1 if sequential else _batch(f_exe, x, memory_budget)
    programs = _programs(fs, batch, k, directions, dtype)
    say("timing f")
    t_quick = cost.quick_eval_seconds(f_exe, x, aux)
    reference = (1 + cost.AD_PASS_COST) * t_quick * (min_rounds + 1)  # f and reverse AD, timed
    if reference > max_seconds:
        raise UsageError(
            f"{name}: one evaluation of f takes {cost.seconds(t_quick)}, so timing f and reverse "
            f"AD alone would take about {cost.seconds(reference)} (over --max-seconds "
            f"{max_seconds:g}); shrink the function with --dim (e.g. to the spec's check.dims)"
        )
    too_slow = cost.too_slow(t_quick, d, k, max_seconds)
    programs = {m: p for m, p in programs.items() if m not in too_slow or m == "reverse-ad"}
    key = jax.random.key(seed)
    compiled: dict[str, Any] = {}
    compile_s: dict[str, float] = {}
    failed: dict[str, str] = {}
    for method, program in programs.items():
        say(f"compiling {method}")
        try:
            compiled[method], compile_s[method] = _compile(jax.jit(program), x, aux, key)
        except Exception as exc:  # e.g. forward mode of a custom_vjp: report the row, go on
            failed[method] = first_line(exc)
    if "reverse-ad" in failed:
        raise UsageError(
            f"{name}: reverse mode fails, so there is no reference: {failed['reverse-ad']}"
        )
    say("timing")
    from adcli._numerics.timing import measure

    calls: dict[str, Callable[[], object]] = {"f": lambda: f_exe(x, aux)}
    for method, exe in compiled.items():
        calls[method] = partial(exe, x, aux, key)
    first: dict[str, Any] = {}
    timings = measure(calls, budget_s=time_budget, min_rounds=min_rounds, first_outputs=first)
    grads = {m: np.asarray(first[m][0], np.float64) for m in compiled}
    rows = {m: first[m][1] for m in compiled}
    g_rev = grads["reverse-ad"]
    require_finite(name, 0.0, g_rev)
    scale = float(np.linalg.norm(g_rev))
    zo_errors = []
    if "zero-order" in compiled:
        zo_errors.append(rel_error(grads["zero-order"], g_rev, scale))
        for s in range(1, seeds):
            say(f"zero-order, seed {seed + s}")
            other = compiled["zero-order"](x, aux, jax.random.key(seed + s))[0]
            zo_errors.append(rel_error(np.asarray(other, np.float64), g_rev, scale))
    predictions = theory(x, grads, rows, f_exe(x, aux), d, k, directions, scale, dtype)
    t_eval = timings["f"].median
    results = []
    for method in FORMULAS:
        formula, step = FORMULAS[method]
        if method in too_slow and method not in programs:
            results.append(
                MethodResult(method, 0, UNITS[method], formula, step, status=too_slow[method])
            )
            continue
        if method == "zero-order" and directions == "gaussian":
            step += "/√d"
        if method in failed:
            results.append(
                MethodResult(
                    method, 0, UNITS[method], formula, step, status=f"error: {failed[method]}"
                )
            )
            continue
        timing = timings[method]
        predicted, why = predictions.get(method, (None, ""))
        errs = tuple(zo_errors) if method == "zero-order" else ()
        # numpy, not statistics: a step that leaves the domain makes an error nan, not a crash
        error = float(np.mean(errs)) if errs else rel_error(grads[method], g_rev, scale)
        results.append(
            MethodResult(
                name=method,
                passes=int(np.size(rows[method])),  # counted: what the program returned
                unit=UNITS[method],
                formula=formula,
                step=step,
                compile_seconds=compile_s[method],
                first_call_seconds=timing.first_call,
                median_seconds=timing.median,
                spread=timing.spread,
                samples=timing.samples,
                ratio_to_eval=timing.median / t_eval if t_eval > 0 else None,
                rel_error=error,
                max_abs_error=float(np.max(np.abs(grads[method] - g_rev))),
                predicted_rel_error=predicted,
                theory=why,
                rel_errors=errs,
                rel_error_spread=float(np.std(errs, ddof=1)) if len(errs) > 1 else None,
            )
        )
    errors = []
    if "forward-ad" in grads:
        errors = agreement(grads["forward-ad"], g_rev, scale, dtype)
    sphere = directions == "sphere"
    notes = [*input_notes, *reference_doubt(results, dtype)]
    if dtype != x.dtype:
        notes.append(
            f"f computes in {dtype} (x is {np.dtype(x.dtype)}): ε, the steps and the predicted "
            f"errors are {dtype}'s"
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
    return EstimateResult(
        name=name,
        file=None,
        line=None,
        dims={},
        d=d,
        m=1,
        dtypes={"x": str(dtype)},
        backend=f"{jax.default_backend()} ({jax.devices()[0].device_kind})",
        scalarized=False,
        k=k,
        directions=directions,
        seeds=seeds,
        batch=batch,
        sequential=sequential,
        eval_seconds=t_eval,
        eval_compile_seconds=f_compile,
        grad_norm=scale,
        methods=tuple(results),
        notes=tuple(notes),
        errors=tuple(errors),
        timing_method=TIMING_METHOD,
        seconds=time.perf_counter() - start,
    )


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
    from adcli._problem.build import build
    from adcli._problem.flat import flatten_problem
    from adcli._problem.runtime import enable_x64
    from adcli._spec.load import apply_overrides

    enable_x64()
    spec = one_spec(spec)
    if dims or seed is not None:
        spec = apply_overrides(spec, dims=dims, seed=seed)
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

    result = estimate_function(f, x, rest, name=spec.name, progress=progress, **options)
    notes = result.notes
    if scalarized:
        notes += (
            f"f has {flat.m} outputs: the gradient is that of ⟨u, f⟩ for a seeded random unit u",
        )
    import dataclasses

    return dataclasses.replace(
        result,
        file=spec.where.file,
        line=spec.where.line,
        dims=dict(problem.dims),
        m=flat.m,
        dtypes=dict.fromkeys(spec.wrt, result.dtype),
        scalarized=scalarized,
        notes=notes,
        seconds=time.perf_counter() - start,
    )


def one_spec(spec: Spec | str | os.PathLike[str]) -> Spec:
    if isinstance(spec, Spec):
        return spec
    from adcli._spec.load import load_file

    found = load_file(spec)
    if len(found) != 1:
        raise UsageError(
            f"{os.fspath(spec)} holds {len(found)} specs ({', '.join(s.name for s in found)}): "
            "pass one Spec, or use run_estimate for a file or directory"
        )
    return found[0]


def validate_options(k: int, directions: str, seeds: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise UsageError(f"--k: expected a positive number of directions, got {k!r}")
    if directions not in est.DIRECTIONS:
        raise UsageError(
            f"--directions: expected one of {', '.join(est.DIRECTIONS)}, got {directions!r}"
        )
    if not isinstance(seeds, int) or seeds < 1:
        raise UsageError(f"--seeds: expected a positive number of seeds, got {seeds!r}")


def flat_real_input(
    f: Callable[[jax.Array, Any], jax.Array], x: Any, name: str
) -> tuple[jax.Array, Callable[[jax.Array, Any], jax.Array], list[str]]:
    """x as a flat real vector, and f as a function of it, with notes on what changed.

    A list or an integer array becomes floats (the default float dtype); any shape is
    flattened (a 0-d x is one variable); a complex x of n entries becomes the 2n real
    numbers (Re x, Im x), as a spec's complex inputs do, so no imaginary part is dropped.
    """
    if not isinstance(x, jax.Array):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name}: x must be an array of numbers: {first_line(exc)}") from None
        if x.dtype.kind not in "biufc":
            raise UsageError(f"{name}: x must be an array of numbers, got dtype {x.dtype}")
    arr = jnp.asarray(x)
    notes: list[str] = []
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        old = arr.dtype
        arr = arr.astype(jnp.result_type(float))
        if isinstance(x, jax.Array | np.ndarray):
            notes.append(f"x was {old}: differentiated as {arr.dtype}")
    shape, dtype = arr.shape, arr.dtype
    if jnp.issubdtype(dtype, jnp.complexfloating):
        n = arr.size
        flat = jnp.concatenate([arr.real.ravel(), arr.imag.ravel()])
        notes.append(f"x is complex: d = 2·{n} real inputs (Re x, Im x); the gradient is over both")

        def g(y: jax.Array, aux: Any) -> jax.Array:
            return f(jax.lax.complex(y[:n], y[n:]).reshape(shape).astype(dtype), aux)

        return flat, g, notes
    if arr.ndim == 1:
        return arr, f, notes

    def h(y: jax.Array, aux: Any) -> jax.Array:
        return f(y.reshape(shape), aux)

    return arr.ravel(), h, notes


def compute_dtype(f: Callable[..., jax.Array], x: jax.Array, aux: Any) -> Any:
    """The least precise real floating dtype f computes in: x's, or any of its jaxpr's
    (intermediates and output, sub-jaxprs included). A float16 spec's flat x is float32,
    but f rounds it to float16: ε and the steps must be float16's."""
    from adcli._problem.jaxpr import float_dtypes, least_precise, real_dtype

    return least_precise({real_dtype(x.dtype)} | float_dtypes(jax.make_jaxpr(f)(x, aux).jaxpr))


def _programs(
    f: Callable[..., jax.Array], batch: int, k: int, kind: str, dtype: Any
) -> dict[str, Any]:
    def bind(aux: Any) -> Callable[[jax.Array], jax.Array]:
        return lambda y: f(y, aux)

    return {
        "forward-diff": lambda x, aux, key: est.forward_differences(bind(aux), x, batch, dtype),
        "central-diff": lambda x, aux, key: est.central_differences(bind(aux), x, batch, dtype),
        "zero-order": lambda x, aux, key: est.zero_order(bind(aux), x, key, k, kind, batch, dtype),
        "forward-ad": lambda x, aux, key: est.forward_ad(bind(aux), x, batch),
        "reverse-ad": lambda x, aux, key: est.reverse_ad(bind(aux), x),
    }


def _compile(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    exe = fn.lower(*args).compile()
    return exe, time.perf_counter() - t0


def _batch(f_exe: Any, x: jax.Array, budget: int) -> int:
    """Rows per chunk: the budget ÷ (a few copies of x + what one evaluation allocates)."""
    from adcli._problem.runtime import memory_needed

    per_row = 4 * x.size * x.dtype.itemsize + (memory_needed(f_exe) or 0)
    return max(1, min(x.size, budget // max(per_row, 1)))
