"""A sharded spec on JAX's own runtime: its device mesh, each leaf's ``NamedSharding``, the
function run under the mesh, sample points created with their shardings, and programs
whose results come back replicated so that the host can compare them.

Nothing here is a scheduler of adcli's own: the mesh is ``jax.make_mesh``, the shardings
are ``NamedSharding``s, the partitioning and the collectives are XLA's. ``MeshPlan`` is
what ``adcli._problem.build`` attaches to a Problem whose spec has a ``mesh:``
(docs/sharding.md); without one nothing here runs.

- The function runs with the spec's mesh as the context mesh: a ``jax.shard_map`` inside
  it needs no ``mesh=`` and a bare ``PartitionSpec`` resolves against it
  (``jax.sharding.use_abstract_mesh``, which, unlike ``jax.set_mesh``, works under ``jit``).
- Every argument is constrained to its spec sharding where the function is entered from a
  flat vector (``Problem.run``), so a check that perturbs a flat vector of the inputs still runs the
  function on inputs laid out as the user's training step lays them out: the same
  collectives, in the JVPs, VJPs and every FD evaluation.
- Sample points are made with ``jax.make_array_from_callback``: each process builds only
  the shards its own devices hold, from the seeded host draw (the same on every process),
  so nothing is gathered to one host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from adcli._errors import SpecError, UsageError
from adcli._spec.model import ArraySpec, MeshSpec, Spec

if TYPE_CHECKING:
    pass

Tree = Any  # a pytree whose leaves are NamedShardings (or arrays, or ShapeDtypeStructs)


@dataclass
class MeshPlan:
    """The mesh of a sharded spec and the sharding of every input and constant leaf."""

    spec: MeshSpec
    mesh: Mesh
    inputs: dict[str, Tree]
    constants: dict[str, Tree]
    # Why these devices, when it is not simply the first ones of the default backend.
    device_note: str | None = None

    @property
    def replicated(self) -> NamedSharding:
        """Every device of the mesh holds the whole value."""
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def explicit(self) -> bool:
        return self.spec.axis_types == "explicit"

    @property
    def platform(self) -> str:
        return str(self.mesh.devices.flat[0].platform)

    def describe(self) -> str:
        """``mesh {data: 4, model: 2} (auto axes) on 8 cpu devices``."""
        count = self.mesh.devices.size
        text = f"mesh {self.spec} ({self.spec.axis_types} axes) on {count} {self.platform} device"
        text += "s" if count != 1 else ""
        if self.platform == "cpu" and len(jax.local_devices(backend="cpu")) > 1:
            text += " (simulated: XLA's host device count)"  # one CPU is one device
        if jax.process_count() > 1:
            text += f" in {jax.process_count()} processes"
        return text + (f"; {self.device_note}" if self.device_note else "")

    # -- the function under the mesh ------------------------------------------------------
    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` run with this mesh as the context mesh (traced or not)."""
        abstract = self.mesh.abstract_mesh

        def under_mesh(**kwargs: Any) -> Any:
            with jax.sharding.use_abstract_mesh(abstract):
                return fn(**kwargs)

        under_mesh.__wrapped__ = fn  # type: ignore[attr-defined]  # (--parity runs it elsewhere)
        return under_mesh

    def gathered(self, value: Any) -> Any:
        """``value`` (a pytree) laid out replicated, inside a program. With explicit axes a
        sharded value cannot be flattened (raveled) without saying the result's sharding;
        adcli's flat views of inputs and outputs are replicated. Auto axes: unchanged."""
        if not self.explicit:
            return value
        with jax.sharding.use_abstract_mesh(self.mesh.abstract_mesh):
            return jax.tree_util.tree_map(lambda x: jax.sharding.reshard(x, PartitionSpec()), value)

    def constrain(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Each input or constant laid out by its spec sharding (a no-op for an argument
        already placed so; inside a program, the partitioner moves it there)."""
        out = dict(values)
        for group in (self.inputs, self.constants):
            for name, shardings in group.items():
                if name in out:
                    out[name] = self._constrain_tree(out[name], shardings)
        return out

    def _constrain_tree(self, value: Any, shardings: Tree) -> Any:
        def one(sharding: NamedSharding, x: Any) -> Any:
            with jax.sharding.use_abstract_mesh(self.mesh.abstract_mesh):
                if self.explicit:
                    return jax.sharding.reshard(x, sharding)
                return jax.lax.with_sharding_constraint(x, sharding)

        return jax.tree_util.tree_map(one, shardings, value)

    # -- programs and data ----------------------------------------------------------------
    def jit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``jax.jit(fn)`` with every result replicated, so each process can read it."""
        return jax.jit(fn, out_shardings=self.replicated)

    def replicate(self, value: Any) -> jax.Array:
        """A host array as a global array every device of the mesh holds whole."""
        host = np.asarray(value)
        return jax.make_array_from_callback(host.shape, self.replicated, lambda i: host[i])

    def place(self, values: Mapping[str, Any], shardings: Mapping[str, Tree]) -> dict[str, Any]:
        """Host values laid out by ``shardings``: each process builds its own shards only."""

        def leaf(sharding: NamedSharding, value: Any) -> jax.Array:
            host = np.asarray(value)
            return jax.make_array_from_callback(
                host.shape, sharding, lambda index: np.asarray(host[index])
            )

        def one(sharding: NamedSharding, value: Any) -> Any:
            # a sharding given for a whole subtree (a {python:} value) applies to each leaf
            return jax.tree_util.tree_map(lambda v: leaf(sharding, v), value)

        return {
            k: jax.tree_util.tree_map(one, shardings.get(k, self.replicated), v)
            for k, v in values.items()
        }

    def placed(
        self, sample: Callable[[], Mapping[str, Any]], shardings: Mapping[str, Tree]
    ) -> dict[str, Any]:
        """A sample point of a sharded spec: the same values ``sample`` draws (on the host),
        each leaf then made with its sharding."""
        with _on_host():
            values = sample()
        return self.place(values, shardings)

    def structs(self, structs: Mapping[str, Any], shardings: Mapping[str, Tree]) -> dict[str, Any]:
        """ShapeDtypeStructs that carry their shardings (for lowering sharded programs)."""

        def one(sharding: NamedSharding, tree: Any) -> Any:
            return jax.tree_util.tree_map(
                lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), tree
            )

        return {
            k: jax.tree_util.tree_map(one, shardings.get(k, self.replicated), v)
            for k, v in structs.items()
        }

    # -- where an element lives -------------------------------------------------------------
    def shard_of(self, sharding: Any, shape: tuple[int, ...], index: tuple[int, ...]) -> str:
        """The shard holding element ``index``: its mesh coordinates and devices, e.g.
        ``shard {model: 1} on devices 1, 3, 5, 7`` (axes that do not split it are left out)."""
        if not isinstance(sharding, NamedSharding) or not shape:
            return f"every device ({self.mesh.devices.size})"
        where = sharding.devices_indices_map(tuple(shape))
        holders = [d for d, slices in where.items() if _contains(slices, index, shape)]
        coords = [np.argwhere(self.mesh.devices == d)[0] for d in holders]
        fixed = {
            name: int(coords[0][axis])
            for axis, name in enumerate(self.mesh.axis_names)
            if len({int(c[axis]) for c in coords}) == 1 and self.mesh.devices.shape[axis] > 1
        }
        ids = ", ".join(str(i) for i in sorted(int(getattr(d, "id", 0)) for d in holders))
        if not fixed:
            return f"replicated on devices {ids}"
        shown = ", ".join(f"{k}: {v}" for k, v in fixed.items())
        return f"shard {{{shown}}} on device{'s' if len(holders) > 1 else ''} {ids}"

    def single_device(self) -> MeshPlan:
        """The same axis names, each of size 1, on one device of this process: where
        ``--parity`` computes the unsharded reference (collectives over size-1 axes are
        identities, so user code with ``shard_map`` runs unchanged)."""
        device = jax.local_devices(backend=self.platform)[0]
        names = tuple(self.spec.axes)
        types = _axis_types(self.spec, len(names))
        mesh = jax.make_mesh((1,) * len(names), names, axis_types=types, devices=[device])
        spec = MeshSpec(dict.fromkeys(names, 1), self.spec.axis_types, self.spec.where)
        one = NamedSharding(mesh, PartitionSpec())
        return MeshPlan(
            spec,
            mesh,
            jax.tree_util.tree_map(lambda s: one, self.inputs),
            jax.tree_util.tree_map(lambda s: one, self.constants),
        )


