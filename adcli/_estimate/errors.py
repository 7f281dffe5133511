"""What theory predicts for each estimator's error, and the forward-vs-reverse AD check."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

from adcli._estimate import estimators as est
from adcli._numerics.agree import RTOL, RTOL_DEFAULT
from adcli._results.estimate import MethodResult


def rel_error(g: np.ndarray, ref: np.ndarray, scale: float) -> float:
    """‖g − ref‖ / scale (the plain norm when scale is 0)."""
    diff = float(np.linalg.norm(g - ref))
    return diff / scale if scale > 0 else diff


def theory(
    x: jax.Array,
    grads: dict[str, np.ndarray],
    rows: dict[str, Any],
    f0: jax.Array,
    d: int,
    k: int,
    kind: str,
    scale: float,
    dtype: Any = None,
) -> dict[str, tuple[float | None, str]]:
    """Predicted relative errors: FD truncation + rounding, zero-order sampling noise.

    Forward differences: eᵢ = hᵢ/2·|∂ᵢ²f| + 2ε|f|/hᵢ, with ∂ᵢ²f estimated from the central
    differences' own evaluations and f(x): (f(x + heᵢ) − 2f(x) + f(x − heᵢ))/h². Central
    differences: the rounding term ε|f|/hᵢ only (the h²/6·|∂ᵢ³f| truncation term would need
    more evaluations; with h = ∛ε both are of the same order). ε is that of ``dtype``, the
    dtype f computes in (default x's).
    """

    def rel(v: np.ndarray) -> float:
        return float(np.linalg.norm(v)) / scale if scale > 0 else math.inf

    e = est.eps(x.dtype if dtype is None else dtype)
    fval = abs(float(f0))
    hf = np.asarray(est.fd_steps(x, 0.5, dtype), np.float64)
    hc = np.asarray(est.fd_steps(x, 1 / 3, dtype), np.float64)
    central = e * fval / hc
    if "central-diff" not in rows:
        return {"central-diff": (rel(central), "ε|f|/h (rounding)")}
    pairs = np.asarray(rows["central-diff"], np.float64).reshape(-1, 2)
    second = (pairs[:, 0] - 2 * float(f0) + pairs[:, 1]) / hc**2
    fwd = hf / 2 * np.abs(second) + 2 * e * fval / hf

    sign = "−" if kind == "sphere" else "+"
    return {
        "forward-diff": (rel(fwd), "h/2·|∂²f| + 2ε|f|/h"),
        "central-diff": (rel(central), "ε|f|/h (rounding)"),
        "zero-order": (est.zero_order_rms(d, k, kind), f"√((d {sign} 1)/k)"),
        "forward-ad": (None, "rounding"),
        "reverse-ad": (None, "reference"),
    }


def agreement(fwd: np.ndarray, rev: np.ndarray, scale: float, dtype: Any) -> list[str]:
    """Forward and reverse AD must agree to rounding: anything else is a derivative bug."""
    rtol = RTOL.get(str(np.dtype(dtype)), RTOL_DEFAULT)
    gap = rel_error(fwd, rev, scale)
    if not math.isfinite(gap) or gap > rtol:
        worst = int(np.argmax(np.abs(fwd - rev)))
        return [
            f"forward AD and reverse AD disagree: relative L2 gap {gap:.3g} > {rtol:g} "
            f"(worst at flat index {worst}: {fwd[worst]:.6g} vs {rev[worst]:.6g}); "
            "a custom_jvp/custom_vjp rule is likely wrong"
        ]
    return []


def reference_doubt(results: list[MethodResult], dtype: Any) -> list[str]:
    """A note when central differences miss reverse AD far beyond their predicted error.

    Central differences are then the likelier to be right (reverse AD can run a wrong
    custom rule; FD only evaluates f), unless f has a kink within a step of x. A note, not
    a failure: ``adcli check`` is the command that decides.
    """
    central = next((m for m in results if m.name == "central-diff" and m.status == "ok"), None)
    if central is None or central.rel_error is None or central.predicted_rel_error is None:
        return []
    if not math.isfinite(central.rel_error):
        return [
            "central differences are not finite: a step of h from x leaves the function's "
            "domain (or overflows); the FD rows cannot be compared here"
        ]
    floor = float(est.eps(dtype)) ** 0.25  # far above any smooth central difference's error
    if central.rel_error <= max(1000 * central.predicted_rel_error, floor):
        return []
    return [
        f"central differences disagree with reverse AD by {central.rel_error:.3g} (predicted "
        f"{central.predicted_rel_error:.2g}): reverse AD, the reference, may be wrong (a "
        "custom VJP rule?) or f has a kink near x; run adcli check on this spec"
    ]
