"""``adcli check`` for one spec: every comparison at every sample point, into a SpecResult."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax

from adcli._check.diagnose import diagnose, jaxpr_notes, relevant_notes
from adcli._check.expect import HESSIAN_FULL_MAX_D, check_expect
from adcli._check.first_order import check_first_order
from adcli._check.higher_order import check_higher_orders
from adcli._check.inert import inert_stops
from adcli._check.point import Point, choose_method, make_point
from adcli._check.reference import reference_check
from adcli._check.requires import not_installed
from adcli._check.second_order import check_second_order
from adcli._check.sharded import finish_sharded
from adcli._check.special import special_point
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.function import InputFunction
from adcli._problem.build import Problem, build
from adcli._problem.runtime import counting_compiles, jax_scope
from adcli._results.check import Comparison, SpecResult
from adcli._results.common import worst_verdict
from adcli._spec.model import Spec

Progress = Callable[[str], None]


@jax_scope()
def check_spec(spec: Spec, *, progress: Progress | None = None) -> SpecResult:
    """Check every derivative a spec asks for; see ``check_problem``. The result counts the
    XLA compilations that building and checking the spec made (``compiles``).

    Raises:
        SpecError: if the spec cannot be built into a runnable function.
    """
    skipped = not_installed(spec)  # a package under requires: is missing
    if skipped is not None:
        return skipped
    if spec.check.dims:  # check-only sizes, unless the caller already applied them
        from adcli._spec.load import apply_overrides

        spec = apply_overrides(spec, dims=spec.check.dims)
        spec = spec.replace(check=dataclasses.replace(spec.check, dims={}))
    with counting_compiles() as compiles:
        result = check_problem(build(spec), progress=progress)
    return dataclasses.replace(
        result,
        compiles=compiles.count,
        compiles_cached=compiles.cached,
        compile_seconds=compiles.seconds,
    )


@jax_scope()
def check_problem(
    problem: Problem, *, progress: Progress | None = None, point_given: bool = False
) -> SpecResult:
    """Compare AD (fwd, rev, 2nd order, ``expect`` formulas) against FD at each sample point.

    Deterministic: the same spec and seed give the same points, directions and numbers.
    ``point_given``: the caller chose the point (the Python API), so a point or value that
    is not finite is not judged (``adcli._check.special``) rather than failed.
    """
    start = time.perf_counter()
    spec, opts = problem.spec, problem.spec.check
    key = ("check-evaluator", spec.wrt, opts.method, problem.mode.key)
    evals = problem.cache.get(key)
    if evals is None:
        evals = Evaluator(InputFunction(problem, spec.wrt))
        _share_programs(evals, problem)
        problem.cache[key] = evals
        # A caller's one-off first-order check runs op by op (compiling would cost more);
        # the same function checked again compiles its programs (_numerics/evaluate.py).
        # Sharded arguments are laid out by compiled programs (with the mesh's shardings).
        evals.eager = point_given and opts.order == 1 and problem.mesh is None
    else:
        evals.eager = False
    constants = problem.sample_constants()
    comparisons: list[Comparison] = []
    notes: list[str] = list(problem.notes)
    methods: dict[str, str] = {}
    dtypes: dict[str, str] = {}
    first_points: dict[str, Point] = {}
    reference = reference_check(problem, evals.fn)  # ``reference:`` and ``check.repeat``
    for point in range(opts.points):
        inputs = problem.sample_inputs(point)
        bad_value = special_point(problem, inputs, constants, point, given=point_given)
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
                if pt.fn.gauge:
                    notes.append(
                        f"{name}: the output depends on the vectors of "
                        f"{', '.join(dict.fromkeys(pt.fn.gauge))}, whose sign or phase is "
                        "arbitrary: derivatives are compared in a fixed gauge (each vector "
                        "aligned in phase with its value at the point) and by the adjoint "
                        "identity between JVP and VJP"
                    )
                if not pt.fn.promoted and pt.dtype != "float64":
                    why = f" (it uses {pt.fn.promotion_note})" if pt.fn.promotion_note else ""
                    notes.append(
                        f"{name}: the function computes in {pt.dtype} and does not run "
                        f"wholly in float64{why}, so FD is taken in its own precision"
                    )
            first = check_first_order(pt, opts.directions)
            comparisons += first.comparisons
            if opts.order >= 2:
                comparisons += check_second_order(pt, opts.directions)
            if opts.order >= 3:
                comparisons += check_higher_orders(pt, opts.order, opts.directions)
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


def _share_programs(evals: Evaluator, problem: Problem) -> None:
    """Size the batched programs for the largest input checked coordinate by coordinate,
    and the second-order ones for the largest Hessian given in ``expect``, so that every
    input and comparison reuses them instead of compiling its own."""
    opts = problem.spec.check
    segments = evals.fn.layout.segments
    sizes = [s.stop - s.start for s in segments.values()]
    full = [n for n in sizes if choose_method(opts.method, n, evals.fn.m) == "full"]
    if full:
        evals.share_coordinates(max(full))
    hessians = [
        n
        for name, s in segments.items()
        if name in problem.expect_hessian and (n := s.stop - s.start) <= HESSIAN_FULL_MAX_D
    ]
    if hessians and opts.order >= 2:
        evals.share_second_order(max(*hessians, opts.directions))
