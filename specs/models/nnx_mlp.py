"""A Flax NNX regression model as the NNX docs write one: Linear → RMSNorm → SiLU →
Dropout → Linear, the Module itself passed to the loss. Its Dropout keeps an RNG stream
(a PRNG key and a uint32 counter) inside the Module: adcli holds those leaves fixed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class MLP(nnx.Module):
    def __init__(self, din: int, dhidden: int, dout: int, *, rngs: nnx.Rngs) -> None:
        self.linear1 = nnx.Linear(din, dhidden, rngs=rngs)
        self.norm = nnx.RMSNorm(dhidden, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)
        self.linear2 = nnx.Linear(dhidden, dout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.linear2(self.dropout(nnx.silu(self.norm(self.linear1(x)))))


def make_model(key: jax.Array, d: int) -> MLP:
    """The model, initialised from ``key``; ``d`` (the input width) is the spec's dim."""
    return MLP(d, 32, 4, rngs=nnx.Rngs(key))


def loss(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of the model's predictions (dropout on, with the Module's key)."""
    return jnp.mean((model(x) - y) ** 2)
