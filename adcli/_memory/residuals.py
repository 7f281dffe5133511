"""What reverse mode stores: each saved residual with shape, dtype, bytes and its origin.

Works on abstract values (``jax.ShapeDtypeStruct``): nothing is allocated. The residual list
comes from JAX's private ``saved_residuals`` (the function behind the public
``jax.ad_checkpoint.print_saved_residuals``); ``_raw_residuals`` isolates that import and
falls back to the leaves of the public ``jax.vjp`` closure (shapes only, no origins).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from adcli._results.memory import Residual, ResidualGroup, ResidualSummary

Raw = list[tuple[Any, str]]  # (abstract value, JAX's reason string)

# JAX's reasons: "from the argument x", "output of tanh from /p/f.py:7:12 (fn)",
# "named 'q' from /p/f.py:9:4 (fn)", "output of jitted function '_where' from ...".
_SOURCE = re.compile(r" from (?P<file>.+?):(?P<line>\d+)(?::\d+)? \((?P<fn>[^)]*)\)$")


def block_function(fn: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """``fn(**inputs, **constants)`` as ``f(inputs, constants)`` with constants not
    differentiated (``stop_gradient``), so only the spec's inputs carry tangents."""

    def f(inputs: Mapping[str, Any], constants: Mapping[str, Any]) -> Any:
        frozen = jax.tree_util.tree_map(jax.lax.stop_gradient, dict(constants))
        return fn(**inputs, **frozen)

    return f


def _raw_residuals(f: Callable[..., Any], *args: Any) -> tuple[Raw, str]:
    """(aval, reason) per residual of ``jax.vjp(f, *args)``, and which method found them."""
    try:
        from jax._src.ad_checkpoint import saved_residuals  # private: see module docstring
    except ImportError:  # moved in a later JAX: shapes only, from the public API
        return _fallback_residuals(f, *args), "jax.vjp closure leaves (fallback, no origins)"
    raw = list(saved_residuals(f, *args))
    from adcli._memory import sharded  # (imports this module: not at the top)

    if sharded.is_sharded(args):  # a sharded spec: each residual counts its shard
        raw = sharded.per_device(raw, f, args)
    return raw, "jax._src.ad_checkpoint.saved_residuals"


def _fallback_residuals(f: Callable[..., Any], *args: Any) -> Raw:
    """The residuals as the leaves of the VJP closure, traced on abstract values."""
    leaves = jax.eval_shape(lambda *a: jax.tree_util.tree_leaves(jax.vjp(f, *a)[1]), *args)
    return [(leaf, "unknown") for leaf in leaves]


