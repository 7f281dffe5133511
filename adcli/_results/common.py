"""What every result shares: verdicts and their order, the schema version, strict-JSON values.

Imports neither jax nor rich."""

from __future__ import annotations

import math
from typing import Any, Literal

Verdict = Literal["pass", "fail", "inconclusive", "skipped", "error"]


SCHEMA_VERSION = 1


# Worst first: the verdict of a group is the worst verdict in it.
_SEVERITY = {"pass": 0, "skipped": 1, "inconclusive": 2, "fail": 3, "error": 4}


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The most severe verdict of several (pass < skipped < inconclusive < fail < error)."""
    if not verdicts:
        return "pass"
    return max(verdicts, key=_SEVERITY.__getitem__)


def clean(value: Any) -> Any:
    # JSON has no NaN/inf: render them as strings so the output stays strict JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
