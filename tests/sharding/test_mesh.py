"""The mesh of a sharded spec on JAX's runtime (adcli/_problem/mesh.py), on the 8 simulated
CPU devices of tests/conftest.py: the mesh and its axis types, the device-count error,
points sampled in place with their shardings, the function under the context mesh."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding, PartitionSpec

from adcli._errors import SpecError
from adcli._problem.build import build
from adcli._problem.mesh import shard_bytes
from adcli._problem.one_device import one_device
from adcli._spec.load import load_file, load_text

ROOT = Path(__file__).resolve().parents[2]


def _mlp():
    (spec,) = load_file(ROOT / "specs" / "sharded_mlp.yaml")
    return build(spec)


def test_the_tests_run_on_eight_devices() -> None:
    assert len(jax.devices()) == 8


def test_the_mesh_has_the_spec_axes_and_auto_types() -> None:
    plan = _mlp().mesh
    assert plan is not None
    assert dict(plan.mesh.shape) == {"data": 4, "model": 2}
    assert plan.mesh.axis_types == (AxisType.Auto, AxisType.Auto)
    assert plan.describe() == (
        "mesh {data: 4, model: 2} (auto axes) on 8 cpu devices (simulated: XLA's host device count)"
    )
    assert plan.inputs["params"]["w1"] == NamedSharding(plan.mesh, PartitionSpec(None, "model"))
    assert plan.constants["batch"].spec == PartitionSpec("data", None)


def test_explicit_axis_types() -> None:
    (spec,) = load_text(
        "name: e\nfunction: {expr: sum(x * x)}\nmesh: {d: 8}\nmesh_axis_types: explicit\n"
        "inputs: {x: {shape: [16], sharding: [d]}}\n"
    )
    plan = build(spec).mesh
    assert plan is not None and plan.mesh.axis_types == (AxisType.Explicit,)


def test_a_mesh_larger_than_the_devices_names_the_mesh_line() -> None:
    (spec,) = load_text(
        "name: big\nfunction: {expr: sum(x)}\nmesh: {data: 16}\ninputs: {x: {shape: [16]}}\n",
        file="big.yaml",
    )
    with pytest.raises(SpecError) as info:
        build(spec)
    assert str(info.value) == (
        "big.yaml:3: mesh: the mesh {data: 16} needs 16 devices, but there are 8 cpu devices "
        "(run adcli with --devices 16 (simulated CPU devices), or set "
        "XLA_FLAGS=--xla_force_host_platform_device_count=16 before JAX starts)"
    )


def test_points_are_made_sharded_with_the_unsharded_values() -> None:
    problem = _mlp()
    plan = problem.mesh
    assert plan is not None
    inputs, constants = problem.sample_inputs(1), problem.sample_constants()
    w1, batch = inputs["params"]["w1"], constants["batch"]
    assert w1.sharding == plan.inputs["params"]["w1"]
    assert {s.data.shape for s in w1.addressable_shards} == {(6, 4)}  # [d, h/model]
    assert {s.data.shape for s in batch.addressable_shards} == {(4, 6)}  # [B/data, d]
    # The same values as with one device: the seeded draw does not depend on the layout.
    single = one_device(problem)
    assert single.mesh is not None and single.mesh.mesh.devices.size == 1
    np.testing.assert_array_equal(
        np.asarray(w1), np.asarray(single.sample_inputs(1)["params"]["w1"])
    )
    np.testing.assert_array_equal(np.asarray(batch), np.asarray(single.sample_constants()["batch"]))


def test_structs_carry_their_shardings_and_shard_bytes() -> None:
    problem = _mlp()
    w1 = problem.input_structs["params"]["w1"]
    assert w1.shape == (6, 8) and w1.sharding.spec == PartitionSpec(None, "model")
    assert shard_bytes(w1) == 6 * 4 * 8  # float64, columns halved
    assert shard_bytes(jax.ShapeDtypeStruct((3, 5), np.float32)) == 60


def test_the_function_runs_under_the_spec_mesh_and_its_arguments_are_constrained() -> None:
    seen = []

    def probe(x):
        seen.append(dict(jax.sharding.get_abstract_mesh().shape))
        return (x * x).sum()

    (spec,) = load_text(
        "name: p\nfunction: {expr: sum(x)}\nmesh: {data: 8}\n"
        "inputs: {x: {shape: [16], sharding: [data]}}\n"
    )
    problem = build(spec)
    problem.fn = problem.mesh.wrap(probe)  # type: ignore[union-attr]
    x = problem.sample_inputs(0)["x"]
    lowered = jax.jit(lambda v: problem.run({"x": v}, {})).lower(np.asarray(x))
    assert seen and seen[-1] == {"data": 8}
    assert "sharding_constraint" in str(jax.make_jaxpr(lambda v: problem.run({"x": v}, {}))(x))
    assert lowered.compile().input_shardings  # it compiles on the mesh


def test_shard_of_names_mesh_coordinates_and_devices() -> None:
    plan = _mlp().mesh
    assert plan is not None
    w1 = plan.inputs["params"]["w1"]  # [d, h] split by columns over model
    assert plan.shard_of(w1, (6, 8), (2, 5)) == "shard {model: 1} on devices 1, 3, 5, 7"
    batch = plan.constants["batch"]  # [B, d] split by rows over data
    assert plan.shard_of(batch, (16, 6), (5, 0)) == "shard {data: 1} on devices 2, 3"
    whole = NamedSharding(plan.mesh, PartitionSpec())
    assert plan.shard_of(whole, (3,), (1,)) == "replicated on devices 0, 1, 2, 3, 4, 5, 6, 7"


def test_without_a_mesh_the_problem_is_as_before() -> None:
    (spec,) = load_file(ROOT / "specs" / "quadratic.yaml")
    problem = build(spec)
    assert problem.mesh is None
    assert all(
        getattr(s, "sharding", None) is None
        for s in jax.tree_util.tree_leaves(problem.input_structs)
    )
    x = problem.sample_inputs(0)["x"]
    assert x.sharding.device_set == {jax.devices()[0]}
