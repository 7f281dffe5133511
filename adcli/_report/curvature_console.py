"""Terminal report of a CurvatureReport: the HVP strategy and its check, the trace
estimates, the extreme eigenvalues, and the exact values beside them. Renders only;
adcli._curvature.engine computes."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from adcli._results.curvature import CurvatureReport, CurvatureResult
from adcli._results.reports import as_report
from adcli._units import format_size

_VERDICT = {"pass": "green", "fail": "bold red", "inconclusive": "yellow", "skipped": "dim"}


def _g(x: float | None, digits: int = 6) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _e(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def render(report: CurvatureReport | CurvatureResult, console: Console) -> None:
    """Print each spec's curvature report; the totals last."""
    report = as_report(report)
    for result in report.results:
        _spec(result, console)
    for skip in report.skipped:
        console.print(Text("skipped: ", style="yellow") + Text(skip.reason))
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    console.print(f"[dim]{len(report.results)} spec(s){skipped} in {report.seconds:.1f} s[/dim]")


def _spec(r: CurvatureResult, console: Console) -> None:
    where = f"{r.file}:{r.line}" if r.file else ""
    dims = " ".join(f"{k}={v}" for k, v in r.dims.items())
    console.rule(Text(r.name, style="bold"), align="left")
    parts = [where, dims, f"f: R^{r.d} → R", r.dtype, f"backend {r.backend}"]
    parts += [f"point {r.point}", f"seed {r.seed}"]
    console.print(Text("  ·  ".join(p for p in parts if p), style="dim"))
    console.print(f"f = {r.value:.6g}   ‖∇f‖ = {r.grad_norm:.4g}")
    s = r.strategy
    mem = "" if s.batch_memory_bytes is None else f", {format_size(s.batch_memory_bytes)} per call"
    console.print(
        Text("HVP strategy: ", style="bold")
        + Text(s.name, style="bold cyan")
        + Text(f" ({s.passes}; batches of {s.batch}{mem})", style="dim")
    )
    console.print(Text(f"  {s.reason}", style="dim"))
    if s.batching != "vmap":
        console.print(Text(f"  batched by {s.batching}", style="yellow"))
    _check(r, console)
    if not r.trusted:
        console.print(
            Text("UNTRUSTED: ", style="bold red")
            + Text("the HVP disagrees with finite differences; the estimates below use it")
        )
    _exact(r, console)
    if r.trace:
        _trace(r, console)
    if r.eigs is not None:
        _eigs(r, console)
    console.print(f"[dim]{r.hvps:,} HVPs in all · {r.seconds:.1f} s[/dim]")


def _check(r: CurvatureResult, console: Console) -> None:
    c = r.check
    table = Table(
        title=f"HVP check vs FD of the gradient (rtol {c.rtol:g})",
        title_justify="left",
        title_style="bold",
    )
    for col in ("direction", "verdict", "margin", "max |AD−FD|", "FD error bound", "‖Hw‖"):
        table.add_column(col, justify="left" if col in ("direction", "verdict") else "right")
    exact = any(row.exact_rel_error is not None for row in c.rows)
    if exact:
        table.add_column("vs exact H (rel)", justify="right")
    for row in c.rows:
        cells: list[RenderableType] = [
            row.direction,
            Text(row.verdict, style=_VERDICT.get(row.verdict, "")),
            f"{row.margin:.2g}",
            _e(row.max_abs_error),
            _e(row.fd_error),
            _g(row.hv_norm, 4),
        ]
        if exact:
            cells.append(_e(row.exact_rel_error))
        table.add_row(*cells)
    if c.symmetry is not None:
        sym = c.symmetry
        sym_cells: list[RenderableType] = [
            "⟨wᵢ,Hwⱼ⟩=⟨wⱼ,Hwᵢ⟩",
            Text(sym.verdict, style=_VERDICT.get(sym.verdict, "")),
            f"{sym.margin:.2g}",
            _e(sym.max_abs_error),
            "-",
            "-",
        ]
        table.add_row(*sym_cells, *(["-"] if exact else []))
    console.print(table)
    for comp in c.comparisons:
        if comp.verdict != "pass" and (comp.reason or comp.diagnosis):
            console.print(Text(f"  {comp.reason or comp.diagnosis}", style="yellow"))


def _exact(r: CurvatureResult, console: Console) -> None:
    e = r.exact
    if e.formed:
        console.print(
            Text("exact Hessian: ", style="bold")
            + Text(f"formed ({e.reason}; {e.seconds:.2f} s)  ", style="dim")
            + Text(f"tr H = {e.trace:.8g}  ‖H‖_F = {_g(e.frobenius)}  ")
            + Text(f"asymmetry {_e(e.asymmetry)}", style="dim")
        )
    else:
        console.print(Text("exact Hessian: ", style="bold") + Text(f"not formed ({e.reason})"))


def _trace(r: CurvatureResult, console: Console) -> None:
    conf = r.trace[0].confidence
    table = Table(title="trace", title_justify="left", title_style="bold")
    cols = ["method", "HVPs", "estimate", f"{conf:.0%} interval", "per-probe var"]
    exact = r.exact.formed
    if exact:
        cols += ["theory var", "exact", "rel error", "covered"]
    for col in cols:
        table.add_column(col, justify="left" if col == "method" else "right")
    for t in r.trace:
        name = {"hutch++": "Hutch++ (Meyer et al.)"}.get(t.method, f"Hutchinson, {t.method}")
        stop = " (rtol)" if t.stopped == "rtol" else ""
        cells: list[RenderableType] = [
            name,
            f"{t.hvps:,}{stop}",
            _g(t.estimate, 7),
            f"[{_g(t.ci_low, 6)}, {_g(t.ci_high, 6)}]",
            _g(t.sample_variance, 4),
        ]
        if exact:
            covered = t.covers_exact
            cells += [
                _g(t.theoretical_variance, 4),
                _g(t.exact, 8),
                _e(t.rel_error),
                Text("yes" if covered else "no", style="green" if covered else "red"),
            ]
        table.add_row(*cells)
    console.print(table)


def _eigs(r: CurvatureResult, console: Console) -> None:
    g = r.eigs
    assert g is not None
    state = "converged" if g.converged else "NOT converged (raise --lanczos-steps)"
    table = Table(
        title=f"eigenvalues (Lanczos: {g.steps} steps, {g.hvps} HVPs with residuals, {state})",
        title_justify="left",
        title_style="bold",
    )
    cols = ["", "k", "Ritz value θ", "bound ‖Hq−θq‖"]
    exact = any(v.exact is not None for v in g.values)
    if exact:
        cols += ["exact (eigvalsh)", "|error|", "within bound"]
    for col in cols:
        table.add_column(col, justify="left" if col == "" else "right")
    for v in g.values:
        cells: list[RenderableType] = [v.which, str(v.rank), _g(v.value, 10), _e(v.residual)]
        if exact:
            ok = v.error is not None and v.error <= v.residual + 1e-12 * abs(v.value)
            cells += [
                _g(v.exact, 10),
                _e(v.error),
                Text("yes" if ok else "no", style="green" if ok else "yellow"),
            ]
        table.add_row(*cells)
    console.print(table)
    if g.note:
        console.print(Text(f"  note: {g.note}", style="yellow"))
    style = {"indefinite": "yellow", "positive definite": "green"}.get(g.curvature, "")
    line = Text("curvature: ", style="bold") + Text(g.curvature, style=style)
    line += Text(f"  {g.curvature_reason}")
    console.print(line)
    if g.condition_number is not None:
        console.print(f"condition number λmax/λmin ≈ {g.condition_number:.4g}")
