"""Second-order checks: Hessian-vector products against FD of the gradient, and symmetry.

For a scalar output φ = f; for a vector output φ = ⟨u, f⟩ with a random cotangent u, so
every second derivative of f is exercised. HVPs by forward-over-reverse and
reverse-over-reverse are compared with central differences of the (float64, reverse-mode)
gradient along random directions w — never along the point itself — and vᵀHw by
forward-over-forward with differences of the JVP. The reference uses first derivatives
that the first-order check has already verified.
"""

from __future__ import annotations

import numpy as np

from adcli._check.fd import gradient_fd, second_fwd_fd
from adcli._check.point import Point, cotangents_for, directions_for, dot_scale, fixed
from adcli._numerics.compare import Labels, block_rms, compare, skipped
from adcli._numerics.function import failure
from adcli._results.check import Comparison


def hessian_products(pt: Point, u: np.ndarray, dirs: np.ndarray) -> dict[str, np.ndarray | str]:
    """H_φ·w for each direction by every composition the spec's modes allow (or why not)."""
    found: dict[str, np.ndarray | str] = {}
    if pt.modes.get("rev", "off") is not None:
        return found
    ways = ["fwd-over-rev", "rev-over-rev"] if "fwd" in pt.modes else ["rev-over-rev"]
    if len(ways) > 1:
        try:  # one program for both compositions; apart only to say which one fails
            stacked = pt.evals.hvps(tuple(ways), pt.at, u, dirs)
            return {how: stacked[i] for i, how in enumerate(ways)}
        except Exception:
            pass
    for how in ways:
        try:
            found[how] = pt.evals.hvp(how, pt.at, u, dirs)
        except Exception as exc:  # e.g. a custom rule that cannot be differentiated again
            found[how] = failure(exc)
    return found


def check_second_order(pt: Point, count: int) -> list[Comparison]:
    """HVPs (each composition) against FD of the gradient, symmetry, and fwd-over-fwd."""
    u = cotangents_for(pt, 1)[0]
    dirs = directions_for(pt, count)
    out: list[Comparison] = []
    products = hessian_products(pt, u, dirs)
    arrays = [v for v in products.values() if isinstance(v, np.ndarray)]
    if products:
        est = gradient_fd(pt, u, dirs, arrays)
        s = pt.scale[None, :]
        scale = block_rms(est.value * s) / s
        labels = Labels(
            lambda i: f"∇{pt.name}·w{i[0]}", lambda i: f"∂/∂{pt.fn.layout.describe(i[1])}"
        )
        for how, hv in products.items():
            about = pt.about(f"hvp:{how}", "directions")
            if isinstance(hv, str):
                out.append(skipped(about, hv))
            else:
                out.append(compare(about, hv, est, scale, pt.tolerance, labels))
        if arrays and len(dirs) > 1:
            out.append(symmetry(pt, dirs, arrays[0]))
    if "fwd" in pt.modes and pt.modes["fwd"] is None:
        out.append(_forward_over_forward(pt, u, dirs, count))
    elif "fwd" in pt.modes:
        out.append(skipped(pt.about("hvp:fwd-over-fwd", "directions"), str(pt.modes["fwd"])))
    return out


def symmetry(pt: Point, dirs: np.ndarray, hv: np.ndarray) -> Comparison:
    """w_aᵀ H w_b = w_bᵀ H w_a for every pair of directions."""
    s = dirs @ hv.T
    upper = np.triu_indices(len(dirs), 1)
    mags = np.abs(dirs) @ np.abs(hv).T
    labels = Labels(
        lambda i: f"w{upper[0][i[0]]}ᵀH w{upper[1][i[0]]}",
        lambda i: f"w{upper[1][i[0]]}ᵀH w{upper[0][i[0]]}",
    )
    scale = dot_scale(pt, s[upper], (mags + mags.T)[upper])
    about = pt.about("hessian-symmetry", "directions")
    return compare(about, s[upper], s.T[upper], scale, pt.tolerance, labels)


def _forward_over_forward(pt: Point, u: np.ndarray, dirs: np.ndarray, count: int) -> Comparison:
    """vᵀH_φw by forward-over-forward against FD of the JVP along w, for K pairs (v, w)."""
    about = pt.about("hvp:fwd-over-fwd", "directions")
    pairs = np.stack([directions_for(pt, count), dirs], axis=1)  # (K, 2, d): (v, w)
    try:
        ad = pt.evals.second_fwd(pt.at, u, pairs)[:, None]
    except Exception as exc:
        return skipped(about, failure(exc))
    est = second_fwd_fd(pt, u, pairs, ad)
    labels = Labels(lambda i: f"v{i[0]}ᵀH w{i[0]}", fixed("⟨u, ·⟩"))
    return compare(about, ad, est, np.abs(est.value), pt.tolerance, labels)
