"""``adcli memory`` on a mesh: every figure per device (docs/sharding.md).

The compiled programs are lowered on ShapeDtypeStructs that carry the spec's shardings,
so XLA's ``memory_analysis`` of the SPMD program is already per device. What this module
adds:

- each residual counted by its shard: the residuals are the outputs of the forward pass
  of ``jax.vjp``, compiled with the inputs' shardings; the shard shape of each output
  (where the partitioner leaves it) replaces its whole shape;
- the cotangent of the ``vjp`` program laid out as the forward pass leaves the output;
- which residuals are replicated over a mesh axis although a dimension of theirs could be
  split over it, and what splitting it would save per device.

The residual shardings come from compiling the residual-producing program by itself: the
partitioner lays a residual out as its producer computes it, which is what the fused
training step keeps between its passes unless it reshards it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.extend.core import Literal
from jax.sharding import NamedSharding

from adcli._memory.residuals import _relabel_constants, parse_reason
from adcli._problem.build import Problem
from adcli._problem.mesh import MeshPlan
from adcli._results.memory import MeshMemory, ReplicatedResidual

Raw = list[tuple[Any, str]]


def is_sharded(args: tuple[Any, ...]) -> bool:
    """Whether abstract ``args`` carry shardings (a sharded spec's structs)."""
    return any(
        isinstance(getattr(leaf, "sharding", None), NamedSharding)
        for leaf in jax.tree_util.tree_leaves(args)
    )


def per_device(raw: Raw, f: Callable[..., Any], args: tuple[Any, ...]) -> Raw:
    """``saved_residuals``' list with each residual's shape replaced by its shard's."""
    return [
        (_shard_aval(aval, sharding), reason) for (aval, reason), sharding in _paired(raw, f, args)
    ]


def _shard_aval(aval: Any, sharding: Any) -> Any:
    if sharding is None or not hasattr(aval, "update") or not getattr(aval, "shape", ()):
        return aval
    # sharding=None: with explicit axes the aval's own sharding would not fit the shard.
    return aval.update(shape=tuple(sharding.shard_shape(tuple(aval.shape))), sharding=None)


def _paired(raw: Raw, f: Callable[..., Any], args: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """Each entry of ``raw`` (in saved_residuals' order) with its output sharding."""
    leaves, tree = jax.tree_util.tree_flatten((args, {}))

    def f_(*flat: Any) -> Any:
        a, kw = jax.tree_util.tree_unflatten(tree, flat)
        return f(*a, **kw)

    closed, shapes = jax.make_jaxpr(lambda *a: jax.vjp(f_, *a), return_shape=True)(*leaves)
    count = len(jax.tree_util.tree_leaves(shapes[1]))
    jaxpr = closed.jaxpr
    outvars = list(jaxpr.outvars[len(jaxpr.outvars) - count :])
    residuals = jax.jit(lambda *a: jax.tree_util.tree_leaves(jax.vjp(f_, *a)[1]))
    shardings = list(residuals.lower(*leaves).compile().output_shardings)
    order = _saved_order(jaxpr, outvars)
    if len(order) != len(raw) or len(shardings) != len(outvars):
        return [(entry, None) for entry in raw]  # a JAX whose order differs: whole sizes
    return [(entry, shardings[i]) for entry, i in zip(raw, order, strict=True)]


def _saved_order(jaxpr: Any, outvars: list[Any]) -> list[int]:
    """For each entry of ``saved_residuals`` (literals, constants, arguments, then
    equation outputs in program order, as jax._src.ad_checkpoint lists them), the index of
    its residual among ``outvars``."""
    subst = {
        e.outvars[0]: e.invars[0] for e in jaxpr.eqns if e.primitive.name == "reduce_precision"
    }
    index: dict[Any, int] = {}
    literals = []
    for i, var in enumerate(outvars):
        if isinstance(var, Literal):
            literals.append(i)
        else:
            index.setdefault(subst.get(var, var), i)
    order = list(literals)
    for var in (*jaxpr.constvars, *jaxpr.invars):
        if var in index:
            order.append(index[var])
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            if var in index:
                order.append(index[var])
    return order


def output_sharded(problem: Problem) -> Problem:
    """The problem with its output struct laid out as the forward program leaves it, so
    that the ``vjp`` program's cotangent arrives sharded as in a training step."""
    fn = problem.fn
    forward = jax.jit(lambda i, c: fn(**i, **c))
    compiled = forward.lower(problem.input_structs, problem.constant_structs).compile()
    out = jax.tree_util.tree_map(
        lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
        problem.output_struct,
        compiled.output_shardings,
    )
    return dataclasses.replace(problem, output_struct=out)


def mesh_memory(problem: Problem, f: Callable[..., Any], args: tuple[Any, ...]) -> MeshMemory:
    """The mesh, and the residuals replicated where a dimension could be split."""
    plan = problem.mesh
    assert plan is not None
    try:
        from jax._src.ad_checkpoint import saved_residuals  # as adcli._memory.residuals
    except ImportError:
        raw: Raw = []
    else:
        raw = list(saved_residuals(f, *args))
    found = []
    parsed = _relabel_constants([parse_reason(a, why) for a, why in raw], args[1])
    for ((aval, _), sharding), residual in zip(_paired(raw, f, args), parsed, strict=True):
        if residual.origin == "argument" or sharding is None:
            continue
        split = _could_split(plan, tuple(aval.shape), np.dtype(aval.dtype).itemsize, sharding)
        if split is not None:
            label = residual.primitive or residual.name or residual.origin
            if residual.source:
                label += f" @ {residual.source}"
            found.append(dataclasses.replace(split, label=label, dtype=str(residual.dtype)))
    found.sort(key=lambda r: -r.saving_bytes)
    return MeshMemory(
        axes=dict(plan.spec.axes),
        axis_types=plan.spec.axis_types,
        devices=int(plan.mesh.devices.size),
        platform=plan.platform,
        replicated=tuple(found),
    )


def _could_split(
    plan: MeshPlan, shape: tuple[int, ...], itemsize: int, sharding: Any
) -> ReplicatedResidual | None:
    """A residual replicated over mesh axes that divide one of its unsplit dimensions."""
    if not shape or not isinstance(sharding, NamedSharding):
        return None
    used = {
        a for entry in sharding.spec for a in ((entry,) if isinstance(entry, str) else entry or ())
    }
    split_dims = {i for i, entry in enumerate(sharding.spec) if entry is not None}
    free = [a for a in plan.mesh.axis_names if a not in used and plan.mesh.shape[a] > 1]
    if not free:
        return None
    shard = tuple(sharding.shard_shape(shape))
    per_device = int(np.prod(shard)) * itemsize
    for axis in sorted(free, key=lambda a: -plan.mesh.shape[a]):
        size = plan.mesh.shape[axis]
        for dim, n in enumerate(shard):
            if dim not in split_dims and n % size == 0 and n >= size:
                return ReplicatedResidual(
                    label="",
                    shape=shape,
                    dtype="",
                    bytes_per_device=per_device,
                    replicated_over=tuple(free),
                    could_split=f"dimension {dim} ({shape[dim]}) over '{axis}' ({size})",
                    saving_bytes=per_device - per_device // size,
                )
    return None
