"""A spec's inputs and constants made runnable: their shapes, how they split into what is
differentiated and what is held fixed, and their values at each sample point.

An argument is a tree of YAML leaves, lists, mappings and values from code (``{python:
REF}``). Where a tree holds anything but floating arrays (an integer or key array, a
function, a static field), the Problem sees its floating arrays only (``Leaves``); its
other arrays travel as a hidden constant (``held_name``), and its remaining leaves stay in
the ``Partition``, which puts the user's tree back together before the function is called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._problem.code import CodeValue, load_code
from adcli._problem.partition import Leaves, Partition, kind_of, plain
from adcli._problem.paths import path_text
from adcli._problem.sample import sample_array, sample_tree
from adcli._spec.model import ArraySpec, PythonTree, Spec
from adcli._spec.shapes import resolve_shape


def held_name(name: str) -> str:
    """The hidden constant that carries the held arrays of input ``name``."""
    return f"{name} (held)"


class Arguments:
    """The inputs and constants of one spec at its dims."""

    def __init__(self, spec: Spec, dims: Mapping[str, int]) -> None:
        self.spec, self.dims = spec, dict(dims)
        self.code: dict[str, CodeValue] = {}
        self.full: dict[str, Any] = {}  # name -> the whole tree's structure
        self.parts: dict[str, Partition] = {}  # name -> its partition (only where needed)
        self.notes: list[str] = []
        for section, trees in (("inputs", spec.inputs), ("constants", spec.constants)):
            for name, tree in trees.items():
                field = f"{section}.{name}"
                self.full[name] = self._structs(tree, field)
                differentiate = section == "inputs"
                if not plain(self.full[name], differentiate=differentiate):
                    self.parts[name] = Partition.of(self.full[name], differentiate=differentiate)
        for field, code in self.code.items():
            if field.startswith("inputs.") and not code.takes_key and spec.check.points > 1:
                self.notes.append(
                    f"{field.removeprefix('inputs.')}: {code.node.ref} takes no key, so every "
                    "point uses the same values (adcli passes a PRNG key to a parameter "
                    "named key or rng, an int to one named seed)"
                )

    # -- structure ------------------------------------------------------------------------
    def _structs(self, tree: Any, field: str) -> Any:
        if isinstance(tree, ArraySpec):
            shape = resolve_shape(tree.shape, self.dims, where=tree.where, field=f"{field}.shape")
            return jax.ShapeDtypeStruct(shape, np.dtype(tree.dtype or "float64"))
        if isinstance(tree, PythonTree):
            code = load_code(tree, self.spec, self.dims, field)
            self.code[field] = code
            return code.structs(self.spec, self.dims)
        if isinstance(tree, tuple):
            return [self._structs(sub, f"{field}[{i}]") for i, sub in enumerate(tree)]
        return {key: self._structs(sub, f"{field}.{key}") for key, sub in tree.items()}

    def input_structs(self) -> dict[str, Any]:
        return {n: self._problem_value(n, self.full[n]) for n in self.spec.inputs}

    def constant_structs(self) -> dict[str, Any]:
        out = {n: self._problem_value(n, self.full[n]) for n in self.spec.constants}
        for name in self.spec.inputs:
            held = self._held(name, self.full[name])
            if held is not None:
                out[held_name(name)] = held
        return out

    def _problem_value(self, name: str, tree: Any) -> Any:
        """What the Problem sees of an argument: the tree itself, or its Leaves."""
        if name not in self.parts:
            return tree
        diff, held = self.parts[name].split(tree)
        return diff if name in self.spec.inputs else held

    def _held(self, name: str, tree: Any) -> Leaves | None:
        part = self.parts.get(name)
        if part is None or not part.count("held"):
            return None
        return part.split(tree)[1]

    # -- values -----------------------------------------------------------------------------
    def sample_inputs(self, seed: int, point: int) -> dict[str, Any]:
        return {n: self._problem_value(n, self._value(n, seed, point)) for n in self.spec.inputs}

    def sample_constants(self, seed: int) -> dict[str, Any]:
        """The constants, and the held arrays of each input (those of its point 0: held
        arrays are the same at every point, as constants are)."""
        out = {n: self._problem_value(n, self._value(n, seed, None)) for n in self.spec.constants}
        for name in self.spec.inputs:
            if self._held(name, self.full[name]) is not None:
                out[held_name(name)] = self._held(name, self._value(name, seed, 0))
        return out

    def _value(self, name: str, seed: int, point: int | None) -> Any:
        section = "inputs" if name in self.spec.inputs else "constants"
        tree = getattr(self.spec, section)[name]
        return self._sample(tree, self.full[name], name, f"{section}.{name}", seed, point)

    def _sample(
        self, tree: Any, struct: Any, path: str, field: str, seed: int, point: int | None
    ) -> Any:
        """Values for ``tree`` (whose structure is ``struct``); ``path`` seeds the leaves."""
        if isinstance(tree, ArraySpec):
            return sample_tree(tree, struct, path, seed, point)
        if isinstance(tree, PythonTree):
            return self._from_code(self.code[field], struct, path, seed, point)
        if isinstance(tree, tuple):
            return [
                self._sample(sub, struct[i], f"{path}[{i}]", f"{field}[{i}]", seed, point)
                for i, sub in enumerate(tree)
            ]
        return {
            key: self._sample(sub, struct[key], f"{path}.{key}", f"{field}.{key}", seed, point)
            for key, sub in tree.items()
        }

    def _from_code(
        self, code: CodeValue, struct: Any, path: str, seed: int, point: int | None
    ) -> Any:
        """The code's pytree at a point; with ``init``, its floating leaves drawn by it."""
        init = code.node.init
        shapes = jax.tree_util.tree_leaves(struct)
        if init is not None and not any(kind_of(s) == "held" for s in shapes):
            tree = struct  # only the structure is needed: the code is not run
        else:
            tree = code.call(self.dims, code.key(seed, point))
            got: Any = jax.tree_util.tree_structure(tree)
            if got != jax.tree_util.tree_structure(struct):
                raise code.error(self.spec, f"returns a different structure at point {point}")
        own = code.node.seed if code.node.seed is not None else seed
        leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
        values = []
        for (keypath, value), s in zip(leaves, shapes, strict=True):
            if kind_of(s) != "diff":
                values.append(value)
            elif init is None:
                values.append(code.cast(jnp.asarray(value)))
            else:
                values.append(sample_array(init, s, path + path_text(keypath), own, point))
        return jax.tree_util.tree_unflatten(treedef, values)

    # -- the function -------------------------------------------------------------------------
    def joined(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` taking the Problem's arguments: each partitioned one is put back together
        (its Leaves, its held arrays, its static leaves) before ``fn`` sees it."""
        if not self.parts:
            return fn
        parts, inputs = self.parts, set(self.spec.inputs)

        def call(**kwargs: Any) -> Any:
            for name, part in parts.items():
                if name in inputs:
                    held = kwargs.pop(held_name(name), None)
                    kwargs[name] = part.join(kwargs[name], held)
                else:
                    kwargs[name] = part.join(Leaves((), ()), kwargs[name])
            return fn(**kwargs)

        return call
