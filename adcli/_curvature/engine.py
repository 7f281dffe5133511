"""``adcli curvature``: curvature of a scalar spec from Hessian-vector products alone.

f: Rᵈ → R over the spec's ``wrt`` inputs flattened (``adcli._modes.candidates.flatten_problem``).
Steps: (1) the HVP composition choose-mode recommends; (2) a few seeded HVPs checked against
finite differences of the gradient (a failure makes every estimate untrusted: exit 1);
(3) Hutchinson's trace (Rademacher and/or Gaussian probes, plus Hutch++) with Student-t
intervals; (4) the top/bottom k eigenvalues by Lanczos with residual bounds; (5) when d is
small enough and it fits the memory budget, the dense Hessian to judge each estimate.
The Hessian is never formed otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._curvature.hutchinson import PROBES, hutch_plus_plus, hutchinson
from adcli._curvature.hvp import (
    HvpOperator,
    batch_size,
    check_hvps,
    exact_hessian,
    pick_strategy,
)
from adcli._curvature.lanczos import lanczos, residuals
from adcli._curvature.options import DEFAULT_LANCZOS_STEPS, CurvatureOptions
from adcli._errors import TRACE_ERRORS, UsageError, first_line
from adcli._numerics.domain import require_finite
from adcli._options import from_keywords
from adcli._problem.build import Problem, build
from adcli._problem.callable import problem_of
from adcli._problem.flat import FlatProblem, flatten_problem
from adcli._problem.runtime import default_memory_budget, jax_scope
from adcli._results.curvature import (
    CurvatureReport,
    CurvatureResult,
    EigenEstimate,
    Eigenvalue,
    ExactHessian,
    HvpStrategy,
    SkippedSpec,
    TraceEstimate,
)
from adcli._spec.model import Spec
from adcli._spec.select import all_loaded, one_spec, select_specs

Progress = Callable[[str], None]


class NotScalarError(UsageError):
    """The spec's function is vector-valued: curvature needs f: Rᵈ → R."""


def curvature(
    spec: Spec | Problem | str | os.PathLike[str] | Callable[..., Any],
    *args: Any,
    wrt: Sequence[int | str] | int | str | None = None,
    trace: bool = False,
    eigs: int = 0,
    probes: str = "both",
    hvps: int | None = None,
    rtol: float | None = None,
    confidence: float = 0.95,
    hutchpp: bool = True,
    exact: str = "auto",
    memory_budget: int | None = None,
    point: int = 0,
    seed: int | None = None,
    check_directions: int = 3,
    hvp_strategy: str | None = None,
    measure: str = "close",
    lanczos_steps: int | None = None,
    eig_tol: float = 1e-8,
    progress: Progress | None = None,
) -> CurvatureResult:
    """Curvature of a scalar spec at one point from HVPs: check, trace, extreme eigenvalues.

    Cost: choose-mode for ``target="hvp"`` (4 compilations, timing under 1 s), 2 HVP
    programs compiled, ``check_directions`` HVPs + FD of the gradient (≈ 7 gradients per
    direction), ``hvps`` HVPs per trace estimate, one HVP per Lanczos step plus 2k for the
    residuals; with the dense Hessian (d ≤ 4096 and it fits ``memory_budget``) one
    ``jax.hessian`` and an O(d³) eigendecomposition.

    Args:
        spec: a Spec, a built Problem, a file holding exactly one spec, or a scalar
            function with its example arguments ``*args`` (any JAX pytrees).
        wrt: for a function, the arguments to differentiate (positions or names; by
            default those that hold floating arrays).
        trace: estimate tr H (Hutchinson with ``probes``; and Hutch++ with ``hutchpp``).
        eigs: k: the k largest and k smallest eigenvalues by Lanczos (0: none).
        probes: ``rademacher``, ``gaussian`` or ``both``.
        hvps: HVPs per trace estimate (default 100; the cap with ``rtol``, default 1000).
        rtol: stop a Hutchinson run once the interval's half-width < rtol·|estimate|.
        confidence: of the intervals (Student t on the sample variance).
        exact: ``auto`` | ``always`` | ``never``: form the dense Hessian to compare with.
        memory_budget: bytes (default: choose-mode's, half the machine's memory).
        point, seed: the sample point of the spec (seed default: the spec's check.seed).
        check_directions: seeded directions for the HVP check (≥ 1).
        hvp_strategy: force a composition instead of choose-mode's recommendation.
        measure: choose-mode's ``close`` (time the close candidates) or ``none``.
        lanczos_steps: the most Lanczos steps (default min(d, 300)); eig_tol: their stop rule.

    Returns:
        A CurvatureResult; ``exit_code`` is 1 when the HVP check failed.

    Raises:
        UsageError: a vector-valued function, a bad option, ``exact="always"`` over budget.
        SpecError: the spec cannot be built.

    >>> r = curvature("specs/quadratic.yaml", trace=True, eigs=2)
    >>> abs(r.trace[0].estimate - r.exact.trace) < r.trace[0].half_width * 3
    True
    """
    options = from_keywords(CurvatureOptions, locals())
    problem = problem_of(spec, args, wrt=wrt, what="curvature")
    if problem is None:
        assert not callable(spec)  # problem_of took the function
        return curvature_of(spec, options, progress)
    return curvature_of(problem, options, progress)


