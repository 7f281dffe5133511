"""The numerics path's objects: compare's Subject/Labels/Tolerance and FD reference, the
Estimate helpers, InputFunction and Evaluator, and FirstOrderResult."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from adcli._check.first_order import FirstOrderResult, check_first_order
from adcli._check.point import make_point
from adcli._numerics.compare import (
    Labels,
    Subject,
    Tolerance,
    compare,
    margins,
    skipped,
)
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.finite_diff import Estimate
from adcli._numerics.function import At, InputFunction, failure
from adcli._problem.build import build
from adcli._spec.load import load_text

ABOUT = Subject(point=0, wrt="x", kind="fwd", method="full")
LABELS = Labels(lambda i: f"x[{i[0]}]", lambda i: f"out[{i[1]}]")


def _estimate(value: np.ndarray, error: float = 1e-12, trusted: bool = True) -> Estimate:
    shape = np.shape(value)
    return Estimate(
        np.asarray(value, float),
        np.full(shape, error),
        np.full(shape, trusted),
        np.full(shape, 1e-3),
        np.zeros(shape),
    )


# --- compare --------------------------------------------------------------------------------


def test_an_fd_reference_widens_the_tolerance_by_twice_its_error() -> None:
    ref = _estimate(np.array([[1.0, 2.0]]), error=1e-3)
    m = margins(np.array([[1.0015, 2.0]]), ref, 0.0, Tolerance(rtol=0.0, atol=0.0))
    np.testing.assert_allclose(m.tol, [[2e-3, 2e-3]])
    np.testing.assert_allclose(m.margin, [[0.75, 0.0]], atol=1e-9)
    assert not m.failed.any() and not m.undecided.any()


def test_compare_names_the_worst_element_and_the_ratio() -> None:
    ad = np.array([[2.0, 4.0, 6.0]])
    comp = compare(ABOUT, ad, _estimate(ad / 2), 0.0, Tolerance(1e-8), LABELS)
    assert (comp.verdict, comp.compared, comp.failed) == ("fail", 3, 3)
    assert comp.worst[0].input_index == "x[0]" and comp.worst[0].output_index == "out[2]"
    assert comp.worst[0].step == pytest.approx(1e-3) and comp.step == pytest.approx(1e-3)
    assert comp.locations == ("x[0]",)  # the full method lists the failing inputs
    assert comp.diagnosis == "constant ratio: AD = 2 × FD (a scale bug)"


def test_an_ad_reference_has_no_step_and_fails_on_its_own_nan() -> None:
    about = dataclasses.replace(ABOUT, kind="adjoint", method="directions")
    comp = compare(about, np.ones((1, 2)), np.array([[1.0, np.nan]]), 1.0, Tolerance(1e-8), LABELS)
    assert comp.verdict == "fail" and comp.step is None and comp.locations == ()
    assert comp.reason == "the AD value compared against gave nan at x[0] → out[1]"
    assert comp.worst[0].fd_error is None


def test_an_untrusted_reference_is_inconclusive_with_its_reason() -> None:
    ref = dataclasses.replace(
        _estimate(np.array([[1.0]]), trusted=False), error=np.full((1, 1), np.inf)
    )
    comp = compare(ABOUT, np.array([[1.5]]), ref, 0.0, Tolerance(1e-8), LABELS)
    assert comp.verdict == "inconclusive"
    assert comp.reason == (
        "FD cannot decide at x[0]: its estimates do not converge as the step shrinks"
    )


def test_skipped_keeps_the_subject_and_the_reason() -> None:
    comp = skipped(ABOUT, "TypeError: no JVP")
    assert (comp.point, comp.wrt, comp.kind, comp.method) == (0, "x", "fwd", "full")
    assert (comp.verdict, comp.reason, comp.compared) == ("skipped", "TypeError: no JVP", 0)


# --- Estimate -------------------------------------------------------------------------------


def test_estimate_take_and_per_unit() -> None:
    est = Estimate(
        np.array([[2.0, 4.0], [6.0, 8.0]]),
        np.array([[0.2, 0.4], [0.6, 0.8]]),
        np.array([[True, False], [True, True]]),
        np.full((2, 2), 0.5),
        np.array([[1.0, 0.0], [0.0, 3.0]]),
    )
    column = est.take((slice(None), 1))
    np.testing.assert_array_equal(column.value, [4.0, 8.0])
    np.testing.assert_array_equal(column.trusted, [False, True])
    unit = est.per_unit(np.array([[2.0], [4.0]]))
    np.testing.assert_array_equal(unit.value, [[1.0, 2.0], [1.5, 2.0]])
    np.testing.assert_array_equal(unit.error, [[0.1, 0.2], [0.15, 0.2]])
    np.testing.assert_array_equal(unit.step, [[1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(unit.slope_jump, est.slope_jump)


# --- InputFunction, Evaluator ---------------------------------------------------------------

SPEC = """
name: cubic
function: {expr: "sum(x ** 3) + w * x[0]"}
dims: {n: 3}
inputs:
  x: {shape: [n], dtype: float32}
  w: {shape: []}
