"""check_function on arguments the caller sharded: the function runs, and is
differentiated, on their mesh with their shardings, as the caller's program runs it (the
8 simulated CPU devices of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import adcli
from adcli._errors import UsageError


def _sharded(mesh: jax.sharding.Mesh, shape: tuple[int, ...], spec: P) -> jax.Array:
    values = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    return jax.device_put(jnp.asarray(values), NamedSharding(mesh, spec))


def _column_sums(mesh: jax.sharding.Mesh, factor: float) -> Callable[[jax.Array], jax.Array]:
    """Σ sin(column sums of x), the sums a shard_map psum over ``data`` with a custom
    backward that broadcasts the cotangent to every shard, times ``factor``."""

    @jax.custom_vjp
    def column_sums(x: jax.Array) -> jax.Array:
        return jax.shard_map(
            lambda a: jax.lax.psum(a.sum(0), "data"), mesh=mesh, in_specs=P("data"), out_specs=P()
        )(x)

    def forward(x: jax.Array) -> tuple[jax.Array, None]:
        return column_sums(x), None

    def backward(_: None, g: jax.Array) -> tuple[jax.Array]:
        rows = 16 // mesh.shape["data"]
        spread = jax.shard_map(
            lambda c: jnp.broadcast_to(c * factor, (rows, 8)),
            mesh=mesh,
            in_specs=P(),
            out_specs=P("data"),
        )
        return (spread(g),)

    column_sums.defvjp(forward, backward)
    return lambda x: jnp.sum(jnp.sin(column_sums(x)))


def test_a_sharded_argument_is_checked_on_its_mesh() -> None:
    mesh = jax.make_mesh((4,), ("data",))
    x = _sharded(mesh, (16, 8), P("data"))
    w = jnp.asarray(np.random.default_rng(1).normal(size=(8, 3)), jnp.float32)
    result = adcli.check_function(lambda w, x: jnp.mean(jnp.tanh(x @ w) ** 2), w, x)
    assert result.verdict == "pass", [c.reason for c in result.comparisons]
    assert result.notes[0] == (
        "sharded: mesh {data: 4} (explicit axes) on 4 cpu devices (simulated: XLA's host "
        "device count)"
    )


@pytest.mark.parametrize(("factor", "verdict"), [(1.0, "pass"), (1.01, "fail")])
def test_a_custom_backward_with_collectives_is_judged_sharded(factor: float, verdict: str) -> None:
    """Without the caller's sharding, shard_map's in_specs would not match the argument
    and the function could not even be traced; a 1% error in the backward is caught."""
    mesh = jax.make_mesh((4,), ("data",))
    x = _sharded(mesh, (16, 8), P("data"))
    result = adcli.check_function(_column_sums(mesh, factor), x)
    rev = next(c for c in result.comparisons if c.kind == "rev")
    assert (result.verdict, rev.verdict) == (verdict, verdict), rev.reason


def test_arguments_on_two_meshes_are_refused() -> None:
    devices = jax.devices()
    first = jax.make_mesh((2,), ("data",), devices=devices[:2])
    second = jax.make_mesh((4,), ("data",), devices=devices[4:8])
    x, y = _sharded(first, (4,), P("data")), _sharded(second, (4,), P("data"))
    with pytest.raises(UsageError, match=r"sharded over different meshes .*: use one"):
        adcli.check_function(lambda x, y: jnp.sum(x * y), x, y)
