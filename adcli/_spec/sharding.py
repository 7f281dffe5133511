"""The spec keys of a sharded spec: ``mesh:``, ``mesh_axis_types:`` and each leaf's ``sharding:``.

A leaf's ``sharding`` is a PartitionSpec written as a list, one entry per leading
dimension: a mesh axis name (that axis splits the dimension), a list of names (those axes
split it together) or ``null`` (not split). Every mistake is a SpecError naming the file,
line and field: an axis the mesh lacks, an axis used twice in one leaf, more entries than
the leaf has dimensions, a dimension its axes do not divide (at the spec's ``dims`` and at
its ``check.dims``), a ``sharding`` without a ``mesh``. That a mesh fits the devices there
are is checked where devices are known (``adcli._problem.mesh``). No jax, no numpy.

>>> from adcli._spec.load import load_text
>>> text = '''
... name: sharded
... function: {expr: sum(w * w)}
... mesh: {data: 2}
... dims: {n: 5}
... inputs: {w: {shape: [n], sharding: [data]}}
... '''
>>> load_text(text, file="s.yaml")
Traceback (most recent call last):
adcli._errors.SpecError: s.yaml:6: inputs.w.sharding[0]: dimension 0 of 'w' has size 5, ...
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from adcli._errors import SpecError, did_you_mean
from adcli._spec.model import MESH_AXIS_TYPES, ArraySpec, MeshSpec, ShardingEntry, Spec
from adcli._spec.shapes import resolve_shape
from adcli._spec.yaml import Reader, child, kind_of

_EXAMPLE = "e.g. sharding: [data, null] splits dimension 0 over the mesh axis 'data'"


def read_mesh(r: Reader, value: Any, axis_types: Any) -> MeshSpec | None:
    """``mesh: {data: 4, model: 2}`` and ``mesh_axis_types: auto|explicit``."""
    if value is None:
        if axis_types is not None:
            r.fail("mesh_axis_types", "mesh_axis_types needs a mesh", "e.g. mesh: {data: 8}")
        return None
    want = "a mapping of axis names to sizes, e.g. {data: 4, model: 2}"
    axes = r.mapping(value, "mesh", expected=want)
    if not axes:
        r.fail("mesh", "a mesh needs at least one axis", want.replace("a mapping of", "give"))
    for name, size in axes.items():
        path = child("mesh", name)
        if not name.isidentifier():
            r.fail(
                path, f"'{name}' is not a valid mesh axis name", "use letters, digits, _", key=True
            )
        r.integer(size, path, minimum=1)
    kind = "auto" if axis_types is None else axis_types
    if kind not in MESH_AXIS_TYPES:
        hint = did_you_mean(str(kind), MESH_AXIS_TYPES) or "expected auto or explicit"
        r.fail("mesh_axis_types", f"unknown axis type {kind!r}", hint)
    return MeshSpec({k: int(v) for k, v in axes.items()}, kind, r.where("mesh"))


def read_sharding(r: Reader, value: Any, path: str) -> tuple[ShardingEntry, ...] | None:
    """A leaf's ``sharding:`` list, its syntax only (``check_shardings`` checks it fits)."""
    if value is None:
        return None
    if not isinstance(value, list):
        hint = f"write [{value}]" if isinstance(value, str) else _EXAMPLE
        r.fail(path, f"expected a list with one entry per dimension, got {kind_of(value)}", hint)
    entries: list[ShardingEntry] = []
    for i, entry in enumerate(value):
        here = child(path, i)
        if entry is None or isinstance(entry, str):
            entries.append(entry)
        elif isinstance(entry, list) and entry and all(isinstance(a, str) for a in entry):
            entries.append(tuple(entry))
        else:
            problem = f"expected a mesh axis name, a list of names or null, got {kind_of(entry)}"
            r.fail(here, problem, _EXAMPLE)
    return tuple(entries)


