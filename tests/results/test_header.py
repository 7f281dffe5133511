"""The per-spec results share one header: the same fields, spelled and typed the same."""

from __future__ import annotations

import dataclasses

import pytest

from adcli._results.check import SpecResult
from adcli._results.common import SpecHeader, common_dtype
from adcli._results.curvature import CurvatureResult
from adcli._results.estimate import EstimateResult
from adcli._results.explain import ExplainResult
from adcli._results.memory import MemoryResult
from adcli._results.modes import ModeResult

RESULTS = (SpecResult, ModeResult, MemoryResult, ExplainResult, EstimateResult, CurvatureResult)
TYPES = {k: v for k, v in SpecHeader.__annotations__.items() if not v.startswith("ClassVar")}


def test_header_names_its_fields_once() -> None:
    assert tuple(TYPES) == SpecHeader.HEADER
    assert SpecHeader.HEADER == (
        "name",
        "file",
        "line",
        "dims",
        "backend",
        "dtypes",
        "notes",
        "seconds",
    )


@pytest.mark.parametrize("result", RESULTS, ids=lambda t: t.__name__)
def test_every_result_has_the_header_fields_with_their_types(result: type) -> None:
    assert issubclass(result, SpecHeader)
    fields = {f.name: f.type for f in dataclasses.fields(result)}
    for name in SpecHeader.HEADER:
        assert fields.get(name) == TYPES[name], (result.__name__, name)


@pytest.mark.parametrize("result", RESULTS, ids=lambda t: t.__name__)
def test_no_result_spells_a_header_field_another_way(result: type) -> None:
    names = {f.name for f in dataclasses.fields(result)}
    assert not names & {"dtype", "path", "where", "elapsed", "time", "warnings_"}


def test_where_and_the_common_dtype() -> None:
    r = SpecResult(
        name="s", file="a.yaml", line=3, verdict="pass", seed=0, points=1, dims={},
        backend="cpu", dtypes={"x": "float32", "y": "float32"}, method="-",
    )  # fmt: skip
    assert r.where == "a.yaml:3"
    assert dataclasses.replace(r, file=None).where == ""
    assert dataclasses.replace(r, line=None).where == "a.yaml"
    assert common_dtype(r.dtypes) == "float32"
    assert common_dtype({"x": "float64", "y": "float32"}) == "float32, float64"
