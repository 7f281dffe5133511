"""A function's jaxpr as a graph of named nodes, one per top-level equation output.

Names come from the spec: for ``expr:`` specs the formula's own ``name = expr`` steps
(``v1 = log(w1)``), a step that expands into several primitives numbering the extra ones
``v2.1``, ``v2.2``; for ``python:`` specs the primitive and its source line (``tanh@30``).
Calls (jit, custom_jvp/vjp, scan, while, cond, remat) stay one node with an op count.
Bookkeeping — dtype casts and broadcasts of a literal — is marked ``hidden``: a cast is an
alias of its input, a broadcast literal is read as the number it broadcasts.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
from jax.extend import core as jcore

from adcli._errors import UsageError
from adcli._modes.cut import source_line
from adcli._problem.build import Problem
from adcli._problem.jaxpr import equations
from adcli._spec.model import Spec

# Equations whose output is the same value as their input (a cast, a copy, a checkpoint_name).
ALIASES = frozenset({"convert_element_type", "copy", "copy_p", "name"})
# Equations that only reshape a constant: folded into the literal they spread.
SPREADS = frozenset({"broadcast_in_dim", "reshape", "squeeze", "expand_dims", *ALIASES})
_CALL_LABELS = {"pjit": "jit", "closed_call": "call", "core_call": "call", "remat": "checkpoint"}


@dataclass
class GNode:
    """A node while the graph is built (holds jax Vars; the result keeps names only)."""

    name: str
    kind: str  # input | constant | op
    var: Any
    eqn: Any = None
    out_index: int = 0
    primitive: str | None = None
    args: list[Any] = field(default_factory=list)  # per equation input: GNode or literal text
    ops: int = 1
    source: str | None = None
    step: str | None = None
    hidden: bool = False
    alias_of: GNode | None = None
    literal: str | None = None  # a folded constant: the number it stands for
    outputs: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.var.aval.shape)

    @property
    def dtype(self) -> str:
        return str(self.var.aval.dtype)

    def target(self) -> GNode:
        """The node this one stands for in the tables (itself, or what it aliases)."""
        node = self
        while node.alias_of is not None:
            node = node.alias_of
        return node


@dataclass
class Graph:
    """Nodes in evaluation order (inputs first), and how to run the jaxpr they come from."""

    closed: Any  # ClosedJaxpr of f(input leaves..., constant leaves...)
    nodes: list[GNode]
    by_var: dict[Any, GNode]
    input_names: list[str]  # one per input leaf, in invar order
    constant_names: list[str]
    outputs: list[tuple[str, Any]]  # (output name, Var or Literal)

    def consumers(self, node: GNode) -> list[tuple[GNode, int]]:
        """(consuming node, argument position) for every read of ``node`` (through aliases)."""
        found = []
        for other in self.nodes:
            for pos, arg in enumerate(other.args):
                if isinstance(arg, GNode) and arg.target() is node and other.alias_of is None:
                    found.append((other, pos))
        return found


def leaf_names(tree: Mapping[str, Any]) -> list[str]:
    """``x``, ``params.w1`` ... for the leaves of a dict of (nested dicts of) arrays."""
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(dict(tree))[0]:
        names.append(".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path))
    return names


def literal_text(value: Any) -> str:
    """A literal as the number it is (``16.0`` → ``16``, ``0.5`` → ``0.5``)."""
    array = np.asarray(value)
    if array.size != 1:
        return f"const{list(array.shape)}"
    x = array.item()
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def call_label(eqn: Any) -> str:
    """``jit:norm``, ``custom_jvp:relu``, ``scan`` ... for an equation holding a sub-jaxpr."""
    prim = eqn.primitive.name
    base = _CALL_LABELS.get(prim, prim.removesuffix("_call"))
    name = eqn.params.get("name")
    return f"{base}:{name}" if isinstance(name, str) else base


def inner_count(eqn: Any) -> int:
    """Primitives inside an equation's sub-jaxprs (0 for a plain primitive)."""
    count = 0
    for value in eqn.params.values():
        for sub in value if isinstance(value, tuple | list) else (value,):
            inner = getattr(sub, "jaxpr", sub)
            if hasattr(inner, "eqns"):
                count += sum(1 for _ in equations(inner))
    return count


