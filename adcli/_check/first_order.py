"""First-order checks of one input at one point: JVP and VJP against FD, and each other.

The input is viewed as a flat real vector and checked by one of two methods:

* ``full``: every coordinate is perturbed (a full FD Jacobian, one batched call) and
  compared element by element with ``jacfwd``/``jacrev``; used when d·m is small.
* ``directions``: a few Gaussian directions scaled by |x| (FD along each, one batched
  call) against JVPs, VJPs (⟨Jᵀu, v⟩ vs ⟨u, FD⟩) and the adjoint identity; failures are
  localised to coordinates by group testing (``adcli._check.localized``).

See ``adcli._numerics.finite_diff`` for the FD error model and ``adcli._numerics.compare``
for tolerances.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from adcli._check import rounding
from adcli._check.fd import coordinates_fd, directions_fd
from adcli._check.localized import localized
from adcli._check.point import (
    Point,
    coordinate_labels,
    cotangents_for,
    direction_labels,
    directions_for,
    dot_scale,
)
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import Labels, block_rms, compare, directional_scale, skipped
from adcli._numerics.refine import failing_rows
from adcli._results.check import Comparison


@dataclass(frozen=True)
class FirstOrderResult:
    """The first-order comparisons of one input at one point, and what later checks
    (``expect``) reuse: the FD estimate and the AD values it was compared with.

    With the ``full`` method ``fd`` is (d, m) along the scaled coordinates and
    ``jacobians`` maps each mode that ran to its scaled Jacobian (d, m); with
    ``directions`` ``fd`` is (K, m) along ``directions`` (K, D), with the ``jvps`` (K, m)
    and the ``vjps`` (J, D) of ``cotangents`` (J, m) where those modes ran.
    """

    comparisons: tuple[Comparison, ...]
    fd: fdiff.Estimate
    jacobians: dict[str, np.ndarray] = field(default_factory=dict)
    directions: np.ndarray | None = None
    cotangents: np.ndarray | None = None
    jvps: np.ndarray | None = None
    vjps: np.ndarray | None = None


Method = Callable[[Point, int], FirstOrderResult]


def check_first_order(pt: Point, directions: int) -> FirstOrderResult:
    """fwd, rev and adjoint comparisons for one input at one point."""
    run: Method = first_order_full if pt.method == "full" else first_order_directions
    start = copy.deepcopy(pt.rng.bit_generator.state)  # to draw the same directions again
    result = run(pt, directions)
    out = result.comparisons
    if pt.fn.promoted and pt.dtype != "float64" and any(c.verdict == "fail" for c in out):
        rng = np.random.default_rng()
        rng.bit_generator.state = start
        again = _second_opinion(dataclasses.replace(pt, rng=rng), out, run, directions)
        result = dataclasses.replace(result, comparisons=again)
    if rounding.applies(pt, result.comparisons):
        result = dataclasses.replace(result, comparisons=rounding.rounding_opinion(pt, result))
    return result


def _second_opinion(
    pt: Point, out: tuple[Comparison, ...], run: Method, directions: int
) -> tuple[Comparison, ...]:
    """Re-judge failures of a low-precision function against FD in its own precision.

    The float64 version of a float32 function can differ from it where float32 underflows
    or saturates (AD of the float32 function is then exactly 0 while float64 FD is
    1e-11): what matters is the function as it runs. FD in float32 is less precise, so it
    only clears a failure when it agrees within its own (honest) error bound.
    """
    own = dataclasses.replace(
        pt,
        use_ref=False,
        ref_inputs=pt.inputs,
        ref_constants=pt.constants,
        eps=float(jnp.finfo(pt.dtype).eps),
    )
    verdicts = {c.kind: c.verdict for c in run(own, directions).comparisons}
    judged = []
    for c in out:
        if c.verdict != "fail" or verdicts.get(c.kind) not in ("pass", "inconclusive"):
            judged.append(c)
        elif verdicts[c.kind] == "pass":
            note = (
                f"agrees with FD of the function in its own precision ({pt.dtype}); its "
                "float64 version differs here (underflow, saturation or rounding)"
            )
            judged.append(dataclasses.replace(c, verdict="pass", reason=note))
        else:
            note = (
                f"disagrees with FD of the float64 version, and FD in {pt.dtype} cannot "
                f"decide: the difference is below what {pt.dtype} resolves here (underflow "
                "or saturation?)"
            )
            judged.append(dataclasses.replace(c, verdict="inconclusive", reason=note))
    return tuple(judged)


def _usable(pt: Point) -> list[str]:
    """The modes asked for whose transformation traces."""
    return [mode for mode in ("fwd", "rev") if mode in pt.modes and pt.modes[mode] is None]


def _skips(pt: Point) -> dict[str, Comparison]:
    """A skipped comparison for each mode asked for that cannot trace, with its reason."""
    return {
        mode: skipped(pt.about(mode), str(pt.modes[mode]))
        for mode in ("fwd", "rev")
        if mode in pt.modes and pt.modes[mode] is not None
    }


def _jacobians(pt: Point) -> dict[str, np.ndarray]:
    """This input's Jacobian (d, m) by each usable mode, rows scaled by |xᵢ|."""
    cols, jac = pt.columns, {}
    if _usable(pt) == ["fwd", "rev"]:  # both in one program
        fwd, rev = pt.evals.jacobians(pt.at, cols)
        scale = pt.scale[cols][:, None]
        return {"fwd": fwd.T * scale, "rev": rev[:, cols].T * scale}
    for mode in _usable(pt):
        if mode == "fwd":
            full = pt.evals.jacobian_fwd(pt.at, cols)
        else:
            full = pt.evals.jacobian_rev(pt.at)[:, cols]
        jac[mode] = full.T * pt.scale[cols][:, None]  # (d, m), scaled
    return jac