def curvature_report(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    dims: Mapping[str, int] | None = None,
    only: Sequence[str] = (),
    progress: Progress | None = None,
    **options: Any,
) -> CurvatureReport:
    """``curvature`` for every spec under ``paths`` (files or directories), at full dims.

    With more than one spec selected, a vector-valued one is skipped (listed in
    ``skipped`` with the reason) and the others run; a single selected spec that is not
    scalar raises UsageError, as ``curvature`` does.

    Raises:
        AdcliError: a file cannot be loaded; UsageError, SpecError: as ``curvature``.
    """
    start = time.perf_counter()
    chosen = all_loaded(select_specs(paths, only=only, dims=dims))
    opts = CurvatureOptions(**options)
    if len(chosen) == 1:  # the one spec asked for must be scalar: a usage error otherwise
        result = curvature_of(chosen[0], opts, progress)
        return CurvatureReport((result,), time.perf_counter() - start)
    results, skipped = [], []
    for spec in chosen:
        try:
            results.append(curvature_of(spec, opts, progress))
        except NotScalarError as exc:  # a folder of specs: run the scalar ones
            skipped.append(SkippedSpec(spec.name, spec.where.file, spec.where.line, str(exc)))
    if chosen and not results:
        raise UsageError(
            f"none of the {len(chosen)} selected specs is a scalar function: "
            + "; ".join(s.reason for s in skipped)
        )
    return CurvatureReport(tuple(results), time.perf_counter() - start, tuple(skipped))


@jax_scope()
def curvature_of(
    spec: Spec | Problem | str | os.PathLike[str],
    options: CurvatureOptions,
    progress: Progress | None = None,
) -> CurvatureResult:
    """``curvature`` with its options already validated (see there)."""
    start = time.perf_counter()
    problem = spec if isinstance(spec, Problem) else build(one_spec(spec, instead=_REPORT))
    sp = problem.spec
    seed = sp.check.seed if options.seed is None else options.seed
    say = progress or (lambda what: None)
    flat = _scalar(problem)
    budget = default_memory_budget() if options.memory_budget is None else options.memory_budget
    inputs = problem.sample_inputs(options.point, seed)
    constants = problem.sample_constants(seed)
    x = flat.in_layout.flatten({k: inputs[k] for k in sp.wrt}, flat.dtype)
    rest = {"inputs": {k: v for k, v in inputs.items() if k not in sp.wrt}, "constants": constants}
    value, grad = _value_and_grad(flat, x, rest, sp, f" at point {options.point} (seed {seed})")
    # First: --exact always over budget is a usage error, before any other work.
    say("forming the exact Hessian")
    k = max(options.eigs, 1)
    exact_info, hessian = exact_hessian(flat, x, rest, policy=options.exact, budget=budget, k=k)
    say("choosing the HVP strategy")
    strategy, op = _operator(problem, flat, x, rest, options, budget)
    say("checking HVPs against finite differences")
    count = options.check_directions
    check = check_hvps(
        problem, op, inputs, constants, point=options.point, seed=seed, count=count, hessian=hessian
    )
    # Rounding allowances follow the least precise dtype the function computes in (a float16
    # function reached through a float32 vector still rounds like float16).
    eps = max(float(jnp.finfo(op.dtype).eps), float(jnp.finfo(check.compute_dtype or op.dtype).eps))
    traces: list[TraceEstimate] = []
    if options.trace:
        say("estimating the trace")
        traces = _traces(op, options, seed, exact_info, hessian, eps)
    eig_result = None
    if options.eigs:
        say("Lanczos")
        eig_result = _eigs(op, options, seed, budget, exact_info, eps)
    return CurvatureResult(
        name=sp.name,
        file=sp.where.file,
        line=sp.where.line,
        d=flat.n,
        dims=dict(problem.dims),
        backend=jax.default_backend(),
        dtypes=dict.fromkeys(sp.wrt, check.compute_dtype or str(np.dtype(flat.dtype))),
        point=options.point,
        seed=seed,
        value=float(value),
        grad_norm=float(np.linalg.norm(np.asarray(grad))),
        memory_budget_bytes=budget,
        strategy=strategy,
        check=check,
        exact=exact_info,
        trace=tuple(traces),
        eigs=eig_result,
        hvps=op.count,
        seconds=time.perf_counter() - start,
    )


