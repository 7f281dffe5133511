"""JSON report: the result objects as stable, documented JSON (docs/json.md)."""

from __future__ import annotations

import json

from adcli._results.check import CheckReport, to_dict


def render(report: CheckReport) -> str:
    """The report as strict JSON text (NaN and infinities appear as strings)."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False, allow_nan=False)
