"""Terminal report of a MemoryReport: residuals, compiled programs, policies, schedules,
the recommendation and the CI guard. Renders only; adcli._memory.engine computes."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from adcli._results.memory import MemoryReport, MemoryResult
from adcli._results.reports import as_report
from adcli._units import format_size


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1f}%" if abs(x) >= 0.05 else "0%"


def _flops(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def render(report: MemoryReport | MemoryResult, console: Console, *, top: int = 10) -> None:
    """Print each spec's memory figures; the guard verdict last."""
    report = as_report(report)
    for result in report.results:
        _spec(result, console, top)
    console.print(f"[dim]{len(report.results)} spec(s) in {report.seconds:.1f} s[/dim]")


def _spec(r: MemoryResult, console: Console, top: int) -> None:
    where = f"{r.file}:{r.line}" if r.file else ""
    dims = " ".join(f"{k}={v}" for k, v in r.dims.items())
    dtypes = ", ".join(sorted(set(",".join(r.dtypes.values()).split(","))))
    console.rule(Text(r.name, style="bold"), align="left")
    parts = [p for p in (where, dims, dtypes, f"backend {r.backend}") if p]
    console.print(Text("  ·  ".join(parts), style="dim"))
    if r.mesh is not None:
        _mesh(r, console)
    _residuals(r, console, top)
    _replicated(r, console, top)
    _compiled(r, console)
    if r.policies:
        _policies(r, console)
    if r.schedules:
        _schedules(r, console)
    for warning in r.warnings:
        console.print(Text("warning: ", style="bold yellow") + Text(warning))
    if r.recommendation:
        rec = r.recommendation
        style = "bold red" if rec.fits is False else "bold green"
        console.print(Text("recommendation: ", style="bold") + Text(rec.choice, style=style))
        console.print(Text("  " + rec.reason))
    if r.measurement:
        m = r.measurement
        console.print(
            f"[bold]measured[/bold] (value and VJP): peak {format_size(m.peak_bytes)} "
            f"[dim]({m.memory_method})[/dim]; run {m.run_seconds_median * 1e3:.3g} ms median, "
            f"{m.run_seconds_min * 1e3:.3g} ms min of {m.runs}; compile {m.compile_seconds:.2f} s "
            f"[dim]({m.timing_method})[/dim]"
        )
    for note in r.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if r.guard:
        g = r.guard
        verdict = ("OVER BUDGET", "bold red") if g.exceeded else ("within budget", "bold green")
        console.print(
            Text("memory.budget: ", style="bold")
            + Text(verdict[0], style=verdict[1])
            + Text(
                f"  {g.figure} = {format_size(g.value)} vs budget {format_size(g.budget)}"
                f" ({g.what})"
            )
        )
    console.print(f"[dim]{r.seconds:.1f} s[/dim]")


def _mesh(r: MemoryResult, console: Console) -> None:
    """The per-device heading of a sharded spec."""
    assert r.mesh is not None
    m = r.mesh
    axes = ", ".join(f"{k}: {v}" for k, v in m.axes.items())
    console.print(
        Text("per device", style="bold")
        + Text(
            f" — mesh {{{axes}}} ({m.axis_types} axes) on {m.devices} {m.platform} devices: "
            "every figure below is one device's (a sharded residual counts its shard)",
            style="dim",
        )
    )


