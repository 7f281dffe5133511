"""Models with deliberately wrong derivative rules, for the specs in examples/ (adcli must fail).

Each model computes the right primal value; only its custom derivative rule is wrong, in
the way its docstring says. tests/test_models.py checks each bug against the true
derivative.

- ``linear_solve_wrong_vjp``: custom_vjp with A⁻¹ where the adjoint needs A⁻ᵀ.
- ``sin_wrong_jvp``: custom_jvp with d sin = 2 cos (fwd and rev both wrong).
- ``sin_wrong_jvp_only``: custom_jvp whose JVP is 2 cos but whose transpose is right
  (fwd wrong, rev right), built with ``jax.custom_derivatives.linear_call``.
- ``least_squares_wrong_scale``: gradient twice the true one (a forgotten ½).
- ``log_sigmoid_sign_flip``: custom_jvp with the sign of the derivative flipped.
- ``softplus_one_coordinate``: gradient 10% too large in one coordinate (index 4321).
- ``cube_wrong_hessian``: Σ x³/3 with a right gradient but a Hessian of half the true one.
- ``softplus_wrong_region``: gradient clipped to 1 for x > 1.
- ``exp2_float32_bug``: Σ 2^x whose VJP uses ln 2 ≈ 0.69384 (1e-3 relative error).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_derivatives import linear_call

# ---------------------------------------------------------------------------------------------
# wrong_vjp.yaml: linear solve whose ∂L/∂A is missing a transpose.


@jax.custom_vjp
def linear_solve_wrong_vjp(A, b):
    """x = A⁻¹b; bug: ∂L/∂A = −(A⁻¹x̄)xᵀ instead of −(A⁻ᵀx̄)xᵀ (∂L/∂b is right)."""
    return jnp.linalg.solve(A, b)


def _solve_fwd(A, b):
    x = jnp.linalg.solve(A, b)
    return x, (A, x)


def _solve_bwd_wrong(residuals, x_bar):
    A, x = residuals
    b_bar = jnp.linalg.solve(A.T, x_bar)
    A_bar = -jnp.outer(jnp.linalg.solve(A, x_bar), x)  # BUG: A where Aᵀ belongs
    return A_bar, b_bar


linear_solve_wrong_vjp.defvjp(_solve_fwd, _solve_bwd_wrong)


def linear_solve_wrong_vjp_loss(A, b):
    """‖A⁻¹b‖² through the buggy solve: ∂L/∂A is wrong, ∂L/∂b is right."""
    return jnp.sum(linear_solve_wrong_vjp(A, b) ** 2)


# ---------------------------------------------------------------------------------------------
# wrong_jvp.yaml: a sine whose tangent rule has a factor 2.


@jax.custom_jvp
def sin_wrong_jvp(x):
    """sin x; bug: the JVP rule says d sin x = 2 cos x dx. Reverse mode transposes that rule,
    so both the JVP and the VJP are twice the truth."""
    return jnp.sin(x)


@sin_wrong_jvp.defjvp
def _sin_wrong_jvp_rule(primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.sin(x), 2.0 * jnp.cos(x) * t  # BUG: factor 2


def _enable_linear_call_batching() -> bool:
    """Give ``linear_call`` a batching rule, so that jacrev/jacfwd (which vmap) work on it.

    JAX 0.10 defines no vmap rule for the ``linear_call`` primitive; this registers one that
    re-issues the call on vmapped callees. It uses private JAX modules, so it is isolated
    here: if they move, nothing is registered (returns False) and only unbatched AD works.
    """
    try:
        from jax._src import core
        from jax._src.custom_derivatives import linear_call_p
        from jax._src.interpreters.batching import bdim_at_front, fancy_primitive_batchers
    except ImportError:  # pragma: no cover - depends on the JAX release
        return False

    def rule(axis_data, args, dims, *, callee, transpose_thunk, num_callee_consts, num_res):
        args = [bdim_at_front(a, d, axis_data.size) for a, d in zip(args, dims, strict=True)]
        consts = args[:num_callee_consts]
        res = args[num_callee_consts : num_callee_consts + num_res]
        lin = args[num_callee_consts + num_res :]

        def fun(r, lin_args):
            return jax.vmap(core.jaxpr_as_fun(callee))(*consts, *r, *lin_args)

        def fun_transpose(r, cts):
            t_jaxpr, t_consts = transpose_thunk()
            t_fun = core.jaxpr_as_fun(t_jaxpr)
            return jax.vmap(lambda r_, c_: t_fun(*t_consts, *r_, *c_))(r, cts)

        out = linear_call(fun, fun_transpose, list(res), list(lin))
        return out, [0] * len(out)

    fancy_primitive_batchers.setdefault(linear_call_p, rule)
    return True


LINEAR_CALL_BATCHES = _enable_linear_call_batching()


@jax.custom_jvp
def sin_wrong_jvp_only(x):
    """sin x; bug in forward mode only: the tangent map evaluates to 2 cos x·t, but its
    transpose (used by reverse mode) is the right cos x·t̄. First order only: the rule has
    no derivative of its own."""
    return jnp.sin(x)


@sin_wrong_jvp_only.defjvp
def _sin_wrong_jvp_only_rule(primals, tangents):
    (x,), (t,) = primals, tangents

    def tangent_map(c, t_):
        return 2.0 * c * t_  # BUG: factor 2, in the forward evaluation only

    def transpose_map(c, ct):
        return c * ct  # the right transpose of t ↦ cos(x)·t

    return jnp.sin(x), linear_call(tangent_map, transpose_map, jnp.cos(x), t)


# ---------------------------------------------------------------------------------------------
# wrong_scale.yaml: f = ½‖Ax − b‖², gradient coded for ‖Ax − b‖² (forgot the ½).


@jax.custom_vjp
def least_squares_wrong_scale(x, A, b):
    """½‖Ax − b‖²; bug: the VJP returns 2Aᵀ(Ax − b)·ḡ, twice the true Aᵀ(Ax − b)·ḡ."""
    r = A @ x - b
    return 0.5 * jnp.sum(r**2)


def _ls_fwd(x, A, b):
    r = A @ x - b
    return 0.5 * jnp.sum(r**2), (A, r)


def _ls_bwd(residuals, g):
    A, r = residuals
    grad_x = 2.0 * (A.T @ r) * g  # BUG: derivative of ‖r‖², not of ½‖r‖²
    return grad_x, jnp.zeros_like(A), jnp.zeros_like(r)


least_squares_wrong_scale.defvjp(_ls_fwd, _ls_bwd)


# ---------------------------------------------------------------------------------------------
# sign_flip.yaml: log σ(x) with d log σ(x) = −σ(−x) instead of +σ(−x).


@jax.custom_jvp
def log_sigmoid_sign_flip(x):
    """Σ log σ(xᵢ); bug: the JVP rule has the sign of d log σ(x)/dx = σ(−x) flipped, so the
    JVP and the VJP are both −1 × the truth."""
    return jnp.sum(jax.nn.log_sigmoid(x))


@log_sigmoid_sign_flip.defjvp
def _log_sigmoid_rule(primals, tangents):
    (x,), (t,) = primals, tangents
    return log_sigmoid_sign_flip(x), jnp.sum(-jax.nn.sigmoid(-x) * t)  # BUG: sign


# ---------------------------------------------------------------------------------------------
# one_coordinate.yaml: softplus sum whose gradient is 10% off in a single coordinate.

BAD_INDEX = 4321


@jax.custom_vjp
def softplus_one_coordinate(x):
    """Σ softplus(xᵢ); bug: the gradient σ(x) is multiplied by 1.1 at index 4321 only."""
    return jnp.sum(jax.nn.softplus(x))


def _sp1_fwd(x):
    return softplus_one_coordinate(x), x


def _sp1_bwd(x, g):
    grad = jax.nn.sigmoid(x) * g
    return (grad.at[BAD_INDEX].multiply(1.1),)  # BUG: one coordinate 10% too large


softplus_one_coordinate.defvjp(_sp1_fwd, _sp1_bwd)


# ---------------------------------------------------------------------------------------------
# wrong_hessian.yaml: first derivative right, second derivative wrong.


@jax.custom_jvp
def square_wrong_rule(x):
    """x²; bug: its own JVP rule says d(x²) = x dx instead of 2x dx."""
    return x**2


@square_wrong_rule.defjvp
def _square_rule(primals, tangents):
    (x,), (t,) = primals, tangents
    return x**2, x * t  # BUG: missing factor 2


@jax.custom_jvp
def cube_wrong_hessian(x):
    """Σ x³/3. Its JVP rule x²·t is right (so gradients are right), but x² is computed by
    ``square_wrong_rule``, so differentiating the rule again gives the Hessian diag(x)
    instead of diag(2x)."""
    return jnp.sum(x**3) / 3.0


@cube_wrong_hessian.defjvp
def _cube_rule(primals, tangents):
    (x,), (t,) = primals, tangents
    return cube_wrong_hessian(x), jnp.sum(square_wrong_rule(x) * t)


# ---------------------------------------------------------------------------------------------
# wrong_region.yaml: softplus whose gradient is wrong only for x > 1.


@jax.custom_vjp
def softplus_wrong_region(x):
    """Σ softplus(xᵢ); bug: the VJP treats softplus as linear (slope 1) for x > 1, where the
    true slope σ(x) is 0.73…1. Right for x ≤ 1."""
    return jnp.sum(jax.nn.softplus(x))


def _spr_fwd(x):
    return softplus_wrong_region(x), x


def _spr_bwd(x, g):
    slope = jnp.where(x > 1.0, 1.0, jax.nn.sigmoid(x))  # BUG: "saturated" shortcut
    return (slope * g,)


softplus_wrong_region.defvjp(_spr_fwd, _spr_bwd)


# ---------------------------------------------------------------------------------------------
# float32_bug.yaml: a small constant error in a float32 VJP.

LN2_TYPO = 0.69384  # BUG: ln 2 = 0.693147…; this is 1.0e-3 too large relative


@jax.custom_vjp
def exp2_float32_bug(x):
    """Σ 2^xᵢ; bug: the VJP uses ln 2 ≈ 0.69384 (1.0e-3 relative too large), so every
    gradient entry is 1.001 × the truth."""
    return jnp.sum(jnp.exp2(x))


def _exp2_fwd(x):
    y = jnp.exp2(x)
    return jnp.sum(y), y


def _exp2_bwd(y, g):
    return (jnp.asarray(LN2_TYPO, y.dtype) * y * g,)


exp2_float32_bug.defvjp(_exp2_fwd, _exp2_bwd)
