"""The tolerance and the verdict (adcli._numerics.compare), with numbers worked by hand:

tol = 2·(FD error bound) + rtol·(|reference| + block scale) + atol, per element.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from adcli._numerics.compare import (
    Labels,
    Subject,
    Tolerance,
    block_rms,
    compare,
    default_rtol,
    directional_scale,
    ratio_pattern,
)
from adcli._numerics.finite_diff import Estimate
from adcli._results.check import CheckKind, Comparison


def _name_in(idx: tuple[int, ...]) -> str:
    return f"x[{idx[-1]}]"


def _name_out(idx: tuple[int, ...]) -> str:
    return f"y[{idx[0]}]" if len(idx) > 1 else "y"


def run(ad: Any, reference: Any, **options: Any) -> Comparison:
    """compare() on 1-d values: rtol 1e-3, atol 1e-6 and scale 0.5 unless given.

    With ``fd_error`` (and optionally ``trusted``, default all) the reference is an FD
    estimate; without it, AD values (an AD-vs-AD identity)."""
    settings: dict[str, Any] = {"scale": 0.5, "rtol": 1e-3, "atol": 1e-6, **options}
    value = np.asarray(reference, float)
    ref: np.ndarray | Estimate = value
    if "fd_error" in settings:
        error = np.asarray(settings.pop("fd_error"), float)
        trusted = np.asarray(settings.pop("trusted", np.ones(value.shape, bool)), bool)
        step = np.asarray(settings.pop("step", np.zeros(value.shape)), float)
        jump = np.asarray(settings.pop("slope_jump", np.zeros(value.shape)), float)
        ref = Estimate(value, error, trusted, step, jump)
    about = Subject(0, "x", CheckKind(settings.pop("kind", "rev")), settings.pop("method", "full"))
    return compare(
        about,
        np.asarray(ad, float),
        ref,
        settings.pop("scale"),
        Tolerance(settings.pop("rtol"), settings.pop("atol")),
        Labels(_name_in, _name_out),
    )


# --- the tolerance ---------------------------------------------------------------------------


def test_the_tolerance_per_element_by_hand() -> None:
    """ref = (1, −2), FD errors (1e-4, 2e-4), scale 0.5, rtol 1e-3, atol 1e-6:
    tol₀ = 2e-4 + 1e-3·1.5 + 1e-6 = 1.701e-3 and tol₁ = 4e-4 + 1e-3·2.5 + 1e-6 = 2.901e-3.
    AD is off by 1e-3 (passes, margin 0.588) and by 3e-3 (fails, margin 1.034)."""
    ref = np.array([1.0, -2.0])
    c = run(
        ref + np.array([1e-3, 3e-3]), ref, fd_error=np.array([1e-4, 2e-4]), trusted=np.ones(2, bool)
    )
    assert c.verdict == "fail" and (c.compared, c.failed) == (2, 1)
    (worst,) = c.worst
    assert (worst.input_index, worst.output_index) == ("x[1]", "y")
    assert worst.tolerance == pytest.approx(2.901e-3, rel=1e-12)
    assert worst.margin == pytest.approx(3e-3 / 2.901e-3, rel=1e-9)
    assert worst.fd_error == 2e-4
    assert c.margin == pytest.approx(3e-3 / 2.901e-3, rel=1e-9)
    assert c.max_abs_error == pytest.approx(3e-3, rel=1e-9)
    assert c.max_rel_error == pytest.approx(3e-3 / 2.0, rel=1e-6)  # relative to max(|AD|, |FD|)
    assert c.locations == ("x[1]",)  # method full: the wrong inputs by name

    passing = run(ref + np.array([1e-3, 2.9e-3]), ref, fd_error=np.array([1e-4, 2e-4]))
    assert passing.verdict == "pass" and passing.failed == 0
    assert passing.margin == pytest.approx(2.9e-3 / 2.901e-3, rel=1e-9)
    assert len(passing.worst) == 1  # nothing failed: one element is shown


def test_without_an_fd_bound_the_tolerance_is_rtol_and_atol() -> None:
    """AD against AD (no FD): tol = 1e-3·(|4| + 0.5) + 1e-6 = 4.501e-3."""
    c = run([4.0045], [4.0])
    assert c.verdict == "pass" and c.worst[0].tolerance == pytest.approx(4.501e-3)
    assert c.worst[0].fd_error is None and c.step is None
    assert run([4.0046], [4.0]).verdict == "fail"


def test_a_value_small_by_cancellation_is_judged_on_its_block_scale() -> None:
    """|ref| = 1e-9 among neighbours of size 1: rtol·|ref| alone would fail the 1e-6 slip."""
    assert run([1e-9 + 1e-6], [1e-9], scale=1.0, atol=0.0).verdict == "pass"
    assert run([1e-9 + 1e-6], [1e-9], scale=0.0, atol=0.0).verdict == "fail"


def test_block_scales_by_hand() -> None:
    values = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(block_rms(values), [[np.sqrt(12.5)], [0.0]])
    assert float(block_rms(values, axis=None)) == pytest.approx(2.5)
    # a row nearly orthogonal to the gradient is judged on the scale of all rows
    np.testing.assert_allclose(directional_scale(values), [[np.sqrt(12.5)], [2.5]])
    assert block_rms(np.array([np.nan, 2.0]), axis=None) == pytest.approx(np.sqrt(2.0))


def test_default_rtol_follows_the_dtype() -> None:
    assert [default_rtol(d) for d in ("float64", "float32", "float16", "bfloat16")] == [
        1e-8,
        2e-4,
        2e-2,
        1e-1,
    ]
    assert default_rtol("complex64") == 2e-4 and default_rtol("int8") == 1e-8


# --- verdicts: undecided is not failed, NaN is -------------------------------------------


def test_an_untrusted_element_is_undecided_not_failed() -> None:
    """The second FD value is untrusted (a kink): however far AD is, it is inconclusive."""
    c = run(
        [1.0, 5.0],
        [1.0, 0.5],
        fd_error=np.array([1e-9, np.inf]),
        trusted=np.array([True, False]),
        step=np.array([0.01, 0.01]),
        slope_jump=np.array([0.0, 1.0]),
    )
    assert c.verdict == "inconclusive" and c.failed == 1
    assert c.reason == (
        "FD cannot decide at x[1]: left and right slopes differ by 1 "
        "(a kink within 2.5e-03 of the point?) or the function is noisy"
    )
    assert np.isnan(c.worst[0].margin)  # no margin against an untrusted value
    assert c.margin == 0.0 and c.max_abs_error == 0.0  # only decided elements count


def test_an_fd_bound_too_wide_to_see_5_percent_is_undecided() -> None:
    """2·error = 0.2 > 5% of (|1| + 0.5): agreement inside that bar proves nothing."""
    c = run([1.05], [1.0], fd_error=np.array([0.1]), trusted=np.array([True]))
    assert c.verdict == "inconclusive"
    assert c.reason is not None and "its error bound 0.1 is above 5% of the value" in c.reason
    assert run([1.0], [1.0], fd_error=np.array([0.1])).verdict == "pass"  # within rtol: fine


def test_nan_from_ad_fails_and_says_where() -> None:
    c = run([1.0, np.nan], [1.0, 2.0], fd_error=np.zeros(2), trusted=np.ones(2, bool))
    assert c.verdict == "fail" and c.failed == 1
    assert c.reason == "AD gave nan at x[1] → y"
    assert c.margin == np.inf and c.max_abs_error == np.inf


def test_nan_in_the_ad_reference_of_an_ad_check_fails() -> None:
    c = run([1.0, 2.0], [1.0, np.inf], kind="adjoint")
    assert c.verdict == "fail"
    assert c.reason == "the AD value compared against gave inf at x[1] → y"


def test_an_fd_reference_that_is_not_finite_is_undecided() -> None:
    c = run([1.0], [np.nan], fd_error=np.array([np.inf]), trusted=np.array([False]))
    assert c.verdict == "inconclusive"
    assert c.reason == (
        "FD cannot decide at x[0]: the function is not finite near the point "
        "(a step leaves its domain?)"
    )


# --- the diagnosis of a pattern ----------------------------------------------------------


def test_a_constant_ratio_is_named_a_scale_bug() -> None:
    ref = np.array([1.0, -2.0, 3.0, 0.5])
    c = run(2 * ref, ref)
    assert c.verdict == "fail" and c.failed == 4
    assert c.diagnosis == "constant ratio: AD = 2 × FD (a scale bug)"


def test_a_sign_flip_is_named() -> None:
    ref = np.array([1.0, -2.0, 3.0])
    assert run(-ref, ref).diagnosis == "sign flip: AD = −FD"


@pytest.mark.parametrize(
    ("ad", "expected"),
    [
        ([0.0, 0.0, 0.0], "AD is zero where FD is not (a missing term or stop_gradient?)"),
        ([1.001, 2.002, 3.003], "constant ratio: AD = 1.001 × FD (a scale bug)"),
        ([0.5, 1.0, 1.5], "constant ratio: AD = 0.5 × FD (a scale bug)"),
        ([2.0, 4.0, 7.0], None),  # not one ratio
    ],
)
def test_ratio_patterns(ad: list[float], expected: str | None) -> None:
    ref = np.array([1.0, 2.0, 3.0])
    assert ratio_pattern(np.array(ad), ref, np.full(3, 1e-6)) == expected


def test_a_pattern_needs_two_clear_elements() -> None:
    """Elements within 10× their tolerance of zero say nothing about a ratio."""
    ref = np.array([1.0, 1e-6])
    assert ratio_pattern(2 * ref, ref, np.full(2, 1e-6)) is None


@pytest.mark.parametrize(
    ("kind", "labels"),
    [
        ("rev", ("AD", "FD")),
        ("adjoint", ("fwd", "rev")),
        ("hessian-symmetry", ("wᵀHv", "vᵀHw")),
        ("expect-grad:ad", ("the formula", "AD")),
        ("expect-hessian:fd", ("the formula", "FD")),
    ],
)
def test_the_diagnosis_names_what_was_compared(kind: str, labels: tuple[str, str]) -> None:
    assert CheckKind(kind).labels == labels
    ref = np.array([1.0, 2.0])
    assert run(-ref, ref, kind=kind).diagnosis == f"sign flip: {labels[0]} = −{labels[1]}"


# --- the edges: rounding of the derivative, zero derivatives, kinks ----------------------------


def _fd(value: Any, error: Any, **fields: Any) -> Estimate:
    value = np.asarray(value, float)
    n = value.shape
    return Estimate(
        value,
        np.asarray(error, float),
        np.asarray(fields.pop("trusted", np.ones(n, bool)), bool),
        np.full(n, 0.01),
        np.asarray(fields.pop("slope_jump", np.zeros(n)), float),
        **{k: np.asarray(v, float) for k, v in fields.items()},
    )


def _compare(ad: Any, ref: Estimate, tolerance: Tolerance, scale: Any = 0.0) -> Comparison:
    about = Subject(0, "x", CheckKind.FWD, "full")
    return compare(about, np.asarray(ad, float), ref, scale, tolerance, Labels(_name_in, _name_out))


def test_an_identically_zero_block_is_held_to_the_derivatives_rounding() -> None:
    """The imaginary part of a real eigenvalue: FD is exactly 0 with a zero error bound,
    AD in float32 carries 1e-8 of rounding. tol = 16·ε₃₂·RMS(reference) = 16 · 1.19e-7 ·
    √(1² + 1² + 0 + 0)/2 = 1.35e-6 ≥ 1e-8: it passes, where the old tolerance was 0."""
    ref = _fd([1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    eps32 = float(np.finfo(np.float32).eps)
    c = _compare([1.0, -1.0, 1e-8, -1e-8], ref, Tolerance(2e-4, 0.0, eps32))
    assert c.verdict == "pass"
    assert c.worst[0].tolerance == pytest.approx(16 * eps32 * np.sqrt(0.5), rel=1e-12)
    assert _compare([1.0, -1.0, 1e-8, -1e-8], ref, Tolerance(2e-4)).verdict == "fail"
    # A real error in that block is still far outside: 1e-4 against 1.35e-6.
    assert _compare([1.0, -1.0, 1e-4, 0.0], ref, Tolerance(2e-4, 0.0, eps32)).verdict == "fail"


def test_a_zero_derivative_resolved_against_the_functions_magnitude_is_decided() -> None:
    """tanh″(0) = 0: FD gives 5e-14 ± 2.7e-13 where the differenced function (tanh′ ≈ 1)
    has magnitude 1. Without the magnitude that bound is 'above 5% of the value'."""
    vague = _fd([5e-14], [2.7e-13])
    assert _compare([0.0], vague, Tolerance(1e-8)).verdict == "inconclusive"
    resolved = _fd([5e-14], [2.7e-13], magnitude=[1.0])
    assert _compare([0.0], resolved, Tolerance(1e-8)).verdict == "pass"
    assert _compare([1e-6], resolved, Tolerance(1e-8)).verdict == "fail"  # not zero: caught


def test_the_subgradient_policy_at_a_kink() -> None:
    """relu at 0: untrusted (a kink), one-sided derivatives 0 and 1. AD 0 (JAX's choice)
    or 1/2 lies between: a subgradient; 2 does not."""
    kink = _fd(
        [0.5],
        [np.inf],
        trusted=[False],
        slope_jump=[1.0],
        left=[0.0],
        right=[1.0],
        side_error=[1e-12],
    )
    policy = Tolerance(1e-8, kinks="subgradient")
    assert _compare([0.0], kink, Tolerance(1e-8)).verdict == "inconclusive"
    passed = _compare([0.0], kink, policy)
    assert passed.verdict == "pass" and passed.reason is not None and "subgradient" in passed.reason
    assert _compare([0.25], kink, policy).verdict == "pass"
    assert _compare([2.0], kink, policy).verdict == "inconclusive"  # not a subgradient
