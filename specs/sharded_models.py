"""Python callables behind the bundled sharded specs (``sharded_mlp.yaml``,
``sharded_layer.yaml``; docs/sharding.md). adcli runs them with the spec's mesh as the
context mesh, so ``jax.shard_map`` needs no ``mesh=`` argument.

- ``mlp_loss``: a data- and model-parallel MLP (an autoencoder on a batch): the batch is
  split over ``data``, the hidden units over ``model`` (w1's columns, b1, w2's rows);
  the partitioner inserts the collectives (the reduction over ``model`` in h @ w2, the
  mean over the batch).
- ``dense``: a column-parallel matmul x @ w as a ``jax.custom_vjp`` inside ``shard_map``
  (``check_vma=True``), whose backward does its own collectives: x̄ = Σ_model ȳ wᵀ (x is
  replicated over ``model``), w̄ = Σ_data xᵀ ȳ (w is replicated over ``data``).
  ``layer_loss`` = Σ tanh(dense(x, w)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P


def mlp_loss(params, batch):
    """Mean squared reconstruction error of a one-hidden-layer tanh autoencoder."""
    hidden = jnp.tanh(batch @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] - batch) ** 2)


@jax.custom_vjp
def _dense(x, w):
    return x @ w


def _dense_fwd(x, w):
    return x @ w, (x, w)


def _dense_bwd(res, ct):
    x, w = res
    # Per shard: x [B/data, d], w [d, h/model], ct [B/data, h/model].
    dx = jax.lax.psum(ct @ w.T, "model")  # x is the same on every model shard: sum over them
    dw = jax.lax.psum(x.T @ ct, "data")  # w is the same on every data shard: sum over them
    return dx, dw


_dense.defvjp(_dense_fwd, _dense_bwd)


def dense(x, w):
    """x @ w with x split by rows over ``data`` and w by columns over ``model``.

    The shard_map is made at each call, under the context mesh of that call: one made once
    at import without ``mesh=`` keeps the first mesh it ran under (JAX 0.10).
    """
    specs = {"in_specs": (P("data", None), P(None, "model")), "out_specs": P("data", "model")}
    return jax.shard_map(_dense, **specs)(x, w)


def layer_loss(x, w):
    """Σ tanh(x @ w) through the column-parallel ``dense``."""
    return jnp.sum(jnp.tanh(dense(x, w)))