def _replicated(r: MemoryResult, console: Console, top: int) -> None:
    """Residuals held whole along a mesh axis that one of their dimensions could split."""
    if r.mesh is None or not r.mesh.replicated:
        return
    _title(
        console,
        "replicated residuals — held whole along a mesh axis that could split them",
        "(per device; sharding one as said would save the last column)",
    )
    table = Table(show_edge=False)
    for name, justify in (("per device", "right"), ("shape", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name in ("made by @ source", "replicated over", "could split", "saves"):
        table.add_column(name, justify="right" if name == "saves" else "left")
    for x in r.mesh.replicated[:top]:
        table.add_row(
            format_size(x.bytes_per_device),
            escape(f"{x.dtype}{list(x.shape)}"),
            escape(x.label),
            ", ".join(x.replicated_over),
            escape(x.could_split),
            format_size(x.saving_bytes),
        )
    console.print(table)


def _title(console: Console, title: str, detail: str) -> None:
    console.print(Text(title, style="bold") + Text(" " + detail, style="dim"))


def _residuals(r: MemoryResult, console: Console, top: int) -> None:
    s = r.residuals
    _title(
        console,
        f"1. residuals — what reverse mode stores: {format_size(s.bytes)} in {s.count} arrays",
        f"(arguments apart: {format_size(s.argument_bytes)}; jaxpr level, any backend)",
    )
    table = Table(show_edge=False)
    for name, justify in (("bytes", "right"), ("%", "right"), ("count", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("shape")
    table.add_column("made by @ source")
    for g in s.groups[:top]:
        share = 100 * g.bytes / s.bytes if s.bytes else 0
        table.add_row(
            format_size(g.bytes),
            f"{share:.0f}",
            str(g.count),
            escape(f"{g.dtype}{list(g.shape)}"),
            escape(g.label),
        )
    rest = s.groups[top:]
    if rest:
        total = sum(g.bytes for g in rest)
        table.add_row(
            format_size(total),
            f"{100 * total / s.bytes:.0f}" if s.bytes else "0",
            str(sum(g.count for g in rest)),
            "",
            f"({len(rest)} more groups)",
            style="dim",
        )
    console.print(table)
    if s.arguments:
        seen = dict.fromkeys(f"{a.name} {a.dtype}{list(a.shape)}" for a in s.arguments)
        console.print(
            Text(f"   arguments also read by the backward pass: {', '.join(seen)}", style="dim")
        )


def _compiled(r: MemoryResult, console: Console) -> None:
    _title(
        console,
        "2. compiled — what XLA allocates per program",
        "(vjp = value and VJP, reverse mode; jvp = value and JVP, forward mode, keeps no tape)",
    )
    table = Table(show_edge=False)
    table.add_column("")
    for c in r.compiled:
        table.add_column(c.program, justify="right")
    rows = (
        ("arguments", "argument_bytes"),
        ("outputs", "output_bytes"),
        ("temporaries", "temp_bytes"),
        ("aliased", "alias_bytes"),
        ("peak (arg+out+temp−alias)", "peak_bytes"),
    )
    for label, field in rows:
        table.add_row(label, *(format_size(getattr(c, field)) for c in r.compiled))
    table.add_row("FLOPs (lowered)", *(_flops(c.flops) for c in r.compiled))
    console.print(table)


def _policies(r: MemoryResult, console: Console) -> None:
    base = next((c for c in r.compiled if c.program == "vjp"), None)
    _title(
        console,
        "recompute — each checkpoint policy on the whole function",
        "(★ Pareto-optimal in saved bytes and extra lowered FLOPs of value+VJP)",
    )
    table = Table(show_edge=False)
    for name, justify in (
        ("", "left"),
        ("policy", "left"),
        ("saved", "right"),
        ("compiled temp", "right"),
        ("extra FLOPs", "right"),
        ("barriers lowered→compiled", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_row(
        "",
        "(no checkpoint)",
        format_size(r.residuals.bytes),
        format_size(base.temp_bytes if base else None),
        "0%",
        "",
        style="dim",
    )
    for p in r.policies:
        if p.error:
            table.add_row("", escape(p.name), "-", "-", "-", escape(p.error), style="red")
            continue
        saved = format_size(p.residual_bytes)
        if p.host_bytes:
            saved += f" (+{format_size(p.host_bytes)} host)"
        table.add_row(
            "★" if p.pareto else "",
            escape(p.name) + (" (stripped by XLA)" if p.stripped else ""),
            saved,
            format_size(p.compiled_temp_bytes),
            _pct(p.extra_flops_pct),
            f"{p.barriers_lowered}→{p.barriers_compiled}",
        )
    console.print(table)


def _schedules(r: MemoryResult, console: Console) -> None:
    budget = f", budget {format_size(r.budget)}" if r.budget is not None else ""
    _title(
        console,
        f"--layers {r.layers} — activation memory of the stack",
        f"(carry {'/'.join(r.carry)} = {format_size(r.carry_bytes)} per block{budget}; "
        "parameters, gradients and optimiser state not included)",
    )
    table = Table(show_edge=False)
    table.add_column("schedule")
    table.add_column("activations", justify="right")
    table.add_column("extra FLOPs", justify="right")
    if r.budget is not None:
        table.add_column("fits")
    table.add_column("how")
    for s in r.schedules:
        row = [escape(s.name), format_size(s.memory_bytes), _pct(s.extra_flops_pct)]
        if r.budget is not None:
            row.append("yes" if s.fits else "no")
        row.append(s.detail)
        table.add_row(*row, style=None if s.fits is not False else "dim")
    console.print(table)
