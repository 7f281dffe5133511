"""The JSON form of every report and result, in one place (docs/json.md and each command's
page document the keys, in the order given here).

``to_json_data`` gives plain strict-JSON data (NaN/inf become the strings ``nan``/``inf``/
``-inf``, typed kinds and statuses their strings); ``to_json_text`` the text every command
prints with ``--format json`` and writes with ``-o``. A result's fields appear in the order
its dataclass declares them, with the additions below (computed properties such as a
spec's ``margin``, and the documented keys of fields spelled differently today). Imports
neither jax nor rich.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from enum import Enum
from typing import Any

from adcli._results.check import CheckReport, SpecResult, TensorTolerance
from adcli._results.common import SCHEMA_VERSION
from adcli._results.curvature import (
    CURVATURE_SCHEMA_VERSION,
    CurvatureReport,
    CurvatureResult,
    Eigenvalue,
    TraceEstimate,
)
from adcli._results.estimate import EstimateReport, EstimateResult
from adcli._results.explain import ExplainReport, ExplainResult, GraphSummary, Row, Sweep, Value
from adcli._results.memory import MemoryReport, MemoryResult
from adcli._results.modes import CandidateResult, ModeResult

Data = dict[str, Any]


def to_json_text(obj: Any) -> str:
    """``obj`` (a report, a result or any part of one) as strict JSON text, indented by 2."""
    return json.dumps(to_json_data(obj), indent=2, ensure_ascii=False, allow_nan=False)


def to_json_data(obj: Any) -> Any:
    """A report, a result or any part of one as plain strict-JSON data.

    A report has its documented envelope (``schema_version``, ``exit_code``, ...); a lone
    result is its own object (an ExplainResult with its ``schema_version`` first).
    """
    match obj:
        case CheckReport():
            return {
                "schema_version": SCHEMA_VERSION,
                "verdict": obj.verdict,
                "exit_code": obj.exit_code,
                "seconds": _plain(obj.seconds),
                "errors": list(obj.errors),
                "specs": [_plain(r) for r in obj.results],
            }
        case MemoryReport():
            return _envelope(SCHEMA_VERSION, obj.exit_code, obj.seconds, specs=obj.results)
        case ExplainReport():
            return _envelope(
                SCHEMA_VERSION, obj.exit_code, obj.seconds, errors=obj.errors, specs=obj.results
            )
        case ExplainResult():
            return {"schema_version": SCHEMA_VERSION, **_plain(obj)}
        case CurvatureReport():
            return _envelope(
                CURVATURE_SCHEMA_VERSION,
                obj.exit_code,
                obj.seconds,
                specs=obj.results,
                skipped=obj.skipped,
            )
        case EstimateReport():
            data = _plain(obj)
            return {
                "schema_version": data.pop("schema_version"),
                **data,
                "exit_code": obj.exit_code,
            }
    return _plain(obj)


def _envelope(version: int, exit_code: int, seconds: float, **lists: Any) -> Data:
    data: Data = {"schema_version": version, "exit_code": exit_code, "seconds": _plain(seconds)}
    data.update({key: _plain(value) for key, value in lists.items()})
    return data


def _plain(value: Any) -> Any:
    """Dataclasses as objects (by field, then the additions of ``_EXTRA``), tuples as lists,
    NaN/inf as strings, enum members as their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        special = _SPECIAL.get(type(value))
        if special is not None:
            return special(value)
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        extra = _EXTRA.get(type(value))
        if extra is not None:
            extra(value, data)
        return data
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _with_dtype(result: ModeResult | EstimateResult | CurvatureResult, data: Data) -> None:
    """``dtype`` (the documented key: the one dtype of ``dtypes``) just before ``dtypes``."""
    items = list(data.items())
    at = next(i for i, (key, _) in enumerate(items) if key == "dtypes")
    items.insert(at, ("dtype", result.dtype))
    data.clear()
    data.update(items)


def _spec(r: SpecResult, data: Data) -> None:
    data["margin"] = _plain(r.margin)


def _tensor_tolerance(t: TensorTolerance, data: Data) -> None:
    data["ratio"] = _plain(t.ratio)


def _mode(r: ModeResult, data: Data) -> None:
    _with_dtype(r, data)
    if r.mesh is None:  # only a sharded spec's result has the key (docs/sharding.md)
        del data["mesh"]


def _memory(r: MemoryResult, data: Data) -> None:
    if r.mesh is None:  # only a sharded spec's result has the key (docs/sharding.md)
        del data["mesh"]


def _candidate(c: CandidateResult, data: Data) -> None:
    data["status"] = c.status_text  # the documented one-line text; ``detail`` is in it
    del data["detail"]


def _estimate(r: EstimateResult, data: Data) -> None:
    _with_dtype(r, data)
    data["exit_code"] = r.exit_code


def _curvature(r: CurvatureResult, data: Data) -> None:
    _with_dtype(r, data)
    data["trusted"] = r.trusted
    data["exit_code"] = r.exit_code


def _trace(t: TraceEstimate, data: Data) -> None:
    data.update(
        half_width=_plain(t.half_width), covers_exact=t.covers_exact, rel_error=_plain(t.rel_error)
    )


def _eigenvalue(e: Eigenvalue, data: Data) -> None:
    data["error"] = _plain(e.error)


def _summary(s: GraphSummary, data: Data) -> None:
    data["by_primitive"] = dict(s.by_primitive)
    data["collapsed"] = dict(s.collapsed)


# Properties a result's JSON adds to its fields (docs: each command's "JSON" section).
_EXTRA: dict[type, Callable[[Any, Data], None]] = {
    SpecResult: _spec,
    TensorTolerance: _tensor_tolerance,
    MemoryResult: _memory,
    CandidateResult: _candidate,
    ModeResult: _mode,
    EstimateResult: _estimate,
    CurvatureResult: _curvature,
    TraceEstimate: _trace,
    Eigenvalue: _eigenvalue,
    GraphSummary: _summary,
}


def _value(v: Value) -> Data:
    """A scalar as ``value``; an array by ``norm``, ``first`` (and ``entries`` when small)."""
    data: Data = {"shape": list(v.shape), "dtype": v.dtype}
    if v.scalar is not None:
        data["value"] = _plain(v.scalar)
    else:
        data["norm"] = _plain(v.norm)
        data["first"] = _plain(v.first)
        if v.entries is not None:
            data["entries"] = _plain(v.entries)
    return data


def _sweep(s: Sweep) -> Data:
    rows = [_plain(row) for row in s.rows]
    return {
        "direction": s.direction,
        "seed": s.seed,
        "max_error": _plain(s.max_error),
        "rows": rows,
    }


def _row(row: Row) -> Data:
    return {
        "node": row.node,
        "rule": row.rule,
        "value": None if row.value is None else _value(row.value),
        "rule_value": None if row.rule_value is None else _value(row.rule_value),
        "error": _plain(row.error),
        "partials": [{"of": o, "wrt": w, "value": _plain(v)} for o, w, v in row.partials],
    }


# Parts whose JSON is not their fields (explain's values and sweep tables).
_SPECIAL: dict[type, Callable[[Any], Data]] = {Value: _value, Sweep: _sweep, Row: _row}
