"""One table: which ``--format`` each report has, and the function that renders it.

Every command prints its report through ``render``; its ``--format`` choices are the keys of
its row (``formats``). Renderers load on first use, so neither this table nor the CLI that
reads it imports rich (or a reporter) before a report is printed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from adcli._results.check import CheckReport
from adcli._results.curvature import CurvatureReport
from adcli._results.estimate import EstimateReport
from adcli._results.explain import ExplainReport
from adcli._results.memory import MemoryReport
from adcli._results.modes import ModeReport
from adcli._results.reports import Report, Result, as_report

if TYPE_CHECKING:
    from rich.console import Console

Format = Literal["text", "json", "github", "markdown", "dot"]


@dataclass(frozen=True)
class Renderer:
    """``module:function`` that renders a report: on a rich Console (``console``), or into
    the text printed as it is (plus a final newline when ``newline``)."""

    target: str
    console: bool = False
    newline: bool = False

    def load(self) -> Callable[..., Any]:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


JSON = Renderer("adcli._results.json:to_json_text", newline=True)


def _console(module: str) -> Renderer:
    """``render`` of ``adcli._report.<module>``, drawn on a rich Console."""
    return Renderer(f"adcli._report.{module}:render", console=True)


# Per report type, its formats in the order --format lists them ("text" first: the default).
RENDERERS: dict[type, dict[Format, Renderer]] = {
    CheckReport: {
        "text": _console("console"),
        "json": JSON,
        "github": Renderer("adcli._report.github:render"),
        "markdown": Renderer("adcli._report.markdown:render"),
    },
    ModeReport: {"text": _console("mode_console"), "json": JSON},
    MemoryReport: {"text": _console("memory_console"), "json": JSON},
    ExplainReport: {
        "text": _console("explain_console"),
        "json": JSON,
        "markdown": Renderer("adcli._report.explain_markdown:render_markdown", newline=True),
        "dot": Renderer("adcli._report.explain_dot:render_dot"),
    },
    EstimateReport: {"text": _console("estimate_console"), "json": JSON},
    CurvatureReport: {"text": _console("curvature_console"), "json": JSON},
}


def formats(report_type: type) -> tuple[Format, ...]:
    """The formats a report type renders in, ``text`` first."""
    return tuple(RENDERERS[report_type])


def render(report: Report | Result, fmt: Format, console: Console, **options: Any) -> str | None:
    """Print ``report`` (or one result) on ``console`` in ``fmt``, or return the text that
    ``fmt`` prints as it is (JSON, Markdown, DOT, annotations). ``options`` go to the
    console renderers (``verbose`` for check, ``top`` for memory).

    Raises:
        KeyError: the report has no such format.
    """
    full = as_report(report)
    renderer = RENDERERS[type(full)][fmt]
    function = renderer.load()
    if renderer.console:
        function(full, console, **options)
        return None
    text: str = function(full)
    return text + "\n" if renderer.newline else text
