"""RMSNorm written as two Pallas kernels (forward and backward) tied by a ``jax.custom_vjp``.

``rms_norm(x, w)`` = x / sqrt(mean(x²) + ε) · w over the last axis, computed in float32 whatever
the input dtype. The forward kernel also writes the per-row 1/rms that the backward kernel
reuses; the backward gives dx = r·(ḡw − x·r²·mean(ḡw·x)) and each row's share of dw (ḡ·x·r),
summed outside the kernel. ``rms_norm_ref`` is the plain ``jax.numpy`` version.

Pallas runs compiled on GPU and TPU; on CPU it runs in interpret mode (``interpret=True``),
which evaluates the same kernel body with ordinary JAX operations, so the same spec checks it
on a laptop and in CI. ``make_rms_norm`` builds the pair from any backward kernel (the
examples plant a bug in one).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

F32 = jnp.float32
EPS = 1e-6
BLOCK = 8  # rows per program instance


def _interpret() -> bool:
    """Interpret mode where Pallas has no compiler (CPU); compiled on GPU and TPU."""
    return jax.default_backend() == "cpu"


def rms_norm_ref(x, w):
    """x / sqrt(mean(x²) + ε) · w over the last axis, in the inputs' precision (plain)."""
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + EPS) * w


def _forward_kernel(x_ref, w_ref, y_ref, r_ref):
    x = x_ref[...].astype(F32)
    r = jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + EPS)
    y_ref[...] = (x * r * w_ref[...].astype(F32)).astype(y_ref.dtype)
    r_ref[...] = r


def backward_kernel(x_ref, w_ref, r_ref, g_ref, dx_ref, dw_ref):
    """dx of each row, and each row's share of dw (summed over rows outside the kernel)."""
    x, r, g = x_ref[...].astype(F32), r_ref[...], g_ref[...].astype(F32)
    gw = g * w_ref[...].astype(F32)
    dx = r * (gw - x * r * r * jnp.mean(gw * x, axis=-1, keepdims=True))
    dx_ref[...] = dx.astype(dx_ref.dtype)
    dw_ref[...] = g * x * r


def _rows(cols: int) -> pl.BlockSpec:
    return pl.BlockSpec((BLOCK, cols), lambda i: (i, 0))


def _forward(x, w):
    n, c = x.shape
    y, r = pl.pallas_call(
        _forward_kernel,
        grid=(n // BLOCK,),
        in_specs=[_rows(c), pl.BlockSpec((c,), lambda i: (0,))],
        out_specs=[_rows(c), _rows(1)],
        out_shape=[jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct((n, 1), F32)],
        interpret=_interpret(),
    )(x, w)
    return y, (x, w, r)


def make_rms_norm(bwd_kernel):
    """The custom_vjp RMSNorm whose backward pass runs ``bwd_kernel`` (see ``backward_kernel``)."""

    @jax.custom_vjp
    def rms_norm(x, w):
        return _forward(x, w)[0]

    def backward(saved, g):
        x, w, r = saved
        n, c = x.shape
        dx, dw_rows = pl.pallas_call(
            bwd_kernel,
            grid=(n // BLOCK,),
            in_specs=[_rows(c), pl.BlockSpec((c,), lambda i: (0,)), _rows(1), _rows(c)],
            out_specs=[_rows(c), _rows(c)],
            out_shape=[jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct((n, c), F32)],
            interpret=_interpret(),
        )(x, w, r, g)
        return dx, jnp.sum(dw_rows, axis=0).astype(w.dtype)

    rms_norm.defvjp(_forward, backward)
    return rms_norm


rms_norm = make_rms_norm(backward_kernel)
