"""Frozen results of ``adcli explain``: the named computational graph and its two sweeps.

Imports neither jax nor rich. ``explain_dict`` gives the JSON form documented in
docs/explain.md (strict JSON: NaN and infinities become strings).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from adcli._results.common import SCHEMA_VERSION, clean


@dataclass(frozen=True)
class Value:
    """A value at the point: a scalar exactly, an array by shape, norm and first entries.

    ``entries`` holds every entry (row-major) when the array is small (≤ 64 entries).
    """

    shape: tuple[int, ...]
    dtype: str
    scalar: float | None = None
    norm: float | None = None
    first: tuple[float, ...] = ()
    entries: tuple[float, ...] | None = None

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Node:
    """One value of the graph: an input, a constant, or the output of one top-level equation.

    ``kind`` is ``input``, ``constant`` (does not depend on any input) or ``op``.
    ``operation`` reads like the formula (``w2 · v1``); ``args`` are the node names (or
    literal numbers) the equation reads; ``step`` is the formula text of the spec's
    ``name = expr`` line the node belongs to (expr specs only); ``ops`` counts the
    primitives a collapsed call (jit, custom_jvp, scan, ...) holds; ``hidden`` marks
    bookkeeping (dtype casts, broadcasts of a constant) left out of the tables unless
    ``--all-nodes``; ``outputs`` names the function outputs the node is.
    """

    name: str
    kind: str
    primitive: str | None
    operation: str
    args: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    source: str | None = None
    step: str | None = None
    ops: int = 1
    hidden: bool = False
    outputs: tuple[str, ...] = ()
    value: Value | None = None


@dataclass(frozen=True)
class Edge:
    """Data flow ``source`` → ``target``; ``partial`` is ∂target/∂source for scalar nodes."""

    source: str
    target: str
    partial: float | None = None


@dataclass(frozen=True)
class Row:
    """One row of a sweep table, in the order the sweep visits the nodes.

    ``rule`` is the local rule in the nodes' names (``v̇2 = ẇ2·v1 + w2·v̇1``); ``value`` is
    JAX's tangent/adjoint of the node (from ``jax.jvp`` / ``jax.vjp`` of the whole graph);
    ``rule_value`` is the rule's right-hand side evaluated from the already computed rows
    (scalars: the printed partials times the printed tangents/adjoints; arrays: the
    equation's own JVP/VJP); ``error`` is their largest absolute difference.
    ``partials`` are the local partials ∂vᵢ/∂vⱼ the rule multiplies (scalar nodes only):
    (of, wrt, value).
    """

    node: str
    rule: str
    value: Value | None = None
    rule_value: Value | None = None
    error: float | None = None
    partials: tuple[tuple[str, str, float], ...] = ()


@dataclass(frozen=True)
class Sweep:
    """The forward (tangents) or reverse (adjoints) sweep: seed, rows and agreement."""

    direction: str
    seed: str
    rows: tuple[Row, ...]
    max_error: float | None = None


@dataclass(frozen=True)
class Stored:
    """One value the reverse sweep keeps: a node's value, an argument, or a derived factor."""

    label: str
    kind: str  # node | argument | derived
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    node: str | None = None


@dataclass(frozen=True)
class Storage:
    """What the reverse sweep had to store (from JAX's ``saved_residuals``).

    ``bytes`` counts stored intermediates (nodes and derived factors), not the arguments,
    which the caller holds anyway. ``nodes_stored``/``nodes_recomputable`` split the graph's
    op nodes into those whose value is kept and those the backward pass never needs.
    """

    bytes: int
    count: int
    argument_bytes: int
    items: tuple[Stored, ...]
    nodes_stored: int
    nodes_recomputable: int
    method: str


@dataclass(frozen=True)
class GraphSummary:
    """The graph in counts: top-level equations by primitive, and what calls hide inside."""

    equations: int
    total_primitives: int
    by_primitive: tuple[tuple[str, int], ...]
    collapsed: tuple[tuple[str, int], ...]  # (call node, primitives inside)


@dataclass(frozen=True)
class ExplainResult:
    """The computational graph of one spec at one point, and its forward and reverse sweeps.

    ``forward``/``reverse`` are None when values are omitted (``values_omitted`` says why):
    a summarised graph or inputs too large to evaluate here. ``grad_error`` is the largest
    difference between the inputs' adjoints and ``jax.vjp`` of the function itself.
    """

    name: str
    file: str | None
    line: int | None
    kind: str  # expr | python
    dims: dict[str, int]
    point: int
    seed: int
    at: dict[str, str]
    wrt: str
    direction: str
    cotangent: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[str, ...]
    summary: GraphSummary
    summarised: bool
    max_nodes: int
    all_nodes: bool
    forward: Sweep | None = None
    reverse: Sweep | None = None
    grad_error: float | None = None
    storage: Storage | None = None
    values_omitted: str | None = None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    def node(self, name: str) -> Node:
        """The node called ``name`` (KeyError if none)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def shown(self) -> tuple[Node, ...]:
        """The nodes the tables and pictures show (hidden ones only with ``all_nodes``)."""
        return tuple(n for n in self.nodes if self.all_nodes or not n.hidden)


@dataclass(frozen=True)
class ExplainReport:
    """``explain`` of every selected spec."""

    results: tuple[ExplainResult, ...]
    seconds: float = 0.0
    errors: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0, or 2 when a spec could not be loaded or built (explain has no failing check)."""
        return 2 if self.errors else 0


def _value_dict(value: Value | None) -> Any:
    if value is None:
        return None
    data: dict[str, Any] = {"shape": list(value.shape), "dtype": value.dtype}
    if value.scalar is not None:
        data["value"] = value.scalar
    else:
        data["norm"] = value.norm
        data["first"] = list(value.first)
        if value.entries is not None:
            data["entries"] = list(value.entries)
    return data


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "node": row.node,
        "rule": row.rule,
        "value": _value_dict(row.value),
        "rule_value": _value_dict(row.rule_value),
        "error": row.error,
        "partials": [{"of": o, "wrt": w, "value": v} for o, w, v in row.partials],
    }


def explain_result_dict(r: ExplainResult) -> dict[str, Any]:
    """One spec's explanation as JSON-ready data (docs/explain.md, "JSON")."""
    data = dataclasses.asdict(r)
    data["nodes"] = [{**dataclasses.asdict(n), "value": _value_dict(n.value)} for n in r.nodes]
    for key in ("forward", "reverse"):
        sweep = getattr(r, key)
        if sweep is not None:
            data[key] = {
                "direction": sweep.direction,
                "seed": sweep.seed,
                "max_error": sweep.max_error,
                "rows": [_row_dict(row) for row in sweep.rows],
            }
    data["summary"]["by_primitive"] = dict(r.summary.by_primitive)
    data["summary"]["collapsed"] = dict(r.summary.collapsed)
    return data


def explain_dict(report: ExplainReport | ExplainResult) -> dict[str, Any]:
    """The explain report (or one result) as strict JSON-ready data."""
    data: dict[str, Any]
    if isinstance(report, ExplainResult):
        data = clean({"schema_version": SCHEMA_VERSION, **explain_result_dict(report)})
        return data
    data = clean(
        {
            "schema_version": SCHEMA_VERSION,
            "exit_code": report.exit_code,
            "seconds": report.seconds,
            "errors": list(report.errors),
            "specs": [explain_result_dict(r) for r in report.results],
        }
    )
    return data
