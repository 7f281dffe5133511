"""Terminal report of an EstimateReport: one table of methods per spec, or one per sweep."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from adcli._report.mode_console import plain_table, seconds
from adcli._results.estimate import (
    METHODS,
    EstimateReport,
    EstimateResult,
    EstimateSweep,
    MethodResult,
)
from adcli._results.reports import as_report


def render(report: EstimateReport | EstimateResult | EstimateSweep, console: Console) -> None:
    """Print each spec's table (or each sweep's), then what was skipped and any errors."""
    report = as_report(report)
    for result in report.results:
        render_result(result, console)
    for sweep in report.sweeps:
        render_sweep(sweep, console)
    for note in report.notes:
        console.print(f"[dim]· {escape(note)}[/dim]")
    for message in report.errors:
        console.print(Text("ERROR ", style="bold red") + Text(message))


def _sci(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.{digits}e}"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}×"


def render_result(result: EstimateResult, console: Console) -> None:
    where = f"{result.file}:{result.line}" if result.file else "<function>"
    dims = " ".join(f"{k}={v}" for k, v in result.dims.items())
    what = "⟨u, f⟩ (random unit u)" if result.scalarized else "f"
    console.print(
        f"[bold]{escape(result.name)}[/bold]  [dim]{escape(where)}  {escape(dims)}[/dim]\n"
        f"[dim]gradient of {what}: Rᵈ → R with d = {result.d} · backend {result.backend} · "
        f"{result.dtype} · T = one evaluation of f = {seconds(result.eval_seconds)} "
        f"(compile {seconds(result.eval_compile_seconds)})[/dim]"
    )
    table = plain_table(
        (
            ("method", "left"),
            ("passes", "right"),
            ("theory", "left"),
            ("step", "left"),
            ("compile", "right"),
            ("run (median)", "right"),
            ("÷ T", "right"),
            ("rel. error", "right"),
            ("predicted", "right"),
            ("max abs error", "right"),
        )
    )
    for m in result.methods:
        table.add_row(*_row(m, result))
    console.print(table)
    for m in result.methods:
        if m.status != "ok":
            console.print(Text(f"{m.name}: {m.status}", style="yellow"))
    for message in result.errors:
        console.print(Text("ERROR ", style="bold red") + Text(message))
    for note in result.notes:
        console.print(f"[dim]· {escape(note)}[/dim]")
    console.print(
        f"[dim]errors against reverse AD (‖g − g_rev‖/‖g_rev‖, ‖g_rev‖ = "
        f"{result.grad_norm:.3g}) · timing: {result.timing_method} · "
        f"{result.seconds:.1f}s in all[/dim]\n"
    )


def _row(m: MethodResult, result: EstimateResult) -> list[Text | str]:
    if m.status != "ok":
        return [Text(m.name, style="yellow"), "-", m.formula, m.step, *["-"] * 5, "-"]
    style = "bold green" if m.name == "reverse-ad" else ""
    error = _sci(m.rel_error) if m.name != "reverse-ad" else "(reference)"
    if m.rel_error_spread is not None:
        error += f" ± {m.rel_error_spread:.1e}"
    predicted = _sci(m.predicted_rel_error)
    if m.predicted_rel_error is None:
        predicted = m.theory
    else:
        predicted += f" [{m.theory}]"
    return [
        Text(m.name + (f" (k={result.k})" if m.name == "zero-order" else ""), style=style),
        f"{m.passes} {m.unit[:-1] if m.passes == 1 else m.unit}",
        m.formula,
        m.step,
        seconds(m.compile_seconds),
        seconds(m.median_seconds),
        _ratio(m.ratio_to_eval),
        error,
        predicted,
        _sci(m.max_abs_error) if m.name != "reverse-ad" else "-",
    ]


def render_sweep(sweep: EstimateSweep, console: Console) -> None:
    first = sweep.results[0] if sweep.results else None
    backend = f"backend {first.backend} · {first.dtype}" if first else ""
    console.print(
        f"[bold]{escape(sweep.name)}[/bold]  [dim]sweep over {sweep.dim} · {backend} · "
        f"zero-order at fixed k = {sweep.k} ({2 * sweep.k} evals)[/dim]"
    )
    headers = (sweep.dim, "d", "T", *(f"{name} (÷T)" for name in METHODS))
    table = plain_table((h, "right") for h in (*headers, "zero-order error", "√((d∓1)/k)"))
    for p in sweep.points:
        table.add_row(
            str(p.value),
            str(p.d),
            seconds(p.eval_seconds),
            *[f"{seconds(p.times[m])} ({_ratio(p.ratios[m])})" for m in METHODS],
            _sci(p.errors["zero-order"]),
            _sci(p.predicted_zero_order_error),
        )
    table.add_row(
        Text("growth", style="bold"),
        "",
        _power(sweep.time_exponents.get("eval")),
        *[
            f"{_power(sweep.time_exponents.get(m))} ({_power(sweep.ratio_exponents.get(m))}·T)"
            for m in METHODS
        ],
        _power(sweep.error_exponent),
        # √((d ∓ 1)/k) grows like d^0.5 only when the swept dim changes d
        "d^0.5" if len({p.d for p in sweep.points}) > 1 else "-",
    )
    if len(sweep.points) > 2:
        table.add_row(
            Text("last step", style="bold"),
            "",
            _power(sweep.last_time_exponents.get("eval")),
            *[_power(sweep.last_time_exponents.get(m)) for m in METHODS],
            "",
            "",
        )
    console.print(table)
    console.print(
        "[dim]growth: the exponent p of a least-squares fit time ∝ dᵖ over all sizes (in "
        "brackets: of time ÷ T); last step: the slope between the two largest sizes, where "
        "the fixed cost of a call no longer hides the growth. Central differences cost "
        "2d·T, reverse AD a constant multiple of T.[/dim]"
    )
    for result in sweep.results:
        for message in result.errors:
            console.print(
                Text(f"ERROR {sweep.dim}={result.dims.get(sweep.dim)}: ", style="bold red")
                + Text(message)
            )
    console.print()


def _power(p: float | None) -> str:
    return "-" if p is None else f"d^{p:.2f}"
