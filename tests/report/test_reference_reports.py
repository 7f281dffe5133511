"""Reports of comparisons with a reference implementation: the kernel and reference columns,
the tolerance breakdown, and the same text in JUnit, GitHub annotations and Markdown."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from adcli._report import github, junit, markdown
from adcli._report.console import render_text, spec_text
from adcli._results.check import (
    CheckKind,
    CheckReport,
    Comparison,
    Mismatch,
    SpecResult,
    TensorTolerance,
)
from adcli._results.json import to_json_data

TOLERANCE = TensorTolerance(
    tensor="q",
    dtype="bfloat16",
    kernel_error=0.0864,
    baseline_error=0.0105,
    factor=2.0,
    floor=0.0099,
    tolerance=0.0309,
    set_by="baseline",
    baseline_dtype="bfloat16",
)
VJP = Comparison(
    point=0,
    wrt="q",
    kind=CheckKind.REFERENCE_VJP,
    method="directions",
    verdict="fail",
    margin=2.8,
    compared=96,
    failed=3,
    max_abs_error=0.0864,
    worst=(Mismatch("q[0, 0, 1, 8]", "⟨u2, ·⟩", -2.4375, -2.5239, None, None, 0.0309, 2.8),),
    reason="q: error 0.0864, 8.2× the error of the plain bfloat16 implementation",
    diagnosis="precision: several times the error of the plain bfloat16 implementation",
    tolerances=(TOLERANCE,),
)
REPEAT = Comparison(
    point=0,
    wrt="q",
    kind=CheckKind.REPEAT,
    method="directions",
    verdict="fail",
    margin=math.inf,
    compared=24,
    failed=2,
    worst=(Mismatch("q[3]", "run 2 of 3", 1.0000001, 1.0, None, None, 0.0, math.inf),),
    reason="2 of 2 later runs differ bitwise from the first",
)
RESULT = SpecResult(
    name="attention",
    file="kernels.yaml",
    line=3,
    verdict="fail",
    seed=0,
    points=1,
    dims={},
    backend="cpu",
    dtypes={"q": "bfloat16"},
    method="q: reference",
    comparisons=(VJP, REPEAT),
    notes=("q: FD not used: the kernel computes in bfloat16",),
    diagnoses=("q: the value agrees with the reference but the VJP does not",),
)


def test_console_shows_kernel_and_reference_columns_and_the_breakdown() -> None:
    text = spec_text(RESULT)
    lines = [line.strip() for line in text.splitlines()]
    assert (
        "q · VJP vs the reference's VJP (float64) · point 0 · directions · 3/96 outside "
        "tolerance · FAIL" in lines
    )
    header = next(line for line in lines if line.startswith("input"))
    assert header.split() == ["input", "output", "kernel", "reference", "tolerance", "margin"]
    breakdown = next(line for line in lines if line.startswith("tensor"))
    assert breakdown.split()[:9] == [
        "tensor", "kernel", "error", "baseline", "error", "factor", "floor", "tolerance", "set",
    ]  # fmt: skip
    row = next(line for line in lines if line.startswith("q (bfloat16)"))
    assert row.split()[2:7] == ["0.0864", "0.0105", "2×", "0.0099", "0.0309"]
    assert row.endswith("baseline  8.2× the error of the plain bfloat16 implementation")
    assert (
        "pattern: precision: several times the error of the plain bfloat16 implementation" in lines
    )
    repeat_header = [line for line in lines if line.startswith("input")][1]
    assert repeat_header.split() == [
        "input",
        "output",
        "later",
        "run",
        "first",
        "run",
        "tolerance",
        "margin",
    ]
    assert "FD error" not in text


def test_ci_formats_carry_the_same_report() -> None:
    report = CheckReport(results=(RESULT,), seconds=1.0)
    root = ET.fromstring(junit.render(report))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"attention [reference-vjp]", "attention [repeat]"}
    failure = cases["attention [reference-vjp]"].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "attention: VJP vs the reference's VJP (float64): fail (margin 2.8)"
    )
    assert "q (bfloat16)" in (failure.text or "")
    titles = [line.split("title=")[1].split("::")[0] for line in github.workflow_commands(report)]
    assert titles == [
        "adcli%3A attention%3A VJP vs the reference's VJP (float64) fail (margin 2.8)",
        "adcli%3A attention%3A repeated VJP%2C bitwise fail (margin inf)",
    ]
    summary = markdown.render(report)
    assert "| attention | ❌ fail | inf |" in summary and "q (bfloat16)" in summary
    assert "set by" in render_text(report)


def test_json_of_a_tolerance_breakdown() -> None:
    data = to_json_data(VJP)
    assert data["tolerances"] == [
        {
            "tensor": "q",
            "dtype": "bfloat16",
            "kernel_error": 0.0864,
            "baseline_error": 0.0105,
            "factor": 2.0,
            "floor": 0.0099,
            "tolerance": 0.0309,
            "set_by": "baseline",
            "baseline_dtype": "bfloat16",
            "baseline_scale": 1.0,
            "ratio": 0.0864 / 0.0105,
        }
    ]
    assert to_json_data(REPEAT)["tolerances"] == []


def test_accuracy_in_words() -> None:
    def words(kernel: float, baseline: float) -> str:
        return TensorTolerance(
            "out", "float32", kernel, baseline, 2.0, 0.0, 1.0, "baseline", "float32"
        ).accuracy

    assert words(0.5, 1.0) == "more accurate than the plain float32 implementation (0.5× its error)"
    assert words(3.0, 1.0) == "3× the error of the plain float32 implementation"
    assert words(1e-9, 0.0) == "the plain float32 implementation is exact here"
    assert words(0.0, 0.0) == "exact, as is the plain float32 implementation"
