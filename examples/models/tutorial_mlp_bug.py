"""specs/models/tutorial_mlp.py with a hand-written ReLU whose VJP rule is 1% too large."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from _models import correct
from jax.scipy.special import logsumexp

base = correct("tutorial_mlp")


@jax.custom_vjp
def relu(x: jax.Array) -> jax.Array:
    return jnp.maximum(0, x)


def _relu_fwd(x: jax.Array) -> tuple:
    return relu(x), x


def _relu_bwd(x: jax.Array, g: jax.Array) -> tuple:
    return (1.01 * jnp.where(x > 0, g, 0.0),)  # BUG: 1% too large


relu.defvjp(_relu_fwd, _relu_bwd)


def predict(params: list, image: jax.Array) -> jax.Array:
    activations = image
    for w, b in params[:-1]:
        activations = relu(jnp.dot(w, activations) + b)
    final_w, final_b = params[-1]
    logits = jnp.dot(final_w, activations) + final_b
    return logits - logsumexp(logits)


def loss(params: list, images: jax.Array, targets: jax.Array) -> jax.Array:
    preds = jax.vmap(predict, in_axes=(None, 0))(params, images)
    return -jnp.mean(preds * targets)


one_hot_targets = base.one_hot_targets
