"""specs/models/eqx_mlp.py with a hand-written softplus whose JVP rule is 1% too large."""

from __future__ import annotations

import equinox as eqx
import jax
from _models import correct

base = correct("eqx_mlp")


@jax.custom_jvp
def softplus(x: jax.Array) -> jax.Array:
    return jax.nn.softplus(x)


@softplus.defjvp
def _softplus_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return softplus(x), 1.01 * jax.nn.sigmoid(x) * t  # BUG: 1% too large


def make_model(key: jax.Array) -> eqx.nn.MLP:
    return eqx.nn.MLP(4, "scalar", 16, 2, activation=softplus, key=key)


loss = base.loss
