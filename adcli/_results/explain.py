"""Frozen results of ``adcli explain``: the named computational graph and its two sweeps.

Imports neither jax nor rich. ``adcli._results.json`` gives the JSON form documented in
docs/explain.md (strict JSON: NaN and infinities become strings).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from adcli._results.common import SpecHeader

_SHORT = re.compile(r"^[A-Za-z][0-9_.]*$")  # w1, v2.1, H: decorate the letter itself


def dot(name: str) -> str:
    """The tangent of ``name`` in the lecture's notation: v̇2 (v2), or ṫ(name) for a long name."""
    if not _SHORT.match(name):
        return f"ṫ({name})"
    return unicodedata.normalize("NFC", name[0] + "\u0307") + name[1:]  # ẇ1 is one character


def bar(name: str) -> str:
    """The adjoint of ``name``: v̄2 (v2), or adj(name) for a long name."""
    if not _SHORT.match(name):
        return f"adj({name})"
    return unicodedata.normalize("NFC", name[0] + "\u0304") + name[1:]


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
    kind: Literal["node", "argument", "derived"]
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
class ExplainResult(SpecHeader):
    """The computational graph of one spec at one point, and its forward and reverse sweeps.

    ``forward``/``reverse`` are None when values are omitted (``values_omitted`` says why):
    a summarised graph or inputs too large to evaluate here. ``grad_error`` is the largest
    difference between the inputs' adjoints and ``jax.vjp`` of the function itself.
    ``dtypes``: every input → its dtype (the sweeps run in the inputs' own dtypes).
    """

    name: str
    file: str | None
    line: int | None
    kind: Literal["expr", "python"]
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
    backend: str = "-"
    dtypes: dict[str, str] = field(default_factory=dict)

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
