"""Casts, copies and flattening of concrete arrays done by NumPy on the host, not by XLA.

Outside ``jit`` every distinct jnp operation (``astype``, ``ravel``, ``concatenate``, even
``jnp.asarray`` of a NumPy array, which JAX 0.10 lifts with ``lax.stage``) compiles an XLA
program of its own, 50–200 ms each on a CPU; a spec's set-up (sampled values, float64
copies, flat points) made 5–20 of them. On the host they compile nothing, and the values
are the same: a cast widens exactly, or rounds to an IEEE type to nearest, ties to even, as
XLA does. Values NumPy cannot hold (tracers, arrays sharded over several devices, PRNG
keys) and casts to or from the 8-bit and bfloat16 types go through jnp as before.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# IEEE types whose casts NumPy rounds as XLA does (round to nearest, ties to even).
_IEEE = frozenset(
    np.dtype(t) for t in (np.float16, np.float32, np.float64, np.complex64, np.complex128)
)


def on_host(value: Any) -> bool:
    """Whether NumPy can take ``value`` as it is: a NumPy array or scalar, or a concrete JAX
    array on one device (not a tracer, not sharded over several devices)."""
    if isinstance(value, np.ndarray | np.generic):
        return True
    if not isinstance(value, jax.Array) or isinstance(value, jax.core.Tracer):
        return False
    try:
        return len(value.sharding.device_set) == 1 and value.is_fully_addressable
    except Exception:  # an array kind without a sharding: leave it to jnp
        return False


def _same_rounding(source: np.dtype, target: np.dtype) -> bool:
    if source == target or np.can_cast(source, target, "safe"):  # exact
        return True
    if target in _IEEE and (source in _IEEE or source.kind in "biu"):
        return True
    # bfloat16 from float32: both round to nearest even (from float64 XLA may round twice)
    return target == np.dtype(jnp.bfloat16) and source == np.dtype(np.float32)


def cast(value: Any, dtype: Any) -> Any:
    """``jnp.asarray(value, dtype)``, on the host when it gives the same numbers."""
    source = getattr(value, "dtype", None)
    if source == dtype and isinstance(value, jax.Array):
        return value  # as jnp.asarray returns it (PRNG keys included)
    if source is None or not on_host(value):
        return jnp.asarray(value, dtype)
    target = np.dtype(dtype)
    if not _same_rounding(np.dtype(source), target):
        return jnp.asarray(value, target)
    return jax.device_put(np.asarray(value).astype(target))


def put(array: np.ndarray | np.generic) -> jax.Array:
    """A NumPy array on the default device, as ``jnp.asarray`` would give (uncommitted),
    without compiling anything."""
    placed: jax.Array = jax.device_put(array)
    return placed


def flatten(values: list[Any], complex_: list[bool], dtype: Any) -> jax.Array | None:
    """The leaves ``values`` raveled and joined into one real vector of ``dtype`` (a complex
    leaf as its real parts, then its imaginary parts), or None when a leaf is not on the
    host or its cast would not round as XLA's (the caller then uses jnp)."""
    if len(values) != len(complex_):
        return None
    target = np.dtype(dtype)
    parts = []
    for value, is_complex in zip(values, complex_, strict=True):
        source = getattr(value, "dtype", None)
        if source is None or not on_host(value):
            return None
        flat = np.ravel(np.asarray(value))
        pieces = [flat.real, flat.imag] if is_complex else [flat]
        for piece in pieces:
            if not _same_rounding(piece.dtype, target):
                return None
            parts.append(piece.astype(target))
    return put(np.concatenate(parts) if parts else np.zeros((0,), target))
