"""Terminal report of a ModeReport: a table of candidates, the recommendation and why."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from adcli._results.modes import (
    CandidateResult,
    CandidateStatus,
    ModeReport,
    ModeResult,
    SweepResult,
)
from adcli._results.reports import as_report
from adcli._units import format_size

# The colour of a candidate's name and status (the recommended one is bold green).
_STATUS_STYLE = {
    CandidateStatus.ERROR: "red",
    CandidateStatus.DISAGREES: "red",
    CandidateStatus.SKIPPED: "yellow",
}


def plain_table(columns: Iterable[tuple[str, JustifyMethod]]) -> Table:
    """A borderless table with bold headers and these (header, justify) columns."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for header, justify in columns:
        table.add_column(header, justify=justify)
    return table


def seconds(x: float | None) -> str:
    """1.23 s, 4.5 ms, 67 µs."""
    if x is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x * 1e9:.3g} ns"


def flops(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 1e4 else f"{x:.2e}"


def render(report: ModeReport | ModeResult | SweepResult, console: Console) -> None:
    """Print each spec's table (or each sweep's), then any errors."""
    report = as_report(report)
    for message in report.errors:
        console.print(Text("ERROR ", style="bold red") + Text(message))
    for result in report.results:
        render_result(result, console)
    for sweep in report.sweeps:
        render_sweep(sweep, console)
    for message in report.skipped:
        console.print(Text("skipped ", style="yellow") + Text(message))


def render_result(result: ModeResult, console: Console) -> None:
    where = f"{result.file}:{result.line}" if result.file else "<spec>"
    dims = " ".join(f"{k}={v}" for k, v in result.dims.items())
    console.print(
        f"[bold]{escape(result.name)}[/bold]  [dim]{escape(where)}  {escape(dims)}[/dim]\n"
        f"[dim]{result.target} of Rⁿ → Rᵐ with n = {result.n}, m = {result.m} · backend "
        f"{result.backend} · {result.dtype} · memory budget "
        f"{format_size(result.memory_budget_bytes)}[/dim]"
    )
    if result.cut is not None:
        cut = result.cut
        shape = "×".join(str(d) for d in cut.shape) or "scalar"
        console.print(
            f"[dim]narrow intermediate: {cut.dtype}[{shape}] ({cut.size} entries, "
            f"{escape(cut.primitive)}) at {escape(cut.source or 'an unknown line')}[/dim]"
        )
    table = plain_table(
        (
            ("candidate", "left"),
            ("passes", "left"),
            ("pred. FLOPs", "right"),
            ("compile", "right"),
            ("run (median)", "right"),
            ("spread", "right"),
            ("memory", "right"),
            ("status", "left"),
        )
    )
    for c in result.candidates:
        table.add_row(*_row(c, result))
    console.print(table)
    if result.recommendation is not None:
        console.print(
            Text("→ ", style="bold")
            + Text(result.recommendation, style="bold green")
            + Text(f"  {result.reason.removeprefix(result.recommendation + ': ')}")
        )
        if result.tied:
            console.print(f"[yellow]tie within the timing noise: {', '.join(result.tied)}[/yellow]")
    else:
        console.print(Text(f"no recommendation: {result.reason}", style="bold red"))
    for message in result.errors:
        console.print(Text("ERROR ", style="bold red") + Text(message))
    console.print(f"[dim]timing: {result.timing_method} · {result.seconds:.1f}s in all[/dim]\n")


def _row(c: CandidateResult, result: ModeResult) -> list[Text | str]:
    style = "bold green" if c.name == result.recommendation else _STATUS_STYLE.get(c.status, "")
    status = f"timed, {len(c.samples)} rounds" if c.timed else c.status_text
    spread = f"±{c.spread * 50:.0f}%" if c.spread is not None else "-"
    return [
        Text(c.name, style=style),
        c.passes,
        flops(c.predicted_flops),
        seconds(c.compile_seconds),
        seconds(c.median_seconds),
        spread,
        format_size(c.memory_bytes),
        Text(status, style=style if style != "bold green" else ""),
    ]


def render_sweep(sweep: SweepResult, console: Console) -> None:
    first = sweep.results[0] if sweep.results else None
    backend = f"backend {first.backend} · {first.dtype}" if first else ""
    console.print(
        f"[bold]{escape(sweep.name)}[/bold]  [dim]sweep over {sweep.dim} · {backend}[/dim]"
    )
    names = [c.name for c in first.candidates] if first else []
    right: list[tuple[str, JustifyMethod]] = [
        (header, "right") for header in (sweep.dim, "n", "m", *names, sweep.ratio_of)
    ]
    table = plain_table([*right, ("recommended", "left"), ("", "left")])
    for p in sweep.points:
        table.add_row(
            str(p.value),
            str(p.n),
            str(p.m),
            *[seconds(p.times.get(name)) for name in names],
            f"{p.ratio:.3g}" if p.ratio else "-",
            p.recommendation or "-",
            Text("◀ crossover", style="bold yellow") if p.crossover else "",
        )
    console.print(table)
    fast = sweep.ratio_of.partition("/")[2]
    console.print(
        f"[dim]{sweep.ratio_of} > 1: {fast} is faster. "
        f"crossover: {escape(sweep.crossover or 'none in this range')}[/dim]"
    )
    for result in sweep.results:
        for message in result.errors:
            console.print(
                Text(f"ERROR {sweep.dim}={result.dims.get(sweep.dim)}: ", style="bold red")
                + Text(message)
            )
    console.print()
