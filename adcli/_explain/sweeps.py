"""The two sweeps over a named graph, computed by JAX and re-derived rule by rule.

JAX gives the numbers: the tangent of every node from one ``jax.jvp`` of a function that
returns every node's value, and the adjoint of every node from one ``jax.vjp`` with respect
to a zero perturbation added to each node's value. Each row is then re-derived from its
local rule alone — the printed partials times the printed tangents/adjoints for scalar
nodes, the equation's own JVP/VJP for array nodes — and the two must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

from adcli._explain.graph import GNode, Graph
from adcli._explain.rules import terms
from adcli._results.explain import Edge, Row, Sweep, Value, bar, dot

SMALL = 64  # arrays up to this many entries are given in full (JSON)


def to_value(x: Any) -> Value:
    """A Value: a scalar exactly, an array by norm and first entries (all when small)."""
    array = np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind != "c" else np.asarray(x)
    shape = tuple(int(d) for d in array.shape)
    dtype = str(jnp.asarray(x).dtype)
    if array.dtype.kind == "c":
        array = np.abs(array)
    if array.size == 1 and not shape:
        return Value(shape, dtype, scalar=float(array))
    flat = array.ravel()
    return Value(
        shape,
        dtype,
        norm=float(np.linalg.norm(flat)),
        first=tuple(float(v) for v in flat[:4]),
        entries=tuple(float(v) for v in flat) if flat.size <= SMALL else None,
    )


def _read(env: dict[Any, Any], v: Any) -> Any:
    return v.val if isinstance(v, jcore.Literal) else env[v]


def bind(eqn: Any, invals: Sequence[Any]) -> list[Any]:
    """Run one equation as ``jax.core.eval_jaxpr`` does (JAX 0.10: params only)."""
    bound = eqn.primitive.get_bind_params(eqn.params)
    subfuns, params = bound if isinstance(bound, tuple) else ((), bound)
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*subfuns, *invals, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def run(
    graph: Graph,
    args: Sequence[Any],
    consts: Sequence[Any],
    perturb: dict[Any, Any] | None = None,
    scoped: bool = False,
) -> dict[Any, Any]:
    """Every top-level value of the graph; ``perturb`` adds to op outputs; ``scoped`` runs
    node k's equation in ``jax.named_scope(f"adcli_node_{k}")`` (see adcli._explain.storage)."""
    jaxpr = graph.closed.jaxpr
    env: dict[Any, Any] = dict(zip(jaxpr.constvars, graph.closed.consts, strict=True))
    env.update(zip(jaxpr.invars, [*args, *consts], strict=True))
    index = {id(n.eqn): k for k, n in enumerate(graph.nodes) if n.eqn is not None}
    for eqn in jaxpr.eqns:
        invals = [_read(env, v) for v in eqn.invars]
        if scoped and id(eqn) in index:
            with jax.named_scope(f"adcli_node_{index[id(eqn)]}"):
                outs = bind(eqn, invals)
        else:
            outs = bind(eqn, invals)
        for var, val in zip(eqn.outvars, outs, strict=True):
            if isinstance(var, jcore.DropVar):
                continue
            if perturb is not None and var in perturb:
                val = val + perturb[var]
            env[var] = val
    return env


def inexact(var: Any) -> bool:
    return jnp.issubdtype(var.aval.dtype, jnp.inexact)


@dataclass
class Numbers:
    """Per Var: value, tangent, adjoint; the output cotangents; what could not be computed."""

    values: dict[Any, Any]
    tangents: dict[Any, Any]
    adjoints: dict[Any, Any]
    cotangents: list[Any]
    grad_error: float | None
    notes: list[str]


