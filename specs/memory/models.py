"""Python callables behind the ``adcli memory`` specs (pure jax.numpy, keyword arguments).

- ``tanh_mlp``: an L-layer tanh network h ← tanh(h Wₗ + bₗ), written as a ``lax.scan`` over
  the layers (weights stacked along a leading layer axis), as deep stacks should be written
  in JAX: one compiled body, and a checkpointed body is recomputed for real.
- ``transformer_block``: one pre-LayerNorm GPT-2 block, x + Attn(LN(x)) then x + MLP(LN(x)),
  with causal multi-head self-attention and a 4× GELU MLP. It computes in the dtype of its
  input and tags its main intermediates with ``checkpoint_name`` (``qkv``, ``attn_probs``,
  ``attn_out``, ``mlp_hidden``), so that ``save_only_these_names`` policies can pick them.
  ``transformer.yaml`` uses it small in float32, ``gpt2_xl_block.yaml`` at GPT-2-XL size.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name


def tanh_mlp(params, x):
    """h_L of h₀ = x, hₗ₊₁ = tanh(hₗ Wₗ + bₗ) for W [L, h, h], b [L, h], x [N, h] -> [N, h]."""

    def layer(h, wb):
        w, b = wb
        return jnp.tanh(h @ w + b), None

    h, _ = jax.lax.scan(layer, x, (params["W"], params["b"]))
    return h


def _layer_norm(x, gain, bias, eps=1e-5):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * gain + bias


def transformer_block(x, params):
    """One GPT-2 block on x [batch, seq, hidden]; ``w_qkv`` is [3, heads, hidden, head]."""
    seq = x.shape[1]
    heads, head = params["w_qkv"].shape[1], params["w_qkv"].shape[3]
    h = _layer_norm(x, params["ln1_g"], params["ln1_b"])
    qkv = jnp.einsum("bsd,thdk->tbhsk", h, params["w_qkv"]) + params["b_qkv"][:, None, :, None, :]
    q, k, v = checkpoint_name(qkv, "qkv")
    scores = jnp.einsum("bhqk,bhsk->bhqs", q, k) / jnp.sqrt(jnp.asarray(head, x.dtype))
    # An additive causal mask: adding a constant stores nothing for the backward pass, where
    # jnp.where would keep a [batch, heads, seq, seq] boolean mask.
    causal = jnp.tril(jnp.ones((seq, seq), dtype=bool))
    scores = scores + jnp.where(causal, 0.0, jnp.finfo(x.dtype).min).astype(x.dtype)
    probs = checkpoint_name(jax.nn.softmax(scores, axis=-1), "attn_probs")
    attn = jnp.einsum("bhqs,bhsk->bqhk", probs, v).reshape(x.shape[0], seq, heads * head)
    attn = checkpoint_name(attn, "attn_out")
    x = x + attn @ params["w_o"] + params["b_o"]
    h = _layer_norm(x, params["ln2_g"], params["ln2_b"])
    hidden_act = checkpoint_name(h @ params["w_fc"] + params["b_fc"], "mlp_hidden")
    return x + jax.nn.gelu(hidden_act, approximate=True) @ params["w_proj"] + params["b_proj"]
