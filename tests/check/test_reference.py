"""Kernels against a reference through the Python API and specs (adcli._check.reference).

Small kernels (a few elements) with known bugs: each verdict, the separation of the forward
from the backward, the baselines of float32, float64 and bfloat16 kernels, repeat, and the
usage errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcli
from adcli._check.function import check_function
from adcli._errors import SpecError, UsageError
from adcli._results.check import Comparison, SpecResult

X32 = jnp.asarray(np.linspace(-2.0, 2.5, 6), jnp.float32)


def plain_softplus(x: Any) -> Any:
    return jnp.log1p(jnp.exp(x))


def softplus_kernel(slope: Any, forward_scale: float = 1.0) -> Any:
    """softplus (× forward_scale) as a custom_vjp whose backward is ``slope(x) · ḡ``."""

    @jax.custom_vjp
    def f(x: Any) -> Any:
        return forward_scale * jnp.logaddexp(x, 0.0)

    f.defvjp(lambda x: (f(x), x), lambda x, g: (slope(x) * g,))
    return f


RIGHT = softplus_kernel(jax.nn.sigmoid)


def _kinds(result: SpecResult) -> dict[tuple[str, str], str]:
    return {(c.wrt, c.kind): c.verdict for c in result.comparisons}


def _one(result: SpecResult, wrt: str, kind: str) -> Comparison:
    (found,) = [c for c in result.comparisons if (c.wrt, c.kind) == (wrt, kind)]
    return found


def test_a_right_float32_kernel_passes_both_fd_and_the_reference() -> None:
    result = check_function(RIGHT, X32, reference=plain_softplus)
    assert result.verdict == "pass"
    assert _kinds(result) == {
        ("x", "fwd"): "skipped",
        ("x", "rev"): "pass",
        ("-", "reference-value"): "pass",
        ("x", "reference-jvp"): "skipped",
        ("x", "reference-vjp"): "pass",
    }
    assert "verdicts: finite differences pass, reference pass" in result.notes
    (t,) = _one(result, "x", "reference-vjp").tolerances
    assert (t.tensor, t.dtype, t.baseline_dtype, t.baseline_scale) == ("x", "float32", "float32", 1)


def test_a_wrong_backward_with_a_right_forward_is_the_rule() -> None:
    wrong = softplus_kernel(lambda x: 1.1 * jax.nn.sigmoid(x))
    result = check_function(wrong, X32, reference=plain_softplus)
    assert _kinds(result)["-", "reference-value"] == "pass"
    assert _kinds(result)["x", "reference-vjp"] == "fail"
    assert "verdicts: finite differences fail, reference fail" in result.notes
    assert "x: reference-vjp: constant ratio: the kernel = 1.1 × the reference (a scale bug)" in (
        result.diagnoses
    )
    line = next(d for d in result.diagnoses if d.startswith("x: the value agrees"))
    assert line.startswith("x: the value agrees with the reference but the VJP does not (")
    assert line.endswith(
        "the plain float32 implementation, allowed 2×): the VJP rule (the backward kernel) is wrong"
    )


def test_a_wrong_forward_whose_backward_matches_it() -> None:
    # 2·softplus with the backward 2σ: right for its own forward, which is wrong.
    kernel = softplus_kernel(lambda x: 2 * jax.nn.sigmoid(x), forward_scale=2.0)
    result = check_function(kernel, X32, reference=plain_softplus)
    kinds = _kinds(result)
    assert (kinds["-", "reference-value"], kinds["x", "reference-vjp"]) == ("fail", "fail")
    assert (kinds["x", "self-vjp"], kinds["x", "rev"]) == ("pass", "pass")
    assert "verdicts: finite differences pass, reference fail" in result.notes
    assert result.diagnoses[-2:] == (
        "the kernel's value disagrees with the reference: the forward kernel is wrong",
        "x: its derivatives agree with those of the kernel's own forward: the backward is right "
        "for the forward it has; fix the forward",
    )


def test_a_wrong_forward_and_a_wrong_backward() -> None:
    kernel = softplus_kernel(jax.nn.sigmoid, forward_scale=2.0)  # the backward of the reference
    result = check_function(kernel, X32, reference=plain_softplus)
    assert _kinds(result)["x", "self-vjp"] == "fail"
    assert (
        "x: its derivatives disagree with those of the kernel's own forward too: the backward "
        "is wrong (or imprecise) as well"
    ) in result.diagnoses


def test_a_wrong_jvp_rule() -> None:
    @jax.custom_jvp
    def kernel(x: Any) -> Any:
        return jnp.logaddexp(x, 0.0)

    kernel.defjvp(lambda p, t: (kernel(p[0]), 0.5 * jax.nn.sigmoid(p[0]) * t[0]))
    result = check_function(kernel, X32, reference=plain_softplus, modes=("fwd",))
    assert _kinds(result)["x", "reference-jvp"] == "fail"
    assert any(
        d.startswith("x: the value agrees with the reference but the JVP does not (")
        and d.endswith("the JVP rule is wrong")
        for d in result.diagnoses
    )
    comp = _one(result, "x", "reference-jvp")
    assert comp.worst[0].input_index.startswith("x·v") and comp.worst[0].output_index.startswith(
        "out["
    )


def test_a_float64_kernel_gets_a_baseline_measured_in_float32() -> None:
    x64 = jnp.asarray(np.linspace(-2.0, 2.5, 6))
    result = check_function(RIGHT, x64, reference=plain_softplus)
    assert result.verdict == "pass"
    for c in result.comparisons:
        for t in c.tolerances:
            assert (t.dtype, t.baseline_dtype, t.baseline_scale) == ("float64", "float32", 2.0**-29)
            assert 0 < t.baseline_error < 1e-14


def test_a_bfloat16_kernel_is_judged_by_the_reference_alone() -> None:
    xb = X32.astype(jnp.bfloat16)
    result = check_function(RIGHT, xb, reference=plain_softplus)
    assert result.verdict == "pass" and result.method == "x: reference"
    assert not [c for c in result.comparisons if c.kind in ("fwd", "rev", "adjoint")]
    assert result.notes[0].startswith("x: FD not used: the kernel computes in bfloat16")
    for c in result.comparisons:
        for t in c.tolerances:
            assert (t.dtype, t.baseline_dtype) == ("bfloat16", "bfloat16")


def test_a_reference_that_cannot_run_in_float64_is_skipped_with_the_reason() -> None:
    def stubborn(x: Any) -> Any:  # float32 computed on the host: nothing can promote it
        def host(v: Any) -> np.ndarray:
            return np.log1p(np.exp(np.asarray(v, np.float32)))

        out = jax.ShapeDtypeStruct(x.shape, jnp.float32)
        return jax.pure_callback(host, out, x.astype(jnp.float32), vmap_method="sequential")

    result = check_function(RIGHT, X32, reference=stubborn)
    comp = _one(result, "-", "reference-value")
    assert comp.verdict == "skipped" and comp.reason is not None
    assert comp.reason.startswith("the reference does not run wholly in float64")


def _unordered(x: Any) -> Any:
    """Σ x over a permutation drawn afresh at every run (as atomic adds land on a GPU)."""

    def order(_: Any) -> np.ndarray:
        return np.random.default_rng().permutation(x.shape[0]).astype(np.int32)

    perm = jax.pure_callback(order, jax.ShapeDtypeStruct(x.shape, jnp.int32), 0)
    return jax.lax.fori_loop(0, x.shape[0], lambda i, acc: acc + x[perm[i]], jnp.zeros((), x.dtype))


def test_repeat_passes_a_deterministic_backward_and_fails_an_unordered_one() -> None:
    x = jnp.asarray(np.random.default_rng(0).standard_normal(64), jnp.float32)
    steady = check_function(lambda x: jnp.sum(x * x), x, repeat=4)
    assert [c.kind for c in steady.comparisons if c.kind == "repeat"] == ["repeat"]
    assert _one(steady, "x", "repeat").verdict == "pass"

    @jax.custom_vjp
    def racy(x: Any) -> Any:
        return jnp.sum(x) * jnp.sum(x)

    racy.defvjp(lambda x: (racy(x), x), lambda x, g: (2 * _unordered(x) * g * jnp.ones_like(x),))
    comp = _one(check_function(racy, x, repeat=8), "x", "repeat")
    assert comp.verdict == "fail" and comp.margin == math.inf
    assert (
        comp.reason is not None
        and " later runs differ bitwise from the first, at 64 of 64" in comp.reason
    )
    assert comp.diagnosis is not None and comp.diagnosis.startswith("nondeterministic: ")


def test_the_public_api_takes_a_reference() -> None:
    result = adcli.check(RIGHT, X32, reference=plain_softplus, factor=3)
    assert isinstance(result, SpecResult) and result.verdict == "pass"
    assert {t.factor for c in result.comparisons for t in c.tolerances} == {3.0}
    adcli.assert_grads(RIGHT, (X32,), reference=plain_softplus)
    wrong = softplus_kernel(lambda x: 1.1 * jax.nn.sigmoid(x))
    with pytest.raises(AssertionError, match=r"VJP vs the reference's VJP \(float64\)") as info:
        adcli.assert_grads(wrong, (X32,), modes=("rev",), reference=plain_softplus)
    text = str(info.value)
    assert "tensor       kernel error" in text and "set by" in text
    assert "FD error" in text  # the FD comparison of the float32 kernel is shown too


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"reference": 3}, r"reference must be a callable \(the plain implementation\), got 3"),
        ({"reference": plain_softplus, "factor": -1}, "factor must be a number >= 0, got -1"),
        ({"reference": plain_softplus, "factor": True}, "factor must be a number >= 0, got True"),
        ({"repeat": 0}, "repeat must be an int >= 1, got 0"),
        (
            {"reference": lambda x: x[:2]},
            r"the reference returns float32\[2\], but the function returns float32\[6\]: a "
            "reference takes the same arguments and returns the same shapes",
        ),
        ({"reference": lambda x, y: x}, r"the reference fails on the arguments: TypeError: "),
    ],
)
def test_usage_errors(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_function(RIGHT, X32, **keywords)


def test_a_spec_reference_with_other_shapes_is_a_spec_error(tmp_path: Path) -> None:
    from adcli._problem.build import build
    from adcli._spec.load import load_text

    text = "name: s\nfunction: {expr: 'x * 2'}\ninputs: {x: [3]}\nreference:\n  expr: 'sum(x)'\n"
    (spec,) = load_text(text, file="s.yaml")
    with pytest.raises(
        SpecError, match=r"the reference returns float64\[\], but the function returns float64\[3\]"
    ) as info:
        build(spec)
    assert (info.value.line, info.value.field) == (4, "reference")
