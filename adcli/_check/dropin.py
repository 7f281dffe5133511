"""What ``jax.test_util.check_grads`` accepts, in adcli's terms: tolerances as numbers or
per-dtype dicts, ``eps``, any ``order``, and arguments as the caller's JAX settings make
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adcli._errors import UsageError

Tol = float | Mapping[str, float] | None


def tolerance_option(label: str, value: Any) -> Tol:
    """``rtol``/``atol`` as adcli keeps it: None, a number >= 0, or a dict from dtype names
    (``"float32"``) to numbers >= 0; check_grads' dict keys (``np.float32``,
    ``np.dtype("float32")``, ``jnp.bfloat16``, ``"float32"``) are all accepted.

    Raises:
        UsageError: anything else (a negative number, NaN, a key that is not a dtype).
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        out: dict[str, float] = {}
        for key, tol in value.items():
            try:
                name = np.dtype(key).name
            except TypeError:
                raise UsageError(
                    f"{label}: {key!r} is not a dtype; give a dict such as "
                    f"{{np.float32: 1e-3, np.float64: 1e-6}}"
                ) from None
            out[name] = _number(label, tol, f" for {name}")
        return out
    return _number(label, value, "")


def _number(label: str, value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not value >= 0  # also refuses nan
    ):
        raise UsageError(
            f"{label} must be a number >= 0 (or a dict of them by dtype, or None), "
            f"got {value!r}{where}"
        )
    return float(value)


def resolve_tolerance(value: Tol, dtype: str, default: float, complex_input: bool) -> float:
    """The tolerance for derivatives computed in ``dtype`` (a real dtype name): the number,
    the dict's entry for ``dtype`` (or for its complex counterpart when the input is
    complex), else ``default``."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        names = [dtype]
        if complex_input:
            names.append({"float32": "complex64", "float64": "complex128"}.get(dtype, dtype))
        for name in names:
            if name in value:
                return float(value[name])
        return default
    return float(value)


def eps_option(value: Any) -> float | None:
    """``eps``: None, or a number > 0 (the largest FD step, relative to each coordinate's
    scale; see ``adcli._numerics.finite_diff``).

    Raises:
        UsageError: not a positive finite number.
    """
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not 0 < value < np.inf
    ):
        raise UsageError(f"eps must be a number > 0 or None, got {value!r}")
    return float(value)


def order_option(value: Any) -> int:
    """``order``: an int >= 1 (3 and above check nested directional derivatives)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        hint = "1 checks first derivatives; 2 also Hessian-vector products; k >= 3 also D^k"
        raise UsageError(f"order must be an int >= 1, got {value!r} ({hint})")
    return int(value)


def as_the_caller_has_them(args: Sequence[Any]) -> tuple[Any, ...]:
    """The arguments as JAX arrays of the caller's settings: NumPy arrays and scalars, and
    Python floats, become JAX arrays of the dtype JAX gives them now (a float64 NumPy
    array is float32 when x64 is off, as ``f`` would see it). Python ints and bools,
    JAX arrays and anything that is not an array (static leaves) are left as they are.
    Call before entering adcli's scope."""
    import jax
    import jax.numpy as jnp

    def leaf(value: Any) -> Any:
        if isinstance(value, bool | int):
            return value
        if isinstance(value, float | complex):
            return jnp.asarray(value)
        if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biufc":
            return jnp.asarray(value)
        return value

    return tuple(jax.tree_util.tree_map(leaf, tuple(args)))


def entries(tree: Any) -> int:
    """Number of entries in a pytree: an array's size, 1 for a Python number, none for any
    other leaf (a static argument)."""
    import jax

    def size(leaf: Any) -> int:
        if hasattr(leaf, "shape"):
            return int(np.size(leaf))
        return 1 if isinstance(leaf, int | float | complex) else 0

    return sum(size(a) for a in jax.tree_util.tree_leaves(tree))


def nothing_to_check(args: Sequence[Any], wrt: Sequence[int | str] | int | str | None) -> bool:
    """Whether every differentiated argument (all, or the positions in ``wrt``) has no
    entries: there is nothing to check, which passes (as it does for check_grads)."""
    if wrt is None:
        chosen = list(args)
    else:
        items = (wrt,) if isinstance(wrt, int | str) else tuple(wrt)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            return False
        if not all(0 <= int(i) < len(args) for i in items):
            return False
        chosen = [args[int(i)] for i in items]
    return bool(chosen) and all(entries(a) == 0 for a in chosen)