def check_shardings(r: Reader, spec: Spec) -> None:
    """Every leaf's ``sharding`` fits the mesh and the leaf's sizes (at ``dims`` and at
    ``check.dims``)."""
    for path, leaf in _sharded_leaves(spec):
        try:
            _check_leaf(spec, path, leaf, spec.dims)
            if spec.check.dims:
                _check_leaf(spec, path, leaf, {**spec.dims, **spec.check.dims}, at_check=True)
        except SpecError as exc:
            field = exc.field or ""
            r.fail(field, exc.problem, exc.hint, key=field.endswith(".sharding"))


def recheck_shardings(spec: Spec, dims: Mapping[str, int]) -> None:
    """That every ``sharding`` still divides its dimensions with new ``dims`` (``--dim``).

    Raises:
        SpecError: naming the leaf's ``sharding`` entry.
    """
    for path, leaf in _sharded_leaves(spec):
        _check_leaf(spec, path, leaf, dims)


def _sharded_leaves(spec: Spec) -> Iterator[tuple[str, ArraySpec]]:
    for root, trees in (("inputs", spec.inputs), ("constants", spec.constants)):
        for name, tree in trees.items():
            yield from _leaves(child(root, name), tree)


def _leaves(path: str, tree: Any) -> Iterator[tuple[str, ArraySpec]]:
    if isinstance(tree, ArraySpec):
        if tree.sharding is not None:
            yield path, tree
    elif isinstance(tree, Mapping):
        for key, sub in tree.items():
            yield from _leaves(child(path, key), sub)
    elif isinstance(tree, tuple | list):
        for i, sub in enumerate(tree):
            yield from _leaves(child(path, i), sub)
    # a {python:} value has no sharding: keys (its leaves are replicated on a mesh)


def _check_leaf(
    spec: Spec, path: str, leaf: ArraySpec, dims: Mapping[str, int], *, at_check: bool = False
) -> None:
    assert leaf.sharding is not None
    field = child(path, "sharding")
    where = leaf.where
    name = path.split(".", 1)[1]

    def fail(sub: str, problem: str, hint: str | None = None) -> SpecError:
        return SpecError(problem, file=where.file, line=where.line, field=sub, hint=hint)

    mesh = spec.mesh
    if mesh is None:
        hint = "add a mesh, e.g. mesh: {data: 8}, or remove the sharding"
        raise fail(field, "a sharding needs a mesh: this spec has no mesh:", hint)
    sizes = resolve_shape(leaf.shape, dims, where=where, field=child(path, "shape"))
    if len(leaf.sharding) > len(sizes):
        problem = (
            f"{len(leaf.sharding)} sharding entries for '{name}', which has "
            f"{len(sizes)} dimension{'s' if len(sizes) != 1 else ''}"
        )
        raise fail(field, problem, "give at most one entry per dimension")
    used: dict[str, int] = {}
    for i, entry in enumerate(leaf.sharding):
        axes = () if entry is None else (entry,) if isinstance(entry, str) else entry
        for axis in axes:
            _known_axis(mesh, axis, child(field, i), fail)
            if axis in used:
                problem = (
                    f"mesh axis '{axis}' splits two dimensions of '{name}' ({used[axis]} and {i})"
                )
                raise fail(child(field, i), problem, "an axis may split one dimension of a leaf")
            used[axis] = i
        split = 1
        for axis in axes:
            split *= mesh.axes[axis]
        if sizes[i] % split:
            by = (
                f"mesh axis '{axes[0]}' (size {split})"
                if len(axes) == 1
                else (f"mesh axes {', '.join(repr(a) for a in axes)} (together {split})")
            )
            problem = f"dimension {i} of '{name}' has size {sizes[i]}, which {by} does not divide"
            if at_check:
                shown = ", ".join(f"{k}={v}" for k, v in spec.check.dims.items())
                problem = f"at check.dims ({shown}): {problem}"
            hint = f"give it a size that is a multiple of {split}, or leave it unsplit: null"
            raise fail(child(field, i), problem, hint)


def _known_axis(mesh: MeshSpec, axis: str, field: str, fail: Any) -> None:
    if axis not in mesh.axes:
        hint = did_you_mean(axis, mesh.axes) or f"the mesh's axes: {', '.join(mesh.axes)}"
        raise fail(field, f"'{axis}' is not an axis of the mesh {mesh}", hint)
