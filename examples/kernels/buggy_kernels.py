"""The bundled kernels (specs/kernels/kernels.py) with one planted bug each, as users write them.

Each buggy kernel keeps the correct forward and swaps in a backward with one mistake, so the
difference from the correct kernel is the few lines below:

- ``softmax_xent_ignores_cotangent``: the backward returns softmax − onehot without the
  incoming ḡ (right only when the loss is summed: ḡ = 1).
- ``attention_dq_unscaled``: dq = dS·k without the 1/√D of the scores.
- ``attention_dv_bf16_accumulation``: dv = Σ_q pᵀ·dO accumulated query by query in a bfloat16
  accumulator instead of float32 (a precision bug: the right formula, too imprecise).
- ``layer_norm_dgamma_dropped``: dγ sums the row tiles but drops the last one (a tail tile
  forgotten by a blocked reduction).
- ``pallas_rms_norm_dropped_term``: the Pallas RMSNorm whose backward kernel drops the term
  that comes from differentiating 1/rms: dx = r·ḡw.
- ``masked_softmax_nan``: a softmax over padded rows whose backward divides 0 by 0 in rows
  that are entirely padding (NaN leaks into the gradient there).
- ``layer_norm_unordered``: the right backward, but dβ is summed in an order that changes
  from run to run (as atomic adds on a GPU do): repeated runs differ in the last bits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

F32 = jnp.float32
BF16 = jnp.bfloat16

_FOLDER = Path(__file__).resolve().parents[2] / "specs" / "kernels"


def _bundled(name):
    """specs/kernels/<name>.py, the correct kernels these examples break."""
    spec = importlib.util.spec_from_file_location(
        f"adcli_bundled_{name}_for_examples", _FOLDER / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kernels = _bundled("kernels")
pallas_kernels = _bundled("pallas_kernels")

# ---------------------------------------------------------------------------------------------
# Cross-entropy


def _xent_bwd_ignores_cotangent(saved, g):
    logits, labels, lse = saved
    p = jnp.exp(logits.astype(F32) - lse[:, None])
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=F32)
    return (p - onehot).astype(logits.dtype), None  # BUG: not multiplied by g


softmax_xent_ignores_cotangent = jax.custom_vjp(kernels.softmax_xent.fun)
softmax_xent_ignores_cotangent.defvjp(kernels._xent_fwd, _xent_bwd_ignores_cotangent)

# ---------------------------------------------------------------------------------------------
# Attention


def _attn_bwd_dq_unscaled(saved, g):
    q, k, v, out, lse = saved
    scale = 1 / jnp.sqrt(F32(q.shape[-1]))
    p = jnp.exp(kernels._scores(q, k) - lse[..., None])
    do = g.astype(F32)
    dv = jnp.einsum("bhqk,bqhd->bkhd", p, do)
    dp = jnp.einsum("bqhd,bkhd->bhqk", do, v.astype(F32))
    delta = jnp.einsum("bqhd,bqhd->bhq", do, out.astype(F32))
    ds = p * (dp - delta[..., None])  # BUG: the 1/√D moved into dk only
    dq = jnp.einsum("bhqk,bkhd->bqhd", ds, k.astype(F32))
    dk = jnp.einsum("bhqk,bqhd->bkhd", ds * scale, q.astype(F32))
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)


attention_dq_unscaled = jax.custom_vjp(kernels.attention.fun)
attention_dq_unscaled.defvjp(kernels._attn_fwd, _attn_bwd_dq_unscaled)


def _attn_bwd_dv_bf16(saved, g):
    dq, dk, _ = kernels._attn_bwd(saved, g)
    q, k, v, _, lse = saved
    p = jnp.exp(kernels._scores(q, k) - lse[..., None])  # [B, H, Tq, Tk]
    do = g.astype(F32)

    def add_query(i, dv):  # BUG: the dv accumulator is kept in bfloat16, not float32
        term = jnp.einsum("bhk,bhd->bkhd", p[:, :, i], do[:, i])
        return (dv.astype(F32) + term).astype(BF16)

    dv = jax.lax.fori_loop(0, q.shape[1], add_query, jnp.zeros(v.shape, BF16))
    return dq, dk, dv.astype(v.dtype)


attention_dv_bf16_accumulation = jax.custom_vjp(kernels.attention.fun)
attention_dv_bf16_accumulation.defvjp(kernels._attn_fwd, _attn_bwd_dv_bf16)

# ---------------------------------------------------------------------------------------------
# Layer norm

ROW_TILE = 4  # rows per tile of the backward's dγ reduction


def _ln_bwd_dgamma_dropped(saved, g):
    dx, _, dbeta = kernels._ln_bwd(saved, g)
    x, gamma, _, mu, rstd = saved
    terms = g.astype(F32) * (x.astype(F32) - mu) * rstd
    tiles = [t.sum(axis=0) for t in jnp.split(terms, terms.shape[0] // ROW_TILE)]
    dgamma = sum(tiles[:-1])  # BUG: the last row tile is dropped
    return dx, dgamma.astype(gamma.dtype), dbeta


layer_norm_dgamma_dropped = jax.custom_vjp(kernels.layer_norm.fun)
layer_norm_dgamma_dropped.defvjp(kernels._ln_fwd, _ln_bwd_dgamma_dropped)


def _unordered_sum(terms):
    """Σ over rows in a random order each run, as atomic adds land on a GPU."""

    def order(_):
        return np.random.default_rng().permutation(terms.shape[0]).astype(np.int32)

    perm = jax.pure_callback(order, jax.ShapeDtypeStruct((terms.shape[0],), jnp.int32), 0)
    return jax.lax.fori_loop(0, terms.shape[0], lambda i, acc: acc + terms[perm[i]], terms[0] * 0)


def _ln_bwd_unordered(saved, g):
    dx, dgamma, _ = kernels._ln_bwd(saved, g)
    return dx, dgamma, _unordered_sum(g.astype(F32)).astype(saved[2].dtype)


layer_norm_unordered = jax.custom_vjp(kernels.layer_norm.fun)
layer_norm_unordered.defvjp(kernels._ln_fwd, _ln_bwd_unordered)

# ---------------------------------------------------------------------------------------------
# Softmax over padded rows


def masked_softmax_ref(x, lengths):
    """softmax over the first ``lengths[i]`` entries of row i; rows of length 0 give zeros."""
    valid = jnp.arange(x.shape[-1]) < lengths[:, None]
    top = jnp.max(jnp.where(valid, x, -jnp.inf), axis=-1, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, 0)  # an all-padding row: no NaN in the gradient
    e = jnp.where(valid, jnp.exp(x - top), 0)
    total = jnp.sum(e, axis=-1, keepdims=True)
    return e / jnp.where(total > 0, total, 1)


@jax.custom_vjp
def masked_softmax_nan(x, lengths):
    return masked_softmax_ref(x, lengths)


def _masked_fwd(x, lengths):
    y = masked_softmax_ref(x, lengths)
    return y, (y, lengths)


def _masked_bwd_nan(saved, g):
    y, _ = saved
    total = jnp.sum(y, axis=-1, keepdims=True)  # 1, or 0 in an all-padding row
    p = y / total  # BUG: 0/0 in an all-padding row (the forward guarded it, this does not)
    return p * (g - jnp.sum(g * p, axis=-1, keepdims=True)), None


masked_softmax_nan.defvjp(_masked_fwd, _masked_bwd_nan)

# ---------------------------------------------------------------------------------------------
# RMSNorm in Pallas


def _rms_backward_kernel_dropped_term(x_ref, w_ref, r_ref, g_ref, dx_ref, dw_ref):
    x, r, g = x_ref[...].astype(F32), r_ref[...], g_ref[...].astype(F32)
    gw = g * w_ref[...].astype(F32)
    dx = r * gw  # BUG: the term −x·r²·mean(ḡw·x) from the derivative of 1/rms is dropped
    dx_ref[...] = dx.astype(dx_ref.dtype)
    dw_ref[...] = g * x * r


pallas_rms_norm_dropped_term = pallas_kernels.make_rms_norm(_rms_backward_kernel_dropped_term)
