"""Seeded sample points: fill a spec's array leaves by their ``init`` (deterministic in
the seed, the leaf's path and the point)."""

from __future__ import annotations

import zlib
from typing import Any

import jax.numpy as jnp
import numpy as np

from adcli._problem import host
from adcli._spec.model import ArraySpec, Init

_DEFAULT_PARAMS = {"normal": (0.0, 1.0), "uniform": (0.0, 1.0), "positive": (0.5, 2.0)}


def sample_tree(tree: Any, struct: Any, path: str, seed: int, point: int | None = None) -> Any:
    """Values for a tree of ``ArraySpec`` leaves (mappings of them; sequences become lists)."""
    if isinstance(tree, ArraySpec):
        own_seed = seed if tree.seed is None else tree.seed
        return sample_array(tree.init, struct, path, own_seed, point)
    if isinstance(tree, tuple):
        return [sample_tree(s, struct[i], f"{path}[{i}]", seed, point) for i, s in enumerate(tree)]
    return {k: sample_tree(sub, struct[k], f"{path}.{k}", seed, point) for k, sub in tree.items()}


def sample_array(init: Init, struct: Any, path: str, seed: int, point: int | None) -> Any:
    """One array of ``struct``'s shape and dtype filled by ``init``; its random stream is
    seeded by the seed, the path's CRC and the point."""
    key = [seed, zlib.crc32(path.encode())]
    if point is not None:
        key.append(point)
    rng = np.random.default_rng(key)
    return host.cast(_sample_leaf(init, struct.shape, struct.dtype, rng), struct.dtype)


def _sample_leaf(init: Init, shape: tuple[int, ...], dtype: Any, rng: np.random.Generator) -> Any:
    dtype = np.dtype(dtype) if dtype != jnp.bfloat16 else np.dtype(np.float32)
    if init.kind == "value":
        return np.broadcast_to(np.asarray(init.value), shape).copy()
    if init.kind == "file":
        assert init.path is not None  # the loader resolves a file init's path or fails
        return np.broadcast_to(np.load(init.path, allow_pickle=False), shape).copy()
    if init.kind in ("zeros", "ones"):
        return np.full(shape, 0 if init.kind == "zeros" else 1)
    if init.kind == "randint":  # half-open [lo, hi), whatever the dtype
        lo, hi = (int(p) for p in init.params)
        return rng.integers(lo, hi, shape)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    a, b = init.params or _DEFAULT_PARAMS[init.kind]

    def draw() -> np.ndarray:
        if init.kind == "normal":
            return rng.normal(a, b, shape)
        return rng.uniform(a, b, shape)

    if np.issubdtype(dtype, np.integer):
        # Rounded to the nearest integer: lo and hi themselves can be drawn (at half the
        # rate of the integers between them). randint draws lo ... hi - 1 uniformly.
        return np.rint(draw())
    if np.issubdtype(dtype, np.complexfloating):
        return draw() + 1j * draw()
    return draw()
