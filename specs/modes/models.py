"""Python callables behind the choose-mode specs (pure jax.numpy, keyword arguments).

- ``mlp_map``: a 3-layer tanh network x ∈ Rⁿ → Rᵐ (``mlp_map.yaml``).
- ``bottleneck``: f = g ∘ h through a k-entry code, h: Rⁿ → Rᵏ, g: Rᵏ → Rᵐ
  (``bottleneck.yaml``): every path from x to the output passes through ``code``.
"""

from __future__ import annotations

import jax.numpy as jnp


def mlp_map(x, W1, W2, W3):
    """A 3-layer tanh network: W3 tanh(W2 tanh(W1 x))."""
    h1 = jnp.tanh(W1 @ x)
    h2 = jnp.tanh(W2 @ h1)
    return W3 @ h2


def bottleneck(x, E, D1, D2):
    """Encode x ∈ Rⁿ to a k-entry code, decode to Rᵐ: D2 tanh(D1 tanh(E x))."""
    code = jnp.tanh(E @ x)  # h: Rⁿ → Rᵏ, the narrow intermediate
    return D2 @ jnp.tanh(D1 @ code)
