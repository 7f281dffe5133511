"""choose-mode over spec files, and sweeps over a dim: what the CLI calls."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from adcli._errors import SpecError, UsageError
from adcli._results.modes import ModeReport, ModeResult, SweepPoint, SweepResult
from adcli._spec.load import apply_overrides
from adcli._spec.model import Spec
from adcli._spec.select import select_specs

# (spec name, what is being done) -> None
Progress = Callable[[str, str], None]
# The pair whose time ratio a sweep reports: (reverse-like, forward-like), per target.
RATIO = {
    "jacobian": ("reverse", "forward"),
    "hessian": ("rev-over-rev", "fwd-over-rev"),
    "hvp": ("rev-over-rev", "fwd-over-rev"),
}


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``m=1,10,100`` → ("m", [1, 10, 100]).

    Raises:
        UsageError: not NAME=V1,V2,… with positive integers.
    """
    name, sep, values = text.partition("=")
    try:
        numbers = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not sep or not name.strip() or not numbers or min(numbers) < 1:
        raise UsageError(f"--sweep: expected NAME=V1,V2,... of positive sizes, got {text!r}")
    return name.strip(), numbers


def run_choose_mode(
    paths: Sequence[str | os.PathLike[str]],
    *,
    only: Sequence[str] = (),
    dims: Mapping[str, int] | None = None,
    target: str = "jacobian",
    measure: str | None = None,
    memory_budget: int | None = None,
    time_budget: float = 1.0,
    sweep: str | None = None,
    progress: Progress | None = None,
) -> ModeReport:
    """choose-mode for every spec in ``paths`` (or a sweep of each, with ``sweep``).

    ``measure`` defaults to ``close``, and to ``all`` in a sweep (its ratio needs both).

    Raises:
        UsageError: bad options, or no spec matched. SpecError: a path does not exist.
    """
    from adcli._modes.engine import choose_mode

    start = time.perf_counter()
    specs, errors = select_specs(paths, only=only, dims=dims)
    dim, values = parse_sweep(sweep) if sweep else (None, [])
    if dim is not None:
        specs = [s for s in specs if dim in s.dims]
        if not specs:
            raise UsageError(f"--sweep {dim}: no selected spec has a dim '{dim}'")
    results: list[ModeResult] = []
    sweeps: list[SweepResult] = []
    skipped: list[str] = []
    one = partial(choose_mode, target=target, memory_budget=memory_budget, time_budget=time_budget)
    each = partial(sweep_dim, target=target, memory_budget=memory_budget, time_budget=time_budget)
    for spec in specs:
        say = (lambda what, n=spec.name: progress(n, what)) if progress else None
        try:
            # Over a folder, a vector-valued spec is not an error for --target hessian: it is
            # skipped, and the scalar ones get their answer.
            outputs = _output_size(spec) if target != "jacobian" and len(specs) > 1 else 1
            if outputs != 1:
                skipped.append(
                    f"{spec.name}: --target {target} needs a scalar function, "
                    f"but its output has {outputs} entries"
                )
            elif dim is None:
                results.append(one(spec, measure=measure or "close", progress=say))
            else:
                sweeps.append(each(spec, dim, values, measure=measure or "all", progress=say))
        except SpecError as exc:
            errors.append(exc.format())
    codes = [r.exit_code for r in results] + [r.exit_code for s in sweeps for r in s.results]
    exit_code = 2 if errors else max(codes, default=0)
    return ModeReport(
        results=tuple(results),
        sweeps=tuple(sweeps),
        errors=tuple(errors),
        seconds=time.perf_counter() - start,
        exit_code=exit_code,
        skipped=tuple(skipped),
    )


def _output_size(spec: Spec) -> int:
    """Entries of the spec's output, from one trace of its function on shapes."""
    from adcli._problem.build import build
    from adcli._problem.flat import FlatLayout

    return FlatLayout(build(spec).output_struct, "out").size


def sweep_dim(
    spec: Spec,
    dim: str,
    values: Sequence[int],
    *,
    target: str = "jacobian",
    measure: str = "all",
    memory_budget: int | None = None,
    time_budget: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> SweepResult:
    """choose-mode at each value of ``dim``; the reverse ÷ forward time ratio per value."""
    from adcli._modes.engine import choose_mode

    slow, fast = RATIO[target]
    results: list[ModeResult] = []
    points: list[SweepPoint] = []
    for value in values:
        if progress:
            progress(f"{dim}={value}")
        say = (lambda what, v=value: progress(f"{dim}={v}: {what}")) if progress else None
        result = choose_mode(
            apply_overrides(spec, dims={dim: value}),
            target=target,
            measure=measure,
            memory_budget=memory_budget,
            time_budget=time_budget,
            progress=say,
        )
        results.append(result)
        times = {c.name: c.median_seconds for c in result.candidates}
        a, b = times.get(slow), times.get(fast)
        ratio = a / b if a and b else None
        points.append(SweepPoint(value, result.n, result.m, times, ratio, result.recommendation))
    crossover = None
    for i in range(1, len(points)):
        p, q = points[i - 1], points[i]
        if p.ratio and q.ratio and (math.log(p.ratio) > 0) != (math.log(q.ratio) > 0):
            points[i] = dataclasses.replace(q, crossover=True)
            if crossover is None:
                crossover = (
                    f"between {dim}={p.value} ({slow}/{fast} {p.ratio:.2f}) "
                    f"and {dim}={q.value} ({q.ratio:.2f})"
                )
    return SweepResult(
        spec.name, dim, tuple(points), crossover, tuple(results), ratio_of=f"{slow}/{fast}"
    )
