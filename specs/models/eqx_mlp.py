"""An Equinox model as the Equinox docs write one: ``eqx.nn.MLP`` passed to the loss as a
Module, whose activation functions are leaves of the pytree (held fixed by adcli)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp


def make_model(key: jax.Array) -> eqx.nn.MLP:
    """A 4 → 16 → 16 → scalar MLP with softplus activations."""
    return eqx.nn.MLP(4, "scalar", 16, 2, activation=jax.nn.softplus, key=key)


def loss(model: eqx.nn.MLP, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error over the batch (the model maps one example; vmap batches it)."""
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)