def compute(
    graph: Graph,
    f: Callable[[list[Any]], list[Any]],
    args: list[Any],
    consts: list[Any],
    seed: list[Any],
    cotangents: list[Any],
) -> Numbers:
    """All values; one jvp (every tangent); one vjp w.r.t. node perturbations (every adjoint).

    ``f`` is the spec's own function of the input leaves (returning the output leaves): the
    inputs' adjoints are checked against its ``jax.vjp``.
    """
    jaxpr = graph.closed.jaxpr
    ops = [n.var for n in graph.nodes if n.kind == "op" and inexact(n.var)]
    every = [*jaxpr.invars[: len(args)], *ops]
    values = run(graph, args, consts)
    notes: list[str] = []
    tangents: dict[Any, Any] = {}
    adjoints: dict[Any, Any] = {}
    grad_error = None

    def values_of(xs: list[Any]) -> list[Any]:
        env = run(graph, xs, consts)
        return [env[v] for v in every]

    try:
        tangents = dict(zip(every, jax.jvp(values_of, (args,), (seed,))[1], strict=True))
    except Exception as exc:  # e.g. a custom_vjp rule: JAX has no forward mode for it
        notes.append(f"forward sweep not available: {type(exc).__name__}: {_first(exc)}")
    outvars = [v for _, v in graph.outputs]

    def outputs(perts: list[Any], xs: list[Any]) -> list[Any]:
        env = run(graph, xs, consts, perturb=dict(zip(ops, perts, strict=True)))
        return [_read(env, v) for v in outvars]

    zeros = [jnp.zeros(v.aval.shape, v.aval.dtype) for v in ops]
    try:
        node_bars, input_bars = jax.vjp(outputs, zeros, args)[1](cotangents)
        own = jax.vjp(f, args)[1](cotangents)[0]
        grad_error = max(
            (_max_error(a, b) for a, b in zip(input_bars, own, strict=True)), default=0.0
        )
        adjoints = dict(zip(jaxpr.invars, input_bars, strict=False))
        adjoints.update(zip(ops, node_bars, strict=True))
    except Exception as exc:  # e.g. a while loop: JAX has no reverse mode for it
        notes.append(f"reverse sweep not available: {type(exc).__name__}: {_first(exc)}")
    return Numbers(values, tangents, adjoints, list(cotangents), grad_error, notes)


