"""``check_function(fn, *args, reference=plain)``: the plain callable as the Problem's reference."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from adcli._errors import UsageError
from adcli._problem.build import Problem, same_shapes, shapes_text

_CACHE_SIZE = 32
# (reference, argument names) -> the keyword-argument adapter: the same adapter for the
# same reference, so that the programs compiled for it are found again in Problem.cache.
_ADAPTERS: dict[Any, Callable[..., Any]] = {}


def with_reference(problem: Problem, reference: Callable[..., Any]) -> Problem:
    """``problem`` (from ``problem_from_callable``) with ``reference`` called like its function:
    the checked arguments by position, in order, and the constants by keyword.

    Raises:
        UsageError: the reference fails on the arguments' shapes, or returns other shapes.
    """
    names = tuple(problem.input_structs)
    call = _adapter(reference, names)
    try:
        got = jax.eval_shape(
            lambda i, c: call(**i, **c), problem.input_structs, problem.constant_structs
        )
    except Exception as exc:  # the user's reference: say so, without a traceback
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UsageError(
            f"the reference fails on the arguments: {type(exc).__name__}: {text}"
        ) from exc
    want = problem.output_struct
    if not same_shapes(got, want):
        raise UsageError(
            f"the reference returns {shapes_text(got)}, but the function returns "
            f"{shapes_text(want)}: "
            "a reference takes the same arguments and returns the same shapes"
        )
    return dataclasses.replace(problem, reference=call)


def _adapter(reference: Callable[..., Any], names: tuple[str, ...]) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        return reference(*[kwargs.pop(n) for n in names], **kwargs)

    try:
        key: Any = (reference, names)
        found = _ADAPTERS.get(key)
    except TypeError:  # an unhashable callable: no reuse
        return call
    if found is None:
        if len(_ADAPTERS) >= _CACHE_SIZE:
            _ADAPTERS.pop(next(iter(_ADAPTERS)))
        found = _ADAPTERS[key] = call
    return found
