"""Graphviz DOT of ``adcli explain``'s graph: plain text, no graphviz needed to write it.

Nodes are labelled name / operation / value; inputs are green boxes, constants grey,
outputs double octagons; edges carry ∂target/∂source where both ends are scalars.
Render with ``dot -Tsvg graph.dot -o graph.svg``.
"""

from __future__ import annotations

from adcli._report.explain_console import fmt_value
from adcli._results.explain import ExplainReport, ExplainResult
from adcli._results.reports import as_report


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(report: ExplainReport | ExplainResult) -> str:
    """One ``digraph`` per spec (a DOT file may hold several graphs)."""
    report = as_report(report)
    return "\n".join(result_dot(r) for r in report.results)


def result_dot(r: ExplainResult) -> str:
    """The shown nodes and their data flow as one DOT digraph."""
    lines = [
        f"digraph {_quote(r.name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for n in r.shown:
        parts = [n.name]
        if n.kind == "op":
            parts.append(n.operation + (f" ({n.ops} ops)" if n.ops > 1 else ""))
        elif n.kind == "constant":
            parts.append("constant")
        if n.value is not None:
            parts.append(fmt_value(n.value, 6))
        style = {"input": "fillcolor=palegreen", "constant": "fillcolor=lightgrey"}.get(n.kind, "")
        if n.outputs:
            style = "shape=doubleoctagon, fillcolor=lightblue"
        attrs = f"label={_quote(chr(10).join(parts))}" + (f", {style}" if style else "")
        lines.append(f"  {_quote(n.name)} [{attrs}];")
    for e in r.edges:
        label = f" [label={_quote(f'{e.partial:.4g}')}]" if e.partial is not None else ""
        lines.append(f"  {_quote(e.source)} -> {_quote(e.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
