"""Arguments made by the user's code: ``{python: REF}`` inputs and constants.

``REF`` names a callable that returns a pytree (``model.py:init_params``) or an attribute
holding one. A callable gets a JAX PRNG key if it has a parameter named ``key`` or ``rng``
(each sample point its own key), and the spec's dims by name. Shapes and dtypes are read
with ``jax.eval_shape`` (nothing is allocated); the non-array leaves it returns (an Equinox
Module's activation functions) are kept as they are.
"""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import SpecError
from adcli._problem import host
from adcli._problem.partition import kind_of
from adcli._problem.python import load_object
from adcli._spec.model import PythonTree, Spec

KEY_NAMES = ("key", "rng")
SEED_NAMES = ("seed",)  # an int seed, drawn from the point's key


@dataclass
class CodeValue:
    """One ``{python: REF}`` node, loaded: how to call it and what it returns."""

    node: PythonTree
    field: str  # the spec field (``inputs.params``), for errors
    obj: Any
    is_value: bool  # an attribute holding a pytree (not called)
    key_param: str | None
    dim_params: tuple[str, ...]

    @property
    def takes_key(self) -> bool:
        return self.is_value is False and self.key_param is not None

    def call(self, dims: Mapping[str, int], key: Any) -> Any:
        """The pytree the code makes with ``key`` (ignored without a key parameter); with
        the node's ``item``, that item of it."""
        if self.is_value:
            value = self.obj
        else:
            kwargs: dict[str, Any] = {name: dims[name] for name in self.dim_params}
            if self.key_param in SEED_NAMES:
                kwargs[self.key_param] = _int_seed(key)
            elif self.key_param is not None:
                kwargs[self.key_param] = key
            value = self.obj(**kwargs)
        item = self.node.item
        if item is None:
            return value
        try:
            return value[item]
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"it has no item {item!r} ({type(exc).__name__}: {exc})") from None

    def key(self, seed: int, point: int | None) -> jax.Array:
        """The key of a sample point: from the node's seed (else the spec's), its field and
        the point (a constant has one key for all points)."""
        own = self.node.seed if self.node.seed is not None else seed
        key = jax.random.fold_in(jax.random.key(own), zlib.crc32(self.field.encode()) >> 1)
        return key if point is None else jax.random.fold_in(key, point)

    def structs(self, spec: Spec, dims: Mapping[str, int]) -> Any:
        """The pytree's structure: ShapeDtypeStructs for its arrays (cast to the node's
        dtype), its other leaves as they are. Nothing is allocated."""
        captured: dict[str, Any] = {}

        def arrays(key: Any) -> list[Any]:
            leaves, captured["treedef"] = jax.tree_util.tree_flatten(self.call(dims, key))
            captured["leaves"] = leaves
            return [jnp.asarray(v) for v in leaves if kind_of(v) != "static"]

        key = jax.ShapeDtypeStruct((), jax.random.key(0).dtype)
        try:
            shapes = iter(jax.eval_shape(arrays, key))
        except SpecError:
            raise
        except Exception as exc:  # the user's code fails: say where, no traceback
            problem = f"calling it failed: {type(exc).__name__}: {_first(exc)}"
            raise self.error(spec, problem) from exc
        leaves = [
            v if kind_of(v) == "static" else self.cast(next(shapes)) for v in captured["leaves"]
        ]
        if not any(kind_of(v) == "diff" for v in leaves):
            raise self.error(spec, "it returns no floating-point arrays")
        return jax.tree_util.tree_unflatten(captured["treedef"], leaves)

    def cast(self, leaf: Any) -> Any:
        """A struct or array leaf in the node's dtype (floating leaves only)."""
        dtype = self.node.dtype
        if dtype is None or not jnp.issubdtype(leaf.dtype, jnp.inexact):
            return leaf
        if jnp.issubdtype(leaf.dtype, jnp.complexfloating):
            bits = jnp.finfo(jnp.dtype(dtype)).bits
            target = jnp.dtype(jnp.complex64 if bits <= 32 else jnp.complex128)
        else:
            target = jnp.dtype(dtype)
        if isinstance(leaf, jax.ShapeDtypeStruct):
            return jax.ShapeDtypeStruct(leaf.shape, target)
        return host.cast(leaf, target)

    def error(self, spec: Spec, problem: str, hint: str | None = None) -> SpecError:
        where = f"{self.field}.python"
        return SpecError(
            f"{self.node.ref}: {problem}",
            file=spec.where.file,
            line=spec.line_of(where),
            field=where,
            hint=hint,
        )


def _int_seed(key: Any) -> int:
    """An int seed drawn from a point's key; 0 while only shapes are traced (a shape does
    not depend on the seed)."""
    if isinstance(key, jax.core.Tracer):
        return 0
    return int(jax.random.randint(key, (), 0, 2**31 - 1))


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def load_code(node: PythonTree, spec: Spec, dims: Mapping[str, int], field: str) -> CodeValue:
    """Import ``node.ref`` and read how to call it.

    Raises:
        SpecError: the import fails, or the callable has a required parameter that is
            neither ``key``/``rng`` nor a dim of the spec.
    """
    obj = load_object(node.ref, spec.base_dir, spec, f"{field}.python")
    has_arrays = any(
        isinstance(v, jax.Array | np.ndarray | float) for v in jax.tree_util.tree_leaves(obj)
    )
    if has_arrays or not callable(obj):
        return CodeValue(node, field, obj, True, None, ())
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):  # no signature (a builtin): call it with nothing
        params = []
    key_param = next((p.name for p in params if p.name in KEY_NAMES), None)
    key_param = key_param or next((p.name for p in params if p.name in SEED_NAMES), None)
    dim_params, missing = [], []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == key_param:
            continue
        if p.name in dims:
            dim_params.append(p.name)
        elif p.default is p.empty:
            missing.append(p.name)
    value = CodeValue(node, field, obj, False, key_param, tuple(dim_params))
    if missing:
        names = ", ".join(f"'{n}'" for n in missing)
        hint = (
            "adcli passes a PRNG key as key or rng (or an int as seed), and dims by name; "
            "give the others defaults"
        )
        raise value.error(spec, f"adcli cannot fill its parameter {names}", hint)
    return value