def parse_reason(aval: Any, reason: str) -> Residual:
    """One Residual from JAX's (aval, reason) pair.

    >>> import jax.numpy as jnp
    >>> r = parse_reason(jax.ShapeDtypeStruct((2, 3), jnp.float32),
    ...                  "output of tanh from /m/models.py:7:12 (mlp)")
    >>> (r.bytes, r.origin, r.primitive, r.source, r.function)
    (24, 'operation', 'tanh', '/m/models.py:7', 'mlp')
    """
    shape = tuple(int(d) for d in aval.shape)
    dtype = np.dtype(aval.dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    primitive = name = source = function = None
    match = _SOURCE.search(reason)
    if match:
        source = f"{_short_path(match['file'])}:{match['line']}"
        function = match["fn"]
    if reason.startswith("from the argument"):
        origin, name = "argument", reason.removeprefix("from the argument").strip()
    elif reason.startswith("named '"):
        origin, name = "named", reason.split("'")[1]
    elif reason.startswith("output of jitted function '"):
        origin, primitive = "operation", "jit:" + reason.split("'")[1]
    elif reason.startswith("output of "):
        origin, primitive = "operation", reason.removeprefix("output of ").split(" ")[0]
    elif reason in ("from a literal", "from a constant"):
        origin = reason.removeprefix("from a ")
    else:
        origin = "unknown"
    return Residual(shape, str(dtype), size, origin, primitive, name, source, function)


def _short_path(path: str) -> str:
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return rel if not rel.startswith("..") else path


def residuals(
    fn: Callable[..., Any], input_structs: Mapping[str, Any], constant_structs: Mapping[str, Any]
) -> ResidualSummary:
    """Every value ``jax.vjp`` of ``fn(**inputs, **constants)`` keeps, grouped and totalled.

    Traces on abstract values only (cost: one trace of the VJP, no compile, no allocation).
    Arguments are listed apart and not counted in ``bytes``.

    >>> import jax.numpy as jnp
    >>> x = jax.ShapeDtypeStruct((10,), jnp.float32)
    >>> s = residuals(lambda x: jnp.sum(jnp.tanh(x) ** 2), {"x": x}, {})
    >>> s.bytes, sorted(g.label.split(" @ ")[0] for g in s.groups)  # tanh', and 2·tanh
    (120, ['mul', 'sub', 'tanh'])
    """
    f = block_function(fn)
    raw, method = _raw_residuals(f, dict(input_structs), dict(constant_structs))
    return summarize(raw, method, constants=constant_structs)


def summarize(raw: Raw, method: str, constants: Mapping[str, Any] | None = None) -> ResidualSummary:
    """Group parsed residuals by origin, operation and source line; largest group first.

    A constant reaches the backward pass through ``block_function``'s ``stop_gradient``, so
    JAX names that operation as its producer; it is relabelled as the argument it is.
    """
    parsed = _relabel_constants([parse_reason(aval, reason) for aval, reason in raw], constants)
    saved = [r for r in parsed if r.origin != "argument"]
    arguments = tuple(r for r in parsed if r.origin == "argument")
    groups: dict[tuple[str, str | None, str], list[Residual]] = {}
    for r in saved:
        label = r.primitive or (f"'{r.name}'" if r.origin == "named" else r.origin)
        key = (label, r.source, f"{r.dtype}{list(r.shape)}")
        groups.setdefault(key, []).append(r)
    grouped = [
        ResidualGroup(
            label=label if source is None else f"{label} @ {source}",
            count=len(members),
            bytes=sum(m.bytes for m in members),
            shape=members[0].shape,
            dtype=members[0].dtype,
            origin=members[0].origin,
        )
        for (label, source, _), members in groups.items()
    ]
    grouped.sort(key=lambda g: (-g.bytes, g.label))
    return ResidualSummary(
        bytes=sum(r.bytes for r in saved),
        argument_bytes=_unique_argument_bytes(arguments),
        count=len(saved),
        groups=tuple(grouped),
        arguments=arguments,
        residuals=tuple(saved),
        method=method,
    )


def _unique_argument_bytes(arguments: tuple[Residual, ...]) -> int:
    # JAX may list the same argument twice (e.g. once per use inside a scan); count it once.
    return sum({(a.name, a.shape, a.dtype): a.bytes for a in arguments}.values())


def _shape(leaf: Any) -> tuple[int, ...]:
    """A constant's shape as its residual has it: its shard's on a mesh."""
    sharding = getattr(leaf, "sharding", None)
    if sharding is not None and hasattr(sharding, "shard_shape"):
        return tuple(sharding.shard_shape(tuple(leaf.shape)))
    return tuple(leaf.shape)


def _relabel_constants(
    parsed: list[Residual], constants: Mapping[str, Any] | None
) -> list[Residual]:
    leaves = jax.tree_util.tree_leaves_with_path(dict(constants or {}))
    named = [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]
    out = []
    for r in parsed:
        if r.primitive == "stop_gradient" and (r.function or "").startswith("block_function"):
            name = next(
                (
                    f"constants{n}"
                    for n, leaf in named
                    if _shape(leaf) == r.shape and str(leaf.dtype) == r.dtype
                ),
                "a constant",
            )
            r = dataclasses.replace(r, origin="argument", primitive=None, name=name)
        out.append(r)
    return out
