"""Every reporter takes what the Python API returns: a report, or one spec's result.

``adcli.check(fn, x)`` and ``check_function`` return a SpecResult, ``choose_mode`` a
ModeResult, ``analyse_memory`` a MemoryResult, ``explain`` an ExplainResult, ``estimate`` an
EstimateResult, ``curvature`` a CurvatureResult: each renders in every format of its report,
exactly as the report of that one result does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adcli._report import github, junit, markdown
from adcli._report.console import plain_console, render_text
from adcli._report.formats import RENDERERS, render
from adcli._results.json import to_json_data
from adcli._results.reports import Result, as_report

ROOT = Path(__file__).resolve().parents[2]
FAST_ESTIMATE = {"time_budget": 0.01, "min_rounds": 1, "seeds": 2}


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    """One result of each engine's per-spec function, on small bundled specs."""
    import adcli
    from adcli._spec.load import apply_overrides, load_file

    def one(path: str, **dims: int) -> Any:
        (spec,) = load_file(ROOT / path)
        return apply_overrides(spec, dims=dims) if dims else spec

    return {
        "check": adcli.check_function(lambda x: (x * x).sum(), np.ones(3)),
        "choose_mode": adcli.choose_mode(one("specs/modes/linear_map.yaml", m=8), measure="none"),
        "memory": adcli.analyse_memory(one("specs/memory/mlp.yaml"), policies=False),
        "explain": adcli.explain(ROOT / "specs" / "lecture_L.yaml"),
        "estimate": adcli.estimate(
            ROOT / "specs/estimate/rosenbrock.yaml", dims={"n": 4}, **FAST_ESTIMATE
        ),
        "curvature": adcli.curvature(
            ROOT / "specs" / "quadratic.yaml", trace=True, hvps=8, measure="none"
        ),
    }


def _text(obj: Any, fmt: str, **options: Any) -> str:
    console, buffer = plain_console()
    text = render(obj, fmt, console, **options)  # type: ignore[arg-type]
    return buffer.getvalue() if text is None else text


@pytest.mark.parametrize(
    "engine", ["check", "choose_mode", "memory", "explain", "estimate", "curvature"]
)
def test_a_result_renders_in_every_format_like_its_one_spec_report(
    engine: str, results: dict[str, Result]
) -> None:
    result = results[engine]
    report = as_report(result)
    assert report.results == (result,)  # type: ignore[union-attr]
    for fmt in RENDERERS[type(report)]:
        if fmt == "json":  # a lone result is its own object; the report wraps it
            continue
        text = _text(result, fmt)
        assert result.name in text, fmt
        if fmt != "text":  # text reports end with the run's own seconds
            assert text == _text(report, fmt), fmt


def test_check_functions_result_renders_in_every_check_reporter(results: dict[str, Any]) -> None:
    result = results["check"]
    assert result.verdict == "pass"
    assert "1 passed" in render_text(result)  # docs/ci.md: render_text of adcli.check(fn, x)
    assert "| <lambda> | ✅ pass |" in markdown.render(result)
    assert github.render(result) == render_text(result)  # passed: no annotation, the text
    assert 'tests="' in junit.render(result)


def test_a_lone_result_has_its_own_json_object(results: dict[str, Any]) -> None:
    check = to_json_data(results["check"])
    assert check["verdict"] == "pass" and "margin" in check and "specs" not in check
    explain = to_json_data(results["explain"])
    assert next(iter(explain)) == "schema_version" and explain["name"] == "lecture_L"
    estimate = to_json_data(results["estimate"])
    assert estimate["exit_code"] == 0 and estimate["dtypes"] == {"x": estimate["dtype"]}
    curvature = to_json_data(results["curvature"])
    assert curvature["trusted"] is True and curvature["dtypes"] == {"x": "float64"}


def test_as_report_refuses_what_is_not_a_result() -> None:
    with pytest.raises(TypeError, match="not an adcli result or report: dict"):
        as_report({})  # type: ignore[call-overload]
