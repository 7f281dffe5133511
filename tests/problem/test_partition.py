"""Any pytree as an argument: what is differentiated, what is held, what stays static, and
how leaves are named (``adcli._problem.partition``, ``adcli._problem.paths``)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adcli._problem.flat import FlatLayout
from adcli._problem.partition import Leaves, Partition, kind_of, plain
from adcli._problem.paths import path_text


class Layer(NamedTuple):
    weight: jax.Array
    bias: jax.Array
    activation: object  # a function: a leaf JAX cannot trace
    steps: jax.Array  # an integer counter


def _layer() -> Layer:
    return Layer(jnp.ones((2, 3)), jnp.zeros(3), jnp.tanh, jnp.asarray(7, jnp.int32))


@pytest.mark.parametrize(
    ("leaf", "kind"),
    [
        (jnp.ones(2), "diff"),
        (np.ones(2, np.float32), "diff"),
        (jnp.ones(2, jnp.complex64), "diff"),
        (2.5, "diff"),  # a Python float, as jax.grad takes one
        (jnp.arange(3), "held"),
        (np.array([True]), "held"),
        (jax.random.key(0), "held"),
        (jax.ShapeDtypeStruct((2,), jnp.float32), "diff"),
        (3, "static"),
        (True, "static"),
        (jnp.tanh, "static"),
        ("relu", "static"),
    ],
)
def test_kind_of_each_leaf(leaf: object, kind: str) -> None:
    assert kind_of(leaf) == kind


def test_without_differentiation_every_array_is_held() -> None:
    assert kind_of(jnp.ones(2), differentiate=False) == "held"
    assert kind_of(2.5, differentiate=False) == "static"
    assert plain({"a": jnp.ones(2), "b": jnp.arange(2)}, differentiate=False)
    assert not plain({"a": jnp.ones(2), "b": jnp.arange(2)})


def test_split_and_join_round_trip() -> None:
    layer = _layer()
    part = Partition.of(layer)
    assert part.kinds == ("diff", "diff", "static", "held")
    assert part.labels == (".weight", ".bias", ".activation", ".steps")
    assert part.fixed() == [".activation", ".steps"]
    diff, held = part.split(layer)
    assert diff.labels == (".weight", ".bias") and held.labels == (".steps",)
    back = part.join(diff, held)
    assert isinstance(back, Layer) and back.activation is jnp.tanh
    np.testing.assert_array_equal(back.weight, layer.weight)
    assert int(back.steps) == 7


def test_leaves_travel_through_jit_and_keep_their_names() -> None:
    layer = _layer()
    part = Partition.of(layer)
    diff, held = part.split(layer)

    @jax.jit
    def f(d: Leaves, h: Leaves) -> jax.Array:
        tree = part.join(d, h)
        return jnp.sum(tree.activation(tree.weight) + tree.bias) * tree.steps

    assert float(f(diff, held)) == pytest.approx(7 * 6 * np.tanh(1.0))
    grads = jax.grad(f)(diff, held)
    assert isinstance(grads, Leaves) and grads.labels == diff.labels
    layout = FlatLayout({"layer": diff}, named_root=True)
    assert [layout.describe(i) for i in (0, 5, 6)] == [
        "layer.weight[0, 0]",
        "layer.weight[1, 2]",
        "layer.bias[0]",
    ]


def test_partitions_compare_by_structure_and_static_leaves() -> None:
    a, b = Partition.of(_layer()), Partition.of(_layer())
    assert a == b and hash(a) == hash(b)
    other = Partition.of(_layer()._replace(activation=jnp.sin))
    assert other != a

    class Config:  # a static leaf that does not hash: compared by identity
        __hash__ = None  # type: ignore[assignment]

    config = Config()
    first = Partition.of({"w": jnp.ones(2), "config": config})
    assert first == Partition.of({"w": jnp.zeros(2), "config": config})
    assert first != Partition.of({"w": jnp.ones(2), "config": Config()})
    assert isinstance(hash(first), int)


def test_path_text_reads_as_authors_write_it() -> None:
    tree = {"Dense_0": {"kernel": 1}, "conv/1": [2], "layers": (3, {"weight": 4})}
    paths = [path_text(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    assert paths == [".Dense_0.kernel", "['conv/1'][0]", ".layers[0]", ".layers[1].weight"]
    layer_paths = [path_text(p) for p, _ in jax.tree_util.tree_flatten_with_path(_layer())[0]]
    assert layer_paths == [".weight", ".bias", ".activation", ".steps"]
