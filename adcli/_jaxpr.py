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
