"""assert_grads as a drop-in for jax.test_util.check_grads: what it accepts (any order,
tolerance dicts, eps, zero-size and non-finite points), the modes it runs in (strict
promotion, x64 off), the primitives its reference meets, and its policies (not judged,
kinks)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src import core

import adcli
from adcli._check.dropin import resolve_tolerance, tolerance_option
from adcli._check.special import not_judged
from adcli._results.check import CheckKind

X = np.linspace(0.2, 0.9, 3)


# --- order 3 and above ----------------------------------------------------------------------


@jax.custom_jvp
def _cube(x: jax.Array) -> jax.Array:
    return jnp.sum(x**3)


@_cube.defjvp
def _cube_jvp(primals: Any, tangents: Any) -> Any:
    """First and second derivatives right (3x², 6x); the third is 0 instead of 6."""
    (x,), (t,) = primals, tangents
    x0 = jax.lax.stop_gradient(x)
    return _cube(x), jnp.sum((3 * x0**2 + 6 * x0 * (x - x0)) * t)


def test_order_3_checks_third_derivatives_by_nested_jvps() -> None:
    result = adcli.check_function(lambda x: jnp.sum(jnp.sin(x) ** 3), X, order=3)
    kinds = {c.kind: c.verdict for c in result.comparisons}
    assert kinds["d3:fwd"] == kinds["d3:rev"] == "pass"
    assert CheckKind("d3:fwd").text == (
        "order-3 directional derivative, 3 nested JVPs, vs FD of order 2"
    )
    adcli.assert_grads(_cube, (X,), order=2)  # orders 1 and 2 are right
    with pytest.raises(AssertionError, match="order-3 directional derivative"):
        adcli.assert_grads(_cube, (X,), order=3)


def test_order_4_and_reverse_only_modes() -> None:
    result = adcli.check_function(lambda x: jnp.sum(jnp.exp(x) * x), X, order=4, modes=["rev"])
    kinds = {c.kind: c.verdict for c in result.comparisons}
    assert kinds["d3:rev"] == kinds["d4:rev"] == "pass"
    assert "d4:fwd" not in kinds


# --- tolerances, eps ---------------------------------------------------------------------------


def test_tolerances_as_check_grads_takes_them() -> None:
    tol = tolerance_option("rtol", {np.float32: 1e-3, np.dtype("float64"): 1e-9, "bfloat16": 1})
    assert tol == {"float32": 1e-3, "float64": 1e-9, "bfloat16": 1.0}
    assert resolve_tolerance(tol, "float32", 2e-4, False) == 1e-3
    assert resolve_tolerance(tol, "float16", 2e-2, False) == 2e-2  # not named: the default
    assert resolve_tolerance({"complex64": 5e-3}, "float32", 2e-4, True) == 5e-3
    assert resolve_tolerance(1e-6, "float32", 2e-4, False) == 1e-6


def test_a_tolerance_dict_applies_by_the_derivatives_dtype() -> None:
    """A 1% error: caught with the float32 default rtol (2e-4), passed with a dict that
    allows 5% for float32 and nothing for float64 (the dtype the check does not use)."""
    scale = lambda x: x * (1 + 0.01 * (x > 0))  # noqa: E731  a 1% wrong slope, by a kink's rule

    @jax.custom_jvp
    def f(x: jax.Array) -> jax.Array:
        return jnp.sum(jnp.sin(x))

    f.defjvp(lambda p, t: (f(p[0]), jnp.sum(scale(jnp.cos(p[0])) * t[0])))
    x = X.astype(np.float32)
    with pytest.raises(AssertionError):
        adcli.assert_grads(f, (x,))
    adcli.assert_grads(f, (x,), rtol={np.float32: 5e-2, np.float64: 0.0})


def test_eps_bounds_the_fd_step() -> None:
    """log(x) at x = 1e-3 with eps = 1e-5: every FD step is at most 1e-5·|x|."""
    result = adcli.check_function(lambda x: jnp.sum(jnp.log(x)), np.array([1e-3, 2.0]), eps=1e-5)
    steps = [w.step for c in result.comparisons for w in c.worst if w.step is not None]
    assert result.verdict == "pass" and steps
    assert all(s <= 1e-5 * 2.0 * (1 + 1e-9) for s in steps)


# --- points with nothing to judge ---------------------------------------------------------------


def test_zero_size_arguments_pass_with_a_note() -> None:
    result = adcli.check_function(lambda x: jnp.sum(x**2), np.zeros((0, 3)))
    assert result.verdict == "pass" and "nothing to check" in result.notes[0]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_point_is_not_judged_and_does_not_raise(value: float) -> None:
    x = np.array([value, 1.0])
    result = adcli.check_function(jax.nn.softplus, x)  # no RuntimeWarning: filterwarnings
    (comparison,) = result.comparisons
    assert not_judged(comparison) and result.verdict == "skipped"
    assert comparison.reason is not None
    assert comparison.reason.startswith("not judged: the point is not finite (x[0] = ")
    adcli.assert_grads(jax.nn.softplus, (x,))
    with pytest.raises(AssertionError, match=r"not judged: the point is not finite.*strict=True"):
        adcli.assert_grads(jax.nn.softplus, (x,), strict=True)


def test_a_value_outside_the_domain_is_not_judged() -> None:
    result = adcli.check_function(jax.scipy.special.xlog1py, np.array([1.0]), np.array([-2.0]))
    assert result.verdict == "skipped"
    assert result.comparisons[0].reason == (
        "not judged: f is not finite at the point (out[0] = nan): there is no derivative to "
        "compare with finite differences"
    )


# --- kinks at the point ------------------------------------------------------------------------


def test_a_subgradient_at_a_kink_passes_assert_grads() -> None:
    """relu, abs and max at their kinks: check_function says inconclusive; assert_grads'
    policy passes AD that lies between the one-sided derivatives."""
    for fn, args in ((jax.nn.relu, (np.array([0.0, 1.0]),)), (jnp.abs, (np.array([0.0, -1.0]),))):
        assert adcli.check_function(fn, *args).verdict == "inconclusive"
        adcli.assert_grads(fn, args)
        with pytest.raises(AssertionError, match="left and right slopes differ"):
            adcli.assert_grads(fn, args, strict=True)
    # max at a tie: JAX's rule gives 1/2 to each side, the central difference: it passes.
    adcli.assert_grads(jnp.maximum, (np.array([1.0, 2.0]), np.array([1.0, 0.5])), strict=True)
    result = adcli.check_function(jax.nn.relu, np.array([0.0, 1.0]), kinks="subgradient")
    reasons = [c.reason for c in result.comparisons if c.kind in ("fwd", "rev")]
    assert reasons[0] == (
        "a kink at x[0]: AD (0) lies between the one-sided derivatives (0, 1), a subgradient "
        "(passed by the subgradient policy)"
    )


def test_a_derivative_outside_the_one_sided_ones_fails_even_at_a_kink() -> None:
    @jax.custom_jvp
    def bad_relu(x: jax.Array) -> jax.Array:
        return jnp.maximum(x, 0.0)

    bad_relu.defjvp(lambda p, t: (bad_relu(p[0]), jnp.where(p[0] > 0, 1.0, 2.0) * t[0]))
    with pytest.raises(AssertionError):
        adcli.assert_grads(bad_relu, (np.array([0.0, 1.0]),))


# --- the caller's JAX -----------------------------------------------------------------------


def test_strict_promotion_and_x64_off_as_the_caller_runs() -> None:
    """jnp.zeros(3) is float32 with x64 off: under strict promotion the function only
    traces in the caller's mode; adcli's float64 reference runs in its own scope."""

    def f(x: jax.Array) -> jax.Array:
        return jnp.sum(x * jnp.zeros(3) + jnp.tanh(x))

    with jax.enable_x64(False), jax.numpy_dtype_promotion("strict"):
        result = adcli.check_function(f, X, order=2)
        adcli.assert_grads(f, (X,), order=3)
    assert result.verdict == "pass" and result.dtypes == {"x": "float32"}


def test_a_closed_call_is_promoted() -> None:
    def f(x: jax.Array) -> jax.Array:
        closed = jax.make_jaxpr(lambda y: jnp.sin(y) ** 2)(x)
        params = core.closed_call_p.get_bind_params({"call_jaxpr": closed})
        out: jax.Array = core.closed_call_p.bind(x, **params)[0]
        return out

    result = adcli.check_function(f, X.astype(np.float32), order=2)
    assert result.verdict == "pass"
    assert not any("does not run wholly in float64" in n for n in result.notes)


@pytest.mark.parametrize(
    "fn",
    [lambda x: jnp.split(x, [0, 2]), lambda x: x[1:1], lambda x: (x[:0], jnp.sin(x))],
    ids=["split with an empty part", "empty output", "tuple with an empty part"],
)
def test_empty_outputs_and_empty_output_parts(fn: Any) -> None:
    result = adcli.check_function(fn, X)
    assert result.verdict == "pass", [c.reason for c in result.comparisons]


def test_a_jump_a_smaller_step_does_not_cross_is_stepped_under() -> None:
    """remainder(2, y) at y = 0.999: the base step (0.6% of y) crosses the jump of
    trunc(2/y) at y = 1; a finer level does not, and the check passes."""
    with jax.enable_x64(True):
        adcli.assert_grads(jnp.remainder, (np.array([2.0]), np.array([0.999])))
    adcli.assert_grads(jnp.remainder, (np.array([2.0], np.float32), np.array([0.999], np.float32)))


# --- zero and tiny true derivatives --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "x", "order"),
    [
        (jnp.tanh, 0.0, 2),  # tanh″(0) = 0
        (jnp.sin, np.pi, 2),  # sin″(π) = −sin(π) ≈ −1.2e-16
        (jnp.cos, np.pi, 1),  # cos′(π) = −sin(π) ≈ −1.2e-16
        (jax.scipy.special.erf, 10.0, 1),  # erf′(10) = 4.2e-44
        (jnp.arctanh, 0.0, 2),  # arctanh″(0) = 0
    ],
    ids=["tanh''(0)", "sin''(pi)", "cos'(pi)", "erf'(10)", "arctanh''(0)"],
)
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_zero_true_derivatives_pass_when_ad_agrees(
    fn: Any, x: float, order: int, x64: bool
) -> None:
    """A derivative that is 0 (or below the function's rounding) is decided against the
    function's magnitude, not left inconclusive because 5% of 0 is 0."""
    with jax.enable_x64(x64):
        result = adcli.check_function(fn, np.array([x, 0.5]), order=order)
    assert result.verdict == "pass", [(c.kind, c.reason) for c in result.comparisons]


def test_det_near_singularity_in_float32() -> None:
    """A rank-1 matrix rounded to float32: det's gradient is ~1e-9, from minors of entries
    of size 1, and AD in float32 is off by its own rounding (~4e-9). The float64 reference
    sees a derivative of 1e-9 very precisely, so a later opinion decides: FD in float32, or
    AD's rounding measured with the same rules in float64 (adcli._check.rounding)."""
    rng = np.random.default_rng(0)
    a = np.outer(rng.standard_normal(3), rng.standard_normal(3)).astype(np.float32)
    result = adcli.check_function(jnp.linalg.det, a)
    assert result.verdict == "pass"
    reasons = " ".join(c.reason or "" for c in result.comparisons if c.kind in ("fwd", "rev"))
    assert "own precision (float32)" in reasons or "AD's own rounding in float32" in reasons
    singular = np.arange(1.0, 10.0).reshape(3, 3)  # rank 2: the gradient adj(A) is not 0
    with jax.enable_x64(True):
        adcli.assert_grads(jnp.linalg.det, (singular,))


def test_a_primitive_that_cannot_be_promoted_is_named_in_the_note() -> None:
    """A float32 host callback (with its own JVP rule): not promoted (named in the note),
    and not vmappable either (no vmap_method): check_grads calls it one point at a time,
    and so does adcli then (lax.map over the rows instead of vmap)."""

    @jax.custom_jvp
    def host_sin(x: jax.Array) -> jax.Array:
        return jax.pure_callback(np.sin, jax.ShapeDtypeStruct(x.shape, jnp.float32), x)

    host_sin.defjvp(lambda p, t: (host_sin(p[0]), jnp.cos(p[0]) * t[0]))

    def f(x: jax.Array) -> jax.Array:
        return jnp.sum(host_sin(x.astype(jnp.float32)) * x)

    result = adcli.check_function(f, X.astype(np.float32), modes=["fwd"])
    assert result.verdict == "pass", [c.reason for c in result.comparisons]
    assert result.notes == (
        "x: the function computes in float32 and does not run wholly in float64 (it uses "
        "'pure_callback', whose program adcli does not run in float64), so FD is taken in "
        "its own precision",
    )


# --- the same options as spec keys ------------------------------------------------------------


def test_order_kinks_and_eps_are_spec_keys_too() -> None:
    """check.order ≥ 3, check.kinks and check.eps mean in a spec what they mean to
    check_function: relu at its kink passes as a subgradient, D³ of sin³ is checked, and the
    FD steps stay within eps (relative to each coordinate's scale)."""
    text = (
        "name: kinked\n"
        "function: {expr: 'sum(relu(x)) + sum(sin(x) ** 3)'}\n"
        "inputs: {x: {shape: [2], init: {value: [0.0, 0.7]}}}\n"
        "check: {order: 3, kinks: subgradient, eps: 0.001, points: 1}\n"
    )
    (spec,) = adcli.load_text(text)
    assert (spec.check.order, spec.check.kinks, spec.check.eps) == (3, "subgradient", 0.001)
    (result,) = adcli.check(spec).results
    assert result.verdict == "pass", [c.reason for c in result.comparisons]
    kinds = {c.kind for c in result.comparisons}
    assert {"fwd", "rev", "d3:fwd"} <= kinds, kinds
    steps = [c.step for c in result.comparisons if c.step is not None]
    steps += [m.step for c in result.comparisons for m in c.worst if m.step is not None]
    assert steps and max(steps) <= 0.001 * (1 + 1e-9), steps  # x[0] = 0: scale 1
    (strict,) = adcli.load_text(text.replace("kinks: subgradient", "kinks: inconclusive"))
    assert adcli.check(strict).results[0].verdict == "inconclusive"
