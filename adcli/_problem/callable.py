"""A Problem from a Python callable and the arguments to check it at (no spec file)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from adcli._errors import UsageError, did_you_mean
from adcli._problem.build import Problem
from adcli._problem.runtime import caller_mode
from adcli._spec.model import ArraySpec, CheckOptions, Formula, Spec


@dataclass
class _GivenPoint(Problem):
    """A Problem whose only sample point is the arguments the caller gave."""

    given_inputs: dict[str, Any] | None = None
    given_constants: dict[str, Any] | None = None

    def sample_inputs(self, point: int, seed: int | None = None) -> dict[str, Any]:
        return dict(self.given_inputs or {})

    def sample_constants(self, seed: int | None = None) -> dict[str, Any]:
        return dict(self.given_constants or {})


def _names(fn: Callable[..., Any], count: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins and some wrapped callables have no signature
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= count:
        return positional[:count]
    return [f"arg{i}" for i in range(count)]


def resolve_wrt(wrt: Sequence[int | str] | None, names: list[str]) -> tuple[str, ...]:
    """The differentiated argument names from ``wrt`` (positions or names; default all)."""
    if wrt is None:
        return tuple(names)
    if isinstance(wrt, int | str):
        wrt = (wrt,)
    if not wrt:
        raise UsageError("wrt is empty: give at least one argument position to differentiate")
    out: list[str] = []
    for item in wrt:
        if isinstance(item, str):
            if item not in names:
                hint = did_you_mean(item, names) or f"the arguments are: {', '.join(names)}"
                raise UsageError(f"wrt: {item!r} is not an argument of the function ({hint})")
            name = item
        elif isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(names):
                raise UsageError(
                    f"wrt: position {item} is out of range: the function is checked at "
                    f"{len(names)} argument{'s' if len(names) != 1 else ''} "
                    f"(positions 0 to {len(names) - 1})"
                )
            name = names[item]
        else:
            raise UsageError(f"wrt: expected argument positions (ints), got {item!r}")
        if name in out:
            raise UsageError(f"wrt: argument {name!r} is listed twice")
        out.append(name)
    return tuple(out)


def _as_float(name: str, tree: Any, differentiated: bool) -> Any:
    """``tree`` as arrays; Python numbers (weakly typed, like ``2``) become float64.

    An integer or bool array cannot be differentiated: in a differentiated position it is
    a UsageError (JAX would give zero derivatives and FD would step off the integers).
    """
    import jax.numpy as jnp

    def leaf(path: Any, value: Any) -> Any:
        if differentiated and isinstance(value, int | float) and not isinstance(value, bool):
            return jnp.asarray(value, jnp.float64)
        array = jnp.asarray(value)
        if differentiated and not jnp.issubdtype(array.dtype, jnp.inexact):
            where = name + jax.tree_util.keystr(path)
            raise UsageError(
                f"argument {where!r} has dtype {array.dtype}: integer and bool arrays "
                "cannot be differentiated; pass floats (e.g. 2.0 or jnp.asarray(x, float)), "
                "or leave it out of wrt"
            )
        return array

    return jax.tree_util.tree_map_with_path(leaf, tree)


def _entries(tree: Any) -> int:
    return sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(tree))


def _shape_text(tree: Any) -> str:
    leaves = jax.tree_util.tree_leaves(tree)
    if len(leaves) == 1:
        return f"shape {tuple(np.shape(leaves[0]))}"
    return "shapes " + ", ".join(str(tuple(np.shape(a))) for a in leaves) if leaves else "no arrays"


def problem_from_callable(
    fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    wrt: Sequence[int | str] | None = None,
    constants: dict[str, Any] | None = None,
    options: CheckOptions | None = None,
) -> Problem:
    """A Problem for ``fn(*args, **constants)`` checked at exactly ``args``.

    ``wrt`` lists positions of ``args`` to differentiate (default: all). The same function
    with arguments of the same shapes gets the same Problem back (with the new values),
    so a test suite checking it many times compiles its programs once.

    Raises:
        UsageError: no arguments, a ``wrt`` position out of range, an integer or bool
            array in a differentiated position, or differentiated arguments that have no
            entries at all. Differentiated arguments with no entries beside others that
            have some are left out of ``wrt``.
    """
    import jax.numpy as jnp

    if not args:
        raise UsageError("no arguments to check the function at: check_function(fn, x, ...)")
    names = _names(fn, len(args))
    inputs, wrt_names, dropped = _inputs(names, args, wrt)
    options = options or CheckOptions()
    if wrt is not None or dropped:
        options = CheckOptions(**{**options.__dict__, "wrt": wrt_names})
    given_constants = {k: jnp.asarray(v) for k, v in (constants or {}).items()}
    key = _cache_key(fn, inputs, given_constants, options)
    cached = _PROBLEMS.get(key) if key is not None else None
    if cached is not None:
        cached.given_inputs, cached.given_constants = inputs, given_constants
        cached.spec = cached.spec.replace(check=options)  # the seed may differ
        return cached
    problem = _given_point(fn, names, inputs, given_constants, options)
    if key is not None:
        if len(_PROBLEMS) >= _CACHE_SIZE:
            _PROBLEMS.pop(next(iter(_PROBLEMS)))
        _PROBLEMS[key] = problem
    return problem


def _inputs(
    names: list[str], args: Sequence[Any], wrt: Sequence[int | str] | None
) -> tuple[dict[str, Any], tuple[str, ...], bool]:
    """The arguments by name (floats where differentiated), the names to differentiate,
    and whether some were dropped for having no entries.

    Raises:
        UsageError: a bad ``wrt``, or no differentiated argument with any entries.
    """
    wrt_names = resolve_wrt(wrt, names)
    inputs = {n: _as_float(n, a, n in wrt_names) for n, a in zip(names, args, strict=True)}
    empty = [n for n in wrt_names if _entries(inputs[n]) == 0]
    if empty and len(empty) == len(wrt_names):
        first = empty[0]
        raise UsageError(
            f"{first} has no entries ({_shape_text(inputs[first])}): nothing to differentiate"
        )
    return inputs, tuple(n for n in wrt_names if n not in empty), bool(empty)


def _given_point(
    fn: Callable[..., Any],
    names: list[str],
    inputs: dict[str, Any],
    constants: dict[str, Any],
    options: CheckOptions,
) -> _GivenPoint:
    """The Problem of ``fn`` traced on the shapes of ``inputs`` and ``constants``."""

    def call(**kwargs: Any) -> Any:
        return fn(*[kwargs.pop(n) for n in names], **kwargs)

    def struct(tree: Any) -> Any:
        return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)

    input_structs = {n: struct(v) for n, v in inputs.items()}
    constant_structs = {n: struct(v) for n, v in constants.items()}
    output = jax.eval_shape(lambda i, c: call(**i, **c), input_structs, constant_structs)
    name = getattr(fn, "__name__", type(fn).__name__)
    spec = Spec(
        name=name,
        function=Formula(python=f"{getattr(fn, '__module__', '?')}:{name}"),
        inputs={n: ArraySpec(shape=()) for n in names},
        check=options,
    )
    return _GivenPoint(
        spec=spec,
        dims={},
        fn=call,
        input_structs=input_structs,
        constant_structs=constant_structs,
        output_struct=output,
        given_inputs=inputs,
        given_constants=constants,
        mode=caller_mode(),  # the function runs as its caller runs it
    )


_CACHE_SIZE = 32
_PROBLEMS: dict[Any, _GivenPoint] = {}


def _cache_key(fn: Callable[..., Any], inputs: Any, constants: Any, options: CheckOptions) -> Any:
    """What makes two calls the same problem: the function, shapes, dtypes, options and
    the JAX settings it is traced under (x64, dtype promotion, ...)."""
    try:
        hash(fn)
    except TypeError:
        return None
    leaves, tree = jax.tree_util.tree_flatten((inputs, constants))
    shapes = tuple((np.shape(a), str(a.dtype)) for a in leaves)
    options_key = repr(dataclasses.replace(options, seed=0))
    return (fn, tree, shapes, options_key, caller_mode().key)