_REPORT = "curvature_report"


def _where(spec: Spec) -> str:
    return f"{spec.where.file or '<spec>'}:{spec.where.line}"


def _scalar(problem: Problem) -> FlatProblem:
    """The flat problem of the spec's wrt inputs, which must have a single output."""
    flat = flatten_problem(problem, with_vector=True)
    if flat.m != 1:
        sp = problem.spec
        raise NotScalarError(
            f"{sp.name} ({_where(sp)}): curvature needs a scalar function f: Rᵈ → R, but its "
            f"output has {flat.m} entries; reduce it to a scalar (e.g. a loss, or ⟨u, f⟩)"
        )
    return flat


def _value_and_grad(
    flat: FlatProblem, x: jax.Array, rest: Any, spec: Spec, at: str
) -> tuple[jax.Array, jax.Array]:
    """f and its reverse-mode gradient at x: both must exist and be finite."""
    try:
        value, grad = jax.jit(jax.value_and_grad(lambda y, r: flat.fn(y, r)[0]))(x, rest)
    except TRACE_ERRORS as exc:
        # e.g. lax.while_loop: JAX raises while tracing the gradient, before any number.
        raise UsageError(
            f"{spec.name} ({_where(spec)}): curvature needs the reverse-mode gradient of f (the "
            "HVP check compares HVPs with finite differences of it), but JAX cannot "
            f"differentiate this function in reverse mode: {first_line(exc)}"
        ) from exc
    require_finite(spec.name, value, grad, at=at)
    return value, grad


def _operator(
    problem: Problem,
    flat: FlatProblem,
    x: jax.Array,
    rest: Any,
    options: CurvatureOptions,
    budget: int,
) -> tuple[HvpStrategy, HvpOperator]:
    """The HVP composition and its operator, batched as far as a quarter of the budget
    allows (one HVP at a time when a batch needs more)."""
    forced = options.hvp_strategy
    strategy, per_hvp = pick_strategy(problem, forced, options.measure, budget)
    try:
        op = HvpOperator(flat, strategy.name, x, rest, batch_size(per_hvp, budget, flat.n))
        mem = op.batch_memory()
        if mem is not None and mem > budget // 4 and op.batch > 1:
            op = HvpOperator(flat, strategy.name, x, rest, 1)
            mem = op.batch_memory()
    except TRACE_ERRORS as exc:
        # choose-mode only recommends a composition that traces, so this is a forced one.
        if forced is not None:
            which = f"--hvp-strategy {forced}"
        else:
            which = f"the HVP composition {strategy.name}"
        raise UsageError(
            f"{problem.spec.name} ({_where(problem.spec)}): {which} cannot run on this "
            f"function: {first_line(exc)}"
        ) from exc
    strategy = dataclasses.replace(
        strategy, batch=op.batch, batch_memory_bytes=mem, batching=op.batching
    )
    return strategy, op


def _traces(
    op: HvpOperator,
    options: CurvatureOptions,
    seed: int,
    exact: ExactHessian,
    hessian: np.ndarray | None,
    eps: float,
) -> list[TraceEstimate]:
    """Hutchinson's estimate with each probe kind asked for, then Hutch++ (when asked)."""
    kinds = PROBES if options.probes == "both" else (options.probes,)

    def run(stream: int, estimator: Callable[..., TraceEstimate], **how: Any) -> TraceEstimate:
        rng = np.random.default_rng([seed, options.point, 0x7472, stream])
        shared = {"confidence": options.confidence, "exact": exact.trace, "eps": eps}
        return estimator(op.matmat, op.d, rng=rng, **shared, **how)

    limits = {"max_hvps": options.trace_hvps, "rtol": options.rtol, "block": op.batch}
    out = [run(i, hutchinson, kind=kind, hessian=hessian, **limits) for i, kind in enumerate(kinds)]
    if options.hutchpp:
        # As many HVPs as the first Hutchinson run used: the same cost, side by side.
        out.append(run(9, hutch_plus_plus, hvps=max(6, out[0].hvps)))
    return out


