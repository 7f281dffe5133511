"""Walking a jaxpr: every equation, into sub-jaxprs (jit, scan, cond, custom rules)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def equations(jaxpr: Any, *, opaque: frozenset[str] = frozenset()) -> Iterator[Any]:
    """Every equation of ``jaxpr`` and of its sub-jaxprs, not looking inside ``opaque`` ones."""
    for eqn in jaxpr.eqns:
        yield eqn
        if eqn.primitive.name in opaque:
            continue
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from equations(inner, opaque=opaque)


class Environment:
    """The values of a jaxpr's variables while it is interpreted equation by equation."""

    def __init__(self, jaxpr: Any, consts: list[Any], args: list[Any]) -> None:
        from jax.extend.core import Literal

        self._literal = Literal
        self._values: dict[Any, Any] = {}
        self.write(jaxpr.constvars, consts)
        self.write(jaxpr.invars, args)

    def read(self, var: Any) -> Any:
        """A variable's value (a literal's own)."""
        return var.val if isinstance(var, self._literal) else self._values[var]

    def write(self, variables: list[Any], values: list[Any]) -> None:
        """Bind ``variables`` to ``values`` (as many of each)."""
        for var, value in zip(variables, values, strict=True):
            self._values[var] = value


def real_dtype(dtype: Any) -> Any:
    """A floating dtype, or a complex one's real part (complex64 -> float32)."""
    import jax.numpy as jnp

    return jnp.dtype(jnp.finfo(dtype).dtype)


def float_dtypes(jaxpr: Any) -> set[Any]:
    """Real floating dtypes of every variable in a jaxpr and its sub-jaxprs."""
    import jax.numpy as jnp

    found: set[Any] = set()
    for eqn in equations(jaxpr):
        for var in (*eqn.invars, *eqn.outvars):
            dtype = getattr(getattr(var, "aval", None), "dtype", None)
            if dtype is not None and jnp.issubdtype(dtype, jnp.inexact):
                found.add(real_dtype(dtype))
    return found


def least_precise(dtypes: set[Any]) -> Any:
    """The dtype with the largest machine epsilon (float64 when there is none)."""
    import jax.numpy as jnp

    if not dtypes:
        return jnp.dtype("float64")
    return max(dtypes, key=lambda dt: (float(jnp.finfo(dt).eps), str(dt)))
