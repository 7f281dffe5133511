"""``adcli check`` for one spec: every comparison at every sample point, into a SpecResult."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from adcli._check.diagnose import diagnose, jaxpr_notes, relevant_notes
from adcli._check.expect import check_expect
from adcli._check.first_order import check_first_order
from adcli._check.inert import inert_stops
from adcli._check.point import Point, choose_method, make_point
from adcli._check.reference import reference_check
from adcli._check.requires import not_installed
from adcli._check.second_order import check_second_order
from adcli._check.sharded import finish_sharded
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.function import InputFunction
from adcli._problem.build import Problem, build
from adcli._problem.runtime import enable_x64
from adcli._results.check import CheckKind, Comparison, SpecResult
from adcli._results.common import worst_verdict
from adcli._spec.model import Spec

Progress = Callable[[str], None]


def check_spec(spec: Spec, *, progress: Progress | None = None) -> SpecResult:
    """Check every derivative a spec asks for; see ``check_problem``.

    Raises:
        SpecError: if the spec cannot be built into a runnable function.
    """
    skipped = not_installed(spec)  # a package under requires: is missing
    if skipped is not None:
        return skipped
    enable_x64()
    if spec.check.dims:  # check-only sizes, unless the caller already applied them
        from adcli._spec.load import apply_overrides

        spec = apply_overrides(spec, dims=spec.check.dims)
        spec = spec.replace(check=dataclasses.replace(spec.check, dims={}))
    return check_problem(build(spec), progress=progress)


def check_problem(problem: Problem, *, progress: Progress | None = None) -> SpecResult:
    """Compare AD (fwd, rev, 2nd order, ``expect`` formulas) against FD at each sample point.

    Deterministic: the same spec and seed give the same points, directions and numbers.
    """
    enable_x64()
    start = time.perf_counter()
    spec, opts = problem.spec, problem.spec.check
    evals = problem.cache.get(("check-evaluator", spec.wrt, opts.method))
    if evals is None:
        evals = Evaluator(InputFunction(problem, spec.wrt))
        _share_programs(evals, opts.method)
        problem.cache[("check-evaluator", spec.wrt, opts.method)] = evals
    constants = problem.sample_constants()
    comparisons: list[Comparison] = []
    notes: list[str] = list(problem.notes)
    methods: dict[str, str] = {}
    dtypes: dict[str, str] = {}
    first_points: dict[str, Point] = {}
    reference = reference_check(problem, evals.fn)  # ``reference:`` and ``check.repeat``
    for point in range(opts.points):
        inputs = problem.sample_inputs(point)
        bad_value = _value_problem(problem, inputs, constants, point)
        if bad_value is not None:
            comparisons.append(bad_value)
            continue
        for name in spec.wrt:
            if progress:
                progress(f"point {point + 1}/{opts.points}, input {name}")
            pt = make_point(problem, evals, name, point, inputs, constants, opts.modes, opts.method)
            methods[name], dtypes[name] = pt.method, pt.dtype
            if reference is not None and reference.replaces_fd(pt):
                methods[name] = "reference"
                continue
            if point == 0:
                first_points[name] = pt
                notes += jaxpr_notes(pt.fn, name, pt.at)
                if not pt.fn.promoted and pt.dtype != "float64":
                    notes.append(
                        f"{name}: the function computes in {pt.dtype} and does not run "
                        "wholly in float64, so FD is taken in its own precision"
                    )
            first = check_first_order(pt, opts.directions)
            comparisons += first.comparisons
            if opts.order >= 2:
                comparisons += check_second_order(pt, opts.directions)
            comparisons += check_expect(pt, problem, first, opts.directions)
        if reference is not None:
            comparisons += reference.check_point(point, inputs, constants)
    notes = relevant_notes(notes, comparisons, inert_stops(first_points, notes, comparisons))
    if reference is not None:
        notes += reference.notes(comparisons)
    if problem.mesh is not None:  # sharded: the mesh, JAX's rejections, --parity
        comparisons, notes = finish_sharded(problem, evals, comparisons, notes)
    verdict = worst_verdict(
        [c.verdict for c in comparisons if c.verdict != "skipped"] or ["skipped"]
    )
    return SpecResult(
        name=spec.name,
        file=spec.where.file,
        line=spec.where.line,
        verdict=verdict,
        seed=opts.seed,
        points=opts.points,
        dims=dict(problem.dims),
        backend=jax.default_backend(),
        dtypes=dtypes,
        method=", ".join(f"{n}: {m}" for n, m in methods.items()),
        comparisons=tuple(comparisons),
        notes=tuple(dict.fromkeys(notes)),
        diagnoses=tuple(diagnose(comparisons, notes)),
        seconds=time.perf_counter() - start,
    )


def _value_problem(problem: Problem, inputs: Any, constants: Any, point: int) -> Comparison | None:
    out = problem.evaluate("f", problem.fn, inputs, constants)
    for path, leaf in jax.tree_util.tree_flatten_with_path(out)[0]:
        values = np.asarray(leaf)
        if not np.all(np.isfinite(values)):
            where = np.argwhere(~np.isfinite(values))[0] if values.ndim else ()
            label = (
                "out"
                + jax.tree_util.keystr(path)
                + (f"[{', '.join(map(str, where))}]" if len(where) else "")
            )
            return Comparison(
                point=point,
                wrt="-",
                kind=CheckKind.VALUE,
                method="-",
                verdict="fail",
                reason=f"the function is not finite at point {point}: {label} = "
                f"{values[tuple(where)] if len(where) else values}; is the init inside its "
                "domain (e.g. init: positive for log and sqrt)?",
            )
    return None


def _share_programs(evals: Evaluator, method: str) -> None:
    """Size the batched programs for the largest input checked coordinate by coordinate,
    so that every input reuses them instead of compiling its own."""
    sizes = [s.stop - s.start for s in evals.fn.layout.segments.values()]
    full = [n for n in sizes if choose_method(method, n, evals.fn.m) == "full"]
    if full:
        evals.share_coordinates(max(full))