def _eigs(
    op: HvpOperator,
    options: CurvatureOptions,
    seed: int,
    budget: int,
    exact: ExactHessian,
    eps: float,
) -> EigenEstimate:
    """The k largest and smallest eigenvalues by Lanczos, with residual bounds."""
    d, k, tol, point = op.d, options.eigs, options.eig_tol, options.point
    steps = options.lanczos_steps or min(d, DEFAULT_LANCZOS_STEPS)
    steps = min(steps, max(1, (budget // 4) // (8 * d) - 1))  # the basis must fit
    before = op.count
    run = lanczos(
        op.matvec, d, k, max_steps=steps, tol=tol, rng=np.random.default_rng([seed, point, 0x4C])
    )
    r_top = residuals(op.matmat, run.top, run.top_vectors)
    r_bottom = residuals(op.matmat, run.bottom, run.bottom_vectors)
    values = []
    for which, thetas, res, ref in (
        ("top", run.top, r_top, exact.eigenvalues_top),
        ("bottom", run.bottom, r_bottom, exact.eigenvalues_bottom),
    ):
        for i, (theta, r) in enumerate(zip(thetas, res, strict=True)):
            values.append(
                Eigenvalue(
                    which=which,
                    rank=i + 1,
                    value=float(theta),
                    residual=float(r),
                    exact=ref[i] if exact.formed and i < len(ref) else None,
                )
            )
    lo, lo_r = float(run.bottom[0]), float(r_bottom[0])
    hi, hi_r = float(run.top[0]), float(r_top[0])
    curvature, why = classify(lo, lo_r, hi, hi_r, eps=eps)
    cond = hi / lo if curvature == "positive definite" else None
    return EigenEstimate(
        k=len(run.top),  # k, or fewer when d (or an invariant Krylov space) is smaller
        invariant=run.invariant,
        note=_eigs_note(k, d, run.steps, run.invariant),
        values=tuple(values),
        steps=run.steps,
        hvps=op.count - before,
        converged=run.converged,
        tol=tol,
        condition_number=cond,
        curvature=curvature,
        curvature_reason=why,
    )


def _eigs_note(k: int, d: int, found: int, invariant: bool) -> str | None:
    """Why the lists may not be the k largest/smallest eigenvalues counted with multiplicity."""
    parts = []
    if invariant:
        parts.append(
            f"the Krylov space became invariant after {found} of d = {d} steps: H has only "
            f"{found} distinct eigenvalues (to rounding), and Lanczos finds each eigenvalue of "
            "a cluster once, so a repeated eigenvalue is listed once (eigvalsh counts it with "
            "its multiplicity)"
        )
    if found < 2 * k:
        parts.append(
            f"{found} Ritz value{'s' if found != 1 else ''} for k = {k}: "
            "the top and bottom lists share values"
        )
    return "; ".join(parts) if parts else None


def classify(
    lo: float, lo_r: float, hi: float, hi_r: float, *, eps: float = 2.0**-52
) -> tuple[str, str]:
    """What the extreme Ritz values say about the Hessian's definiteness.

    The smallest Ritz value is ≥ λmin and the largest ≤ λmax (interlacing, up to rounding:
    ``noise`` = 100·ε·max|θ|), so a smallest Ritz value below −noise proves negative
    curvature whatever the convergence; a positive one shows positive definiteness only as
    far as Lanczos converged to λmin.

    >>> classify(-1.0, 1e-9, 2.0, 1e-9)[0], classify(0.5, 1e-9, 2.0, 1e-9)[0]
    ('indefinite', 'positive definite')
    >>> classify(-1e-15, 1e-9, 2.0, 1e-9)[0]     # a rounding-level negative value: singular
    'undetermined'
    """
    noise = 100 * eps * max(abs(lo), abs(hi))
    if lo < -noise and hi > noise:
        return "indefinite", (
            f"λmin ≤ {lo:.3g} < 0 < {hi:.3g} ≤ λmax: negative curvature, so not a minimum "
            "(a saddle if ∇f = 0)"
        )
    if lo - lo_r > noise:
        return "positive definite", (
            f"λmin ≈ {lo:.3g} ± {lo_r:.2g} > 0: a strict local minimum if ∇f = 0 "
            "(assuming Lanczos found the smallest eigenvalue)"
        )
    if hi + hi_r < -noise:
        return "negative definite", f"λmax ≈ {hi:.3g} ± {hi_r:.2g} < 0: a maximum if ∇f = 0"
    return "undetermined", (
        f"an extreme eigenvalue ({lo:.3g} ± {lo_r:.2g} or {hi:.3g} ± {hi_r:.2g}) is within "
        f"its bound and rounding ({noise:.1g}) of 0: singular or nearly so"
    )
