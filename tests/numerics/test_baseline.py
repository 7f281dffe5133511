"""adcli._numerics.baseline.judge: a kernel against a reference, tolerances worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adcli._numerics.baseline import Rule, Tensor, judge
from adcli._numerics.compare import Labels, Subject
from adcli._results.check import CheckKind

U32 = 2.0**-24  # float32's unit roundoff
VALUE = Subject(0, "-", CheckKind.REFERENCE_VALUE, "-")
VJP = Subject(0, "x", CheckKind.REFERENCE_VJP, "directions")
LABELS = Labels(lambda i: f"x[{i[1]}]", lambda i: f"⟨u{i[0]}, ·⟩")
TRUTH = np.array([[1.0, -2.0, 0.5, 0.0]])
OUT32 = [Tensor("out", slice(0, 4), "float32")]
RULE = Rule(factor=2.0, rtol=None, atol=0.0, baseline_dtype="float32")


def test_tolerance_is_factor_times_the_largest_baseline_error_plus_the_unit_roundoff() -> None:
    baseline = np.array([[1e-6, 0.0, 2e-6, 0.0]])
    kernel = TRUTH + np.array([[1e-6, 0.0, 0.0, 3e-6]])
    comp = judge(VALUE, kernel, TRUTH, baseline, OUT32, RULE, LABELS)
    assert comp.verdict == "pass" and comp.reason is None and comp.diagnosis is None
    assert comp.margin == pytest.approx(3e-6 / 4e-6)  # the worst element: truth 0, floor 0
    assert (comp.compared, comp.failed) == (4, 0)
    (t,) = comp.tolerances
    assert (t.tensor, t.dtype, t.baseline_dtype, t.baseline_scale) == (
        "out",
        "float32",
        "float32",
        1,
    )
    assert t.kernel_error == pytest.approx(3e-6) and t.baseline_error == 2e-6
    assert (t.floor, t.tolerance, t.set_by) == (0.0, pytest.approx(4e-6), "baseline")
    assert t.ratio == pytest.approx(1.5)
    assert t.accuracy == "1.5× the error of the plain float32 implementation"
    (row,) = comp.worst  # nothing failed: the single worst element
    assert (row.input_index, row.output_index, row.step, row.fd_error) == (
        "x[3]",
        "⟨u0, ·⟩",
        None,
        None,
    )
    assert row.tolerance == pytest.approx(4e-6)


def test_an_element_beyond_its_tolerance_fails_with_the_numbers() -> None:
    baseline = np.array([[1e-6, 0.0, 2e-6, 0.0]])
    kernel = TRUTH + np.array([[0.0, 1e-5, 0.0, 0.0]])
    comp = judge(VALUE, kernel, TRUTH, baseline, OUT32, RULE, LABELS)
    assert comp.verdict == "fail" and comp.failed == 1
    tol = 4e-6 + 2 * U32  # 2 × 2e-6 + the unit roundoff of |−2|
    assert comp.margin == pytest.approx(1e-5 / tol)
    assert comp.reason == (
        "out: error 1e-05, 5× the error of the plain float32 implementation "
        "(allowed 2× 2e-06 + floor 1.2e-07)"
    )
    assert [row.input_index for row in comp.worst] == ["x[1]"]
    assert comp.locations == ()  # value comparisons have no input locations


def test_where_the_plain_implementation_is_exact_the_floor_sets_the_tolerance() -> None:
    kernel = TRUTH + np.array([[5e-8, 0.0, 0.0, 0.0]])
    comp = judge(VALUE, kernel, TRUTH, np.zeros((1, 4)), OUT32, RULE, LABELS)
    assert comp.verdict == "pass" and comp.margin == pytest.approx(5e-8 / U32)
    (t,) = comp.tolerances
    assert (t.set_by, t.floor, t.ratio) == ("floor", pytest.approx(U32), math.inf)
    assert t.accuracy == "the plain float32 implementation is exact here"


def test_check_rtol_and_atol_replace_the_floor() -> None:
    kernel = TRUTH + np.array([[0.0, 0.0, 0.0, 1e-3]])
    rule = Rule(factor=2.0, rtol=1e-2, atol=2e-3, baseline_dtype="float32")
    comp = judge(VALUE, kernel, TRUTH, np.zeros((1, 4)), OUT32, rule, LABELS)
    assert comp.margin == pytest.approx(1e-3 / 2e-3)
    (t,) = comp.tolerances
    assert (t.floor, t.set_by) == (pytest.approx(2e-3), "floor")


def test_a_float64_baseline_measured_in_float32_is_scaled() -> None:
    rule = Rule(factor=2.0, rtol=None, atol=0.0, baseline_dtype="float32", baseline_scale=2.0**-29)
    out64 = [Tensor("out", slice(0, 4), "float64")]
    baseline = np.array([[0.0, 2**-22, 0.0, 0.0]])  # a float32 run's error
    kernel = TRUTH + np.array([[0.0, 0.0, 0.0, 2**-51]])
    comp = judge(VALUE, kernel, TRUTH, baseline, out64, rule, LABELS)
    (t,) = comp.tolerances
    assert t.baseline_error == 2.0**-51 and t.baseline_scale == 2.0**-29
    assert comp.margin == pytest.approx(0.5) and comp.verdict == "pass"


def test_a_non_finite_kernel_value_fails_naming_the_element() -> None:
    kernel = TRUTH.copy()
    kernel[0, 2] = np.nan
    comp = judge(VJP, kernel, TRUTH, np.zeros((1, 4)), OUT32, RULE, LABELS)
    assert comp.verdict == "fail" and comp.margin == math.inf
    assert comp.reason == (
        "the kernel's VJP is nan at x[2] → ⟨u0, ·⟩: a non-finite value leaks into it "
        "(from a masked or padded region?)"
    )
    assert comp.locations == ("x[2]",)
    assert comp.tolerances[0].kernel_error == math.inf


def test_a_non_finite_reference_cannot_judge_there() -> None:
    truth = TRUTH.copy()
    truth[0, 0] = np.inf
    comp = judge(VALUE, TRUTH, truth, np.zeros((1, 4)), OUT32, RULE, LABELS)
    assert comp.verdict == "inconclusive" and comp.margin == 0.0
    assert comp.reason is not None
    assert comp.reason.startswith("the reference's value (float64) is inf at x[0] → ⟨u0, ·⟩")
    assert math.isnan(comp.worst[0].margin)


def test_an_overflowing_plain_run_sets_no_baseline() -> None:
    baseline = np.array([[np.inf, 1e-6, 0.0, 0.0]])
    comp = judge(VALUE, TRUTH, TRUTH, baseline, OUT32, RULE, LABELS)
    assert comp.tolerances[0].baseline_error == 1e-6


BF16 = [Tensor("x", slice(0, 6), "bfloat16")]
ROWS = np.array([[1.0, -0.5, 2.0, 0.25, -1.5, 0.75], [0.5, 1.5, -1.0, 2.0, 0.3, -0.2]])


RATIO = "constant ratio: the kernel = {} × the reference (a scale bug{})"


@pytest.mark.parametrize(
    ("scale", "pattern"),
    [
        (4.0, RATIO.format("4", "")),
        (math.sqrt(8), RATIO.format("2.828", ": a missing 1/√8?")),
        (1 / math.sqrt(8), RATIO.format("0.3536", ": an extra 1/√8?")),
        (-1.0, "sign flip: the kernel = −the reference"),
        (0.0, "the kernel is zero where the reference is not (a missing term?)"),
    ],
)
def test_scale_patterns(scale: float, pattern: str) -> None:
    baseline = np.full(ROWS.shape, 1e-3)
    comp = judge(VJP, scale * ROWS, ROWS, baseline, BF16, RULE, LABELS)
    assert comp.verdict == "fail" and comp.diagnosis == pattern


def test_a_ratio_within_rounding_of_one_is_not_a_scale_bug() -> None:
    kernel = 1.01 * ROWS  # 1% in bfloat16 (ε = 2⁻⁷): not told apart from 1
    comp = judge(VJP, kernel, ROWS, np.full(ROWS.shape, 1e-4), BF16, RULE, LABELS)
    assert comp.verdict == "fail"
    assert comp.diagnosis is not None and comp.diagnosis.startswith("precision: several times")


def test_a_vjp_that_does_not_change_with_the_cotangent() -> None:
    kernel = np.stack([ROWS[0], ROWS[0]])
    comp = judge(VJP, kernel, ROWS, np.full(ROWS.shape, 1e-3), BF16, RULE, LABELS)
    assert comp.diagnosis is not None
    assert comp.diagnosis.startswith("the VJP does not change with the cotangent")
    assert comp.locations and all(loc.startswith("x[") for loc in comp.locations)


def test_precision_a_few_roundings_but_several_baselines() -> None:
    noise = np.array(
        [[0.02, -0.01, 0.015, -0.02, 0.01, 0.0], [0.0, 0.02, -0.01, 0.01, -0.02, 0.015]]
    )
    rule = Rule(factor=2.0, rtol=None, atol=0.0, baseline_dtype="bfloat16")
    comp = judge(VJP, ROWS + noise, ROWS, np.full(ROWS.shape, 2e-3), BF16, rule, LABELS)
    assert comp.verdict == "fail"
    assert comp.diagnosis == (
        "precision: several times the error of the plain bfloat16 implementation, yet within a "
        "few units of bfloat16 rounding: the right formula computed too imprecisely (an "
        "accumulation or intermediate kept in bfloat16?)"
    )


def test_precision_a_float64_kernel_computing_in_float32() -> None:
    out64 = [Tensor("x", slice(0, 6), "float64")]
    noise = 3e-7 * np.sin(np.arange(12.0)).reshape(ROWS.shape)
    comp = judge(VJP, ROWS + noise, ROWS, np.full(ROWS.shape, 1e-16), out64, RULE, LABELS)
    assert comp.diagnosis == (
        "precision: the error is that of float32 rounding, not float64: the kernel computes in "
        "float32 inside (a cast, or an accumulator in float32?)"
    )


def test_tensors_get_their_own_tolerances() -> None:
    truth = np.array([[1.0, 2.0, 100.0, 200.0]])
    baseline = np.array([[1e-6, 0.0, 1e-3, 0.0]])
    tensors = [Tensor("out[0]", slice(0, 2), "float32"), Tensor("out[1]", slice(2, 4), "float32")]
    kernel = truth + np.array([[0.0, 1e-5, 0.0, 1e-3]])
    comp = judge(VALUE, kernel, truth, baseline, tensors, RULE, LABELS)
    first, second = comp.tolerances
    assert (first.tensor, first.baseline_error, first.kernel_error) == (
        "out[0]",
        1e-6,
        pytest.approx(1e-5),
    )
    assert (second.tensor, second.baseline_error) == ("out[1]", 1e-3)
    assert comp.verdict == "fail" and comp.failed == 1  # out[0][1]: 1e-5 > 2e-6 + its floor
    assert comp.reason is not None and comp.reason.startswith("out[0]: error 1e-05,")
