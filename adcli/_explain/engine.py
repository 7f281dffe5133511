"""``adcli explain``: a spec's computational graph, its forward and reverse sweeps, and what
the reverse sweep stores — the evaluation-trace tables of an AD lecture, computed by JAX.

The graph is the function's jaxpr, one node per top-level value (adcli._explain.graph); the sweeps
and their rule-by-rule check are in adcli._explain.sweeps; the notation in
adcli._explain.rules. Engines return data (adcli._results.explain); reporters render it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import UsageError
from adcli._explain.graph import GNode, Graph, leaf_names, trace_spec
from adcli._explain.options import DEFAULT_MAX_NODES, ExplainOptions
from adcli._explain.point import apply_at, resolve_wrt, seed_vector
from adcli._explain.rules import operation
from adcli._explain.storage import storage
from adcli._explain.sweeps import (
    compute,
    edges,
    forward_sweep,
    local_partials,
    reverse_sweep,
    to_value,
)
from adcli._options import from_keywords
from adcli._problem.build import Problem, build
from adcli._problem.callable import problem_of
from adcli._problem.jaxpr import equations
from adcli._problem.runtime import jax_scope
from adcli._results.explain import (
    ExplainReport,
    ExplainResult,
    GraphSummary,
    Node,
    Storage,
    Sweep,
)
from adcli._spec.model import Spec
from adcli._spec.select import all_loaded, select_specs

VALUE_LIMIT = 1 << 24  # entries over every graph value: beyond it values are omitted


def explain(
    spec_or_path: Spec | str | os.PathLike[str] | Callable[..., Any],
    *args: Any,
    spec: str | None = None,
    wrt: str | None = None,
    direction: str = "first",
    cotangent: str = "first",
    at: Mapping[str, Any] | None = None,
    point: int = 0,
    seed: int | None = None,
    dims: Mapping[str, int] | None = None,
    check_dims: bool = False,
    all_nodes: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    output_name: str | None = None,
) -> ExplainResult:
    """The computational graph of one spec and its forward and reverse sweeps at one point.

    Cost: one trace, one JVP and one VJP of the graph run op by op, and one small JVP/VJP
    per node for the rule-by-rule check; nothing is evaluated for a graph with more than
    ``max_nodes`` nodes or more than 2**24 entries in all (the structure is still given).

    Args:
        spec_or_path: a Spec, a spec file (``spec`` names one if it holds several), or a
            function with its example arguments ``*args`` (those holding floating arrays
            are its inputs, the others constants).
        wrt: the input whose tangent seeds the forward sweep (an input or a pytree leaf
            such as ``params.w1``; default: the first of ``check.wrt``, else the first input).
        direction: that input's tangent: ``first`` (the unit vector e₀; 1 for a scalar),
            ``ones``, or ``random`` (standard normal entries from ``seed``).
        cotangent: the output cotangent that seeds the reverse sweep, chosen the same way
            (``first``: e₀ of the first output leaf, 1 for a scalar function).
        at: input (or constant) values replacing the sampled ones: a number, or a nested
            list that broadcasts to the shape (numpy rules); strings are parsed as YAML.
        point, seed: which sample point (``Problem.sample_inputs``).
        dims, check_dims: size overrides; ``check_dims`` uses the spec's ``check.dims``.
        all_nodes: also show the bookkeeping nodes (casts, broadcast literals).
        output_name: the output node's name (default: the spec name's last ``_`` part
            when it is one letter, as ``lecture_L`` → ``L``; else ``out``).

    Raises:
        SpecError: the spec cannot be built; UsageError: a bad option.

    >>> r = explain("specs/lecture_L.yaml", at={"w1": 2.0, "w2": 3.0})
    >>> [row.node for row in r.reverse.rows]
    ['L', 'v3', 'v2', 'v1', 'w2', 'w1']
    >>> r.forward.rows[3].rule
    'v̇2 = ẇ2·v1 + w2·v̇1'
    >>> round(r.reverse.rows[-1].value.scalar, 6)   # dL/dw1 = (w2/w1)(1 + 1/(2√(w2 log w1)))
    2.020101
    """
    problem = problem_of(spec_or_path, args, wrt=None, what="explain")
    if problem is not None:
        return explain_problem(problem, from_keywords(ExplainOptions, locals()))
    assert not callable(spec_or_path)  # problem_of took the function
    chosen = _one_spec(spec_or_path, spec, dims, check_dims)  # a file's errors come first
    return explain_spec(chosen, from_keywords(ExplainOptions, locals()))


def _one_spec(
    spec_or_path: Spec | str | os.PathLike[str],
    name: str | None,
    dims: Mapping[str, int] | None,
    check_dims: bool,
) -> Spec:
    """The Spec given, or the one spec (``name`` if several) in the file."""
    if isinstance(spec_or_path, Spec):
        return spec_or_path
    only = [name] if name else ()
    chosen = all_loaded(select_specs(spec_or_path, only=only, dims=dims, check_dims=check_dims))
    if len(chosen) != 1:
        names = ", ".join(s.name for s in chosen)
        raise UsageError(f"{spec_or_path} holds several specs ({names}): choose one with spec=")
    return chosen[0]


def explain_report(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    only: Sequence[str] = (),
    dims: Mapping[str, int] | None = None,
    check_dims: bool = False,
    **options: Any,
) -> ExplainReport:
    """``explain`` of every spec under ``paths`` (what the CLI calls); ``options`` are
    ``explain``'s."""
    start = time.perf_counter()
    chosen = all_loaded(select_specs(paths, only=only, dims=dims, check_dims=check_dims))
    opts = ExplainOptions(**options)
    results = tuple(explain_spec(s, opts) for s in chosen)
    return ExplainReport(results, seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class _Sweeps:
    """The numbers of the tables: node values, local partials and both sweeps."""

    values: dict[Any, Any] = field(default_factory=dict)
    partials: dict[Any, float] = field(default_factory=dict)
    forward: Sweep | None = None
    reverse: Sweep | None = None
    grad_error: float | None = None
    seed_text: str = ""
    cot_text: str = ""
    notes: tuple[str, ...] = ()


@jax_scope()
def explain_spec(spec: Spec, options: ExplainOptions) -> ExplainResult:
    """``explain`` of one loaded Spec with validated options (see there)."""

    start = time.perf_counter()
    return explain_problem(build(spec), options, start)


def explain_problem(
    problem: Problem, options: ExplainOptions, start: float | None = None
) -> ExplainResult:
    """``explain`` of a built Problem (a spec's, or a function's at its arguments)."""
    start = time.perf_counter() if start is None else start
    spec = problem.spec
    in_names = leaf_names(problem.input_structs)
    const_names = leaf_names(problem.constant_structs)
    in_structs = jax.tree_util.tree_leaves(problem.input_structs)
    for name, s in zip(in_names, in_structs, strict=True):
        if jnp.issubdtype(s.dtype, jnp.complexfloating):
            raise UsageError(f"input '{name}' is complex: explain shows real sweeps only")
    wrt_leaf = resolve_wrt(spec, options.wrt, in_names)
    graph = trace_spec(spec, problem, in_names, const_names, options.output_name)
    if options.all_nodes:
        for node in graph.nodes:
            node.hidden, node.alias_of, node.literal = False, None, None
    shown = [n for n in graph.nodes if not n.hidden]
    summarised = len(shown) > options.max_nodes
    omitted = _omitted(graph, len(shown), options.max_nodes)
    sweeps = _Sweeps()
    if omitted is None:
        sweeps = _sweeps(graph, problem, shown, wrt_leaf, options, (in_names, const_names))
    notes = list(sweeps.notes)
    traced = storage(graph, problem, in_structs)
    if isinstance(traced, str) and not any(n.startswith("reverse sweep not") for n in notes):
        notes.append(f"reverse sweep not available: {traced}")
    return ExplainResult(
        name=spec.name,
        file=spec.where.file,
        line=spec.where.line,
        kind="expr" if spec.function.expr is not None else "python",
        dims=dict(problem.dims),
        backend=jax.default_backend(),
        dtypes={n.name: n.dtype for n in graph.nodes if n.kind == "input"},
        point=options.point,
        seed=spec.check.seed if options.seed is None else options.seed,
        at={k: str(v) for k, v in (options.at or {}).items()},
        wrt=wrt_leaf,
        direction=sweeps.seed_text or options.direction,
        cotangent=sweeps.cot_text or options.cotangent,
        nodes=tuple(_node(n, sweeps.values) for n in graph.nodes),
        edges=tuple(edges(graph, shown, sweeps.partials)),
        outputs=tuple(name for name, _ in graph.outputs),
        summary=_summary(graph),
        summarised=summarised,
        max_nodes=options.max_nodes,
        all_nodes=options.all_nodes,
        grad_error=sweeps.grad_error,
        storage=traced if isinstance(traced, Storage) else None,
        values_omitted=omitted,
        notes=tuple(notes),
        seconds=time.perf_counter() - start,
        forward=sweeps.forward,
        reverse=sweeps.reverse,
    )


def _omitted(graph: Graph, shown: int, max_nodes: int) -> str | None:
    """Why values are not computed (a graph too large to show or to evaluate), or None."""
    entries = sum(int(np.prod(n.shape, dtype=np.int64)) for n in graph.nodes)
    if shown > max_nodes:
        return f"graph summarised ({shown} nodes > --max-nodes {max_nodes})"
    if entries > VALUE_LIMIT:
        return f"values not computed: {entries:,} entries in all (limit {VALUE_LIMIT:,})"
    return None


def _sweeps(
    graph: Graph,
    problem: Problem,
    shown: list[GNode],
    wrt_leaf: str,
    options: ExplainOptions,
    names: tuple[list[str], list[str]],
) -> _Sweeps:
    """Both sweeps at the sample point (``--at`` applied), seeded as the options say."""
    in_names, const_names = names
    seed, cotangent = options.seed, options.cotangent
    inputs = problem.sample_inputs(options.point, seed)
    constants = problem.sample_constants(seed)
    inputs, constants = apply_at(options.at or {}, inputs, constants, in_names, const_names)
    args = jax.tree_util.tree_leaves(inputs)
    consts = jax.tree_util.tree_leaves(constants)
    k = in_names.index(wrt_leaf)
    seeds = [jnp.zeros_like(a) for a in args]
    seeds[k], seed_text = seed_vector(options.direction, args[k], seed, "seed")
    outs = [graph.by_var[v].var.aval if v in graph.by_var else v.aval for _, v in graph.outputs]
    cots = [jnp.zeros(o.shape, o.dtype) for o in outs]
    cots[0], cot_text = seed_vector(cotangent, cots[0], seed, "cotangent")
    if len(cots) > 1:  # several output leaves: e₀ of the first, or every leaf seeded
        if cotangent != "first":
            cots = [seed_vector(cotangent, c, seed, "cotangent")[0] for c in cots]
        cot_text = {"first": f"e₀ of {graph.outputs[0][0]}, 0 elsewhere"}.get(
            cotangent, cot_text if cotangent == "random" else "ones"
        )
    nums = compute(graph, _leaf_function(problem, constants, args), args, consts, seeds, cots)
    partials = local_partials(graph, nums.values)
    swept = [n for n in shown if n.kind in ("input", "op")]
    forward = reverse = None
    if nums.tangents:
        forward = forward_sweep(graph, swept, nums, partials, wrt_leaf, seed_text)
    if nums.adjoints:
        reverse = reverse_sweep(graph, swept, nums, partials, cot_text)
    return _Sweeps(
        nums.values,
        partials,
        forward,
        reverse,
        nums.grad_error,
        seed_text,
        cot_text,
        tuple(nums.notes),
    )


def _leaf_function(problem: Problem, constants: Any, args: list[Any]) -> Any:
    """The spec's own function of the input leaves, returning its output leaves."""
    tree = jax.tree_util.tree_structure(problem.input_structs)

    def f(xs: list[Any]) -> list[Any]:
        out = problem.call(jax.tree_util.tree_unflatten(tree, xs), constants)
        return jax.tree_util.tree_leaves(out)

    return f


def _summary(graph: Graph) -> GraphSummary:
    ops = [n for n in graph.nodes if n.kind != "input" and n.eqn is not None]
    eqns = {id(n.eqn): n for n in ops}
    by = Counter(n.primitive or "?" for n in eqns.values())
    total = sum(1 for _ in equations(graph.closed.jaxpr))
    collapsed = tuple(
        (n.name, n.ops) for n in eqns.values() if n.ops > 1 or ":" in (n.primitive or "")
    )
    return GraphSummary(len(graph.closed.jaxpr.eqns), total, tuple(by.most_common()), collapsed)


def _node(n: GNode, values: Mapping[Any, Any]) -> Node:
    if n.kind == "input" or n.eqn is None:
        op = "input" if n.kind == "input" else "constant"
        args: tuple[str, ...] = ()
    else:
        args = tuple(
            (a.literal or a.target().name) if isinstance(a, GNode) else str(a) for a in n.args
        )
        op = operation(n.eqn.primitive.name, args, dict(n.eqn.params), n.primitive or "")
        if len(n.eqn.outvars) > 1:
            op += f"[{n.out_index}]"
    value = values.get(n.var)
    return Node(
        name=n.name,
        kind=n.kind,
        primitive=n.primitive,
        operation=op,
        args=args,
        shape=n.shape,
        dtype=n.dtype,
        source=n.source,
        step=n.step,
        ops=n.ops,
        hidden=n.hidden,
        outputs=tuple(n.outputs),
        value=to_value(value) if value is not None else None,
    )