def first_order_full(pt: Point, directions: int = 0) -> FirstOrderResult:
    """Element by element: the Jacobian by each mode against an FD Jacobian."""
    cols = pt.columns
    jac = _jacobians(pt)
    scale_rows = block_rms(np.stack(list(jac.values())) if jac else np.zeros((1, pt.d, 1)), axis=1)
    est = coordinates_fd(
        pt,
        cols,
        lambda e: failing_rows(e, list(jac.values()), scale_rows[0], pt.rtol, pt.atol),
    )
    s = pt.scale[cols][:, None]
    labels = coordinate_labels(pt, cols)
    block = block_rms(est.value, axis=0) / s  # per output: RMS over the (scaled) coordinates
    skips = _skips(pt)
    out: list[Comparison] = []
    for mode in ("fwd", "rev"):
        if mode in skips:
            out.append(skips[mode])
        elif mode in jac:
            out.append(
                compare(pt.about(mode), jac[mode] / s, est.per_unit(s), block, pt.tolerance, labels)
            )
    if "fwd" in jac and "rev" in jac:
        adjoint = compare(
            pt.about("adjoint"), jac["fwd"] / s, jac["rev"] / s, block, pt.tolerance, labels
        )
        out.append(adjoint)
    _diagnose_transpose_full(pt, out, jac, est)
    return FirstOrderResult(tuple(out), est, jacobians=jac)


def _diagnose_transpose_full(
    pt: Point, out: list[Comparison], jac: dict[str, np.ndarray], est: fdiff.Estimate
) -> None:
    """Name a missing transpose: AD equals FD with a matrix input (or the Jacobian) transposed."""
    layout = pt.fn.layout
    s = pt.scale[pt.columns][:, None]
    fd = est.value / s
    tol = 2 * np.where(est.trusted, est.error, np.inf) / s + pt.rtol * (
        np.abs(fd) + block_rms(fd, axis=None)
    )
    for i, comp in enumerate(out):
        if comp.verdict != "fail" or comp.kind not in jac:
            continue
        ad = jac[comp.kind] / s
        hit = None
        if layout.square_matrix_leaves(within=pt.segment):
            perm = layout.transpose_permutation()[pt.columns] - pt.segment.start
            if np.all(np.abs(ad[perm] - fd) <= tol):
                hit = f"AD equals FD with '{pt.name}' transposed: a missing transpose"
        if hit is None and fd.shape[0] == fd.shape[1] and np.all(np.abs(ad.T - fd) <= tol):
            hit = "AD equals the transposed FD Jacobian: a missing transpose"
        if hit:
            out[i] = dataclasses.replace(comp, diagnosis=hit)


def first_order_directions(pt: Point, count: int) -> FirstOrderResult:
    """Along random directions: JVPs and VJPs against FD, and the adjoint identity."""
    dirs = directions_for(pt, count)
    cots = cotangents_for(pt, count)
    usable = _usable(pt)
    jvps = pt.evals.jvp(pt.at, dirs) if "fwd" in usable else None  # (K, m)
    vjps = pt.evals.vjp(pt.at, cots) if "rev" in usable else None  # (J, d)
    est = directions_fd(pt, dirs, jvps, vjps, cots)
    skips = _skips(pt)
    out: list[Comparison] = []
    for mode, ad in (("fwd", jvps), ("rev", vjps)):
        if mode in skips:
            out.append(skips[mode])
        elif ad is not None:
            out.append(_judged(pt, mode, dirs, ad, cots, est))
    if jvps is not None and vjps is not None:
        out.append(_adjoint(pt, dirs, cots, jvps, vjps))
    return FirstOrderResult(tuple(out), est, directions=dirs, cotangents=cots, jvps=jvps, vjps=vjps)


