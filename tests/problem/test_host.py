"""Casts and flattening on the host: the numbers jnp gives, and no XLA compile."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adcli._problem import host
from adcli._problem.flat import FlatLayout
from adcli._problem.runtime import counting_compiles, jax_scope

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (np.float64, np.float32),
        (np.float32, np.float64),
        (np.float64, np.float16),
        (np.complex128, np.complex64),
        (np.int64, np.float64),
        (np.int64, np.float32),
    ],
)
def test_cast_on_the_host_is_jnp_bit_for_bit_and_compiles_nothing(source, target) -> None:
    value = (RNG.normal(size=(5, 3)) * 1e3).astype(source)
    if np.issubdtype(source, np.complexfloating):
        value = value + 1j * RNG.normal(size=(5, 3))
    with jax_scope():
        expected = np.asarray(jnp.asarray(value, target))
        for given in (value, jax.device_put(value)):
            with counting_compiles() as compiles:
                got = host.cast(given, target)
            assert compiles.count == 0
            assert isinstance(got, jax.Array) and got.dtype == target
            np.testing.assert_array_equal(np.asarray(got), expected)


def test_cast_keeps_what_numpy_cannot_round_like_xla() -> None:
    value = RNG.normal(size=7)
    with jax_scope():
        got = host.cast(value, jnp.bfloat16)  # from float64: through jnp, as before
        np.testing.assert_array_equal(np.asarray(got), np.asarray(jnp.asarray(value, jnp.bfloat16)))
        key = jax.random.key(0)
        assert host.cast(key, key.dtype) is key
        traced = jax.jit(lambda x: host.cast(x, jnp.float32))(value)
        assert traced.dtype == jnp.float32


def test_flatten_on_the_host_matches_the_traced_flatten() -> None:
    with jax_scope():
        tree = {
            "a": jnp.asarray(RNG.normal(size=(2, 3)), jnp.float32),
            "b": RNG.normal(size=4) + 1j * RNG.normal(size=4),
            "c": np.float64(2.5),
        }
        layout = FlatLayout(tree, "t", named_root=True)
        with counting_compiles() as compiles:
            flat = layout.flatten(tree)
        assert compiles.count == 0
        traced = jax.jit(layout.flatten)(tree)
        assert flat.shape == (6 + 8 + 1,) and flat.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(flat), np.asarray(traced))


def test_counting_compiles_counts_each_new_program_once() -> None:
    program = jax.jit(lambda x: jnp.sin(x) * 3.0 + 0.25)
    with counting_compiles() as first:
        program(np.ones(13))
        program(np.ones(13))
    with counting_compiles() as again:
        program(np.ones(13))
    assert (first.count, again.count) == (1, 0)
    assert first.seconds > 0 and first.cached <= first.count  # a cache the process set
