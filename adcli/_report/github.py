"""GitHub Actions workflow commands: an ``::error`` annotation per failing spec × check kind.

Each points at the spec file and the line of the failing spec, so the pull request shows the
failure on that line. Inconclusive checks are ``::warning`` s. Escaping follows the
workflow-command rules (actions/toolkit ``command.ts``): in the message ``%``, CR and LF are
percent-encoded; in properties ``:`` and ``,`` are too.
"""

from __future__ import annotations

from adcli._report._groups import all_cases, located
from adcli._report.console import render_text, short, spec_text
from adcli._results.check import CheckReport, SpecResult
from adcli._results.reports import as_report


def escape_data(text: str) -> str:
    """Escape an annotation message.

    >>> escape_data("50% off\\nnext")
    '50%25 off%0Anext'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (file, title).

    >>> escape_property("a:b,c")
    'a%3Ab%2Cc'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, *, file: str | None, line: int | None, title: str) -> str:
    """One workflow command line, e.g. ``::error file=s.yaml,line=3,title=...::message``."""
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={line}")
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message.rstrip())}"


def workflow_commands(report: CheckReport | SpecResult) -> list[str]:
    """The workflow commands for everything that did not pass."""
    report = as_report(report)
    lines = []
    for message in report.errors:
        file, line, rest = located(message)
        lines.append(command("error", rest, file=file, line=line, title="adcli: invalid spec"))
    for case in all_cases(report):
        r = case.result
        if case.verdict == "error":
            title = f"adcli: {r.name} could not be checked"
            lines.append(
                command("error", spec_text(case.only), file=r.file, line=r.line, title=title)
            )
        elif case.verdict in ("fail", "inconclusive"):
            level = "error" if case.verdict == "fail" else "warning"
            what = case.what
            title = f"adcli: {r.name}: {what} {case.verdict} (margin {short(case.only.margin)})"
            lines.append(
                command(level, spec_text(case.only), file=r.file, line=r.line, title=title)
            )
    return lines


def render(report: CheckReport | SpecResult) -> str:
    """Annotations first, then the plain text report for the log."""
    text = "\n".join(workflow_commands(report))
    return (text + "\n" if text else "") + render_text(report)
