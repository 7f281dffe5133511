"""Markdown report of ``adcli explain``: the lecture's tables, ready for notes or a PR."""

from __future__ import annotations

from adcli._report.explain_console import fmt_partials, fmt_value, seed_line, shape_text
from adcli._results.explain import ExplainReport, ExplainResult, Sweep
from adcli._results.reports import as_report


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: ExplainReport | ExplainResult) -> str:
    """Every spec's graph, forward and reverse tables and storage as Markdown."""
    report = as_report(report)
    return "\n".join(result_markdown(r) for r in report.results)


def result_markdown(r: ExplainResult) -> str:
    """One spec as Markdown."""
    lines = [f"## {r.name}", ""]
    at = ", ".join(f"{k} = {v}" for k, v in r.at.items())
    lines += [f"Point {r.point} (seed {r.seed})" + (f", at {at}" if at else "") + ".", ""]
    if r.summarised:
        s = r.summary
        lines += [
            f"Graph summarised: {len(r.shown)} nodes > --max-nodes {r.max_nodes} "
            f"({s.equations} top-level equations, {s.total_primitives} primitives in all).",
            "",
            "| primitive | count |",
            "|---|---:|",
            *(f"| {_cell(p)} | {c} |" for p, c in s.by_primitive),
            "",
        ]
    else:
        lines += ["| node | operation | shape | value |", "|---|---|---|---:|"]
        for n in r.shown:
            lines.append(
                f"| {_cell(n.name)} | {_cell(n.operation)} | {shape_text(n)} | "
                f"{_cell(fmt_value(n.value))} |"
            )
        lines.append("")
    if r.values_omitted:
        lines += [f"Sweeps: {r.values_omitted}.", ""]
    for sweep in (r.forward, r.reverse):
        if sweep is not None:
            lines += _sweep(r, sweep)
    if r.storage is not None:
        st = r.storage
        kept = (
            ", ".join(f"{i.label} ({i.kind})" for i in st.items if i.kind != "argument")
            or "nothing"
        )
        args = ", ".join(dict.fromkeys(i.label for i in st.items if i.kind == "argument"))
        lines += [
            f"The reverse sweep stored {st.count} arrays ({st.bytes} bytes): {kept}; "
            f"it also reads the arguments {args or '(none)'}. "
            f"Node values: {st.nodes_stored} kept, {st.nodes_recomputable} not needed.",
            "",
        ]
    else:  # storage is only missing when JAX has no reverse mode for the function
        why = next((n for n in r.notes if n.startswith("reverse sweep not available")), "")
        why = why.removeprefix("reverse sweep not available: ")
        lines += [f"The reverse sweep failed, so nothing is stored ({_cell(why)}).", ""]
    return "\n".join(lines)


def _sweep(r: ExplainResult, sweep: Sweep) -> list[str]:
    title = (
        "Forward sweep (tangents)" if sweep.direction == "forward" else "Reverse sweep (adjoints)"
    )
    lines = [f"### {title}", "", f"{seed_line(r, sweep)}.", ""]
    lines += ["| node | rule | value | local partials |", "|---|---|---:|---|"]
    for row in sweep.rows:
        lines.append(
            f"| {_cell(row.node)} | {_cell(row.rule)} | {_cell(fmt_value(row.value, 10))} | "
            f"{_cell(fmt_partials(row))} |"
        )
    lines.append("")
    return lines
