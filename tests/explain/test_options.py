"""ExplainOptions and the keywords of adcli.explain that build it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from adcli._errors import UsageError
from adcli._explain.engine import explain
from adcli._explain.options import ExplainOptions


def test_the_public_keywords_hold_the_options() -> None:
    parameters = {p.name: p for p in inspect.signature(explain).parameters.values()}
    for f in dataclasses.fields(ExplainOptions):
        assert parameters[f.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[f.name].default == f.default


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"direction": "up"}, "--direction up: expected one of first, ones, random"),
        ({"cotangent": "down"}, "--cotangent down: expected one of first, ones, random"),
        ({"point": -1}, "--point: expected a sample point ≥ 0, got -1"),
        ({"point": True}, "--point: expected a sample point ≥ 0, got True"),
        ({"max_nodes": 0}, "--max-nodes must be at least 1"),
    ],
)
def test_a_bad_option_is_refused_on_construction(option: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ExplainOptions(**option)
