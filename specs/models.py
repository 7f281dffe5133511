"""Python callables behind the bundled specs (pure jax.numpy, called with keyword arguments).

Every function takes each input and each constant of its spec by name; pytree inputs arrive
as nested dicts of arrays. What is here:

- ``mlp_loss``: mean squared error of a two-hidden-layer tanh network (``mlp.yaml``,
  ``float32.yaml``); ``mlp_predict`` is the network itself.
- ``linear_solve``: x = A⁻¹b as a ``jax.custom_vjp`` with the hand-written backward pass
  ∂L/∂b = A⁻ᵀ x̄, ∂L/∂A = −(A⁻ᵀ x̄) xᵀ; ``linear_solve_loss`` = ‖A⁻¹b‖² uses it
  (``linear_solve.yaml``).
- Singular-value losses L(W) = Σ g(σᵢ) and their gradients U diag(g'(σ)) Vᵀ
  (``svd_loss.yaml``): ``nuclear_norm``, ``sum_log_singular_values``,
  ``sum_squared_singular_values``, each with a ``*_grad``.
- ``dict_output`` and ``tuple_output``: pytree inputs with a dict and a tuple output
  (``pytree_dict_output.yaml``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# ---------------------------------------------------------------------------------------------
# A small feed-forward network: x -> tanh(W1 x + b1) -> tanh(W2 h + b2) -> W3 h + b3.


def mlp_predict(params, x):
    """Outputs of the two-hidden-layer tanh network for a batch ``x`` of shape [N, d] -> [N]."""
    h1 = jnp.tanh(x @ params["w1"].T + params["b1"])
    h2 = jnp.tanh(h1 @ params["w2"].T + params["b2"])
    return h2 @ params["w3"] + params["b3"]


def mlp_loss(params, x, y):
    """Mean squared error (1/N) Σₙ (net(xₙ) − yₙ)² of ``mlp_predict`` against targets ``y``."""
    return jnp.mean((mlp_predict(params, x) - y) ** 2)


# ---------------------------------------------------------------------------------------------
# Linear solve with a hand-written reverse-mode rule.


@jax.custom_vjp
def linear_solve(A, b):
    """x = A⁻¹ b. Reverse mode uses the adjoint rule below; forward mode is unsupported."""
    return jnp.linalg.solve(A, b)


def _linear_solve_fwd(A, b):
    x = jnp.linalg.solve(A, b)
    return x, (A, x)


def _linear_solve_bwd(residuals, x_bar):
    # With b̄ = A⁻ᵀ x̄ (one solve with Aᵀ): ∂L/∂b = b̄ and ∂L/∂A = −b̄ xᵀ.
    A, x = residuals
    b_bar = jnp.linalg.solve(A.T, x_bar)
    return -jnp.outer(b_bar, x), b_bar


linear_solve.defvjp(_linear_solve_fwd, _linear_solve_bwd)


def linear_solve_loss(A, b):
    """L(A, b) = ‖A⁻¹b‖² through the custom-VJP solve."""
    return jnp.sum(linear_solve(A, b) ** 2)


# ---------------------------------------------------------------------------------------------
# Losses of the singular values of W (tall, distinct singular values): L = Σ g(σᵢ),
# ∂L/∂W = U diag(g'(σ)) Vᵀ with the thin SVD W = U diag(σ) Vᵀ.


def _svd_grad(W, g_prime):
    U, s, Vt = jnp.linalg.svd(W, full_matrices=False)
    return (U * g_prime(s)) @ Vt


def nuclear_norm(W):
    """‖W‖_* = Σ σᵢ."""
    return jnp.sum(jnp.linalg.svd(W, compute_uv=False))


def nuclear_norm_grad(W):
    """∂‖W‖_*/∂W = U Vᵀ (g' = 1)."""
    return _svd_grad(W, jnp.ones_like)


def sum_log_singular_values(W):
    """Σ log σᵢ (= ½ log det WᵀW)."""
    return jnp.sum(jnp.log(jnp.linalg.svd(W, compute_uv=False)))


def sum_log_singular_values_grad(W):
    """U diag(1/σ) Vᵀ (g' = 1/σ), which equals W (WᵀW)⁻¹."""
    return _svd_grad(W, lambda s: 1.0 / s)


def sum_squared_singular_values(W):
    """Σ σᵢ² (= ‖W‖_F²), computed through the SVD."""
    return jnp.sum(jnp.linalg.svd(W, compute_uv=False) ** 2)


def sum_squared_singular_values_grad(W):
    """U diag(2σ) Vᵀ = 2W."""
    return _svd_grad(W, lambda s: 2.0 * s)


# ---------------------------------------------------------------------------------------------
# Pytree inputs and structured outputs.


def dict_output(params, x, y):
    """A linear model with a dict output: {"loss": mean squared error, "pred": predictions}."""
    pred = x @ params["w"] + params["b"]
    return {"loss": jnp.mean((pred - y) ** 2), "pred": pred}


def tuple_output(params, x):
    """A tanh autoencoder with a tuple output: (reconstruction error, code)."""
    code = jnp.tanh(params["enc"]["w"] @ x)
    recon = params["dec"]["w"] @ code + params["dec"]["b"]
    return jnp.sum((recon - x) ** 2), code