def _first(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _position_fn(node: GNode, values: dict[Any, Any], positions: list[int]) -> Callable[..., Any]:
    """The node's equation as a function of its arguments at ``positions`` (others fixed)."""
    invals = [_read(values, v) for v in node.eqn.invars]

    def f(*xs: Any) -> Any:
        full = list(invals)
        for pos, x in zip(positions, xs, strict=True):
            full[pos] = x
        return bind(node.eqn, full)[node.out_index]

    return f


def _differentiable(node: GNode) -> list[int]:
    return [
        pos
        for pos, (arg, var) in enumerate(zip(node.args, node.eqn.invars, strict=True))
        if isinstance(arg, GNode) and arg.kind != "constant" and inexact(var)
    ]


def _scalar(node: GNode) -> bool:
    return node.shape == () and all(not isinstance(a, GNode) or a.shape == () for a in node.args)


# ∂node/∂(its argument at position p), keyed by (id(node), p).
Partials = dict[tuple[int, int], float]


def local_partials(graph: Graph, values: dict[Any, Any]) -> dict[tuple[int, int], float]:
    """∂(node)/∂(argument) at the point, for scalar op nodes: {(id(node), position): value}."""
    partials: dict[tuple[int, int], float] = {}
    for node in graph.nodes:
        if node.kind != "op" or node.alias_of is not None or not _scalar(node):
            continue
        positions = _differentiable(node)
        f = _position_fn(node, values, positions)
        primals = [_read(values, node.eqn.invars[p]) for p in positions]
        if not positions:
            continue
        try:  # reverse mode: works for custom_vjp rules too; one pass gives every partial
            out, pullback = jax.vjp(f, *primals)
            grads = pullback(jnp.ones_like(out))
        except Exception:  # no derivative rule at all: the rule stays symbolic
            continue
        for pos, g in zip(positions, grads, strict=True):
            partials[(id(node), pos)] = float(g)
    return partials


def _max_error(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _arg_name(arg: Any) -> str:
    return arg.target().name if isinstance(arg, GNode) else str(arg)


def _arg_text(arg: Any) -> str:
    if isinstance(arg, GNode):
        return arg.literal if arg.literal is not None else arg.target().name
    return str(arg)


def forward_sweep(
    graph: Graph, shown: list[GNode], nums: Numbers, partials: Partials, wrt: str, seed_text: str
) -> Sweep:
    """Rows in evaluation order: the seed for inputs, ċ = Σ ∂c/∂a·ȧ for op nodes."""
    rows = []
    for node in shown:
        value = nums.tangents.get(node.var)
        if node.kind == "input":
            rule = f"{dot(node.name)} = {seed_text if node.name == wrt else '0'}"
            rows.append(
                Row(node.name, rule, _v(value), _v(value), 0.0 if value is not None else None)
            )
            continue
        positions = _differentiable(node) if node.eqn is not None else []
        names = [_arg_text(a) for a in node.args]
        params = dict(node.eqn.params) if node.eqn is not None else {}
        shapes = [tuple(getattr(v.aval, "shape", ())) for v in node.eqn.invars] if node.eqn else []
        rule_terms = terms(node.eqn.primitive.name, node.name, names, params, shapes)
        fwd = [rule_terms[p][0] for p in positions if rule_terms[p][0]]
        rhs = " + ".join(fwd).replace("+ −", "− ") or "0"
        rule = f"{dot(node.name)} = {rhs}"
        if value is None:
            rows.append(Row(node.name, rule))
            continue
        plist = tuple(
            (node.name, _arg_name(node.args[p]), partials[(id(node), p)])
            for p in positions
            if (id(node), p) in partials
        )
        again: float | jax.Array  # by the partials, or by one JVP
        if plist and len(plist) == len(positions):
            again = sum(
                (
                    partials[(id(node), p)] * float(nums.tangents[node.eqn.invars[p]])
                    for p in positions
                ),
                0.0,
            )
        else:
            f = _position_fn(node, nums.values, positions)
            primals = [nums.values.get(node.eqn.invars[p]) for p in positions]
            tangents = [nums.tangents[node.eqn.invars[p]] for p in positions]
            again = jax.jvp(f, primals, tangents)[1] if positions else jnp.zeros_like(value)
        rows.append(Row(node.name, rule, _v(value), _v(again), _max_error(value, again), plist))
    return _sweep("forward", seed_text, rows)


def reverse_sweep(
    graph: Graph, shown: list[GNode], nums: Numbers, partials: Partials, cot_text: str
) -> Sweep:
    """Rows in reverse order: ā = (seed if output) + Σ over consumers c of c̄·∂c/∂a."""
    rows = []
    outvars = {v: k for k, (_, v) in enumerate(graph.outputs)}
    for node in reversed(shown):
        value = nums.adjoints.get(node.var)
        parts, again, plist = [], None, []
        if node.var in outvars:
            parts.append(cot_text)
            again = _add(again, nums.cotangents[outvars[node.var]])
        for consumer, pos in reversed(graph.consumers(node)):  # in the sweep's order
            if consumer.kind != "op" or pos not in _differentiable(consumer):
                continue
            names = [_arg_text(a) for a in consumer.args]
            shapes = [tuple(v.aval.shape) for v in consumer.eqn.invars]
            t = terms(
                consumer.eqn.primitive.name, consumer.name, names, dict(consumer.eqn.params), shapes
            )
            if t[pos][1]:  # empty: a repeated argument, already written once
                parts.append(t[pos][1])
            c_bar = nums.adjoints.get(consumer.var)
            if c_bar is None:
                continue
            key = (id(consumer), pos)
            if key in partials:
                plist.append((consumer.name, node.name, partials[key]))
                again = _add(again, float(c_bar) * partials[key])
            else:
                positions = _differentiable(consumer)
                f = _position_fn(consumer, nums.values, positions)
                primals = [nums.values.get(consumer.eqn.invars[p]) for p in positions]
                cts = jax.vjp(f, *primals)[1](c_bar)
                again = _add(again, cts[positions.index(pos)])
        rhs = " + ".join(parts).replace("+ −", "− ") or "0"
        rule = f"{bar(node.name)} = {rhs}"
        if value is None:
            rows.append(Row(node.name, rule))
            continue
        again = jnp.zeros_like(value) if again is None else again
        rows.append(
            Row(node.name, rule, _v(value), _v(again), _max_error(value, again), tuple(plist))
        )
    return _sweep("reverse", cot_text, rows)


def _add(a: Any, b: Any) -> Any:
    return b if a is None else a + b


def _v(x: Any) -> Value | None:
    return None if x is None else to_value(x)


def _sweep(direction: str, seed: str, rows: list[Row]) -> Sweep:
    errors = [r.error for r in rows if r.error is not None]
    return Sweep(direction, seed, tuple(rows), max(errors) if errors else None)


def edges(graph: Graph, shown: list[GNode], partials: Partials) -> list[Edge]:
    """Data flow between shown nodes, with ∂target/∂source where both are scalars."""
    names = {id(n) for n in shown}
    found = []
    for node in shown:
        if node.kind != "op" or node.eqn is None:
            continue
        seen: dict[str, float | None] = {}
        for pos, arg in enumerate(node.args):
            if not isinstance(arg, GNode):
                continue
            source = arg if id(arg) in names else arg.target()
            if id(source) not in names:
                continue
            p = partials.get((id(node), pos))
            old = seen.get(source.name)
            seen[source.name] = p if old is None else (old + p if p is not None else old)
        found += [Edge(s, node.name, p) for s, p in seen.items()]
    return found
