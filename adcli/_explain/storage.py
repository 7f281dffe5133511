"""What the reverse sweep had to store, by node name.

The graph is run with node k's equation inside ``jax.named_scope("adcli_node_k")`` and
``jax.vjp`` of it is traced (as JAX's own ``saved_residuals`` does, on abstract values:
nothing is allocated). Each residual of the traced VJP is then an argument (an input, or a
constant), a node's own value (the first output its equation produces in its scope), or a
factor a node's local rule computed in the forward pass (``1/(2√v2)`` for ``v3 = sqrt(v2)``):
the name scope of the equation that produced it says which node. Scopes change nothing in
the computation, so the residuals are the function's own.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import numpy as np
from jax.extend import core as jcore

from adcli._explain.graph import GNode, Graph
from adcli._explain.sweeps import run
from adcli._problem.build import Problem
from adcli._results.explain import Storage, Stored

_SCOPE = re.compile(r"adcli_node_(\d+)")
METHOD = "jax.vjp traced with a name scope per node (as jax's saved_residuals)"


def storage(graph: Graph, problem: Problem, in_structs: list[Any]) -> Storage | str:
    """The residuals of the reverse sweep mapped to node names; without reverse mode, why.

    The whole VJP (forward and backward pass) is traced: a function whose forward half
    traces but whose backward pass does not exist (a ``while_loop``) stored nothing usable.
    """
    const_structs = jax.tree_util.tree_leaves(problem.constant_structs)
    n = len(in_structs)

    def f(*leaves: Any) -> Any:
        frozen = [jax.lax.stop_gradient(c) for c in leaves[n:]]
        env = run(graph, list(leaves[:n]), frozen, scoped=True)
        return [v.val if isinstance(v, jcore.Literal) else env[v] for _, v in graph.outputs]

    def pullback(*leaves: Any) -> Any:
        outs, back = jax.vjp(f, *leaves)
        return back([jax.numpy.zeros_like(o) for o in outs])

    try:
        jax.eval_shape(pullback, *in_structs, *const_structs)  # the backward pass exists
        closed, shapes = jax.make_jaxpr(lambda *a: jax.vjp(f, *a), return_shape=True)(
            *in_structs, *const_structs
        )
    except Exception as exc:  # no reverse mode (e.g. a while loop): nothing was stored
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    jaxpr = closed.jaxpr
    count = len(jax.tree_util.tree_leaves(shapes[1]))
    residuals = jaxpr.outvars[len(jaxpr.outvars) - count :]
    producer = {v: e for e in jaxpr.eqns for v in e.outvars}
    primal = _primal_outputs(graph, jaxpr)
    names = [*graph.input_names, *graph.constant_names]
    items = []
    for var in residuals:
        shape = tuple(int(d) for d in var.aval.shape)
        dtype = str(var.aval.dtype)
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(var.aval.dtype).itemsize
        eqn = producer.get(var)
        source = eqn.invars[0] if eqn is not None and eqn.primitive.name == "stop_gradient" else var
        if not isinstance(source, jcore.Literal) and source in jaxpr.invars:
            label = names[jaxpr.invars.index(source)]
            items.append(Stored(label, "argument", shape, dtype, size, label))
        elif eqn is None:
            items.append(Stored("a literal or constant", "derived", shape, dtype, size))
        elif var in primal:
            owner = primal[var]
            name = owner.target().name  # a cast or a checkpoint_name stands for its input
            label = name
            if dtype != owner.target().dtype:  # a cond's bool predicate, kept as an int32
                label = f"{dtype}({name})"
            if owner.eqn is not None and owner.eqn.primitive.name == "name":
                label += f" (named '{owner.eqn.params.get('name')}')"
            items.append(Stored(label, "node", shape, dtype, size, name))
        else:
            node = _scope_node(graph, eqn)
            label = f"output of {eqn.primitive.name}" + (f" ({node.name}'s rule)" if node else "")
            items.append(Stored(label, "derived", shape, dtype, size, node.name if node else None))
    kept = [s for s in items if s.kind != "argument"]
    stored = {s.node for s in kept if s.kind == "node"}
    ops = [n for n in graph.nodes if n.kind == "op" and not n.hidden]
    arguments = {s.label: s.bytes for s in items if s.kind == "argument"}
    return Storage(
        bytes=sum(s.bytes for s in kept),
        count=len(kept),
        argument_bytes=sum(arguments.values()),
        items=tuple(items),
        nodes_stored=sum(1 for n in ops if n.name in stored),
        nodes_recomputable=sum(1 for n in ops if n.name not in stored),
        method=METHOD,
    )


def _scope_node(graph: Graph, eqn: Any) -> GNode | None:
    found = _SCOPE.findall(str(eqn.source_info.name_stack))
    return graph.nodes[int(found[-1])] if found else None


def _primal_outputs(graph: Graph, jaxpr: Any) -> dict[Any, GNode]:
    """Var of the traced VJP → the node whose value it is: in each node's scope, the first
    equation of the node's own primitive computes the node (JVP rules compute the primal
    output first); a collapsed call's first outputs are its primal outputs."""
    found: dict[Any, GNode] = {}
    done: set[int] = set()
    for eqn in jaxpr.eqns:
        node = _scope_node(graph, eqn)
        if node is None or id(node.eqn) in done or node.eqn is None:
            continue
        if eqn.primitive.name != node.eqn.primitive.name:
            continue
        done.add(id(node.eqn))
        for k, var in enumerate(eqn.outvars[: len(node.eqn.outvars)]):
            owner = next((m for m in graph.nodes if m.eqn is node.eqn and m.out_index == k), None)
            if owner is not None:
                found[var] = owner
    return found