def _judged(
    pt: Point, mode: str, dirs: np.ndarray, ad: np.ndarray, cots: np.ndarray, est: fdiff.Estimate
) -> Comparison:
    """``mode``'s values along ``dirs`` against FD; a failure localised and, for a square
    matrix input, tested for a missing transpose."""
    compare_mode = compare_fwd if mode == "fwd" else compare_rev
    comp = compare_mode(pt, dirs, ad, cots, est)
    if comp.verdict != "fail":
        return comp
    comp = localized(pt, comp, mode, dirs, cots, ad)
    layout = pt.fn.layout
    if layout.square_matrix_leaves(within=pt.segment):
        # Does AD along v match FD along vᵀ (each square matrix transposed)?
        flipped = directions_fd(pt, dirs[:, layout.transpose_permutation()])
        if compare_mode(pt, dirs, ad, cots, flipped).verdict == "pass":
            hint = f"AD equals FD with '{pt.name}' transposed: a missing transpose"
            comp = dataclasses.replace(comp, diagnosis=hint)
    return comp


def _adjoint(
    pt: Point, dirs: np.ndarray, cots: np.ndarray, jvps: np.ndarray, vjps: np.ndarray
) -> Comparison:
    """⟨u, Jv⟩ from the JVPs against ⟨Jᵀu, v⟩ from the VJPs, for every pair (u, v)."""
    reference = vjps @ dirs.T
    terms = np.abs(cots) @ np.abs(jvps).T + np.abs(vjps) @ np.abs(dirs).T
    labels = Labels(lambda i: f"{pt.name}·v{i[1]}", lambda i: f"⟨u{i[0]}, ·⟩")
    scale = dot_scale(pt, reference, terms)
    return compare(pt.about("adjoint"), cots @ jvps.T, reference, scale, pt.tolerance, labels)


def compare_fwd(
    pt: Point,
    dirs: np.ndarray,
    jvps: np.ndarray,
    cots: np.ndarray,
    est: fdiff.Estimate,
    allowance: np.ndarray | float = 0.0,
) -> Comparison:
    """JVPs along ``dirs`` (K, m) against FD along them (``allowance``: added to each
    element's tolerance, see ``adcli._check.rounding``)."""
    scale = directional_scale(est.value) + allowance / max(pt.rtol, 1e-300)
    return compare(pt.about("fwd"), jvps, est, scale, pt.tolerance, direction_labels(pt))


def compare_rev(
    pt: Point,
    dirs: np.ndarray,
    vjps: np.ndarray,
    cots: np.ndarray,
    est: fdiff.Estimate,
    allowance: np.ndarray | float = 0.0,
) -> Comparison:
    """⟨Jᵀu, v⟩ from the VJPs against ⟨u, FD along v⟩, for every (v, u): (K, J)
    (``allowance``: added to each element's tolerance, see ``adcli._check.rounding``)."""
    trusted = np.asarray(est.trusted.all(axis=1))  # per direction
    error = np.where(est.trusted, est.error, 0.0) @ np.abs(cots).T  # (K, J)
    jump = np.where(np.isfinite(est.slope_jump), est.slope_jump, 0) @ np.abs(cots).T
    reference = fdiff.Estimate(
        est.value @ cots.T,
        error,
        np.broadcast_to(trusted[:, None], error.shape),
        np.min(est.step, axis=1)[:, None] * np.ones(error.shape),
        jump,
        *_contracted(est, cots),
    )
    scale = dot_scale(pt, reference.value, np.abs(dirs) @ np.abs(vjps).T)
    scale = scale + allowance / max(pt.rtol, 1e-300)
    out_layout = pt.fn.out_layout
    labels = Labels(
        lambda i: f"{pt.name}·v{i[0]}",
        (lambda i: out_layout.describe(0)) if pt.fn.m == 1 else (lambda i: f"⟨u{i[1]}, ·⟩"),
    )
    return compare(pt.about("rev"), (vjps @ dirs.T).T, reference, scale, pt.tolerance, labels)


def _contracted(est: fdiff.Estimate, cots: np.ndarray) -> tuple[np.ndarray | None, ...]:
    """The magnitude and one-sided derivatives of ⟨u, FD⟩ for each cotangent u (rows of
    ``cots``): linear in the one-sided values, bounded in |u| for the others."""
    if est.magnitude is None or est.left is None or est.right is None:
        return ()
    assert est.side_error is not None and est.side_step is not None
    magnitude = np.where(np.isfinite(est.magnitude), est.magnitude, 0.0) @ np.abs(cots).T
    side_error = est.side_error @ np.abs(cots).T
    side_step = np.min(est.side_step, axis=1)[:, None] * np.ones(side_error.shape)
    return magnitude, est.left @ cots.T, est.right @ cots.T, side_error, side_step
