"""specs/models/nnx_mlp.py with a hand-written SiLU whose VJP rule is 1% too large."""

from __future__ import annotations

import jax
from _models import correct
from flax import nnx

base = correct("nnx_mlp")


@jax.custom_vjp
def silu(x: jax.Array) -> jax.Array:
    return nnx.silu(x)


def _silu_fwd(x: jax.Array) -> tuple:
    return silu(x), x


def _silu_bwd(x: jax.Array, g: jax.Array) -> tuple:
    s = jax.nn.sigmoid(x)
    return (1.01 * g * s * (1 + x * (1 - s)),)  # BUG: 1% too large


silu.defvjp(_silu_fwd, _silu_bwd)


class MLP(base.MLP):
    def __call__(self, x: jax.Array) -> jax.Array:
        return self.linear2(self.dropout(silu(self.norm(self.linear1(x)))))


def make_model(key: jax.Array, d: int) -> MLP:
    return MLP(d, 32, 4, rngs=nnx.Rngs(key))


loss = base.loss
