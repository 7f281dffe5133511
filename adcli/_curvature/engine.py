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
from adcli._errors import TRACE_ERRORS, UsageError, first_line
from adcli._modes.engine import MEASURES
from adcli._numerics.domain import require_finite
from adcli._problem.build import Problem, build
from adcli._problem.flat import flatten_problem
from adcli._problem.runtime import default_memory_budget, enable_x64
from adcli._results.curvature import (
    CurvatureReport,
    CurvatureResult,
    EigenEstimate,
    Eigenvalue,
    ExactHessian,
    SkippedSpec,
    TraceEstimate,
)
from adcli._spec.model import Spec

Progress = Callable[[str], None]


class NotScalarError(UsageError):
    """The spec's function is vector-valued: curvature needs f: Rᵈ → R."""


EXACT_POLICIES = ("auto", "always", "never")
PROBE_CHOICES = (*PROBES, "both")
DEFAULT_HVPS = 100  # per trace estimate, without --rtol
DEFAULT_RTOL_HVPS = 1000  # the cap with --rtol
DEFAULT_LANCZOS_STEPS = 300


def curvature(
    spec: Spec | Problem | str | os.PathLike[str],
    *,
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
        spec: a Spec, a built Problem, or a file holding exactly one spec.
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
    enable_x64()
    start = time.perf_counter()
    _validate(eigs, probes, hvps, rtol, confidence, exact, check_directions, measure, point)
    _validate_limits(memory_budget, lanczos_steps, eig_tol)
    if isinstance(spec, str | os.PathLike):
        from adcli._spec.load import load_file

        found = load_file(spec)
        if len(found) != 1:
            names = ", ".join(s.name for s in found)
            raise UsageError(
                f"{os.fspath(spec)} holds {len(found)} specs ({names}): pass one Spec, "
                "or use curvature_report for a file or directory"
            )
        spec = found[0]
    problem = build(spec) if isinstance(spec, Spec) else spec
    sp = problem.spec
    seed = sp.check.seed if seed is None else seed
    say = progress or (lambda what: None)
    flat = flatten_problem(problem, with_vector=True)
    where = f"{sp.where.file or '<spec>'}:{sp.where.line}"
    if flat.m != 1:
        raise NotScalarError(
            f"{sp.name} ({where}): curvature needs a scalar function f: Rᵈ → R, but its "
            f"output has {flat.m} entries; reduce it to a scalar (e.g. a loss, or ⟨u, f⟩)"
        )
    budget = default_memory_budget() if memory_budget is None else memory_budget
    inputs = problem.sample_inputs(point, seed)
    constants = problem.sample_constants(seed)
    x = flat.in_layout.flatten({k: inputs[k] for k in sp.wrt}, flat.dtype)
    rest = {"inputs": {k: v for k, v in inputs.items() if k not in sp.wrt}, "constants": constants}
    d = flat.n

    try:
        value, grad = jax.jit(jax.value_and_grad(lambda y, r: flat.fn(y, r)[0]))(x, rest)
    except TRACE_ERRORS as exc:
        # e.g. lax.while_loop: JAX raises while tracing the gradient, before any number.
        raise UsageError(
            f"{sp.name} ({where}): curvature needs the reverse-mode gradient of f (the HVP "
            f"check compares HVPs with finite differences of it), but JAX cannot "
            f"differentiate this function in reverse mode: {first_line(exc)}"
        ) from exc
    require_finite(sp.name, value, grad, at=f" at point {point} (seed {seed})")

    # First: --exact always over budget is a usage error, before any other work.
    say("forming the exact Hessian")
    exact_info, hessian = exact_hessian(flat, x, rest, policy=exact, budget=budget, k=max(eigs, 1))
    say("choosing the HVP strategy")
    strategy, per_hvp = pick_strategy(problem, hvp_strategy, measure, budget)
    try:
        op = HvpOperator(flat, strategy.name, x, rest, batch_size(per_hvp, budget, d))
        mem = op.batch_memory()
        if mem is not None and mem > budget // 4 and op.batch > 1:
            op = HvpOperator(flat, strategy.name, x, rest, 1)
            mem = op.batch_memory()
    except TRACE_ERRORS as exc:
        # choose-mode only recommends a composition that traces, so this is a forced one.
        which = (
            f"--hvp-strategy {strategy.name}"
            if hvp_strategy is not None
            else f"the HVP composition {strategy.name}"
        )
        raise UsageError(
            f"{sp.name} ({where}): {which} cannot run on this function: {first_line(exc)}"
        ) from exc
    strategy = _with(strategy, batch=op.batch, batch_memory_bytes=mem, batching=op.batching)

    say("checking HVPs against finite differences")
    check = check_hvps(
        problem,
        op,
        inputs,
        constants,
        point=point,
        seed=seed,
        count=check_directions,
        hessian=hessian,
    )
    # Rounding allowances follow the least precise dtype the function computes in (a float16
    # function reached through a float32 vector still rounds like float16).
    eps = max(float(jnp.finfo(op.dtype).eps), float(jnp.finfo(check.compute_dtype or op.dtype).eps))
    traces: list[TraceEstimate] = []
    if trace:
        say("estimating the trace")
        traces = _traces(
            op, d, probes, hvps, rtol, confidence, hutchpp, seed, point, exact_info, hessian, eps
        )
    eig_result = None
    if eigs:
        say("Lanczos")
        steps = lanczos_steps or min(d, DEFAULT_LANCZOS_STEPS)
        steps = min(steps, max(1, (budget // 4) // (8 * d) - 1))  # the basis must fit
        eig_result = _eigs(op, d, eigs, steps, eig_tol, seed, point, exact_info, eps)
    return CurvatureResult(
        name=sp.name,
        file=sp.where.file,
        line=sp.where.line,
        d=d,
        dims=dict(problem.dims),
        backend=jax.default_backend(),
        dtypes=dict.fromkeys(sp.wrt, check.compute_dtype or str(np.dtype(flat.dtype))),
        point=point,
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


def curvature_report(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    dims: Mapping[str, int] | None = None,
    only: Sequence[str] = (),
    **options: Any,
) -> CurvatureReport:
    """``curvature`` for every spec under ``paths`` (files or directories), at full dims.

    With more than one spec selected, a vector-valued one is skipped (listed in
    ``skipped`` with the reason) and the others run; a single selected spec that is not
    scalar raises UsageError, as ``curvature`` does.

    Raises:
        AdcliError: a file cannot be loaded; UsageError, SpecError: as ``curvature``.
    """
    from adcli._errors import AdcliError
    from adcli._spec.select import select_specs

    start = time.perf_counter()
    chosen, errors = select_specs(paths, only=only, dims=dims)
    if errors:
        raise AdcliError("; ".join(errors))
    if len(chosen) == 1:  # the one spec asked for must be scalar: a usage error otherwise
        return CurvatureReport((curvature(chosen[0], **options),), time.perf_counter() - start)
    results, skipped = [], []
    for spec in chosen:
        try:
            results.append(curvature(spec, **options))
        except NotScalarError as exc:  # a folder of specs: run the scalar ones
            skipped.append(SkippedSpec(spec.name, spec.where.file, spec.where.line, str(exc)))
    if chosen and not results:
        raise UsageError(
            f"none of the {len(chosen)} selected specs is a scalar function: "
            + "; ".join(s.reason for s in skipped)
        )
    return CurvatureReport(tuple(results), time.perf_counter() - start, tuple(skipped))


def _validate(
    eigs: int,
    probes: str,
    hvps: int | None,
    rtol: float | None,
    confidence: float,
    exact: str,
    check_directions: int,
    measure: str,
    point: int,
) -> None:
    if eigs < 0:
        raise UsageError(f"--eigs: expected k ≥ 0, got {eigs}")
    if probes not in PROBE_CHOICES:
        raise UsageError(f"--probes: expected one of {', '.join(PROBE_CHOICES)}, got {probes!r}")
    if hvps is not None and hvps < 2:
        raise UsageError(f"--hvps: a trace interval needs at least 2 HVPs, got {hvps}")
    if rtol is not None and not rtol > 0:
        raise UsageError(f"--rtol: expected a positive number, got {rtol}")
    if not 0 < confidence < 1:
        raise UsageError(f"--confidence: expected a level in (0, 1) such as 0.95, got {confidence}")
    if exact not in EXACT_POLICIES:
        raise UsageError(f"--exact: expected one of {', '.join(EXACT_POLICIES)}, got {exact!r}")
    if check_directions < 1:
        raise UsageError(f"--check-directions: expected ≥ 1, got {check_directions}")
    if measure not in MEASURES:
        raise UsageError(f"--measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
    if point < 0:
        raise UsageError(f"--point: expected ≥ 0, got {point}")


def _validate_limits(memory_budget: int | None, lanczos_steps: int | None, eig_tol: float) -> None:
    # The CLI's click types already refuse these; the Python API must too.
    if memory_budget is not None and not memory_budget > 0:
        raise UsageError(f"--memory-budget: expected a positive size in bytes, got {memory_budget}")
    if lanczos_steps is not None and lanczos_steps < 1:
        raise UsageError(f"--lanczos-steps: expected ≥ 1, got {lanczos_steps}")
    if not eig_tol > 0:
        raise UsageError(f"--eig-tol: expected a positive number, got {eig_tol}")


def _with(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


def _traces(
    op: HvpOperator,
    d: int,
    probes: str,
    hvps: int | None,
    rtol: float | None,
    confidence: float,
    hutchpp: bool,
    seed: int,
    point: int,
    exact: ExactHessian,
    hessian: np.ndarray | None,
    eps: float,
) -> list[TraceEstimate]:
    budget = hvps if hvps is not None else (DEFAULT_RTOL_HVPS if rtol else DEFAULT_HVPS)
    kinds = PROBES if probes == "both" else (probes,)
    out = []
    for i, kind in enumerate(kinds):
        rng = np.random.default_rng([seed, point, 0x7472, i])
        out.append(
            hutchinson(
                op.matmat,
                d,
                kind=kind,
                max_hvps=budget,
                rtol=rtol,
                confidence=confidence,
                rng=rng,
                block=op.batch,
                exact=exact.trace,
                hessian=hessian,
                eps=eps,
            )
        )
    if hutchpp:
        # As many HVPs as the first Hutchinson run used: the same cost, side by side.
        n = max(6, out[0].hvps)
        rng = np.random.default_rng([seed, point, 0x7472, 9])
        out.append(
            hutch_plus_plus(
                op.matmat,
                d,
                hvps=n,
                confidence=confidence,
                rng=rng,
                exact=exact.trace,
                eps=eps,
            )
        )
    return out


def _eigs(
    op: HvpOperator,
    d: int,
    k: int,
    steps: int,
    tol: float,
    seed: int,
    point: int,
    exact: ExactHessian,
    eps: float,
) -> EigenEstimate:
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