def build_graph(
    closed: Any,
    input_names: list[str],
    constant_names: list[str],
    outputs: list[tuple[str, Any]],
    *,
    steps: Mapping[Any, tuple[str, str]] | None = None,
    formula: bool = False,
) -> Graph:
    """Name every top-level value of ``closed`` (invars: input leaves, then constant leaves).

    Args:
        steps: for formulas, Var → (step name, step text) of each ``name = expr`` line, in
            formula order; equations between two named steps belong to the later one.
        outputs: (name, outvar) of each output leaf; an output equation is named after it.
        formula: the function is a formula (``expr:``): equations outside named steps are
            parts of the output (``out.1``, ``out.2``), never ``prim@line``.
    """
    jaxpr = closed.jaxpr
    nodes: list[GNode] = []
    by_var: dict[Any, GNode] = {}
    for var, name in zip(jaxpr.invars, [*input_names, *constant_names], strict=True):
        kind = "input" if name in input_names else "constant"
        node = GNode(name, kind, var)
        nodes.append(node)
        by_var[var] = node
    for var in jaxpr.constvars:
        node = GNode(f"const{len(by_var)}", "constant", var)
        by_var[var] = node
    out_names = {var: name for name, var in outputs if not isinstance(var, jcore.Literal)}
    made: list[GNode] = []
    for eqn in jaxpr.eqns:
        prim = eqn.primitive.name
        args: list[Any] = [
            literal_text(v.val) if isinstance(v, jcore.Literal) else by_var[v] for v in eqn.invars
        ]
        nested = inner_count(eqn)
        for index, var in enumerate(eqn.outvars):
            if isinstance(var, jcore.DropVar):
                continue
            node = GNode(
                "",
                "op",
                var,
                eqn=eqn,
                out_index=index,
                primitive=call_label(eqn) if nested else prim,
                args=args,
                ops=max(nested, 1),
                source=source_line(eqn),
            )
            _classify(node, prim, args, is_output=var in out_names)
            node.outputs = [out_names[var]] if var in out_names else []
            by_var[var] = node
            made.append(node)
    _name(made, steps or {}, out_names, formula=formula or bool(steps))
    nodes += made
    return Graph(closed, nodes, by_var, list(input_names), list(constant_names), list(outputs))


def _classify(node: GNode, prim: str, args: list[Any], *, is_output: bool) -> None:
    """Mark bookkeeping: a node that depends on no input is a constant, hidden when it only
    spreads a literal; a same-shape cast or copy of one argument is hidden as its alias.
    An output is never folded away (a final cast)."""
    depends = any(isinstance(a, GNode) and a.kind != "constant" for a in args)
    if not depends:
        node.kind = "constant"
        spread = all(not isinstance(a, GNode) or a.literal for a in args)
        if prim in SPREADS and spread and not is_output:
            node.hidden = True
            first = args[0] if args else "0"
            node.literal = first.literal if isinstance(first, GNode) else first
    elif prim in ALIASES and len(args) == 1 and node.shape == args[0].shape and not is_output:
        node.hidden = True
        node.alias_of = args[0]


def _name(
    made: list[GNode],
    steps: Mapping[Any, tuple[str, str]],
    outs: dict[Any, str],
    *,
    formula: bool,
) -> None:
    """Formula step names (``v2``, ``v2.1``), output names, else ``prim@line``."""
    taken: Counter[str] = Counter()

    def unique(base: str) -> str:
        taken[base] += 1
        return base if taken[base] == 1 else f"{base}.{taken[base]}"

    pending: list[GNode] = []
    hidden = 0
    for node in made:
        if node.hidden:
            hidden += 1
            node.name = f"~{node.primitive}{hidden}"
            continue
        if not formula:  # python callables: the output's name, else primitive and source line
            out = outs.get(node.var)
            node.name = out or unique(f"{_short(node.primitive or 'op')}@{_line(node.source)}")
            continue
        step = steps.get(node.var)
        if step is None and node.var in outs:
            step = (outs[node.var], "")
        if step is None:
            pending.append(node)
            continue
        for k, member in enumerate(pending, 1):
            member.name = f"{step[0]}.{k}"
            member.step = step[1] or None
        pending = []
        node.name = step[0]
        node.step = step[1] or None
    last = next(iter(outs.values()), "out")
    for k, member in enumerate(pending, 1):  # after the last named value: parts of nothing
        member.name = f"{last}.{k}"


def _short(label: str) -> str:
    return label.split(":", 1)[-1]


def _line(source: str | None) -> str:
    match = re.search(r":(\d+)", source or "")
    if not match:
        return "?"
    file = os.path.basename((source or "").split(":", 1)[0])
    return match.group(1) if file.endswith(".py") else f"{file}:{match.group(1)}"


