"""``adcli estimate`` over files and over a swept dim: per-d rows and fitted growth exponents."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from adcli._errors import SpecError, UsageError
from adcli._estimate.engine import Sample, estimate_spec
from adcli._estimate.estimators import zero_order_rms
from adcli._estimate.methods import Progress
from adcli._estimate.options import EstimateOptions
from adcli._results.estimate import (
    METHODS,
    EstimatePoint,
    EstimateReport,
    EstimateResult,
    EstimateSweep,
)
from adcli._spec.model import Spec


def growth_exponent(sizes: Sequence[float], values: Sequence[float | None]) -> float | None:
    """p in value ∝ sizeᵖ: the least-squares slope of log value on log size (None with
    fewer than two usable points or a single size)."""
    pairs = [
        (math.log(s), math.log(v))
        for s, v in zip(sizes, values, strict=True)
        if v is not None and v > 0 and s > 0
    ]
    if len(pairs) < 2 or len({p[0] for p in pairs}) < 2:
        return None
    xs, ys = np.array(pairs).T
    return float(np.polyfit(xs, ys, 1)[0])


def sweep_points(
    name: str, dim: str, values: Sequence[int], results: Sequence[EstimateResult]
) -> EstimateSweep:
    """One EstimatePoint per swept value, and the exponents of time, time ÷ T and error."""
    points = []
    for value, r in zip(values, results, strict=True):
        rows = {m.name: m for m in r.methods}
        points.append(
            EstimatePoint(
                value=value,
                d=r.d,
                eval_seconds=r.eval_seconds,
                times={m: rows[m].median_seconds if m in rows else None for m in METHODS},
                ratios={m: rows[m].ratio_to_eval if m in rows else None for m in METHODS},
                errors={m: rows[m].rel_error if m in rows else None for m in METHODS},
                predicted_zero_order_error=zero_order_rms(r.d, r.k, r.directions),
            )
        )
    ds = [p.d for p in points]
    times: dict[str, float | None] = {
        m: growth_exponent(ds, [p.times[m] for p in points]) for m in METHODS
    }
    times["eval"] = growth_exponent(ds, [p.eval_seconds for p in points])
    ratios: dict[str, float | None] = {
        m: growth_exponent(ds, [p.ratios[m] for p in points]) for m in METHODS
    }
    error = growth_exponent(ds, [p.errors["zero-order"] for p in points])
    last: dict[str, float | None] = {
        m: growth_exponent(ds[-2:], [p.times[m] for p in points[-2:]]) for m in METHODS
    }
    last["eval"] = growth_exponent(ds[-2:], [p.eval_seconds for p in points[-2:]])
    k = results[0].k if results else 0
    return EstimateSweep(name, dim, k, tuple(points), times, ratios, error, last, tuple(results))


def estimate_sweep(
    spec: Spec | str | os.PathLike[str],
    dim: str,
    values: Sequence[int],
    *,
    k: int | None = None,
    dims: Mapping[str, int] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> EstimateSweep:
    """``estimate`` at each value of ``dim``, with the zero-order estimator at a fixed k.

    k defaults to d at the first value (so the first point matches central differences'
    2d evaluations); then the cost stays fixed while d grows, and the error grows like √d.

    >>> s = estimate_sweep("specs/estimate/rosenbrock.yaml", "n", [4, 16], time_budget=0.01,
    ...                    min_rounds=1)
    >>> [p.d for p in s.points], s.k
    ([4, 16], 4)
    """
    from adcli._spec.select import one_spec

    sample = Sample(dims, options.pop("point", 0), options.pop("seed", None))
    chosen = one_spec(spec, instead="run_estimate")
    return sweep_spec(chosen, dim, values, EstimateOptions(k=k, **options), sample, progress)


def sweep_spec(
    spec: Spec,
    dim: str,
    values: Sequence[int],
    options: EstimateOptions,
    sample: Sample,
    progress: Progress | None = None,
) -> EstimateSweep:
    """``estimate_sweep`` of one loaded Spec with validated options (see there)."""
    from adcli._spec.load import apply_overrides

    if dim not in spec.dims:
        raise UsageError(
            f"--sweep {dim}: spec '{spec.name}' has no dim '{dim}'; its dims: "
            + (", ".join(spec.dims) or "none")
        )
    results = []
    for value in values:
        say = (lambda what, v=value: progress(f"{dim}={v}: {what}")) if progress else None
        try:
            resized = apply_overrides(spec, dims={**(sample.dims or {}), dim: value})
        except UsageError as exc:
            raise UsageError(f"--sweep {dim}={value}: {exc}") from None
        at = dataclasses.replace(sample, dims=None)
        result = estimate_spec(resized, options, at, say)
        if options.k is None:
            options = dataclasses.replace(options, k=result.k)
        results.append(result)
    return sweep_points(spec.name, dim, values, results)


def run_estimate(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    only: Sequence[str] = (),
    dims: Mapping[str, int] | None = None,
    sweep: str | None = None,
    progress: Callable[[str, str], None] | None = None,
    **options: Any,
) -> EstimateReport:
    """``estimate`` (or ``estimate_sweep`` with ``sweep="n=10,100"``) for every spec found.

    A spec that cannot be estimated (a SpecError, or a UsageError of its own: a point
    outside its domain, reverse mode failing, a cost guard refusing it, no real inputs, a
    dim that cannot be resized) is listed in ``errors`` (exit code 2) and the others run.
    With ``sweep``, a spec without the swept dim is skipped with a line in ``notes``.

    Raises:
        UsageError: bad options, an unknown --spec/--dim, or a sweep dim no spec has.
    """
    from adcli._modes.run import parse_sweep
    from adcli._spec.select import select_specs

    start = time.perf_counter()
    dim, values = parse_sweep(sweep) if sweep else (None, [])
    sample = Sample(None, options.pop("point", 0), options.pop("seed", None))
    # checked here, not per spec: a bad option is the command's error, not a spec's
    opts = EstimateOptions(**options)
    specs, errors = select_specs(paths, only=only, dims=dims)
    notes: list[str] = []
    if dim is not None:
        specs, notes = _with_dim(specs, dim)
    results, sweeps = [], []
    for spec in specs:
        say = (lambda what, n=spec.name: progress(n, what)) if progress else None
        try:
            if dim is None:
                results.append(estimate_spec(spec, opts, sample, say))
            else:
                sweeps.append(sweep_spec(spec, dim, values, opts, sample, say))
        except SpecError as exc:
            errors.append(exc.format())
        except UsageError as exc:
            # A spec that cannot be estimated (a point outside its domain, reverse mode
            # failing, refused by a cost guard, no real inputs) is that spec's error, as in
            # `adcli check`: the others still run and the report is still written (exit 2).
            errors.append(spec_error(spec, exc))
    return EstimateReport(
        tuple(results), tuple(sweeps), tuple(errors), time.perf_counter() - start, tuple(notes)
    )


def _with_dim(specs: list[Spec], dim: str) -> tuple[list[Spec], list[str]]:
    """The specs that have ``dim`` to sweep, and a note for each one skipped.

    Raises:
        UsageError: none of them has it.
    """
    have = [s for s in specs if dim in s.dims]
    if specs and not have:
        known = sorted({d for s in specs for d in s.dims})
        raise UsageError(
            f"--sweep {dim}: no selected spec has a dim '{dim}'; dims: "
            + (", ".join(known) or "none")
        )
    notes = [
        f"skipped {s.name} ({s.where.file}:{s.where.line}): it has no dim '{dim}' to sweep"
        + (f" (its dims: {', '.join(s.dims)})" if s.dims else "")
        for s in specs
        if dim not in s.dims
    ]
    return have, notes


def spec_error(spec: Spec, exc: UsageError) -> str:
    """``FILE:LINE: NAME: PROBLEM`` for a spec that could not be estimated."""
    message = str(exc).removeprefix(f"{spec.name}: ")
    return f"{spec.where.file}:{spec.where.line}: {spec.name}: {message}"