check: {points: 1, seed: 0, method: full}
"""


def _setup() -> tuple[InputFunction, Evaluator, At]:
    problem = build(load_text(SPEC)[0])
    fn = InputFunction(problem, ("x", "w"))
    inputs = {"x": jnp.asarray([1.0, 2.0, 3.0], jnp.float32), "w": jnp.asarray(2.0)}
    return fn, Evaluator(fn), At(fn.layout.flatten(fn.input_value(inputs)), inputs, {})


def test_input_function_knows_its_shape_dtypes_and_modes() -> None:
    fn, _, at = _setup()
    assert (fn.d, fn.m) == (4, 1)
    assert fn.input_dtype("x", at.inputs, at.constants) == "float32"
    assert fn.input_dtype("w", at.inputs, at.constants) == "float32"  # w meets float32 x
    assert fn.supports("fwd", at) is None and fn.supports("rev", at) is None
    assert fn.use_promoted_reference(at) and fn.promoted


def test_evaluator_jvp_vjp_and_jacobians_agree_with_the_formula() -> None:
    _, evals, at = _setup()
    # The flat vector is (w, x[0], x[1], x[2]): ∂/∂w = x[0], ∂/∂x = 3x² + w·e₀.
    grad = np.array([1.0, 3 * 1.0 + 2.0, 12.0, 27.0])
    np.testing.assert_allclose(evals.vjp(at, np.ones((1, 1)))[0], grad, rtol=1e-6)
    np.testing.assert_allclose(evals.jvp(at, np.eye(4))[:, 0], grad, rtol=1e-6)
    np.testing.assert_allclose(evals.jacobian_fwd(at, np.arange(4))[0], grad, rtol=1e-6)
    np.testing.assert_allclose(evals.jacobian_rev(at)[0], grad, rtol=1e-6)


def test_evaluator_fd_stencils_sample_each_row_at_each_offset() -> None:
    fn, evals, at = _setup()
    fn.use_promoted_reference(at)
    g = evals.fd_directions(at, np.eye(4)[:2], 0.1, "level", ref=True)  # (9, 2, 1)
    assert g.shape == (9, 2, 1)  # with the noise probe pair
    f0 = 1 + 8 + 27 + 2.0
    np.testing.assert_allclose(g[6, :, 0], [f0, f0])  # offset 0: the point itself
    np.testing.assert_allclose(g[0, 0, 0], 36 + 2.1 * 1.0, rtol=1e-12)  # w + 0.1
    np.testing.assert_allclose(g[1, 1, 0], 0.9**3 + 35 + 2 * 0.9, rtol=1e-12)  # x[0] − 0.1
    # The screen: ±h, ±h/4 along each row, then the point (evaluated once, for every row).
    s = evals.fd_directions(at, np.eye(4)[:2], 0.1, "screen", ref=True)
    assert s.shape == (5, 2, 1)
    np.testing.assert_allclose(s[4, :, 0], [f0, f0])
    np.testing.assert_allclose(s[3, 1, 0], 0.975**3 + 35 + 2 * 0.975, rtol=1e-12)  # x[0] − h/4
    coords = evals.fd_coordinates(at, np.array([1]), np.full(4, 2.0), 0.1, "level", ref=True)
    assert coords.shape == (9, 1, 1)
    np.testing.assert_allclose(coords[0, 0, 0], 1.2**3 + 35 + 2 * 1.2, rtol=1e-12)  # x[0] + 0.2


def test_failure_is_type_and_first_line() -> None:
    assert failure(ValueError("bad\nmore")) == "ValueError: bad"
    assert failure(TypeError()) == "TypeError: "


# --- FirstOrderResult -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["full", "directions"])
def test_check_first_order_returns_what_expect_reuses(method: str) -> None:
    problem = build(load_text(SPEC.replace("method: full", f"method: {method}"))[0])
    evals = Evaluator(InputFunction(problem, ("x",)))
    inputs, constants = problem.sample_inputs(0), problem.sample_constants()
    pt = make_point(problem, evals, "x", 0, inputs, constants, ("fwd", "rev"), method)
    result = check_first_order(pt, 3)
    assert isinstance(result, FirstOrderResult)
    assert [c.kind for c in result.comparisons] == ["fwd", "rev", "adjoint"]
    assert all(c.verdict == "pass" for c in result.comparisons)
    if method == "full":
        assert set(result.jacobians) == {"fwd", "rev"} and result.fd.value.shape == (3, 1)
        assert result.directions is None and result.jvps is None
    else:
        # 3 random directions, one along the AD gradient (x is one leaf), its 3 coordinates
        assert result.jacobians == {} and result.fd.value.shape == (7, 1)
        assert result.directions is not None and result.directions.shape == (7, 3)
        assert result.rows is not None and result.rows.random == 3
        assert [b.label for b in result.rows.aligned] == ["x"] and result.rows.coords == (0, 1, 2)
        names = [result.rows.name(pt, k) for k in (1, 3, 4, 6)]
        assert names == ["x·v1", "x·g", "x[0]", "x[2]"]
        np.testing.assert_array_equal(result.directions[4:], np.diag(pt.scale) / 64)  # SPOT_STEP
        assert result.vjps is not None
        g = result.vjps[0] * pt.scale
        np.testing.assert_allclose(result.directions[3] / pt.scale, g / np.sqrt(np.mean(g**2)))
        assert result.jvps is not None and result.vjps is not None
        assert result.cotangents is not None and result.cotangents.shape == (1, 1)


def test_timed_returns_the_result_and_a_duration() -> None:
    from adcli._numerics.timing import timed

    out, seconds = timed(lambda: sum(range(1000)))
    assert out == 499500 and 0 <= seconds < 1
