"""Terminal report of ``adcli explain``: the graph, the two sweep tables, what the reverse
sweep stores, and a tree from the output back to the inputs. Renders only."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from adcli._results.explain import ExplainReport, ExplainResult, Node, Row, Sweep, Value, dot
from adcli._results.reports import as_report
from adcli._units import format_size

TREE_LIMIT = 60  # tree lines before the rest is cut


def fmt_value(value: Value | None, digits: int = 6, entries: int = 2) -> str:
    """A scalar to ``digits`` significant digits; an array as dtype[shape] ‖·‖ and entries."""
    if value is None:
        return "-"
    if value.scalar is not None:
        return f"{value.scalar:.{digits}g}"
    shape = ",".join(str(d) for d in value.shape)
    first = ", ".join(f"{x:.3g}" for x in value.first[:entries])
    more = ", …" if value.size > min(entries, len(value.first)) else ""
    norm = f"{value.norm:.4g}" if value.norm is not None else "?"
    return f"{value.dtype}[{shape}] ‖·‖={norm} [{first}{more}]"


def fmt_partials(row: Row) -> str:
    """``∂v2/∂w2 = 0.693147, ∂v2/∂v1 = 3`` (scalar nodes)."""
    return ", ".join(f"∂{o}/∂{w} = {v:.6g}" for o, w, v in row.partials)


def shape_text(node: Node) -> str:
    return f"{node.dtype}[{','.join(str(d) for d in node.shape)}]"


def seed_line(r: ExplainResult, sweep: Sweep) -> str:
    if sweep.direction == "forward":
        return f"seed: {dot(r.wrt)} = {r.direction}, every other input 0"
    outs = ", ".join(r.outputs)
    return f"seed: adjoint of {outs} = {r.cotangent}"


def render(report: ExplainReport | ExplainResult, console: Console) -> None:
    """Print each spec's explanation."""
    report = as_report(report)
    for result in report.results:
        render_result(result, console)
    console.print(f"[dim]{len(report.results)} spec(s) in {report.seconds:.1f} s[/dim]")


def render_result(r: ExplainResult, console: Console) -> None:
    """One spec: header, graph (or its summary), sweeps, storage, tree, notes."""
    where = f"{r.file}:{r.line}" if r.file else ""
    console.rule(Text(r.name, style="bold"), align="left")
    point = ", ".join(f"{k}={v}" for k, v in r.at.items())
    parts = [
        where,
        " ".join(f"{k}={v}" for k, v in r.dims.items()),
        f"point {r.point} (seed {r.seed})" + (f", at {point}" if point else ""),
    ]
    console.print(Text("  ·  ".join(p for p in parts if p), style="dim"))
    if r.summarised:
        _summary(r, console)
    else:
        _graph(r, console)
    if r.values_omitted:
        console.print(Text(f"sweeps: {r.values_omitted}", style="yellow"))
    for sweep in (r.forward, r.reverse):
        if sweep is not None:
            _sweep(r, sweep, console)
    if r.grad_error is not None:
        console.print(
            Text(
                f"inputs' adjoints vs jax.vjp of the function: max |difference| = "
                f"{r.grad_error:.3g}",
                style="dim",
            )
        )
    if r.storage is not None:
        _storage(r, console)
    else:  # storage is only missing when JAX has no reverse mode for the function
        console.print(
            Text("what the reverse sweep stored: ", style="bold")
            + Text("nothing — the reverse sweep failed (see the note below)")
        )
    if not r.summarised:
        console.print(Text("graph, from the output back to the inputs", style="bold"))
        console.print(tree(r))
    for note in r.notes:
        console.print(Text(f"note: {note}", style="dim"))


def _graph(r: ExplainResult, console: Console) -> None:
    console.print(Text(f"computational graph ({len(r.shown)} nodes)", style="bold"))
    table = Table(show_edge=False)
    table.add_column("node", style="bold")
    table.add_column("operation")
    table.add_column("primitive", style="dim")
    table.add_column("shape", style="dim")
    table.add_column("value", justify="right")
    for n in r.shown:
        op = n.operation + (f"  ({n.ops} ops)" if n.ops > 1 else "")
        prim = n.primitive or n.kind
        name = n.name + (
            " → " + ", ".join(n.outputs) if n.outputs and n.outputs != (n.name,) else ""
        )
        table.add_row(escape(name), escape(op), escape(prim), shape_text(n), fmt_value(n.value))
    console.print(table)


