"""A Flax linen classifier as the Flax docs write one: Dense → LayerNorm → GELU → Dense,
trained with optax's softmax cross-entropy. Parameters come from ``model.init``."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax


class MLP(nn.Module):
    hidden: int = 32
    classes: int = 10
    activation: Callable[[jax.Array], jax.Array] = nn.gelu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Dense(self.hidden)(x)
        x = nn.LayerNorm()(x)
        x = self.activation(x)
        return nn.Dense(self.classes)(x)


model = MLP()


def init_params(key: jax.Array) -> dict:
    """The parameter pytree, as ``model.init`` gives it (float32, Flax's param_dtype)."""
    return model.init(key, jnp.zeros((1, 16)))["params"]


def loss(params: dict, x: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of the logits against integer labels."""
    logits = model.apply({"params": params}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
