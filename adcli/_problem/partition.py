"""Any JAX pytree as an argument: what adcli differentiates, and what it holds fixed.

A model's pytree holds more than floating arrays: integer and key arrays (an RNG counter,
step counts), Python ints and bools, functions (an Equinox Module's activation), and
static fields. adcli differentiates the inexact-array leaves and holds every other leaf
fixed, as ``equinox.partition(tree, equinox.is_inexact_array)`` would, without depending on
Equinox. A ``Partition`` remembers the tree's structure and its fixed non-array leaves; the
arrays travel through jit in two ``Leaves`` nodes (the differentiated ones and the held
ones), named by their pytree paths (``model.layers[0].weight``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from adcli._problem.paths import path_text

Kind = Literal["diff", "held", "static"]


class _Label:
    """A pytree key that prints as a whole original path (``.layers[0].weight``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    @property
    def key(self) -> str:
        """The path without its leading dot (``layers[0].weight``), as a dict key reads."""
        return self.text.removeprefix(".")

    def __repr__(self) -> str:
        return f"_Label({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Label) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


@jax.tree_util.register_pytree_with_keys_class
class Leaves:
    """Some leaves of a user's pytree, each keyed by its original path."""

    def __init__(self, values: tuple[Any, ...], labels: tuple[str, ...]) -> None:
        self.values, self.labels = tuple(values), tuple(labels)

    def tree_flatten_with_keys(self) -> tuple[Any, tuple[str, ...]]:
        return tuple(zip(map(_Label, self.labels), self.values, strict=True)), self.labels

    def tree_flatten(self) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        return self.values, self.labels

    @classmethod
    def tree_unflatten(cls, labels: tuple[str, ...], values: Any) -> Leaves:
        return cls(tuple(values), labels)

    def __repr__(self) -> str:
        return f"Leaves({dict(zip(self.labels, self.values, strict=True))!r})"


def _array_dtype(leaf: Any) -> Any:
    """The dtype of an array-like leaf (a jax or numpy array, a ShapeDtypeStruct), or None."""
    if isinstance(leaf, jax.Array | np.ndarray | np.generic | jax.ShapeDtypeStruct):
        return leaf.dtype
    return None


def kind_of(leaf: Any, *, differentiate: bool = True) -> Kind:
    """``diff``: an inexact array (or a Python float or complex, as ``jax.grad`` takes one);
    ``held``: any other array (ints, bools, PRNG keys); ``static``: everything else (Python
    ints and bools, functions, strings, objects). Without ``differentiate`` every array is
    held."""
    dtype = _array_dtype(leaf)
    if dtype is None:
        numeric = isinstance(leaf, float | complex) and differentiate
        return "diff" if numeric else "static"
    inexact = jnp.issubdtype(dtype, jnp.inexact) if not _is_key(dtype) else False
    return "diff" if inexact and differentiate else "held"


def _is_key(dtype: Any) -> bool:
    return bool(jnp.issubdtype(dtype, jax.dtypes.prng_key))


def plain(tree: Any, *, differentiate: bool = True) -> bool:
    """Whether a tree needs no partition: every leaf ``diff`` (or, without
    ``differentiate``, every leaf an array)."""
    want = "diff" if differentiate else "held"
    return all(kind_of(leaf, differentiate=differentiate) == want for leaf in _leaves(tree))


def _leaves(tree: Any) -> list[Any]:
    return list(jax.tree_util.tree_leaves(tree))


class _Static:
    """A static leaf in a hashable wrapper (by value when it hashes, else by identity)."""

    __slots__ = ("key", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.key = value if isinstance(value, Hashable) and _hashes(value) else ("id", id(value))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Static)
            and type(other.value) is type(self.value)
            and (other.key == self.key)
        )

    def __hash__(self) -> int:
        return hash(self.key)


def _hashes(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass(frozen=True)
class Partition:
    """How one argument splits: its structure, each leaf's kind and path, its static leaves."""

    treedef: Any
    kinds: tuple[Kind, ...]
    labels: tuple[str, ...]
    statics: tuple[_Static | None, ...]

    @classmethod
    def of(cls, tree: Any, *, differentiate: bool = True) -> Partition:
        """The partition of ``tree`` (values or ShapeDtypeStructs)."""
        with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
        kinds = tuple(kind_of(v, differentiate=differentiate) for _, v in with_paths)
        labels = tuple(path_text(p) for p, _ in with_paths)
        statics = tuple(
            _Static(v) if k == "static" else None
            for k, (_, v) in zip(kinds, with_paths, strict=True)
        )
        return cls(treedef, kinds, labels, statics)

    def _pick(self, values: list[Any], kind: Kind) -> Leaves:
        picked = [
            (lab, v) for lab, v, k in zip(self.labels, values, self.kinds, strict=True) if k == kind
        ]
        return Leaves(tuple(v for _, v in picked), tuple(lab for lab, _ in picked))

    def split(self, tree: Any) -> tuple[Leaves, Leaves]:
        """(the differentiated leaves, the held arrays) of ``tree``, which must have this
        partition's structure; Python floats become float64 arrays."""
        values = jax.tree_util.tree_leaves(tree)
        if len(values) != len(self.kinds):
            raise ValueError(f"expected {len(self.kinds)} leaves, got {len(values)}")
        values = [
            jnp.asarray(v) if k == "diff" and isinstance(v, float | complex) else v
            for v, k in zip(values, self.kinds, strict=True)
        ]
        return self._pick(values, "diff"), self._pick(values, "held")

    def join(self, diff: Leaves, held: Leaves | None = None) -> Any:
        """The user's tree again, from its differentiated leaves, its held arrays and the
        static leaves this partition keeps."""
        parts = {"diff": iter(diff.values), "held": iter(held.values if held else ())}
        values = [
            static.value if kind == "static" and static is not None else next(parts[kind])
            for kind, static in zip(self.kinds, self.statics, strict=True)
        ]
        return jax.tree_util.tree_unflatten(self.treedef, values)

    def count(self, kind: Kind) -> int:
        return sum(k == kind for k in self.kinds)

    def fixed(self) -> list[str]:
        """The paths of the leaves held fixed (held arrays and static leaves)."""
        return [lab for lab, k in zip(self.labels, self.kinds, strict=True) if k != "diff"]
