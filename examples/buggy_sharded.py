"""The column-parallel layer of specs/sharded_models.py with a collective wrong in its
custom backward, for examples/sharded.yaml (adcli must fail). The forward pass is right in
each; ``layer_loss_*`` = Σ tanh(x @ w) through the buggy ``dense``.

- ``missing_psum``: check_vma=True, the backward forgets the psum over ``data`` for w̄.
  JAX's type check rejects the rule when reverse mode is traced (w̄ varies over ``data``
  but w does not): adcli reports that as an error, not a traceback.
- ``psum_twice``: check_vma=False, the backward still psums w̄ over ``data``; without the
  type check shard_map itself sums the cotangents of inputs replicated over an axis, so w̄
  is counted 4 times (the size of ``data``). x̄ is right.
- ``wrong_axis``: check_vma=False, the backward psums x̄ over ``data`` (the batch axis)
  instead of leaving it per shard: x̄ mixes the rows of different batch shards. w̄ is right.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

_SPECS = {"in_specs": (P("data", None), P(None, "model")), "out_specs": P("data", "model")}


def _layer(dx_axis, dw_axis, check_vma):
    @jax.custom_vjp
    def dense(x, w):
        return x @ w

    def fwd(x, w):
        return x @ w, (x, w)

    def bwd(res, ct):
        x, w = res
        dx, dw = ct @ w.T, x.T @ ct
        if dx_axis is not None:
            dx = jax.lax.psum(dx, dx_axis)
        if dw_axis is not None:
            dw = jax.lax.psum(dw, dw_axis)
        return dx, dw

    dense.defvjp(fwd, bwd)

    def layer_loss(x, w):
        return jnp.sum(jnp.tanh(jax.shard_map(dense, check_vma=check_vma, **_SPECS)(x, w)))

    return layer_loss


layer_loss_missing_psum = _layer("model", None, check_vma=True)
layer_loss_psum_twice = _layer(None, "data", check_vma=False)
layer_loss_wrong_axis = _layer("data", None, check_vma=False)
