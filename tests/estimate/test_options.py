"""EstimateOptions and the keywords of adcli.estimate_function that build it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from adcli._errors import UsageError
from adcli._estimate.engine import estimate_function
from adcli._estimate.options import EstimateOptions
from adcli._estimate.sweep import run_estimate


def test_the_public_keywords_are_the_options() -> None:
    parameters = inspect.signature(estimate_function).parameters.values()
    keywords = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
    assert keywords == ["name", *(f.name for f in dataclasses.fields(EstimateOptions)), "progress"]
    defaults = {p.name: p.default for p in parameters}
    assert all(defaults[f.name] == f.default for f in dataclasses.fields(EstimateOptions))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"k": 0}, "--k: expected a positive number of directions, got 0"),
        ({"k": 2.5}, "--k: expected a positive number of directions, got 2.5"),
        ({"directions": "uniform"}, "--directions: expected one of sphere, gaussian"),
        ({"seeds": 0}, "--seeds: expected a positive number of seeds, got 0"),
    ],
)
def test_a_bad_option_is_refused_once_for_all_specs(option: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        EstimateOptions(**option)
    with pytest.raises(UsageError, match=message):  # before any spec is loaded
        run_estimate("no/such/spec.yaml", **option)


def test_k_none_means_d() -> None:
    assert EstimateOptions().k is None
