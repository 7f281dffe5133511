"""A small float32 Flax CNN whose dense layer has a hand-written ``jax.custom_vjp`` (as a
kernel author would write one: the backward pass in plain matrix products)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax


@jax.custom_vjp
def dense(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    return x @ kernel + bias


def _dense_fwd(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> tuple:
    return dense(x, kernel, bias), (x, kernel)


def _dense_bwd(residuals: tuple, g: jax.Array) -> tuple:
    x, kernel = residuals
    return g @ kernel.T, x.T @ g, g.sum(axis=0)


dense.defvjp(_dense_fwd, _dense_bwd)


class CustomDense(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape, jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        return dense(x.astype(jnp.float32), kernel, bias)


class CNN(nn.Module):
    dense: type[nn.Module] = CustomDense

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(features=8, kernel_size=(3, 3), dtype=jnp.float32)(x)
        x = nn.relu(x)
        x = nn.Conv(features=8, kernel_size=(3, 3), strides=(2, 2), dtype=jnp.float32)(x)
        x = nn.relu(x)
        x = x.reshape((x.shape[0], -1))
        x = self.dense(features=32)(x)
        x = nn.relu(x)
        return nn.Dense(features=10, dtype=jnp.float32)(x)


model = CNN()


def init_params(key: jax.Array) -> dict:
    return model.init(key, jnp.zeros((1, 8, 8, 1), jnp.float32))["params"]


def loss(params: dict, images: jax.Array, labels: jax.Array) -> jax.Array:
    logits = model.apply({"params": params}, images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