def _summary(r: ExplainResult, console: Console) -> None:
    s = r.summary
    console.print(
        Text(
            f"computational graph, summarised: {len(r.shown)} nodes > --max-nodes {r.max_nodes}"
            f" ({s.equations} top-level equations, {s.total_primitives} primitives in all)",
            style="bold",
        )
    )
    inputs = [n for n in r.nodes if n.kind == "input"]
    console.print(
        "inputs: "
        + ", ".join(escape(f"{n.name} {shape_text(n)}") for n in inputs[:12])
        + (f", … ({len(inputs)} in all)" if len(inputs) > 12 else "")
    )
    outs = [n for n in r.nodes if n.outputs]
    console.print("outputs: " + ", ".join(escape(f"{n.name} {shape_text(n)}") for n in outs))
    table = Table(show_edge=False)
    table.add_column("top-level primitive")
    table.add_column("count", justify="right")
    for prim, count in s.by_primitive[:15]:
        table.add_row(escape(prim), str(count))
    rest = s.by_primitive[15:]
    if rest:
        table.add_row(f"({len(rest)} more)", str(sum(c for _, c in rest)), style="dim")
    console.print(table)
    if s.collapsed:
        calls = ", ".join(f"{name} ({ops} ops)" for name, ops in s.collapsed[:10])
        more = f", … ({len(s.collapsed)} calls)" if len(s.collapsed) > 10 else ""
        console.print(Text(f"collapsed calls: {calls}{more}", style="dim"))
    console.print(Text("show every node with --max-nodes N", style="dim"))


def _sweep(r: ExplainResult, sweep: Sweep, console: Console) -> None:
    title = (
        "forward sweep (tangents)" if sweep.direction == "forward" else "reverse sweep (adjoints)"
    )
    console.print(Text(title, style="bold") + Text(f"  {seed_line(r, sweep)}", style="dim"))
    table = Table(show_edge=False)
    table.add_column("node", style="bold")
    table.add_column("rule")
    table.add_column("value", justify="right")
    table.add_column("local partials", style="dim")
    for row in sweep.rows:
        table.add_row(escape(row.node), escape(row.rule), fmt_value(row.value), fmt_partials(row))
    console.print(table)
    if sweep.max_error is not None:
        console.print(
            Text(
                f"   each rule re-evaluated from the rows above agrees with JAX to "
                f"{sweep.max_error:.3g}",
                style="dim",
            )
        )


def _storage(r: ExplainResult, console: Console) -> None:
    s = r.storage
    assert s is not None
    console.print(
        Text("what the reverse sweep stored: ", style="bold")
        + Text(
            f"{format_size(s.bytes)} in {s.count} intermediate arrays"
            + (
                f" (the inputs, {format_size(s.argument_bytes)}, are kept too)"
                if s.argument_bytes
                else ""
            )
            + f"; node values: {s.nodes_stored} kept, "
            f"{s.nodes_recomputable} not needed by the backward pass"
        )
    )
    items: dict[tuple[str, str, str], tuple[int, int]] = {}
    for item in s.items:
        key = (item.kind, item.label, shape_text_of(item.dtype, item.shape))
        count, size = items.get(key, (0, 0))
        items[key] = (count + 1, size + item.bytes)
    ranked = sorted(items.items(), key=lambda item: -item[1][1])
    for (kind, label, shape), (count, size) in ranked[:12]:
        times = f"{count}× " if count > 1 else ""
        what = {"node": "node value", "argument": "argument", "derived": "derived factor"}[kind]
        console.print(f"   {times}{escape(label)} [dim]{shape} {format_size(size)} ({what})[/dim]")
    if len(items) > 12:
        console.print(Text(f"   … {len(items) - 12} more", style="dim"))


def shape_text_of(dtype: str, shape: tuple[int, ...]) -> str:
    return f"{dtype}[{','.join(str(d) for d in shape)}]"


def tree(r: ExplainResult) -> Tree:
    """The graph as a tree from the outputs back to the inputs; a node met again is a
    reference (↑ name), so the tree has one line per edge, not per path."""
    shown = {n.name: n for n in r.shown}
    args: dict[str, list[str]] = {}
    for e in r.edges:
        args.setdefault(e.target, []).append(e.source)
    roots = [n for n in r.shown if n.outputs]
    root = Tree(Text(r.name, style="bold"))
    seen: set[str] = set()
    lines = 0

    def label(n: Node) -> Text:
        text = Text(n.name, style="bold" if n.kind != "input" else "bold cyan")
        if n.kind == "op":
            text.append(f" = {n.operation}")
        text.append(f"   {fmt_value(n.value)}" if n.value else "", style="dim")
        return text

    def grow(parent: Tree, name: str) -> None:
        nonlocal lines
        lines += 1
        if lines > TREE_LIMIT:
            if lines == TREE_LIMIT + 1:
                parent.add(Text("… (cut)", style="dim"))
            return
        node = shown[name]
        if name in seen:
            parent.add(Text(f"↑ {name}", style="dim"))
            return
        seen.add(name)
        branch = parent.add(label(node))
        for source in args.get(name, []):
            grow(branch, source)

    for n in roots:
        grow(root, n.name)
    return root
