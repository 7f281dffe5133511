"""specs/models/flax_cnn.py with a custom_vjp dense layer whose kernel gradient is 1% too
large: the float32 bug that a loose float32 finite difference must not excuse."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from _models import correct

base = correct("flax_cnn")


@jax.custom_vjp
def dense(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    return x @ kernel + bias


def _dense_fwd(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> tuple:
    return dense(x, kernel, bias), (x, kernel)


def _dense_bwd(residuals: tuple, g: jax.Array) -> tuple:
    x, kernel = residuals
    return g @ kernel.T, 1.01 * (x.T @ g), g.sum(axis=0)  # BUG: kernel gradient 1% too large


dense.defvjp(_dense_fwd, _dense_bwd)


class CustomDense(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape, jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        return dense(x.astype(jnp.float32), kernel, bias)


model = base.CNN(dense=CustomDense)
init_params = base.init_params


def loss(params: dict, images: jax.Array, labels: jax.Array) -> jax.Array:
    logits = model.apply({"params": params}, images)
    return base.optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
