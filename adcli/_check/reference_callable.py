"""``check_function(fn, *args, reference=plain)``: the plain callable as the Problem's reference."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from adcli._errors import UsageError
from adcli._problem.build import Problem, same_shapes, shapes_text


def with_reference(problem: Problem, reference: Callable[..., Any]) -> Problem:
    """``problem`` (from ``problem_from_callable``) with ``reference`` called like its function:
    the checked arguments by position, in order, and the constants by keyword.

    Raises:
        UsageError: the reference fails on the arguments' shapes, or returns other shapes.
    """
    call = _adapter(problem, reference)
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


def _adapter(problem: Problem, reference: Callable[..., Any]) -> Callable[..., Any]:
    """``reference`` called as the problem's function is; the same adapter for the same
    reference, so that the programs compiled for it are found again in Problem.cache."""
    try:
        key: Any = ("reference-adapter", reference)
        found: Callable[..., Any] | None = problem.cache.get(key)
    except TypeError:  # an unhashable callable: no reuse
        key, found = None, None
    if found is not None:
        return found
    arrange = getattr(problem, "call_like_function", None)
    call: Callable[..., Any]
    if arrange is not None:
        # A callable's Problem splits its arguments (held leaves, arguments outside wrt):
        # the reference gets them back exactly as the function does.
        call = arrange(reference)
    else:
        names = tuple(problem.input_structs)

        def positional(**kwargs: Any) -> Any:
            return reference(*[kwargs.pop(n) for n in names], **kwargs)

        call = positional

    if key is not None:
        problem.cache[key] = call
    return call
