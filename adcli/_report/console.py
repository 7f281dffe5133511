"""Terminal report of a CheckReport (or of one SpecResult): a line per spec, the detail of
what failed and why."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from adcli._results.check import (
    CheckKind,
    CheckReport,
    Comparison,
    SpecResult,
    TensorTolerance,
)
from adcli._results.reports import as_report

_STYLE = {
    "pass": ("PASS", "bold green"),
    "fail": ("FAIL", "bold red"),
    "inconclusive": ("INCONCLUSIVE", "bold yellow"),
    "skipped": ("SKIPPED", "yellow"),
    "error": ("ERROR", "bold red"),
}


def num(x: float | None) -> str:
    if x is None:
        return "-"
    if x != x:  # NaN
        return "nan"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.6g}"
    return f"{x:.3e}"


def short(x: float) -> str:
    return f"{x:.2g}" if x == x else "-"


def render(report: CheckReport | SpecResult, console: Console, *, verbose: bool = False) -> None:
    """Print the report (or one spec's result, as ``check_function`` returns it): one line
    per spec; details of failures (of everything with -v)."""
    report = as_report(report)
    for message in report.errors:
        console.print(Text("ERROR ", style="bold red") + Text(message))
    backend = next((r.backend for r in report.results if r.backend != "-"), "-")
    if report.results:
        console.print(
            f"[dim]margin = |AD − reference| ÷ tolerance (≤ 1 passes) · backend {backend}[/dim]"
        )
    width = max((len(r.name) for r in report.results), default=0)
    for result in report.results:
        _spec_line(result, console, width, verbose=verbose)
        if result.error:
            console.print(Text("    " + result.error, style="red"))
            continue
        if verbose or result.verdict in ("fail", "inconclusive"):
            _details(result, console, verbose=verbose)
        elif result.verdict == "skipped" and not result.comparisons:  # why it was not run
            for note in result.notes:
                console.print(Text("    " + note, style="yellow"))
    _summary(report, console)
    if verbose and report.results:
        console.print(Text("XLA " + _compiles(report.results), style="dim"))


def _compiles(results: tuple[SpecResult, ...]) -> str:
    """``12 compiles (3 cached) 1.4s`` over ``results`` (cached: read from the persistent
    compilation cache)."""
    count = sum(r.compiles for r in results)
    cached = sum(r.compiles_cached for r in results)
    seconds = sum(r.compile_seconds for r in results)
    from_cache = f" ({cached} cached)" if cached else ""
    return f"{count} compile{'s' if count != 1 else ''}{from_cache} {seconds:.1f}s"


def _spec_line(result: SpecResult, console: Console, width: int, *, verbose: bool) -> None:
    label, style = _STYLE[result.verdict]
    where = f"{result.file}:{result.line}" if result.file else ""
    line = Text()
    line.append(f"{label:<13}", style=style)
    line.append(f"{result.name:<{width}}", style="bold")
    line.append(f"  {where}", style="dim")
    if result.verdict != "error" and (result.comparisons or result.verdict != "skipped"):
        line.append(f"  margin {short(result.margin)}")
        line.append(
            f"  {result.method}  {', '.join(sorted(set(result.dtypes.values())))}", style="dim"
        )
        line.append(
            f"  seed {result.seed} · {result.points} pt · {result.seconds:.1f}s", style="dim"
        )
        if verbose:
            line.append(f" · XLA {_compiles((result,))}", style="dim")
    console.print(line)


def _details(result: SpecResult, console: Console, *, verbose: bool) -> None:
    shown = [c for c in result.comparisons if verbose or c.verdict in ("fail", "inconclusive")]
    if verbose:
        console.print(Padding(_overview(result), (0, 0, 0, 4), expand=False))
    seen: set[tuple[str, str]] = set()
    for comp in shown:
        if comp.verdict not in ("fail", "inconclusive"):
            continue
        # One table per input and kind: later points repeat the same story.
        key = (comp.wrt, comp.kind)
        if key in seen and not verbose:
            continue
        seen.add(key)
        _comparison(comp, console)
    others = [c for c in result.comparisons if c.verdict in ("fail", "inconclusive")]
    if len(others) > len(seen) and not verbose:
        more = len(others) - len(seen)
        console.print(
            f"    [dim]… {more} more {'comparison' if more == 1 else 'comparisons'} that failed "
            "or could not decide, for other points (-v shows all)[/dim]"
        )
    for note in result.notes:
        console.print(Text("    note: " + note, style="cyan"))
    for line in result.diagnoses:
        console.print(Text("    → " + line, style="bold magenta"))


def _comparison(comp: Comparison, console: Console) -> None:
    label, style = _STYLE[comp.verdict]
    head = Text("    ")
    head.append(f"{comp.wrt}", style="bold")
    head.append(f" · {comp.kind.text} · point {comp.point} · {comp.method}")
    if comp.compared:  # a non-finite value fails before any element is compared
        what = "undecided" if comp.verdict == "inconclusive" else "outside tolerance"
        head.append(f" · {comp.failed}/{comp.compared} {what}", style="dim")
    head.append(" · ", style="dim")
    head.append(label, style=style)
    console.print(head)
    if comp.reason:
        console.print(Text("      " + comp.reason))
    if comp.worst:
        console.print(Padding(_worst(comp), (0, 0, 0, 6), expand=False))
    if comp.tolerances:
        console.print(Padding(_tolerances(comp.tolerances), (0, 0, 0, 6), expand=False))
    if comp.diagnosis:
        console.print(Text("      pattern: " + comp.diagnosis, style="magenta"))


_VALUES = {
    CheckKind.REFERENCE_VALUE: ("kernel", "reference"),
    CheckKind.REFERENCE_JVP: ("kernel", "reference"),
    CheckKind.REFERENCE_VJP: ("kernel", "reference"),
    CheckKind.SELF_JVP: ("kernel", "own forward"),
    CheckKind.SELF_VJP: ("kernel", "own forward"),
    CheckKind.REPEAT: ("later run", "first run"),
}


def _worst(comp: Comparison) -> Table:
    """The worst elements; a comparison with a reference implementation has no FD columns."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False)
    parity = comp.kind.startswith("parity:")  # sharded against one device (--parity)
    fd = not (comp.kind.is_reference or parity)
    values = _VALUES.get(comp.kind, ("formula" if comp.kind.is_expect else "AD", "reference"))
    if parity:
        values = comp.kind.labels
    tolerance = "allowance" if parity else "tolerance"
    columns = ("input", "output", *values, *(("step", "FD error") if fd else ()), tolerance)
    for i, column in enumerate((*columns, "margin")):
        table.add_column(
            column, justify="left" if i < 2 else "right", style="dim" if i >= 4 else None
        )
    for m in comp.worst:
        steps = (num(m.step), num(m.fd_error)) if fd else ()
        table.add_row(
            escape(m.input_index),
            escape(m.output_index),
            num(m.ad),
            num(m.reference),
            *steps,
            num(m.tolerance),
            short(m.margin),
        )
    return table


def _tolerances(tolerances: tuple[TensorTolerance, ...]) -> Table:
    """How each tensor's tolerance was set: factor × the plain implementation's error + floor."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False)
    columns = ("tensor", "kernel error", "baseline error", "factor", "floor", "tolerance", "set by")
    for i, column in enumerate((*columns, "vs the plain implementation")):
        table.add_column(column, justify="left" if i in (0, 6, 7) else "right")
    for t in tolerances:
        table.add_row(
            escape(f"{t.tensor} ({t.dtype})"),
            num(t.kernel_error),
            num(t.baseline_error),
            f"{t.factor:g}×",
            num(t.floor),
            num(t.tolerance),
            t.set_by,
            escape(t.accuracy),
        )
    return table


def _overview(result: SpecResult) -> Table:
    table = Table(box=None, padding=(0, 1), title=None, show_edge=False)
    for column in (
        "pt",
        "input",
        "check",
        "method",
        "verdict",
        "margin",
        "compared",
        "max rel err",
    ):
        table.add_column(column)
    table.add_column("note", overflow="ellipsis", no_wrap=True, max_width=60)
    for c in result.comparisons:
        label, style = _STYLE[c.verdict]
        table.add_row(
            str(c.point),
            escape(c.wrt),
            c.kind,
            c.method,
            Text(label, style=style),
            short(c.margin),
            str(c.compared),
            short(c.max_rel_error),
            escape(c.reason or "") if c.verdict == "skipped" else "",
        )
    return table


def _summary(report: CheckReport, console: Console) -> None:
    counts = {v: 0 for v in ("pass", "fail", "inconclusive", "skipped", "error")}
    for r in report.results:
        counts[r.verdict] += 1
    counts["error"] += len(report.errors)
    parts = [f"{counts['pass']} passed", f"{counts['fail']} failed"]
    if counts["inconclusive"]:
        parts.append(f"{counts['inconclusive']} inconclusive")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    if counts["error"]:
        parts.append(f"{counts['error']} error{'s' if counts['error'] > 1 else ''}")
    style = "bold green" if report.exit_code == 0 else "bold red"
    console.print(Text(", ".join(parts) + f" in {report.seconds:.1f}s", style=style))


def plain_console(width: int = 160) -> tuple[Console, io.StringIO]:
    """A colourless Console writing into a string buffer (for reports inside other formats)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        no_color=True,
        color_system=None,
        highlight=False,
        width=width,
        force_terminal=False,
        soft_wrap=True,  # a long line stays one line
    )
    return console, buffer


def render_text(
    report: CheckReport | SpecResult, *, verbose: bool = False, width: int = 160
) -> str:
    """The terminal report (of a CheckReport or one SpecResult) as plain text, no colours."""
    console, buffer = plain_console(width)
    render(report, console, verbose=verbose)
    return buffer.getvalue()


def spec_text(result: SpecResult, *, width: int = 160) -> str:
    """The compact report of one spec (its line, and what failed and why), as plain text.

    This is the text of a failing pytest item, a JUnit failure and a GitHub annotation.
    """
    console, buffer = plain_console(width)
    width_name = len(result.name)
    _spec_line(result, console, width_name, verbose=False)
    if result.error:
        console.print(Text("    " + result.error))
    elif result.verdict in ("fail", "inconclusive"):
        _details(result, console, verbose=False)
    return buffer.getvalue().rstrip() + "\n"
