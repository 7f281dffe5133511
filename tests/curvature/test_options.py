"""CurvatureOptions: the one place curvature's options are validated, and the keywords of
adcli.curvature that build it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from adcli._curvature.engine import curvature
from adcli._curvature.options import CurvatureOptions
from adcli._errors import UsageError


def test_the_public_keywords_are_the_options() -> None:
    keywords = [
        p.name
        for p in inspect.signature(curvature).parameters.values()
        # progress reports; wrt picks the arguments of a function: neither is an option
        if p.kind is p.KEYWORD_ONLY and p.name not in ("progress", "wrt")
    ]
    fields = dataclasses.fields(CurvatureOptions)
    assert keywords == [f.name for f in fields]
    defaults = {p.name: p.default for p in inspect.signature(curvature).parameters.values()}
    assert all(defaults[f.name] == f.default for f in fields)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"eigs": -1}, "--eigs: expected k ≥ 0, got -1"),
        (
            {"probes": "normal"},
            "--probes: expected one of rademacher, gaussian, both, got 'normal'",
        ),
        ({"hvps": 1}, "--hvps: a trace interval needs at least 2 HVPs, got 1"),
        ({"rtol": 0.0}, "--rtol: expected a positive number, got 0.0"),
        ({"confidence": 1.0}, r"--confidence: expected a level in \(0, 1\)"),
        ({"exact": "sometimes"}, "--exact: expected one of auto, always, never"),
        ({"check_directions": 0}, "--check-directions: expected ≥ 1, got 0"),
        ({"measure": "often"}, "--measure: expected one of close, all, none, got 'often'"),
        ({"point": -1}, "--point: expected ≥ 0, got -1"),
        ({"memory_budget": 0}, "--memory-budget: expected a positive size in bytes, got 0"),
        ({"lanczos_steps": 0}, "--lanczos-steps: expected ≥ 1, got 0"),
        ({"eig_tol": -1.0}, "--eig-tol: expected a positive number, got -1.0"),
    ],
)
def test_a_bad_option_is_refused_on_construction(option: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CurvatureOptions(**option)


def test_the_trace_budget_defaults_and_caps() -> None:
    assert CurvatureOptions().trace_hvps == 100
    assert CurvatureOptions(rtol=0.01).trace_hvps == 1000  # a cap when stopping by rtol
    assert CurvatureOptions(hvps=7, rtol=0.01).trace_hvps == 7
