"""What ``adcli estimate`` differentiates: a real scalar f of one flat real vector x.

``scalar_target`` turns the caller's f and x into that (x flattened, lists and integers
made floats, a complex x split into (Re x, Im x)), refuses what cannot be estimated (no
real inputs, a non-scalar or complex output), and finds the dtype f computes in, whose ε
sets the FD steps and the predicted errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import UsageError, first_line
from adcli._problem.jaxpr import float_dtypes, least_precise, real_dtype

Scalar = Callable[[jax.Array, Any], jax.Array]


@dataclass(frozen=True)
class Target:
    """f(y, aux) → a 0-d real array, at the flat real point ``x``."""

    name: str
    f: Scalar
    x: jax.Array
    aux: Any
    dtype: Any  # the least precise real dtype f computes in
    notes: tuple[str, ...]  # what changed on the way to a flat real x

    @property
    def d(self) -> int:
        return int(self.x.size)


def scalar_target(f: Scalar, x: Any, aux: Any, name: str) -> Target:
    """f and x as a ``Target``.

    Raises:
        UsageError: x is not numbers or has no real inputs; f is not a real scalar.
    """
    x, f, notes = flat_real_input(f, x, name)
    if x.size == 0:  # before k, whose default (d) would be 0: the real problem comes first
        raise UsageError(f"{name}: the function has no real inputs to differentiate")
    out = jax.eval_shape(f, x, aux)
    if out.shape not in ((), (1,)):
        raise UsageError(f"{name}: estimate needs a scalar function, got shape {out.shape}")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise UsageError(
            f"{name}: estimate needs a real scalar function, got {out.dtype}; for a complex f "
            "estimate the gradient of a real function of it (e.g. its real part or |f|²)"
        )

    def fs(y: jax.Array, a: Any) -> jax.Array:
        return jnp.reshape(f(y, a), ())

    return Target(name, fs, x, aux, compute_dtype(fs, x, aux), tuple(notes))


def flat_real_input(
    f: Callable[[jax.Array, Any], jax.Array], x: Any, name: str
) -> tuple[jax.Array, Callable[[jax.Array, Any], jax.Array], list[str]]:
    """x as a flat real vector, and f as a function of it, with notes on what changed.

    A list or an integer array becomes floats (the default float dtype); any shape is
    flattened (a 0-d x is one variable); a complex x of n entries becomes the 2n real
    numbers (Re x, Im x), as a spec's complex inputs do, so no imaginary part is dropped.
    """
    if not isinstance(x, jax.Array):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name}: x must be an array of numbers: {first_line(exc)}") from None
        if x.dtype.kind not in "biufc":
            raise UsageError(f"{name}: x must be an array of numbers, got dtype {x.dtype}")
    arr = jnp.asarray(x)
    notes: list[str] = []
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        old = arr.dtype
        arr = arr.astype(jnp.result_type(float))
        if isinstance(x, jax.Array | np.ndarray):
            notes.append(f"x was {old}: differentiated as {arr.dtype}")
    shape, dtype = arr.shape, arr.dtype
    if jnp.issubdtype(dtype, jnp.complexfloating):
        n = arr.size
        flat = jnp.concatenate([arr.real.ravel(), arr.imag.ravel()])
        notes.append(f"x is complex: d = 2·{n} real inputs (Re x, Im x); the gradient is over both")

        def g(y: jax.Array, aux: Any) -> jax.Array:
            return f(jax.lax.complex(y[:n], y[n:]).reshape(shape).astype(dtype), aux)

        return flat, g, notes
    if arr.ndim == 1:
        return arr, f, notes

    def h(y: jax.Array, aux: Any) -> jax.Array:
        return f(y.reshape(shape), aux)

    return arr.ravel(), h, notes


def compute_dtype(f: Callable[..., jax.Array], x: jax.Array, aux: Any) -> Any:
    """The least precise real floating dtype f computes in: x's, or any of its jaxpr's
    (intermediates and output, sub-jaxprs included). A float16 spec's flat x is float32,
    but f rounds it to float16: ε and the steps must be float16's."""
    return least_precise({real_dtype(x.dtype)} | float_dtypes(jax.make_jaxpr(f)(x, aux).jaxpr))
