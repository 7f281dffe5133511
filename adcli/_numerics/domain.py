"""Refuse a point outside a function's domain: f or its gradient not finite there."""

from __future__ import annotations

from typing import Any

import numpy as np

from adcli._errors import UsageError


def require_finite(name: str, value: Any, grad: Any = None, *, at: str = "") -> None:
    """Raise UsageError (exit 2) when f(x) or ∇f(x) holds a NaN or an infinity.

    ``at`` says where x is, e.g. " at point 0 (seed 0)".

    There is nothing to estimate at such a point: JAX's derivative rules still return
    numbers outside a function's domain (d log(x)/dx = 1/x at x < 0), but they are not
    the derivatives of the function that is evaluated there.
    """
    f = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(f)):
        raise UsageError(
            f"{name}: f(x) = {float(f.reshape(-1)[0]):g}{at}: the point is outside the "
            "function's domain; choose another --point or --seed, or an init that keeps the "
            "inputs inside it"
        )
    if grad is not None:
        g = np.asarray(grad, dtype=np.float64).reshape(-1)
        bad = np.flatnonzero(~np.isfinite(g))
        if bad.size:
            raise UsageError(
                f"{name}: the gradient{at} is not finite ({bad.size} of {g.size} "
                f"entries, first at flat index {int(bad[0])}: {g[bad[0]]:g}); choose another "
                "--point or --seed"
            )
