"""adcli memory on a mesh: every figure per device, pinned against XLA's memory_analysis of
the same sharded program built here by hand, and residuals counted by their shard."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
from click.testing import CliRunner
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from adcli._cli.main import cli
from adcli._memory.engine import analyse_memory
from adcli._spec.load import load_file, load_text

ROOT = Path(__file__).resolve().parents[2]
F64 = 8


def _by_hand() -> dict[str, jax.stages.Compiled]:
    """specs/sharded_mlp.yaml's forward, value-and-VJP and value-and-JVP programs, written
    out here with the spec's shardings (B=16, d=6, h=8 on a {data: 4, model: 2} mesh)."""
    mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AxisType.Auto,) * 2)

    def struct(shape: tuple[int, ...], *spec: str | None) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(shape, np.float64, sharding=NamedSharding(mesh, P(*spec)))

    params = {
        "w1": struct((6, 8), None, "model"),
        "b1": struct((8,), "model"),
        "w2": struct((8, 6), "model", None),
    }
    batch = struct((16, 6), "data", None)

    def loss(p, b):
        hidden = jax.numpy.tanh(b @ p["w1"] + p["b1"])
        return jax.numpy.mean((hidden @ p["w2"] - b) ** 2)

    def vjp(p, b, ct):
        out, pull = jax.vjp(lambda q: loss(q, jax.lax.stop_gradient(b)), p)
        return out, pull(ct)

    def jvp(p, b, t):
        return jax.jvp(lambda q: loss(q, jax.lax.stop_gradient(b)), (p,), (t,))

    scalar = struct((), *())
    return {
        "forward": jax.jit(loss).lower(params, batch).compile(),
        "vjp": jax.jit(vjp).lower(params, batch, scalar).compile(),
        "jvp": jax.jit(jvp).lower(params, batch, params).compile(),
    }


def test_compiled_bytes_per_device_are_xla_s_for_the_same_sharded_program() -> None:
    (spec,) = load_file(ROOT / "specs" / "sharded_mlp.yaml")
    result = analyse_memory(spec, policies=False)
    expected = {k: c.memory_analysis() for k, c in _by_hand().items()}
    for row in result.compiled:
        stats = expected[row.program]
        got = (row.argument_bytes, row.output_bytes, row.temp_bytes, row.alias_bytes)
        want = (
            stats.argument_size_in_bytes,
            stats.output_size_in_bytes,
            stats.temp_size_in_bytes,
            stats.alias_size_in_bytes,
        )
        assert got == want, row.program
    vjp = next(c for c in result.compiled if c.program == "vjp")
    # Per device, by hand: w1 6×4, b1 4, w2 4×6 (model halves h), batch 4×6 (data quarters
    # B), the scalar cotangent; float64.
    assert vjp.argument_bytes == (6 * 4 + 4 + 4 * 6 + 4 * 6 + 1) * F64 == 616


def test_residuals_count_their_shard_and_the_replicated_ones_are_named() -> None:
    (spec,) = load_file(ROOT / "specs" / "sharded_mlp.yaml")
    result = analyse_memory(spec, policies=False)
    saved = result.residuals
    shapes = sorted((g.label.split(" @ ")[0], g.shape) for g in saved.groups)
    # tanh and its derivative's factor: [B/data, h/model]; 2(y − batch): [B/data, d].
    assert shapes == [("mul", (4, 6)), ("sub", (4, 4)), ("tanh", (4, 4))]
    assert saved.bytes == (4 * 6 + 4 * 4 + 4 * 4) * F64 == 448
    assert result.mesh is not None
    assert (result.mesh.axes, result.mesh.devices, result.mesh.platform) == (
        {"data": 4, "model": 2},
        8,
        "cpu",
    )
    (rep,) = result.mesh.replicated
    assert rep.label == "mul @ specs/sharded_models.py:25"
    assert (rep.shape, rep.bytes_per_device, rep.replicated_over) == ((16, 6), 192, ("model",))
    assert rep.could_split == "dimension 1 (6) over 'model' (2)" and rep.saving_bytes == 96
    # The constant batch is an argument, listed apart, by its shard.
    assert {(a.name, a.shape) for a in saved.arguments} >= {("constants['batch']", (4, 6))}


def test_layers_carry_is_per_device(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import jax.numpy as jnp\n\ndef block(x, w):\n    return jnp.tanh(x @ w)\n"
    )
    (tmp_path / "s.yaml").write_text(
        "name: block\nfunction: {python: m.py:block}\nmesh: {data: 4, model: 2}\n"
        "inputs:\n  x: {shape: [B, h], sharding: [data, null]}\n"
        "  w: {shape: [h, h], sharding: [null, model]}\n"
        "dims: {B: 32, h: 16}\n"
    )
    (spec,) = load_file(tmp_path / "s.yaml")
    result = analyse_memory(spec, layers=8, policies=False)
    assert result.carry == ("x",)
    # The output [B, h] as the forward leaves it, split over data and model: one device's.
    assert result.carry_bytes == 32 * 16 * F64 // 8
    assert result.schedules and all(s.memory_bytes > 0 for s in result.schedules)


def test_json_has_the_mesh_only_for_a_sharded_spec() -> None:
    runner = CliRunner()
    sharded = runner.invoke(
        cli,
        ["memory", str(ROOT / "specs" / "sharded_layer.yaml"), "--no-policies", "--format", "json"],
    )
    assert sharded.exit_code == 0, sharded.output
    (data,) = json.loads(sharded.output)["specs"]
    assert data["mesh"] == {
        "axes": {"data": 4, "model": 2},
        "axis_types": "auto",
        "devices": 8,
        "platform": "cpu",
        "replicated": [],
    }
    plain = runner.invoke(
        cli,
        [
            "memory",
            str(ROOT / "specs" / "memory" / "mlp.yaml"),
            "--no-policies",
            "--format",
            "json",
            "--dim",
            "L=2",
        ],
    )
    assert plain.exit_code == 0, plain.output
    assert "mesh" not in json.loads(plain.output)["specs"][0]
    text = runner.invoke(
        cli, ["memory", str(ROOT / "specs" / "sharded_layer.yaml"), "--no-policies"]
    )
    assert "per device — mesh {data: 4, model: 2} (auto axes) on 8 cpu devices" in " ".join(
        text.output.split()
    )


def test_explicit_axes_are_per_device_too() -> None:
    (spec,) = load_text(
        "name: e\nfunction: {expr: sum(tanh(x) ** 2)}\nmesh: {d: 8}\nmesh_axis_types: explicit\n"
        "inputs: {x: {shape: [64], sharding: [d]}}\n"
    )
    result = analyse_memory(spec, policies=False)
    assert {g.shape for g in result.residuals.groups} == {(8,)}
