"""Compile, time and run the five gradient methods of ``adcli estimate``, and turn what
each gave into its report row (passes counted from what ran, time, error against reverse AD).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import numpy as np

from adcli._errors import UsageError, first_line
from adcli._estimate import estimators as est
from adcli._estimate.errors import rel_error
from adcli._estimate.options import EstimateOptions
from adcli._estimate.target import Target
from adcli._numerics.domain import require_finite
from adcli._numerics.timing import Timing, timed
from adcli._results.estimate import FORMULAS, UNITS, Method, MethodResult

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Runs:
    """What compiling, timing and running the methods gave."""

    compile_seconds: dict[str, float]
    failed: dict[str, str]  # method -> why it could not be compiled
    timings: dict[str, Timing]  # "f" and every compiled method
    grads: dict[str, np.ndarray]
    rows: dict[str, Any]  # what each method evaluated (its passes)
    zero_order: tuple[float, ...]  # the zero-order error for each seed
    scale: float  # |∇f| by reverse AD


def run_methods(
    target: Target,
    f_exe: Any,
    programs: dict[str, Any],
    options: EstimateOptions,
    say: Progress,
) -> Runs:
    """Compile each method (a method that cannot be compiled is reported, not fatal, except
    reverse AD: the reference), time them beside f, and rerun zero-order for each seed."""
    from adcli._numerics.timing import measure

    x, aux, key = target.x, target.aux, jax.random.key(options.seed)
    compiled: dict[str, Any] = {}
    compile_s: dict[str, float] = {}
    failed: dict[str, str] = {}
    for method, program in programs.items():
        say(f"compiling {method}")
        try:
            compiled[method], compile_s[method] = compile_timed(jax.jit(program), x, aux, key)
        except Exception as exc:  # e.g. forward mode of a custom_vjp: report the row, go on
            failed[method] = first_line(exc)
    if "reverse-ad" in failed:
        raise UsageError(
            f"{target.name}: reverse mode fails, so there is no reference: {failed['reverse-ad']}"
        )
    say("timing")
    calls: dict[str, Callable[[], object]] = {"f": lambda: f_exe(x, aux)}
    for method, exe in compiled.items():
        calls[method] = partial(exe, x, aux, key)
    first: dict[str, Any] = {}
    budget, rounds = options.time_budget, options.min_rounds
    timings = measure(calls, budget_s=budget, min_rounds=rounds, first_outputs=first)
    grads = {m: np.asarray(first[m][0], np.float64) for m in compiled}
    require_finite(target.name, 0.0, grads["reverse-ad"])
    scale = float(np.linalg.norm(grads["reverse-ad"]))
    zero_order = _zero_order_errors(compiled.get("zero-order"), target, grads, scale, options, say)
    rows = {m: first[m][1] for m in compiled}
    return Runs(compile_s, failed, timings, grads, rows, zero_order, scale)


def _zero_order_errors(
    exe: Any,
    target: Target,
    grads: dict[str, np.ndarray],
    scale: float,
    options: EstimateOptions,
    say: Progress,
) -> tuple[float, ...]:
    """The zero-order estimator's error for each seed (the first from the timed run)."""
    if exe is None:
        return ()
    g_rev = grads["reverse-ad"]
    errors = [rel_error(grads["zero-order"], g_rev, scale)]
    for s in range(1, options.seeds):
        say(f"zero-order, seed {options.seed + s}")
        other = exe(target.x, target.aux, jax.random.key(options.seed + s))[0]
        errors.append(rel_error(np.asarray(other, np.float64), g_rev, scale))
    return tuple(errors)


def method_row(
    method: Method,
    runs: Runs,
    too_slow: dict[str, str],
    predictions: dict[str, tuple[float | None, str]],
    directions: str,
) -> MethodResult:
    """One method's row: skipped, failed, or its passes, times and error."""
    formula, step = FORMULAS[method]
    unit = UNITS[method]
    if method in too_slow and method not in runs.timings:  # not run at all
        return MethodResult(method, 0, unit, formula, step, status=too_slow[method])
    if method == "zero-order" and directions == "gaussian":
        step += "/√d"
    if method in runs.failed:
        return MethodResult(method, 0, unit, formula, step, status=f"error: {runs.failed[method]}")
    timing, t_eval = runs.timings[method], runs.timings["f"].median
    predicted, why = predictions.get(method, (None, ""))
    errs = runs.zero_order if method == "zero-order" else ()
    g_rev = runs.grads["reverse-ad"]
    # numpy, not statistics: a step that leaves the domain makes an error nan, not a crash
    error = float(np.mean(errs)) if errs else rel_error(runs.grads[method], g_rev, runs.scale)
    return MethodResult(
        name=method,
        passes=int(np.size(runs.rows[method])),  # counted: what the program returned
        unit=unit,
        formula=formula,
        step=step,
        compile_seconds=runs.compile_seconds[method],
        first_call_seconds=timing.first_call,
        median_seconds=timing.median,
        spread=timing.spread,
        samples=timing.samples,
        ratio_to_eval=timing.median / t_eval if t_eval > 0 else None,
        rel_error=error,
        max_abs_error=float(np.max(np.abs(runs.grads[method] - g_rev))),
        predicted_rel_error=predicted,
        theory=why,
        rel_errors=errs,
        rel_error_spread=float(np.std(errs, ddof=1)) if len(errs) > 1 else None,
    )


def make_programs(
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


def compile_timed(fn: Any, *args: Any) -> tuple[Any, float]:
    """The jitted ``fn`` lowered and compiled for ``args``, and the seconds that took."""
    return timed(lambda: fn.lower(*args).compile())


def batch_rows(f_exe: Any, x: jax.Array, budget: int) -> int:
    """Rows per chunk: the budget ÷ (a few copies of x + what one evaluation allocates)."""
    from adcli._problem.runtime import memory_needed

    per_row = 4 * x.size * x.dtype.itemsize + (memory_needed(f_exe) or 0)
    return max(1, min(x.size, budget // max(per_row, 1)))
