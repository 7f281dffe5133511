"""Orders 3 and above: directional derivatives Dᵏφ[w₁, …, w_k] by nested AD against FD.

For each order k from 3 to the one asked for, with φ = ⟨u, f⟩ (u a random cotangent, as
in the second-order check) and K random tuples of directions (w₁, …, w_k), each scaled by
|x| like every direction adcli draws:

* AD: Dᵏφ[w₁, …, w_k] by each composition the usable modes allow
  (``adcli._numerics.nested``): ``dk:fwd`` nests k JVPs; ``dk:rev`` takes the gradient of
  k − 1 nested JVPs (k nested gradients where forward mode does not trace, as for a
  ``jax.custom_vjp`` function).
* Reference: central differences along w_k of D^(k−1)φ[w₁, …, w_{k−1}], computed by AD of
  the float64 reference function (which inlines custom rules, so the reference rests on
  the function's own math) or, when it has none, of f itself (whose order-(k − 1)
  derivatives the previous order has checked).

FD error model: the reference derivative g_k(t) = D^(k−1)φ(x + t·w_k)[…] is a smooth
function evaluated in float64 by AD, so the FD model of ``adcli._numerics.finite_diff``
applies to it unchanged: Richardson's truncation estimate, and a rounding floor of
7·max(ε·|g_k|, measured noise)/h, where the noise probe measures the rounding of the
nested derivative itself (which grows with k: each order adds its own rounding).
"""

from __future__ import annotations

import numpy as np

from adcli._check.fd import directional_decided, screening
from adcli._check.point import Point, cotangents_for, directions_for, fixed
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import Labels, compare, directional_scale, skipped
from adcli._numerics.function import failure
from adcli._numerics.nested import compositions, reference_composition
from adcli._numerics.refine import fd_estimate
from adcli._results.check import CheckKind, Comparison


def check_higher_orders(pt: Point, order: int, count: int) -> list[Comparison]:
    """Every composition of every order from 3 to ``order`` against FD (one comparison each)."""
    out: list[Comparison] = []
    for k in range(3, order + 1):
        out += check_order(pt, k, count)
    return out


def _usable(pt: Point) -> list[str]:
    return [mode for mode in ("fwd", "rev") if pt.modes.get(mode, "off") is None]


def check_order(pt: Point, k: int, count: int) -> list[Comparison]:
    """Order ``k``: each composition's Dᵏφ along ``count`` tuples against FD of order k − 1."""
    usable = _usable(pt)
    ways = compositions(k, usable)
    out: list[Comparison] = []
    for mode in ("fwd", "rev"):
        if mode in pt.modes and mode not in ways:
            why = str(pt.modes[mode])
            out.append(skipped(pt.about(CheckKind.higher(k, mode), "directions"), why))
    if not ways:
        return out
    u = cotangents_for(pt, 1)[0]
    tuples = np.stack([directions_for(pt, count) for _ in range(k)], axis=1)  # (K, k, D)
    values: dict[str, np.ndarray | str] = {}
    for mode, how in ways.items():
        try:
            values[mode] = pt.evals.derivative(pt.at, u, tuples, how)
        except Exception as exc:  # a rule that cannot be differentiated k times
            values[mode] = failure(exc)
    arrays = [v[:, None] for v in values.values() if isinstance(v, np.ndarray)]
    est = _reference(pt, u, tuples, k, arrays) if arrays else None
    labels = Labels(lambda i: f"D{k}·(w{i[0]})", fixed("⟨u, ·⟩"))
    for mode, value in values.items():
        about = pt.about(CheckKind.higher(k, mode), "directions")
        if isinstance(value, str) or est is None:
            out.append(skipped(about, str(value)))
            continue
        scale = directional_scale(est.value)
        out.append(compare(about, value[:, None], est, scale, pt.tolerance, labels))
    return out


def _reference(
    pt: Point, u: np.ndarray, tuples: np.ndarray, k: int, candidates: list[np.ndarray]
) -> fdiff.Estimate:
    """FD along w_k of the order-(k − 1) derivative of the reference: (K, 1), refined
    where it disagrees with the AD ``candidates``."""
    modes = ["fwd"] if pt.fn.promoted else _usable(pt)
    how = reference_composition(k, modes)

    def sample(rows: np.ndarray, h: float, stencil: fdiff.Stencil) -> np.ndarray:
        return pt.evals.fd_derivative(pt.ref_at, u, tuples[rows], how, h, stencil)

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        scale = directional_scale(e.value)
        tol = 2 * np.where(e.trusted, e.error, 0) + pt.rtol * (np.abs(e.value) + scale) + pt.atol
        bad = ~e.trusted | (2 * np.where(e.trusted, e.error, 0) > 0.05 * (np.abs(e.value) + scale))
        for ad in candidates:
            bad = bad | (np.abs(ad - e.value) > tol)
        more: np.ndarray = bad.any(axis=1)
        return more

    return fd_estimate(
        sample,
        len(tuples),
        pt.eps,
        needs_more,
        pt.max_step,
        screening(pt, tuples, directional_decided(pt, needs_more)),
    )
