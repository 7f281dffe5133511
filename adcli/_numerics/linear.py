"""Compiled value, JVPs and VJPs of one flat function g(x, inputs, constants).

The reference comparison evaluates several versions of the same function (the kernel, the
reference in float64, the reference in the kernel's precision) at the same point along the
same tangents and cotangents; each version gets one ``Linear``: three programs compiled once
and reused at every point (the arguments are passed, not closed over).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from adcli._numerics.function import At

Flat = Callable[[jax.Array, Any, Any], jax.Array]


class Linear:
    """``g``'s value, its JVPs along rows of tangents and its VJPs of rows of cotangents."""

    def __init__(self, g: Flat) -> None:
        self.g = g

        def jvps(tangents: jax.Array, x: jax.Array, inputs: Any, constants: Any) -> jax.Array:
            def one(v: jax.Array) -> jax.Array:
                out: jax.Array = jax.jvp(lambda y: g(y, inputs, constants), (x,), (v,))[1]
                return out

            return jax.vmap(one)(tangents)

        def vjps(cotangents: jax.Array, x: jax.Array, inputs: Any, constants: Any) -> jax.Array:
            pull = jax.vjp(lambda y: g(y, inputs, constants), x)[1]
            out: jax.Array = jax.vmap(lambda u: pull(u)[0])(cotangents)
            return out

        self._value = jax.jit(g)
        self._jvps = jax.jit(jvps)
        self._vjps = jax.jit(vjps)

    def value(self, at: At) -> np.ndarray:
        """g(x0) as float64: (1, m)."""
        return np.asarray(self._value(at.x0, at.inputs, at.constants), np.float64)[None]

    def jvps(self, at: At, tangents: np.ndarray) -> np.ndarray:
        """J·v for each row v of ``tangents`` (K, d): (K, m)."""
        out = self._jvps(tangents, at.x0, at.inputs, at.constants)
        return np.asarray(out, np.float64)

    def vjps(self, at: At, cotangents: np.ndarray) -> np.ndarray:
        """Jᵀ·u for each row u of ``cotangents`` (J, m): (J, d)."""
        out = self._vjps(cotangents, at.x0, at.inputs, at.constants)
        return np.asarray(out, np.float64)