def _output_name(spec: Spec, taken: set[str], given: str | None) -> str:
    if given is not None:
        if not given.strip():
            raise UsageError("--output-name: expected a name, got an empty string")
        if given in taken:
            raise UsageError(
                f"--output-name {given}: '{given}' is already a node of {spec.name} "
                "(an input, a constant or a formula step); choose another name"
            )
        return given
    last = spec.name.rsplit("_", 1)[-1]
    if re.fullmatch(r"[A-Za-z]", last) and last not in taken and "_" in spec.name:
        return last
    return "out" if "out" not in taken else "output"


def trace_spec(
    spec: Spec, problem: Problem, in_names: list[str], const_names: list[str], out: str | None
) -> Graph:
    """The jaxpr of f(input leaves, constant leaves), with formula steps as extra outputs."""
    fn, step_names = _of_leaves(spec, problem, len(in_names))
    structs = [
        *jax.tree_util.tree_leaves(problem.input_structs),
        *jax.tree_util.tree_leaves(problem.constant_structs),
    ]
    closed, shapes = jax.make_jaxpr(fn, return_shape=True)(*structs)
    paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(shapes)[0]]
    taken = {n for n, _ in step_names} | set(in_names) | set(const_names)
    base = _output_name(spec, taken, out)
    outputs, steps = [], {}
    texts = dict(step_names)
    for path, var in zip(paths, closed.jaxpr.outvars, strict=True):
        key = path[0].key
        if key == "":
            rest = ".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path[1:])
            outputs.append((f"{base}.{rest}" if rest else base, var))
        elif not hasattr(var, "val") and var not in steps and var not in closed.jaxpr.invars:
            steps[var] = (key, texts.get(key, ""))
    # evaluate_steps returns a dict (sorted keys): restore the formula's order of steps
    order = {name: k for k, (name, _) in enumerate(step_names)}
    steps = dict(sorted(steps.items(), key=lambda item: order.get(item[1][0], 0)))
    formula = spec.function.expr is not None
    graph = build_graph(closed, in_names, const_names, outputs, steps=steps, formula=formula)
    if out is not None:  # a given name may still equal a generated one (v2.1, sin@30)
        _refuse_clash(graph, outputs, out, spec.name)
    if spec.function.expr is not None:  # every equation comes from adcli's formula evaluator
        for node in graph.nodes:
            node.source = None
    return graph


def _of_leaves(
    spec: Spec, problem: Problem, n_in: int
) -> tuple[Callable[..., Any], list[tuple[str, str]]]:
    """f of the input leaves then the constant leaves, returning ``{"": output}`` and, for
    a formula, each named step's value; with the (name, text) of those steps."""
    in_tree = jax.tree_util.tree_structure(problem.input_structs)
    const_tree = jax.tree_util.tree_structure(problem.constant_structs)
    step_names: list[tuple[str, str]] = []
    if spec.function.expr is not None:
        from adcli._spec.expr import parse_formula

        compiled = parse_formula(
            spec.function.expr,
            names=set(spec.inputs) | set(spec.constants),
            file=spec.where.file,
            first_line=spec.function.expr_line,
            field="function.expr",
        )
        step_names = [(name, text) for name, text, _ in compiled.steps]

        def fn(*leaves: Any) -> Any:
            env = {
                **jax.tree_util.tree_unflatten(in_tree, leaves[:n_in]),
                **jax.tree_util.tree_unflatten(const_tree, leaves[n_in:]),
            }
            return compiled.evaluate_steps(env)
    else:

        def fn(*leaves: Any) -> Any:
            return {
                "": problem.call(
                    jax.tree_util.tree_unflatten(in_tree, leaves[:n_in]),
                    jax.tree_util.tree_unflatten(const_tree, leaves[n_in:]),
                )
            }

    return fn, step_names


def _refuse_clash(graph: Graph, outputs: list[tuple[str, Any]], out: str, spec: str) -> None:
    """A UsageError when ``--output-name`` names another node of the graph."""
    outs = {name for name, _ in outputs}
    output_nodes = [graph.by_var[v] for _, v in outputs if v in graph.by_var]
    clash = [n for n in graph.nodes if n.name in outs and all(n is not o for o in output_nodes)]
    if clash:
        raise UsageError(
            f"--output-name {out}: '{clash[0].name}' is already a node of {spec} "
            f"({clash[0].kind}); choose another name"
        )
