"""Flat real views of pytrees (adcli._problem.flat.FlatLayout): complex leaves as real then
imaginary parts, names back from flat indices, rounding to each leaf's precision."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from adcli._problem.flat import FlatLayout

TREE = {
    "w": jnp.arange(6.0).reshape(2, 3),
    "z": jnp.array([1 + 2j, 3 - 4j], jnp.complex128),
    "s": jnp.array(7.0, jnp.float32),
}


def test_flatten_orders_leaves_and_splits_complex_parts() -> None:
    layout = FlatLayout(TREE, "p")
    assert layout.size == 6 + 4 + 1
    # dict leaves in key order: s, w, z; a complex leaf is its real parts, then imaginary
    flat = np.asarray(layout.flatten(TREE))
    assert flat.tolist() == [7.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 3.0, 2.0, -4.0]


def test_unflatten_restores_values_and_dtypes() -> None:
    layout = FlatLayout(TREE, "p")
    back = layout.unflatten(layout.flatten(TREE))
    for key, value in TREE.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        np.testing.assert_array_equal(back[key], value)


def test_describe_names_every_flat_index() -> None:
    layout = FlatLayout(TREE, "p")
    names = [layout.describe(i) for i in range(layout.size)]
    assert names == [
        "p.s",
        "p.w[0, 0]", "p.w[0, 1]", "p.w[0, 2]",
        "p.w[1, 0]", "p.w[1, 1]", "p.w[1, 2]",
        "p.z[0] (real)", "p.z[1] (real)", "p.z[0] (imag)", "p.z[1] (imag)",
    ]  # fmt: skip
    with pytest.raises(IndexError):
        layout.describe(layout.size)


def test_named_root_gives_each_argument_its_segment() -> None:
    layout = FlatLayout({"x": jnp.ones(3), "params": {"b": jnp.ones(()), "w": jnp.ones(2)}},
                        named_root=True)  # fmt: skip
    assert layout.segments == {"params": slice(0, 3), "x": slice(3, 6)}
    assert [layout.describe(i) for i in (0, 2, 5)] == ["params.b", "params.w[1]", "x[2]"]


def test_round_to_leaves_rounds_each_part_to_its_own_precision() -> None:
    layout = FlatLayout({"a": jnp.ones(1, jnp.float16), "b": jnp.ones(1, jnp.float64)})
    third = np.array([[1 / 3, 1 / 3]])
    rounded = layout.round_to_leaves(third)
    assert rounded[0, 0] == float(np.float16(1 / 3)) != 1 / 3
    assert rounded[0, 1] == 1 / 3
    assert third[0, 0] == 1 / 3  # a copy by default
    in_place = layout.round_to_leaves(third, copy=False)  # the caller hands its array over
    assert in_place is third and third[0, 0] == rounded[0, 0] and third[0, 1] == 1 / 3
