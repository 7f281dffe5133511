"""specs/models/flax_mlp.py with a hand-written GELU whose JVP rule is 1% too large."""

from __future__ import annotations

import flax.linen as nn
import jax
from _models import correct

base = correct("flax_mlp")


@jax.custom_jvp
def gelu(x: jax.Array) -> jax.Array:
    return nn.gelu(x)


@gelu.defjvp
def _gelu_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    y, slope = jax.jvp(nn.gelu, (x,), (t,))
    return y, 1.01 * slope  # BUG: 1% too large


model = base.MLP(activation=gelu)
init_params = base.init_params


def loss(params: dict, x: jax.Array, labels: jax.Array) -> jax.Array:
    logits = model.apply({"params": params}, x)
    return base.optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
