"""Second-order checks: Hessian-vector products against FD of the gradient, and symmetry.

For a scalar output φ = f; for a vector output φ = ⟨u, f⟩ with a random cotangent u, so
every second derivative of f is exercised. HVPs by forward-over-reverse and
reverse-over-reverse are compared with central differences of the (float64, reverse-mode)
gradient along random directions w — never along the point itself — and vᵀHw by
forward-over-forward with differences of the JVP. The reference uses first derivatives
that the first-order check has already verified.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adcli._check.point import Point, cotangents_for, directions_for, dot_scale
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import block_rms, compare, directional_scale
from adcli._numerics.refine import fd_estimate
from adcli._results.check import CheckKind, Comparison


def gradient_fd(pt: Point, u: np.ndarray, dirs: np.ndarray, hv: list[np.ndarray]) -> fdiff.Estimate:
    """FD of ∇φ along each row of ``dirs``: (K, d), refined where it disagrees with ``hv``."""
    probe = pt.probe

    def sample(rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        return probe.fd_gradient(pt.x0, u, dirs[rows], h, noise, pt.ref_inputs, pt.ref_constants)

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        tol = 2 * np.where(e.trusted, e.error, 0) + pt.rtol * (
            np.abs(e.value) + directional_scale(e.value)
        )
        bad = ~e.trusted
        for ad in hv:
            bad = bad | (np.abs(ad - e.value) > tol + pt.atol)
        return np.asarray(bad.any(axis=1))

    return fd_estimate(sample, len(dirs), pt.eps, needs_more)


def hessian_products(pt: Point, u: np.ndarray, dirs: np.ndarray) -> dict[str, np.ndarray | str]:
    """H_φ·w for each direction by every composition the spec's modes allow (or why not)."""
    found: dict[str, np.ndarray | str] = {}
    if pt.modes.get("rev", "off") is not None:
        return found
    ways = ["fwd-over-rev", "rev-over-rev"] if "fwd" in pt.modes else ["rev-over-rev"]
    for how in ways:
        try:
            found[how] = pt.probe.hvp(how, pt.x0, u, dirs, pt.inputs, pt.constants)
        except Exception as exc:  # e.g. a custom rule that cannot be differentiated again
            lines = str(exc).strip().splitlines()
            found[how] = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return found


def check_second_order(pt: Point, count: int) -> list[Comparison]:
    """HVPs (each composition) against FD of the gradient, symmetry, and fwd-over-fwd."""
    probe = pt.probe
    u = cotangents_for(pt, 1)[0]
    dirs = directions_for(pt, count)
    out: list[Comparison] = []
    products = hessian_products(pt, u, dirs)
    arrays = [v for v in products.values() if isinstance(v, np.ndarray)]
    if products:
        est = gradient_fd(pt, u, dirs, arrays)
        s = pt.scale[None, :]
        for how, hv in products.items():
            if isinstance(hv, str):
                out.append(
                    Comparison(
                        point=pt.point,
                        wrt=pt.name,
                        kind=CheckKind.hvp(how),
                        method="directions",
                        verdict="skipped",
                        reason=hv,
                    )
                )
                continue
            out.append(
                compare(
                    point=pt.point,
                    wrt=pt.name,
                    kind=CheckKind.hvp(how),
                    method="directions",
                    ad=hv,
                    reference=est.value,
                    scale=block_rms(est.value * s) / s,
                    rtol=pt.rtol,
                    atol=pt.atol,
                    fd_error=est.error,
                    trusted=est.trusted,
                    step=est.step,
                    slope_jump=est.slope_jump,
                    name_in=lambda i: f"∇{pt.name}·w{i[0]}",
                    name_out=lambda i: f"∂/∂{probe.layout.describe(i[1])}",
                )
            )
        if arrays and len(dirs) > 1:
            out.append(_symmetry(pt, dirs, arrays[0]))
    if "fwd" in pt.modes and pt.modes["fwd"] is None:
        out.append(_forward_over_forward(pt, u, dirs, count))
    elif "fwd" in pt.modes:
        out.append(
            Comparison(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.HVP_FWD_OVER_FWD,
                method="directions",
                verdict="skipped",
                reason=pt.modes["fwd"],
            )
        )
    return out


def _symmetry(pt: Point, dirs: np.ndarray, hv: np.ndarray) -> Comparison:
    """w_aᵀ H w_b = w_bᵀ H w_a for every pair of directions."""
    s = dirs @ hv.T
    upper = np.triu_indices(len(dirs), 1)
    mags = np.abs(dirs) @ np.abs(hv).T
    return compare(
        point=pt.point,
        wrt=pt.name,
        kind=CheckKind.HESSIAN_SYMMETRY,
        method="directions",
        ad=s[upper],
        reference=s.T[upper],
        scale=dot_scale(pt, s[upper], (mags + mags.T)[upper]),
        rtol=pt.rtol,
        atol=pt.atol,
        name_in=lambda i: f"w{upper[0][i[0]]}ᵀH w{upper[1][i[0]]}",
        name_out=lambda i: f"w{upper[1][i[0]]}ᵀH w{upper[0][i[0]]}",
    )


def _forward_over_forward(pt: Point, u: np.ndarray, dirs: np.ndarray, count: int) -> Comparison:
    probe = pt.probe
    pairs = np.stack([directions_for(pt, count), dirs], axis=1)  # (K, 2, d): (v, w)
    try:
        ad = probe.second_fwd(pt.x0, u, pairs, pt.inputs, pt.constants)[:, None]
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        return Comparison(
            point=pt.point,
            wrt=pt.name,
            kind=CheckKind.HVP_FWD_OVER_FWD,
            method="directions",
            verdict="skipped",
            reason=f"{type(exc).__name__}: {lines[0] if lines else ''}",
        )

    def sample(rows: np.ndarray, h: float, noise: bool) -> np.ndarray:
        return probe.fd_second_fwd(pt.x0, u, pairs[rows], h, noise, pt.ref_inputs, pt.ref_constants)

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        tol = 2 * np.where(e.trusted, e.error, 0) + pt.rtol * 2 * np.abs(e.value) + pt.atol
        rows: np.ndarray = (~e.trusted | (np.abs(ad - e.value) > tol)).any(axis=1)
        return rows

    est = fd_estimate(sample, len(pairs), pt.eps, needs_more)
    mags: Any = np.abs(est.value)
    return compare(
        point=pt.point,
        wrt=pt.name,
        kind=CheckKind.HVP_FWD_OVER_FWD,
        method="directions",
        ad=ad,
        reference=est.value,
        scale=mags,
        rtol=pt.rtol,
        atol=pt.atol,
        fd_error=est.error,
        trusted=est.trusted,
        step=est.step,
        slope_jump=est.slope_jump,
        name_in=lambda i: f"v{i[0]}ᵀH w{i[0]}",
        name_out=lambda i: "⟨u, ·⟩",
    )
