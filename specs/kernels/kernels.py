"""Fused kernels with hand-written backward passes, and the plain references they must match.

Each kernel is what a user writes for speed: a ``jax.custom_vjp`` whose forward and backward
are fused by hand and computed in float32 whatever the input dtype (the output is cast back),
beside a plain ``jax.numpy`` reference with the same arguments that JAX differentiates itself.
The specs in this folder check each kernel against its reference (``reference:``, see
docs/reference.md); ``pallas_kernels.py`` holds one written with Pallas.

- ``softmax_xent`` / ``softmax_xent_ref``: per-row cross-entropy of ``logits`` [N, V] against
  integer ``labels`` [N]; the backward is (softmax − onehot)·ḡ from the saved float32
  log-sum-exp. ``softmax_xent_mean`` / ``softmax_xent_mean_ref``: their mean over rows, a
  scalar loss rounded once to the logits' dtype.
- ``layer_norm`` / ``layer_norm_ref``: (x − μ)/σ·γ + β over the last axis, with the backward
  dx = (γḡ − mean(γḡ) − x̂·mean(γḡ·x̂))/σ, dγ = Σ ḡ·x̂, dβ = Σ ḡ.
- ``attention`` / ``attention_ref``: causal softmax(q kᵀ/√D) v for q, k, v [B, T, H, D], with the
  FlashAttention backward from the saved log-sum-exp and output.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

F32 = jnp.float32

# ---------------------------------------------------------------------------------------------
# Softmax cross-entropy, fused: the forward saves only the float32 log-sum-exp per row.


def softmax_xent_ref(logits, labels):
    """−log softmax(logits)[label] per row, in the logits' own precision (the plain version)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]


@jax.custom_vjp
def softmax_xent(logits, labels):
    """The fused cross-entropy: float32 inside, the logits' dtype out."""
    return _xent_fwd(logits, labels)[0]


def _xent_fwd(logits, labels):
    x = logits.astype(F32)
    m = jnp.max(x, axis=-1)
    lse = m + jnp.log(jnp.sum(jnp.exp(x - m[:, None]), axis=-1))
    picked = jnp.take_along_axis(x, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    return (lse - picked).astype(logits.dtype), (logits, labels, lse)


def _xent_bwd(saved, g):
    logits, labels, lse = saved
    p = jnp.exp(logits.astype(F32) - lse[:, None])
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=F32)
    dlogits = (p - onehot) * g.astype(F32)[:, None]
    return dlogits.astype(logits.dtype), None


softmax_xent.defvjp(_xent_fwd, _xent_bwd)


def softmax_xent_mean_ref(logits, labels):
    """The mean cross-entropy over rows, in the logits' precision (the plain version)."""
    return jnp.mean(softmax_xent_ref(logits, labels))


@jax.custom_vjp
def softmax_xent_mean(logits, labels):
    """The fused mean cross-entropy: one float32 scalar, rounded once to the logits' dtype."""
    return _xent_mean_fwd(logits, labels)[0]


def _xent_mean_fwd(logits, labels):
    rows, saved = _xent_fwd(logits.astype(F32), labels)
    return jnp.mean(rows).astype(logits.dtype), (logits, labels, saved[2])


def _xent_mean_bwd(saved, g):
    return _xent_bwd(saved, jnp.full(saved[0].shape[:1], g.astype(F32) / saved[0].shape[0]))


softmax_xent_mean.defvjp(_xent_mean_fwd, _xent_mean_bwd)

# ---------------------------------------------------------------------------------------------
# Layer norm over the last axis, with the hand-derived backward pass.

LN_EPS = 1e-5


def layer_norm_ref(x, gamma, beta):
    """(x − mean)/sqrt(var + ε)·γ + β over the last axis (the plain version)."""
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + LN_EPS) * gamma + beta


@jax.custom_vjp
def layer_norm(x, gamma, beta):
    """The fused layer norm: statistics and output in float32, the input's dtype out."""
    return _ln_fwd(x, gamma, beta)[0]


def _ln_fwd(x, gamma, beta):
    x32 = x.astype(F32)
    mu = jnp.mean(x32, axis=-1, keepdims=True)
    rstd = jax.lax.rsqrt(jnp.mean((x32 - mu) ** 2, axis=-1, keepdims=True) + LN_EPS)
    xhat = (x32 - mu) * rstd
    y = xhat * gamma.astype(F32) + beta.astype(F32)
    return y.astype(x.dtype), (x, gamma, beta, mu, rstd)


def _ln_bwd(saved, g):
    x, gamma, beta, mu, rstd = saved
    xhat = (x.astype(F32) - mu) * rstd
    g32 = g.astype(F32)
    gg = g32 * gamma.astype(F32)
    dx = rstd * (gg - gg.mean(-1, keepdims=True) - xhat * (gg * xhat).mean(-1, keepdims=True))
    rows = tuple(range(g.ndim - 1))
    dgamma = jnp.sum(g32 * xhat, axis=rows)
    dbeta = jnp.sum(g32, axis=rows)
    return dx.astype(x.dtype), dgamma.astype(gamma.dtype), dbeta.astype(beta.dtype)


layer_norm.defvjp(_ln_fwd, _ln_bwd)

# ---------------------------------------------------------------------------------------------
# Causal attention, FlashAttention style: the forward saves the output and the log-sum-exp.


def _causal(t):
    return jnp.tril(jnp.ones((t, t), bool))


def attention_ref(q, k, v):
    """softmax(q kᵀ/√D, causal) v per batch and head, in the inputs' precision (plain)."""
    scale = 1.0 / jnp.sqrt(q.shape[-1]).astype(q.dtype)
    s = jnp.einsum("bqhd,bkhd->bhqk", q, k) * scale
    s = jnp.where(_causal(q.shape[1]), s, -jnp.inf)
    return jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(s, axis=-1), v)


@jax.custom_vjp
def attention(q, k, v):
    """The fused attention: float32 inside, the inputs' dtype out."""
    return _attn_fwd(q, k, v)[0]


def _scores(q, k):
    s = jnp.einsum("bqhd,bkhd->bhqk", q.astype(F32), k.astype(F32)) / jnp.sqrt(F32(q.shape[-1]))
    return jnp.where(_causal(q.shape[1]), s, -jnp.inf)


def _attn_fwd(q, k, v):
    s = _scores(q, k)
    m = jnp.max(s, axis=-1, keepdims=True)
    p = jnp.exp(s - m)
    denom = jnp.sum(p, axis=-1, keepdims=True)
    lse = (m + jnp.log(denom))[..., 0]  # [B, H, T]
    out = jnp.einsum("bhqk,bkhd->bqhd", p / denom, v.astype(F32)).astype(q.dtype)
    return out, (q, k, v, out, lse)


def _attn_bwd(saved, g):
    q, k, v, out, lse = saved
    p = jnp.exp(_scores(q, k) - lse[..., None])  # masked entries: exp(−inf) = 0
    do = g.astype(F32)
    dv = jnp.einsum("bhqk,bqhd->bkhd", p, do)
    dp = jnp.einsum("bqhd,bkhd->bhqk", do, v.astype(F32))
    delta = jnp.einsum("bqhd,bqhd->bhq", do, out.astype(F32))
    ds = p * (dp - delta[..., None]) / jnp.sqrt(F32(q.shape[-1]))
    dq = jnp.einsum("bhqk,bkhd->bqhd", ds, k.astype(F32))
    dk = jnp.einsum("bhqk,bqhd->bkhd", ds, q.astype(F32))
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)


attention.defvjp(_attn_fwd, _attn_bwd)
