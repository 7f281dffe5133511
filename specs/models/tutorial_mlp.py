"""The MLP of JAX's tutorial "Training a simple neural network": parameters are a list of
``(W, b)`` pairs, one per layer, and the loss is the mean log-likelihood of one-hot targets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp


def relu(x: jax.Array) -> jax.Array:
    return jnp.maximum(0, x)


def predict(params: list, image: jax.Array) -> jax.Array:
    """Log-probabilities of the classes for one flattened image."""
    activations = image
    for w, b in params[:-1]:
        outputs = jnp.dot(w, activations) + b
        activations = relu(outputs)
    final_w, final_b = params[-1]
    logits = jnp.dot(final_w, activations) + final_b
    return logits - logsumexp(logits)


batched_predict = jax.vmap(predict, in_axes=(None, 0))


def loss(params: list, images: jax.Array, targets: jax.Array) -> jax.Array:
    preds = batched_predict(params, images)
    return -jnp.mean(preds * targets)


def one_hot_targets(key: jax.Array, N: int, k: int) -> jax.Array:
    """One-hot targets of N random labels among k classes (dims N and k by name)."""
    return jax.nn.one_hot(jax.random.randint(key, (N,), 0, k), k)