def _contains(slices: tuple[slice, ...], index: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    for s, i, n in zip(slices, index, shape, strict=False):
        start, stop, _ = s.indices(n)
        if not start <= i < stop:
            return False
    return True


def _axis_types(mesh: MeshSpec, count: int) -> tuple[AxisType, ...]:
    kind = AxisType.Explicit if mesh.axis_types == "explicit" else AxisType.Auto
    return (kind,) * count


def _on_host() -> Any:
    """Sample on the host's CPU device: a point's leaves are drawn whole on the host and
    cut into shards there, never held whole on an accelerator."""
    return jax.default_device(jax.local_devices(backend="cpu")[0])


def mesh_plan(spec: Spec) -> MeshPlan | None:
    """The MeshPlan of ``spec`` (None without a ``mesh:``).

    Raises:
        SpecError: the mesh needs more devices than there are (naming ``mesh``).
    """
    if spec.mesh is None:
        return None
    devices, note = _devices(spec)
    names = tuple(spec.mesh.axes)
    shape = tuple(spec.mesh.axes.values())
    mesh = jax.make_mesh(
        shape, names, axis_types=_axis_types(spec.mesh, len(names)), devices=devices
    )

    def shardings(trees: Mapping[str, Any]) -> dict[str, Tree]:
        return {name: _tree_shardings(mesh, tree) for name, tree in trees.items()}

    return MeshPlan(spec.mesh, mesh, shardings(spec.inputs), shardings(spec.constants), note)


def given_mesh(inputs: Mapping[str, Any], constants: Mapping[str, Any]) -> MeshPlan | None:
    """The MeshPlan of arguments the caller placed on several devices: the mesh of their
    ``NamedSharding``s and each leaf's sharding (other leaves replicated), so that
    ``check_function`` runs and differentiates the function laid out as the caller's own
    program does. None when no argument is sharded over more than one device.

    Raises:
        UsageError: arguments sharded over two different meshes.
    """
    leaves = jax.tree_util.tree_leaves((inputs, constants))
    meshes = {leaf.sharding.mesh for leaf in leaves if _is_sharded(leaf)}
    if not meshes:
        return None
    if len(meshes) > 1:
        shapes = " and ".join(sorted(str(dict(m.shape)) for m in meshes))
        raise UsageError(f"the arguments are sharded over different meshes ({shapes}): use one")
    (mesh,) = meshes
    explicit = any(t == AxisType.Explicit for t in mesh.axis_types)
    spec = MeshSpec(dict(mesh.shape), "explicit" if explicit else "auto")

    def sharding(leaf: Any) -> NamedSharding:
        if _is_sharded(leaf) and leaf.sharding.mesh == mesh:
            return NamedSharding(mesh, leaf.sharding.spec)
        return NamedSharding(mesh, PartitionSpec())

    def shardings(trees: Mapping[str, Any]) -> dict[str, Tree]:
        return {name: jax.tree_util.tree_map(sharding, tree) for name, tree in trees.items()}

    return MeshPlan(spec, mesh, shardings(inputs), shardings(constants))


def _is_sharded(leaf: Any) -> bool:
    """Whether ``leaf`` is an array sharded over a mesh of several devices."""
    return (
        isinstance(leaf, jax.Array)
        and isinstance(leaf.sharding, NamedSharding)
        and leaf.sharding.mesh.size > 1
    )


def _tree_shardings(mesh: Mesh, tree: Any) -> Tree:
    if isinstance(tree, ArraySpec):
        return NamedSharding(mesh, PartitionSpec(*(tree.sharding or ())))
    if isinstance(tree, Mapping):
        return {key: _tree_shardings(mesh, sub) for key, sub in tree.items()}
    if isinstance(tree, tuple | list):
        return type(tree)(_tree_shardings(mesh, sub) for sub in tree)
    # a {python:} value: its leaves are replicated (sharding: is a key of declared arrays)
    return NamedSharding(mesh, PartitionSpec())


def _devices(spec: Spec) -> tuple[list[Any], str | None]:
    """The devices of the mesh: the first ones of the default backend, or (on a machine
    whose accelerators are fewer than the mesh needs) the host's CPU devices, said so."""
    assert spec.mesh is not None
    need = spec.mesh.size
    devices = jax.devices()
    backend = jax.default_backend()
    if jax.process_count() > 1 and need != len(devices):
        raise _mesh_error(
            spec,
            f"the mesh {spec.mesh} has {need} devices, but the {jax.process_count()} processes "
            f"hold {len(devices)}: with several processes the mesh must span every device",
            f"give the mesh {len(devices)} devices in all",
        )
    if len(devices) >= need:
        return list(devices[:need]), None
    cpus = jax.devices("cpu") if backend != "cpu" else []
    if len(cpus) >= need:
        note = f"the {backend} backend has {len(devices)} device(s): run on the host's CPU devices"
        return list(cpus[:need]), note
    are = f"are {len(devices)} {backend} devices" if len(devices) != 1 else f"is 1 {backend} device"
    raise _mesh_error(
        spec,
        f"the mesh {spec.mesh} needs {need} devices, but there {are}",
        f"run adcli with --devices {need} (simulated CPU devices), or set "
        f"XLA_FLAGS=--xla_force_host_platform_device_count={need} before JAX starts",
    )


def _mesh_error(spec: Spec, problem: str, hint: str) -> SpecError:
    return SpecError(
        problem, file=spec.where.file, line=spec.line_of("mesh"), field="mesh", hint=hint
    )


def shard_bytes(struct: Any) -> int:
    """Bytes one device holds of ``struct`` (its whole size when it has no sharding)."""
    shape = tuple(struct.shape)
    sharding = getattr(struct, "sharding", None)
    if sharding is not None and hasattr(sharding, "shard_shape"):
        shape = tuple(sharding.shard_shape(shape))
    return int(math.prod(shape)) * int(np.dtype(struct.dtype).itemsize)
