"""The bundled sharded models themselves, checked with jax alone (not adcli): the right
layer equals the unsharded x @ w, and each buggy one differs as examples/README.md says."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType

ROOT = Path(__file__).resolve().parents[2]


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


models = _import(ROOT / "specs" / "sharded_models.py", "adcli_bundled_sharded_models")
buggy = _import(ROOT / "examples" / "buggy_sharded.py", "adcli_bundled_buggy_sharded")
X = np.random.default_rng(0).normal(size=(8, 4))
W = np.random.default_rng(1).normal(size=(4, 6))


def _grads(fn) -> tuple[np.ndarray, np.ndarray]:
    mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
    with jax.set_mesh(mesh):
        gx, gw = jax.jit(jax.grad(fn, argnums=(0, 1)))(X, W)
    return np.asarray(gx), np.asarray(gw)


TRUE = jax.grad(lambda x, w: jnp.sum(jnp.tanh(x @ w)), argnums=(0, 1))(X, W)


def test_the_right_layer_has_the_true_gradients() -> None:
    gx, gw = _grads(models.layer_loss)
    np.testing.assert_allclose(gx, TRUE[0], rtol=1e-13)
    np.testing.assert_allclose(gw, TRUE[1], rtol=1e-13)


def test_psum_twice_counts_w_bar_four_times() -> None:
    gx, gw = _grads(buggy.layer_loss_psum_twice)
    np.testing.assert_allclose(gx, TRUE[0], rtol=1e-13)
    np.testing.assert_allclose(gw, 4 * TRUE[1], rtol=1e-13)


def test_wrong_axis_sums_x_bar_over_the_batch_shards() -> None:
    gx, gw = _grads(buggy.layer_loss_wrong_axis)
    np.testing.assert_allclose(gw, TRUE[1], rtol=1e-13)
    # Each row of x̄ is the sum of the corresponding rows of the 4 batch shards (2 rows each).
    shards = np.asarray(TRUE[0]).reshape(4, 2, 4)
    np.testing.assert_allclose(gx.reshape(4, 2, 4), np.broadcast_to(shards.sum(0), (4, 2, 4)))


def test_a_missing_psum_is_rejected_by_jax() -> None:
    with pytest.raises(ValueError, match="manual axis types do not match"):
        _grads(buggy.layer_loss_missing_psum)


def test_the_mlp_is_the_plain_one() -> None:
    rng = np.random.default_rng(2)
    params = {
        "w1": rng.normal(size=(6, 8)),
        "b1": rng.normal(size=8),
        "w2": rng.normal(size=(8, 6)),
    }
    batch = rng.normal(size=(16, 6))
    hidden = np.tanh(batch @ params["w1"] + params["b1"])
    expected = np.mean((hidden @ params["w2"] - batch) ** 2)
    assert float(models.mlp_loss(params, batch)) == pytest.approx(expected, rel=1e-13)
