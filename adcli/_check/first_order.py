"""First-order checks of one input at one point: JVP and VJP against FD, and each other.

The input is viewed as a flat real vector and checked by one of two methods:

* ``full``: every coordinate is perturbed (a full FD Jacobian, one batched call) and
  compared element by element with ``jacfwd``/``jacrev``; used when d·m is small.
* ``directions``: a few Gaussian directions scaled by |x| (FD along each, one batched
  call) against JVPs, VJPs (⟨Jᵀu, v⟩ vs ⟨u, FD⟩) and the adjoint identity; failures are
  localised to coordinates by group testing.

See ``adcli._numerics.finite_diff`` for the FD error model and ``adcli._numerics.compare``
for tolerances.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import jax.numpy as jnp
import numpy as np

from adcli._check.point import Point, cotangents_for, directions_for, dot_scale
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import block_rms, compare, directional_scale
from adcli._numerics.localize import localize, range_masks
from adcli._numerics.refine import failing_rows, fd_estimate
from adcli._problem.flat import FlatLayout
from adcli._results.check import CheckKind, Comparison, Mismatch

# --- first order ----------------------------------------------------------------------------


def check_first_order(pt: Point, directions: int) -> tuple[list[Comparison], dict[str, Any]]:
    """fwd, rev and adjoint comparisons for one input at one point.

    Also returns what later checks reuse: the FD estimate, directions and AD values.
    """
    run = _first_order_full if pt.method == "full" else _first_order_directions
    start = copy.deepcopy(pt.rng.bit_generator.state)  # to draw the same directions again
    out, reuse = run(pt, directions)
    if pt.probe.promoted and pt.dtype != "float64" and any(c.verdict == "fail" for c in out):
        rng = np.random.default_rng()
        rng.bit_generator.state = start
        out = _second_opinion(dataclasses.replace(pt, rng=rng), out, run, directions)
    return out, reuse


def _second_opinion(
    pt: Point, out: list[Comparison], run: Any, directions: int
) -> list[Comparison]:
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
    again, _ = run(own, directions)
    verdicts = {c.kind: c.verdict for c in again}
    judged = []
    for c in out:
        if c.verdict != "fail" or verdicts.get(c.kind) not in ("pass", "inconclusive"):
            judged.append(c)
        elif verdicts[c.kind] == "pass":
            note = (
                f"agrees with FD of the function in its own precision ({pt.dtype}); its "
                "float64 version differs here (underflow or saturation)"
            )
            judged.append(dataclasses.replace(c, verdict="pass", reason=note))
        else:
            note = (
                f"disagrees with FD of the float64 version, and FD in {pt.dtype} cannot "
                f"decide: the difference is below what {pt.dtype} resolves here (underflow "
                "or saturation?)"
            )
            judged.append(dataclasses.replace(c, verdict="inconclusive", reason=note))
    return judged


def _skipped(pt: Point, kind: CheckKind, reason: str) -> Comparison:
    return Comparison(
        point=pt.point, wrt=pt.name, kind=kind, method=pt.method, verdict="skipped", reason=reason
    )


def _first_order_full(pt: Point, directions: int = 0) -> tuple[list[Comparison], dict[str, Any]]:
    probe, d, cols = pt.probe, pt.d, pt.columns
    jac: dict[str, np.ndarray] = {}
    for mode in ("fwd", "rev"):
        if mode in pt.modes and pt.modes[mode] is None:
            if mode == "fwd":
                full = probe.jacobian_fwd(pt.x0, cols, pt.inputs, pt.constants)
            else:
                full = probe.jacobian_rev(pt.x0, pt.inputs, pt.constants)[:, cols]
            jac[mode] = full.T * pt.scale[cols][:, None]  # (d, m), scaled

    def sample(rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        return probe.fd_coordinates(
            pt.x0, cols[rows], pt.scale, h, noise, pt.ref_inputs, pt.ref_constants, ref=pt.use_ref
        )

    scale_rows = block_rms(np.stack(list(jac.values())) if jac else np.zeros((1, d, 1)), axis=1)[0]
    est = fd_estimate(
        sample,
        d,
        pt.eps,
        lambda e: failing_rows(e, list(jac.values()), scale_rows, pt.rtol, pt.atol),
    )
    s = pt.scale[cols][:, None]
    out: list[Comparison] = []
    names = (
        lambda i: probe.layout.describe(int(cols[i[0]])),
        lambda i: probe.out_layout.describe(i[1]),
    )
    block = block_rms(est.value, axis=0)  # per output: RMS over the (scaled) coordinates
    for mode in ("fwd", "rev"):
        if mode not in pt.modes:
            continue
        if pt.modes[mode] is not None:
            out.append(_skipped(pt, CheckKind(mode), str(pt.modes[mode])))
            continue
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind(mode),
                method="full",
                ad=jac[mode] / s,
                reference=est.value / s,
                scale=block / s,
                rtol=pt.rtol,
                atol=pt.atol,
                fd_error=est.error / s,
                trusted=est.trusted,
                step=est.step * s,
                slope_jump=est.slope_jump,
                name_in=names[0],
                name_out=names[1],
            )
        )
    if "fwd" in jac and "rev" in jac:
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.ADJOINT,
                method="full",
                ad=jac["fwd"] / s,
                reference=jac["rev"] / s,
                scale=block / s,
                rtol=pt.rtol,
                atol=pt.atol,
                name_in=names[0],
                name_out=names[1],
            )
        )
    _diagnose_transpose_full(pt, out, jac, est)
    return out, {"fd": est, "jac": jac}


def _diagnose_transpose_full(
    pt: Point, out: list[Comparison], jac: dict[str, np.ndarray], est: fdiff.Estimate
) -> None:
    """Name a missing transpose: AD equals FD with a matrix input (or the Jacobian) transposed."""
    layout = pt.probe.layout
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


def _first_order_directions(pt: Point, count: int) -> tuple[list[Comparison], dict[str, Any]]:
    probe = pt.probe
    dirs = directions_for(pt, count)
    cots = cotangents_for(pt, count)
    jvps = w = None
    if "fwd" in pt.modes and pt.modes["fwd"] is None:
        jvps = probe.jvp(pt.x0, dirs, pt.inputs, pt.constants)  # (K, m)
    if "rev" in pt.modes and pt.modes["rev"] is None:
        w = probe.vjp(pt.x0, cots, pt.inputs, pt.constants)  # (J, d)
    est = fd_directions(pt, dirs, jvps, w, cots)
    out: list[Comparison] = []
    for mode, ad in (("fwd", jvps), ("rev", w)):
        if mode not in pt.modes:
            continue
        if ad is None:
            out.append(_skipped(pt, CheckKind(mode), str(pt.modes[mode])))
            continue
        compare_mode = _compare_fwd if mode == "fwd" else _compare_rev
        comp = compare_mode(pt, dirs, ad, cots, est)
        if comp.verdict == "fail":
            comp = _localized(pt, comp, mode, dirs, cots, ad, est)
            if probe.layout.square_matrix_leaves(within=pt.segment):
                # Does AD along v match FD along vᵀ (each square matrix transposed)?
                flipped = dirs[:, probe.layout.transpose_permutation()]
                if (
                    compare_mode(
                        pt, dirs, ad, cots, fd_directions(pt, flipped, None, None, cots)
                    ).verdict
                    == "pass"
                ):
                    hint = f"AD equals FD with '{pt.name}' transposed: a missing transpose"
                    comp = dataclasses.replace(comp, diagnosis=hint)
        out.append(comp)
    if jvps is not None and w is not None:
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.ADJOINT,
                method="directions",
                ad=cots @ jvps.T,
                reference=w @ dirs.T,
                scale=dot_scale(
                    pt, w @ dirs.T, np.abs(cots) @ np.abs(jvps).T + np.abs(w) @ np.abs(dirs).T
                ),
                rtol=pt.rtol,
                atol=pt.atol,
                name_in=lambda i: f"{pt.name}·v{i[1]}",
                name_out=lambda i: f"⟨u{i[0]}, ·⟩",
            )
        )
    return out, {"fd": est, "dirs": dirs, "cots": cots, "jvp": jvps, "vjp": w}


def fd_directions(
    pt: Point, dirs: np.ndarray, jvps: np.ndarray | None, w: np.ndarray | None, cots: np.ndarray
) -> fdiff.Estimate:
    """FD along each direction (K, m), refined where it is untrusted or disagrees with AD."""
    probe = pt.probe

    def sample(rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        return probe.fd_directions(
            pt.x0, dirs[rows], h, noise, pt.ref_inputs, pt.ref_constants, ref=pt.use_ref
        )

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        more = failing_rows(
            e, [jvps] if jvps is not None else [], directional_scale(e.value), pt.rtol, pt.atol
        )
        if w is not None:
            ad = (w @ dirs.T).T  # (K, J)
            ref = e.value @ cots.T
            tol = (
                2 * (np.where(e.trusted, e.error, 0) @ np.abs(cots).T)
                + pt.rtol * (np.abs(ref) + dot_scale(pt, ref, np.abs(dirs) @ np.abs(w).T))
                + pt.atol
            )
            more |= (np.abs(ad - ref) > tol).any(axis=1)
        return more

    return fd_estimate(sample, len(dirs), pt.eps, needs_more)


def _compare_fwd(
    pt: Point,
    dirs: np.ndarray,
    jvps: np.ndarray,
    cots: np.ndarray,
    est: fdiff.Estimate,
    kind: CheckKind = CheckKind.FWD,
    tag: str = "v",
) -> Comparison:
    return compare(
        point=pt.point,
        wrt=pt.name,
        kind=kind,
        method="directions",
        ad=jvps,
        reference=est.value,
        scale=directional_scale(est.value),
        rtol=pt.rtol,
        atol=pt.atol,
        fd_error=est.error,
        trusted=est.trusted,
        step=est.step,
        slope_jump=est.slope_jump,
        name_in=lambda i: f"{pt.name}·{tag}{i[0]}",
        name_out=lambda i: pt.probe.out_layout.describe(i[1]),
    )


def _compare_rev(
    pt: Point,
    dirs: np.ndarray,
    w: np.ndarray,
    cots: np.ndarray,
    est: fdiff.Estimate,
    kind: CheckKind = CheckKind.REV,
    tag: str = "v",
) -> Comparison:
    trusted = np.asarray(est.trusted.all(axis=1))  # per direction
    error = np.where(est.trusted, est.error, 0.0) @ np.abs(cots).T  # (K, J)
    jump = np.where(np.isfinite(est.slope_jump), est.slope_jump, 0) @ np.abs(cots).T
    scalar_out = pt.probe.m == 1
    return compare(
        point=pt.point,
        wrt=pt.name,
        kind=kind,
        method="directions",
        ad=(w @ dirs.T).T,
        reference=est.value @ cots.T,
        scale=dot_scale(pt, est.value @ cots.T, np.abs(dirs) @ np.abs(w).T),
        rtol=pt.rtol,
        atol=pt.atol,
        fd_error=error,
        trusted=np.broadcast_to(trusted[:, None], error.shape),
        step=np.min(est.step, axis=1)[:, None] * np.ones(error.shape),
        slope_jump=jump,
        name_in=lambda i: f"{pt.name}·{tag}{i[0]}",
        name_out=(lambda i: pt.probe.out_layout.describe(0))
        if scalar_out
        else (lambda i: f"⟨u{i[1]}, ·⟩"),
    )


def _localized(
    pt: Point,
    comp: Comparison,
    mode: str,
    dirs: np.ndarray,
    cots: np.ndarray,
    ad: np.ndarray,
    est: fdiff.Estimate,
) -> Comparison:
    """Find the faulty coordinates by group testing and report them element by element."""
    probe = pt.probe
    k = int(comp.worst[0].input_index.rpartition("v")[2]) if comp.worst else 0
    base = dirs[k]
    j = int(np.argmax(np.abs(cots @ np.ones(probe.m)))) if mode == "rev" else 0

    start = pt.segment.start

    def test(ranges: np.ndarray) -> np.ndarray:
        sub = range_masks(ranges + start, probe.d) * base
        if mode == "fwd":
            sub_ad = probe.jvp(pt.x0, sub, pt.inputs, pt.constants)
            # Refine only where FD itself is unsure: a subset that fails at a trusted step
            # has answered the question (the full check already confirmed the failure).
            sub_est = fd_directions(pt, sub, None, None, cots)
            margins = _row_margins(sub_ad, sub_est, pt)
        else:
            sub_est = fd_directions(pt, sub, None, None, cots[j : j + 1])
            ref = sub_est.value @ cots[j]
            tol = (
                2 * (np.where(sub_est.trusted, sub_est.error, 0) @ np.abs(cots[j]))
                + pt.rtol * (np.abs(ref) + dot_scale(pt, ref, np.abs(sub) @ np.abs(ad[j])))
                + pt.atol
            )
            margins = np.abs(sub @ ad[j] - ref) / np.maximum(tol, 1e-300)
        return margins

    found = [(lo + start, hi + start) for lo, hi in localize(test, pt.d)]
    singles = [lo for lo, hi in found if hi - lo == 1]
    names = [
        probe.layout.describe(lo)
        if hi - lo == 1
        else f"{probe.layout.describe(lo)} … {probe.layout.describe(hi - 1)}"
        for lo, hi in found
    ]
    worst = list(comp.worst)
    if singles:
        worst = _element_rows(pt, mode, np.asarray(singles), ad, cots) or worst
    text = ", ".join(names) if names else "no single coordinate (the errors only show together)"
    return dataclasses.replace(
        comp,
        locations=tuple(names),
        worst=tuple(worst),
        reason=f"localised by group testing to {text}",
    )


def _row_margins(ad: np.ndarray, est: fdiff.Estimate, pt: Point) -> np.ndarray:
    tol = (
        2 * np.where(est.trusted, est.error, 0)
        + pt.rtol * (np.abs(est.value) + directional_scale(est.value))
        + pt.atol
    )
    margins: np.ndarray = np.max(
        np.where(est.trusted, np.abs(ad - est.value) / np.maximum(tol, 1e-300), 0), axis=1
    )
    return margins


def _element_rows(
    pt: Point, mode: str, coords: np.ndarray, ad: np.ndarray, cots: np.ndarray
) -> list[Mismatch]:
    """Element-level AD vs FD for the localised coordinates (∂ output / ∂ coordinate)."""
    probe = pt.probe
    s = pt.scale[coords][:, None]

    def sample(rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        return probe.fd_coordinates(
            pt.x0, coords[rows], pt.scale, h, noise, pt.ref_inputs, pt.ref_constants, ref=pt.use_ref
        )

    est = fd_estimate(sample, len(coords), pt.eps, lambda e: np.asarray(~e.trusted.all(axis=1)))
    if mode == "fwd":
        units = np.zeros((len(coords), probe.d))
        units[np.arange(len(coords)), coords] = 1.0
        col = probe.jvp(pt.x0, units, pt.inputs, pt.constants)  # (c, m)
    elif probe.m == 1:
        col = ad[0][coords][:, None]
    else:
        return _reverse_rows(pt, coords, est)
    comp = compare(
        point=pt.point,
        wrt=pt.name,
        kind=CheckKind(mode),
        method="full",
        ad=col,
        reference=est.value / s,
        scale=block_rms(est.value / s),
        rtol=pt.rtol,
        atol=pt.atol,
        fd_error=est.error / s,
        trusted=est.trusted,
        step=est.step * s,
        name_in=lambda i: probe.layout.describe(int(coords[i[0]])),
        name_out=lambda i: probe.out_layout.describe(i[1]),
    )
    return list(comp.worst)


def _reverse_rows(pt: Point, coords: np.ndarray, est: fdiff.Estimate) -> list[Mismatch]:
    """For a vector output, which outputs' VJP entries are wrong at each faulty coordinate.

    A VJP gives a whole row of Jᵀ per cotangent, so the outputs are found by group testing
    too: cotangents restricted to halves of the outputs, against FD of the coordinate's
    column contracted with the same cotangent.
    """
    probe, rows = pt.probe, []
    for k, coord in enumerate(coords):
        s = pt.scale[coord]
        fd, err = est.value[k] / s, np.where(est.trusted[k], est.error[k], np.inf) / s
        scale = float(block_rms(fd, axis=None))

        def test(
            ranges: np.ndarray,
            coord: int = coord,
            fd: Any = fd,
            err: Any = err,
            scale: float = scale,
        ) -> Any:
            masks = range_masks(ranges, probe.m)
            ad = probe.vjp(pt.x0, masks, pt.inputs, pt.constants)[:, coord]
            tol = 2 * masks @ err + pt.rtol * (np.abs(masks @ fd) + scale) + pt.atol
            return np.abs(ad - masks @ fd) / np.maximum(tol, 1e-300)

        outputs = [lo for lo, hi in localize(test, probe.m) if hi - lo == 1]
        if not outputs:
            continue
        units = np.eye(probe.m)[outputs]
        ad = probe.vjp(pt.x0, units, pt.inputs, pt.constants)[:, coord]
        comp = compare(
            point=pt.point,
            wrt=pt.name,
            kind=CheckKind.REV,
            method="full",
            ad=ad[None, :],
            reference=fd[outputs][None, :],
            scale=scale,
            rtol=pt.rtol,
            atol=pt.atol,
            fd_error=err[outputs][None, :],
            trusted=np.isfinite(err[outputs])[None, :],
            step=np.full((1, len(outputs)), est.step[k].min() * s),
            name_in=functools.partial(_constant_name, probe.layout.describe(int(coord))),
            name_out=functools.partial(_output_name, probe.out_layout, outputs),
        )
        rows += list(comp.worst)
    return sorted(rows, key=lambda m: -(m.margin if m.margin == m.margin else np.inf))[:5]


def _constant_name(name: str, index: tuple[int, ...]) -> str:
    """Name every compared element after the one input coordinate being localised."""
    return name


def _output_name(layout: FlatLayout, outputs: list[int], index: tuple[int, ...]) -> str:
    """Name a compared element by the output it came from (``outputs`` maps column → output)."""
    return layout.describe(outputs[index[1]])
