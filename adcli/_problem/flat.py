"""Flat real views of pytrees: every derivative check works on vectors in Rᵈ.

A complex leaf contributes its real parts then its imaginary parts (JAX treats C as R²),
so finite differences, tangents and cotangents are all real vectors, and an index into the
flat vector can be named back (``params['w'][2, 0] (imag)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._problem import host
from adcli._problem.paths import path_text

if TYPE_CHECKING:
    from adcli._problem.build import Problem


@dataclass(frozen=True)
class _Leaf:
    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int
    size: int  # number of real entries (2 × elements for complex)

    @property
    def is_complex(self) -> bool:
        return bool(np.issubdtype(self.dtype, np.complexfloating))


class FlatLayout:
    """Maps a pytree of arrays (or ShapeDtypeStructs) to a flat real vector and back."""

    def __init__(self, example: Any, name: str = "", *, named_root: bool = False) -> None:
        """``named_root``: ``example`` is a dict of named arguments, whose keys start the
        names of their elements (``x[3]``, ``params.w[0, 1]``) and have segments."""
        leaves_with_paths, self.treedef = jax.tree_util.tree_flatten_with_path(example)
        self.name = name
        leaves = []
        offset = 0
        self.segments: dict[str, slice] = {}
        for path, leaf in leaves_with_paths:
            shape = tuple(int(n) for n in np.shape(leaf))
            dtype = np.dtype(leaf.dtype)
            count = int(np.prod(shape, dtype=np.int64))
            size = 2 * count if np.issubdtype(dtype, np.complexfloating) else count
            if named_root:
                root = str(path[0].key)
                label = root + path_text(path[1:])
                start = self.segments.get(root, slice(offset, offset)).start
                self.segments[root] = slice(start, offset + size)
            else:
                label = name + path_text(path)
            leaves.append(_Leaf(label, shape, dtype, offset, size))
            offset += size
        self.leaves: tuple[_Leaf, ...] = tuple(leaves)
        self.size = offset

    def flatten(self, tree: Any, dtype: Any = jnp.float64) -> jax.Array:
        """The tree's leaves as one real vector of ``dtype`` (traceable; concrete leaves are
        joined on the host, ``adcli._problem.host``, compiling nothing)."""
        values = jax.tree_util.tree_leaves(tree)
        flat = host.flatten(values, [leaf.is_complex for leaf in self.leaves], dtype)
        if flat is not None:
            return flat
        parts = []
        for leaf, value in zip(self.leaves, values, strict=True):
            flat = jnp.ravel(value)
            if leaf.is_complex:
                parts += [jnp.real(flat).astype(dtype), jnp.imag(flat).astype(dtype)]
            else:
                parts.append(flat.astype(dtype))
        if not parts:
            return jnp.zeros((0,), dtype)
        return jnp.concatenate(parts) if len(parts) > 1 else parts[0]

    def unflatten(self, vector: jax.Array, dtypes: dict[str, Any] | None = None) -> Any:
        """The tree from a flat real vector; each leaf cast to its dtype (or ``dtypes[path]``)."""
        values = []
        for leaf in self.leaves:
            dtype = (dtypes or {}).get(leaf.path, leaf.dtype)
            chunk = vector[leaf.offset : leaf.offset + leaf.size]
            if leaf.is_complex:
                half = leaf.size // 2
                value = jax.lax.complex(chunk[:half], chunk[half:]).astype(dtype)
            else:
                value = chunk.astype(dtype)
            values.append(value.reshape(leaf.shape))
        return jax.tree_util.tree_unflatten(self.treedef, values)

    def describe(self, index: int) -> str:
        """A readable name for one entry of the flat vector, e.g. ``x[3, 1]`` or ``z[0] (imag)``."""
        for leaf in self.leaves:
            if leaf.offset <= index < leaf.offset + leaf.size:
                local = index - leaf.offset
                part = ""
                if leaf.is_complex:
                    half = leaf.size // 2
                    part = " (imag)" if local >= half else " (real)"
                    local %= half
                if not leaf.shape:
                    return leaf.path + part
                where = np.unravel_index(local, leaf.shape)
                return f"{leaf.path}[{', '.join(str(int(i)) for i in where)}]" + part
        raise IndexError(index)

    def round_to_leaves(self, vectors: np.ndarray, *, copy: bool = True) -> np.ndarray:
        """Round flat float64 vectors (rows) to each leaf's own precision, back in float64.

        A tangent rounded this way is exactly representable in the function's dtype, so
        AD in float32 and FD in float64 see the very same direction. ``copy=False``: a
        float64 array the caller hands over is rounded in place (at d = 10⁶, each copy of
        a row is 8 MB).
        """
        out = np.array(vectors, dtype=np.float64, copy=copy or None)
        for leaf in self.leaves:
            real = np.dtype(jnp.finfo(leaf.dtype).dtype)
            if real == np.float64:  # already exact: rounding would copy it twice for nothing
                continue
            part = out[..., leaf.offset : leaf.offset + leaf.size]
            out[..., leaf.offset : leaf.offset + leaf.size] = part.astype(real).astype(np.float64)
        return out

    def square_matrix_leaves(self, within: slice | None = None) -> tuple[_Leaf, ...]:
        """Real leaves whose last two axes are square (candidates for a missing transpose),
        optionally only those inside the segment ``within``."""
        return tuple(
            leaf
            for leaf in self.leaves
            if len(leaf.shape) >= 2
            and leaf.shape[-1] == leaf.shape[-2] > 1
            and not leaf.is_complex
            and (within is None or within.start <= leaf.offset < within.stop)
        )

    def transpose_permutation(self) -> np.ndarray:
        """Index permutation that transposes the last two axes of every square-matrix leaf."""
        perm = np.arange(self.size)
        for leaf in self.square_matrix_leaves():
            local = np.arange(leaf.size).reshape(leaf.shape)
            perm[leaf.offset : leaf.offset + leaf.size] = (
                np.swapaxes(local, -1, -2).ravel() + leaf.offset
            )
        return perm


@dataclass
class FlatProblem:
    """A Problem seen as f: Rⁿ → Rᵐ of its ``wrt`` inputs; structs for lowering, samples to run."""

    fn: Callable[[Any, Any], jax.Array]
    x_struct: jax.ShapeDtypeStruct
    rest_struct: Any
    n: int
    m: int
    dtype: Any
    in_layout: FlatLayout
    out_layout: FlatLayout
    problem: Problem

    def describe_input(self, index: int) -> str:
        """A flat input index by name: ``x[3]``, ``params.w1[0, 2]``."""
        return re.sub(r"^\.", "", self.in_layout.describe(index))

    def sample(self, point: int = 0) -> tuple[jax.Array, Any]:
        """x and rest at a sample point of the spec (``rest['v']`` is a seeded unit vector)."""
        inputs = self.problem.sample_inputs(point)
        wrt = {k: inputs[k] for k in self.problem.spec.wrt}
        x = self.in_layout.flatten(wrt, self.dtype)
        rest: dict[str, Any] = {
            "inputs": {k: v for k, v in inputs.items() if k not in wrt},
            "constants": self.problem.sample_constants(),
        }
        if "v" in self.rest_struct:
            v = np.random.default_rng([self.problem.spec.check.seed, point, 7]).normal(size=self.n)
            rest["v"] = jnp.asarray(v / np.linalg.norm(v), self.dtype)
        return x, rest


def flatten_problem(problem: Problem, *, with_vector: bool = False) -> FlatProblem:
    """The spec's function as f(x, rest) -> y with x ∈ Rⁿ (its ``wrt`` inputs) and y ∈ Rᵐ."""
    wrt = problem.spec.wrt
    in_layout = FlatLayout({k: problem.input_structs[k] for k in wrt}, "")
    out_layout = FlatLayout(problem.output_struct, "out")
    reals = [jnp.finfo(leaf.dtype).dtype for leaf in in_layout.leaves]
    dtype = jnp.result_type(jnp.float32, *reals)

    def fn(x: jax.Array, rest: Any) -> jax.Array:
        inputs = {**rest["inputs"], **in_layout.unflatten(x)}
        # problem.run: on a sharded spec, each argument laid out by its sharding
        return out_layout.flatten(problem.run(inputs, rest["constants"]), dtype)

    rest_struct: dict[str, Any] = {
        "inputs": {k: s for k, s in problem.input_structs.items() if k not in wrt},
        "constants": dict(problem.constant_structs),
    }
    if with_vector:
        rest_struct["v"] = jax.ShapeDtypeStruct((in_layout.size,), dtype)
    return FlatProblem(
        fn,
        jax.ShapeDtypeStruct((in_layout.size,), dtype),
        rest_struct,
        in_layout.size,
        out_layout.size,
        dtype,
        in_layout,
        out_layout,
        problem,
    )
