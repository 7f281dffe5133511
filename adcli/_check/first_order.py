"""First-order checks of one input at one point: JVP and VJP against FD, and each other.

The input is viewed as a flat real vector and checked by one of two methods:

* ``full``: every coordinate is perturbed (a full FD Jacobian, one batched call) and
  compared element by element with ``jacfwd``/``jacrev``; used when d·m is small.
* ``directions``: a few Gaussian directions scaled by |x|, and one along the AD gradient
  in each leaf of the input (``adcli._check.leaves``), FD along each (one batched call)
  against JVPs, VJPs (⟨Jᵀu, v⟩ vs ⟨u, FD⟩) and the adjoint identity; failures are
  localised to leaves, then coordinates (``adcli._check.localized``).

A low-precision function's failures get a second opinion (``adcli._check.second_opinion``).
See ``adcli._numerics.finite_diff`` for the FD error model and ``adcli._numerics.compare``
for tolerances.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from adcli._check import rounding
from adcli._check.fd import coordinates_fd, directions_fd
from adcli._check.leaves import Rows, aligned_directions, leaf_blocks, spot_coordinates
from adcli._check.localized import localized
from adcli._check.point import (
    Pairing,
    Point,
    coordinate_labels,
    cotangents_for,
    directions_for,
    dot_scale,
    pairing,
)
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import (
    SAFETY,
    Labels,
    block_rms,
    compare,
    directional_scale,
    skipped,
)
from adcli._numerics.refine import failing_rows, screen_decided
from adcli._results.check import Comparison


@dataclass(frozen=True)
class Terms:
    """What one comparison compares, element by element: the AD values, the reference (an
    FD estimate, or AD values for the adjoint identity), each element's block scale and
    their labels. Axis 0 of ``ad`` runs over the FD rows (coordinates or directions)."""

    ad: np.ndarray
    reference: np.ndarray | fdiff.Estimate
    scale: np.ndarray | float
    labels: Labels


@dataclass(frozen=True)
class FirstOrderResult:
    """The first-order comparisons of one input at one point, and what later checks
    (``expect``, the second opinion) reuse: the FD estimate and the AD values compared.

    With the ``full`` method ``fd`` is (d, m) along the scaled coordinates and
    ``jacobians`` maps each mode that ran to its scaled Jacobian (d, m); with
    ``directions`` ``fd`` is (K, m) along ``directions`` (K, D) (named by ``rows``), with
    the ``jvps`` (K, m) and the ``vjps`` (J, D) of ``cotangents`` (J, m) where those modes
    ran. ``terms`` holds each FD comparison's elements by kind.
    """

    comparisons: tuple[Comparison, ...]
    fd: fdiff.Estimate
    jacobians: dict[str, np.ndarray] = field(default_factory=dict)
    directions: np.ndarray | None = None
    cotangents: np.ndarray | None = None
    jvps: np.ndarray | None = None
    vjps: np.ndarray | None = None
    rows: Rows | None = None
    terms: dict[str, Terms] = field(default_factory=dict)


Method = Callable[[Point, int], FirstOrderResult]


def check_first_order(pt: Point, directions: int) -> FirstOrderResult:
    """fwd, rev and adjoint comparisons for one input at one point."""
    from adcli._check.second_opinion import second_opinion

    run: Method = first_order_full if pt.method == "full" else first_order_directions
    start = copy.deepcopy(pt.rng.bit_generator.state)  # to draw the same directions again
    result = run(pt, directions)
    if (
        pt.fn.promoted
        and pt.dtype != "float64"
        and any(c.verdict == "fail" for c in result.comparisons)
    ):
        rng = np.random.default_rng()
        rng.bit_generator.state = start
        again = second_opinion(dataclasses.replace(pt, rng=rng), result, run, directions)
        result = dataclasses.replace(result, comparisons=again)
    if rounding.applies(pt, result.comparisons):
        result = dataclasses.replace(result, comparisons=rounding.rounding_opinion(pt, result))
    return result


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
        lambda e: screen_decided(e, list(jac.values()), scale_rows[0], pt.rtol, pt.atol),
    )
    s = pt.scale[cols][:, None]
    labels = coordinate_labels(pt, cols)
    block = block_rms(est.value, axis=0) / s  # per output: RMS over the (scaled) coordinates
    skips = _skips(pt)
    out: list[Comparison] = []
    terms: dict[str, Terms] = {}
    for mode in ("fwd", "rev"):
        if mode in skips:
            out.append(skips[mode])
        elif mode in jac:
            terms[mode] = Terms(jac[mode] / s, est.per_unit(s), block, labels)
            out.append(_compare(pt, mode, terms[mode]))
    if "fwd" in jac and "rev" in jac:
        adjoint = compare(
            pt.about("adjoint"), jac["fwd"] / s, jac["rev"] / s, block, pt.tolerance, labels
        )
        out.append(adjoint)
    _diagnose_transpose_full(pt, out, jac, est)
    return FirstOrderResult(tuple(out), est, jacobians=jac, terms=terms)


def _compare(pt: Point, mode: str, terms: Terms) -> Comparison:
    return compare(
        pt.about(mode), terms.ad, terms.reference, terms.scale, pt.tolerance, terms.labels
    )


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
    """Along random directions and along the AD gradient in each leaf: JVPs and VJPs
    against FD, and the adjoint identity."""
    dirs = directions_for(pt, count)
    cots = cotangents_for(pt, count)
    usable = _usable(pt)
    vjps = pt.evals.vjp(pt.at, cots) if "rev" in usable else None  # (J, d)
    blocks = leaf_blocks(pt)
    aligned, kept = (
        aligned_directions(pt, vjps[0], blocks) if vjps is not None else (dirs[:0], [])
    )  # along the AD gradient (of the first cotangent), leaf by leaf
    spots, owners, coords = spot_coordinates(pt, blocks)
    expected = () if vjps is None else tuple(float(e) for e in _expected_rms(pt, vjps))
    rows = Rows(len(dirs), tuple(kept), tuple(coords), tuple(owners), expected)
    dirs = np.concatenate([dirs, aligned, spots])
    jvps = pt.evals.jvp(pt.at, dirs) if "fwd" in usable else None  # (K, m)
    pairs = pairing(dirs, vjps) if vjps is not None else None
    est = directions_fd(pt, dirs, jvps, vjps, cots, pairs)
    for _ in range(REDRAWS):
        vague = _vague_random(est, rows)
        if not vague.size:
            break
        dirs[vague] = directions_for(pt, len(vague))
        jvps = pt.evals.jvp(pt.at, dirs) if jvps is not None else None
        pairs = pairing(dirs, vjps) if vjps is not None else None
        est = directions_fd(pt, dirs, jvps, vjps, cots, pairs)
    skips = _skips(pt)
    out: list[Comparison] = []
    terms: dict[str, Terms] = {}
    for mode, ad in (("fwd", jvps), ("rev", vjps)):
        if mode in skips:
            out.append(skips[mode])
        elif ad is not None:
            make = fwd_terms if mode == "fwd" else partial(rev_terms, pairs=pairs)
            terms[mode] = make(pt, rows, dirs, ad, cots, est)
            out.append(_judged(pt, mode, rows, dirs, ad, cots, terms[mode]))
    if jvps is not None and vjps is not None and pairs is not None:
        out.append(_adjoint(pt, rows, cots, jvps, pairs))
    return FirstOrderResult(
        tuple(out),
        est,
        directions=dirs,
        cotangents=cots,
        jvps=jvps,
        vjps=vjps,
        rows=rows,
        terms=terms,
    )


def _judged(
    pt: Point,
    mode: str,
    rows: Rows,
    dirs: np.ndarray,
    ad: np.ndarray,
    cots: np.ndarray,
    terms: Terms,
) -> Comparison:
    """``mode``'s values along ``dirs`` against FD; a failure localised and, for a square
    matrix input, tested for a missing transpose."""
    comp = _compare(pt, mode, terms)
    if comp.verdict != "fail":
        return comp
    comp = localized(pt, comp, mode, rows, dirs, cots, ad, terms)
    layout = pt.fn.layout
    if layout.square_matrix_leaves(within=pt.segment):
        # Does AD along v match FD along vᵀ (each square matrix transposed)?
        flipped = directions_fd(pt, dirs[:, layout.transpose_permutation()])
        make = fwd_terms if mode == "fwd" else rev_terms
        if _compare(pt, mode, make(pt, rows, dirs, ad, cots, flipped)).verdict == "pass":
            hint = f"AD equals FD with '{pt.name}' transposed: a missing transpose"
            comp = dataclasses.replace(comp, diagnosis=hint)
    return comp


def _adjoint(
    pt: Point, rows: Rows, cots: np.ndarray, jvps: np.ndarray, pairs: Pairing
) -> Comparison:
    """⟨u, Jv⟩ from the JVPs against ⟨Jᵀu, v⟩ from the VJPs (``pairs``), for every pair
    (u, v)."""
    reference = pairs.dots.T
    terms = np.abs(cots) @ np.abs(jvps).T + pairs.sizes.T
    labels = Labels(lambda i: rows.name(pt, i[1]), lambda i: f"⟨u{i[0]}, ·⟩")
    scale = dot_scale(pt, reference, terms)
    return compare(pt.about("adjoint"), cots @ jvps.T, reference, scale, pt.tolerance, labels)


def fwd_terms(
    pt: Point,
    rows: Rows,
    dirs: np.ndarray,
    jvps: np.ndarray,
    cots: np.ndarray,
    est: fdiff.Estimate,
    allowance: np.ndarray | float = 0.0,
) -> Terms:
    """JVPs along ``dirs`` (K, m) against FD along them (``allowance``: added to each
    element's tolerance, see ``adcli._check.rounding``)."""
    out_layout = pt.fn.out_layout
    labels = Labels(lambda i: rows.name(pt, i[0]), lambda i: out_layout.describe(i[1]))
    floor = rows.expected[0] if rows.expected and pt.fn.m == 1 else 0.0

    def directional(k: np.ndarray) -> np.ndarray:
        found: np.ndarray = directional_scale(est.value[k])
        return np.maximum(found, floor) if len(k) and k[0] < rows.random else found

    scale = _row_scales(rows, est.value, directional) + allowance / max(pt.rtol, 1e-300)
    return Terms(jvps, est, scale, labels)


# A random direction along which FD cannot decide (it crosses a ReLU kink a few steps
# away, say) is one of many the check could have drawn: it is drawn again, at most twice.
# At a kink *at* the point every direction is undecided, and the check stays inconclusive.
REDRAWS = 2


def _vague_random(est: fdiff.Estimate, rows: Rows) -> np.ndarray:
    """The random rows whose FD is untrusted or too vague to tell a 5% error, judged on
    the expected scale of a random direction's derivative where it is known."""
    k = rows.random
    value, error = est.value[:k], np.where(est.trusted[:k], est.error[:k], np.inf)
    floor = rows.expected[0] if rows.expected and value.shape[1] == 1 else 0.0
    scale = np.maximum(directional_scale(value), floor)
    vague = (SAFETY * error > 0.05 * (np.abs(value) + scale)).any(axis=1)
    return np.flatnonzero(vague)


def _expected_rms(pt: Point, vjps: np.ndarray) -> np.ndarray:
    """‖(Jᵀu)∘|x|‖ over this input for each cotangent: the RMS of ⟨Jᵀu, v⟩ over random
    directions v (entries of unit variance times |x|)."""
    seg = pt.segment
    found: np.ndarray = np.sqrt(np.sum((vjps[:, seg] * pt.scale[seg]) ** 2, axis=1))
    return found


def _row_scales(
    rows: Rows, values: np.ndarray, directional: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Each element's block scale. The random directions by ``directional`` of their rows
    (indices) among themselves; each direction along the gradient by its own (it does not
    cancel, so it must not lift the floor of the others); a coordinate by the RMS over
    the sampled coordinates of its leaf (per column), as ``full`` judges a coordinate on
    the scale of its input."""
    scale = np.empty(values.shape)
    groups = [np.arange(rows.random)] if rows.random else []
    groups += [np.asarray([k]) for k in range(rows.random, rows.directional)]
    for group in groups:
        scale[group] = np.broadcast_to(directional(group), values[group].shape)
    owners = np.asarray([id(b) for b in rows.coord_blocks])
    for owner in np.unique(owners):
        mine = rows.directional + np.flatnonzero(owners == owner)
        scale[mine] = block_rms(values[mine], axis=0)
    return scale


def rev_terms(
    pt: Point,
    rows: Rows,
    dirs: np.ndarray,
    vjps: np.ndarray,
    cots: np.ndarray,
    est: fdiff.Estimate,
    allowance: np.ndarray | float = 0.0,
    *,
    pairs: Pairing | None = None,
) -> Terms:
    """⟨Jᵀu, v⟩ from the VJPs against ⟨u, FD along v⟩, for every (v, u): (K, J)
    (``allowance``: added to each element's tolerance, see ``adcli._check.rounding``;
    ``pairs``: the :class:`Pairing` of ``dirs`` and ``vjps``, when the caller has it)."""
    if pairs is None:
        pairs = pairing(dirs, vjps)
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
    terms = pairs.sizes
    floor = np.asarray(rows.expected) if rows.expected else np.zeros(len(cots))

    def directional(k: np.ndarray) -> np.ndarray:
        found: np.ndarray = dot_scale(pt, reference.value[k], terms[k])
        return np.maximum(found, floor[None, :]) if len(k) and k[0] < rows.random else found

    scale = _row_scales(rows, reference.value, directional)
    scale = scale + allowance / max(pt.rtol, 1e-300)
    out_layout = pt.fn.out_layout
    labels = Labels(
        lambda i: rows.name(pt, i[0]),
        (lambda i: out_layout.describe(0)) if pt.fn.m == 1 else (lambda i: f"⟨u{i[1]}, ·⟩"),
    )
    return Terms(pairs.dots, reference, scale, labels)


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
