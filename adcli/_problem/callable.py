"""A Problem from a Python callable and the arguments to call it at (no spec file).

The arguments are what ``jax.grad`` takes, and more: arrays, Python numbers, and any JAX
pytree (dicts, lists, NamedTuples, dataclasses, Flax parameter dicts and NNX Modules,
Equinox Modules). The arguments in ``wrt`` are inputs: their inexact arrays are
differentiated, their other leaves (integer and key arrays, functions, static fields) held
fixed (``adcli._problem.partition``). The others are constants, whatever they hold.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from adcli._errors import UsageError, did_you_mean
from adcli._problem.arguments import held_name
from adcli._problem.build import Problem
from adcli._problem.mesh import given_mesh
from adcli._problem.partition import Leaves, Partition, kind_of, plain
from adcli._problem.runtime import caller_mode
from adcli._spec.model import ArraySpec, CheckOptions, Formula, Spec


@dataclass
class _GivenPoint(Problem):
    """A Problem whose only sample point is the arguments the caller gave."""

    given_inputs: dict[str, Any] | None = None
    given_constants: dict[str, Any] | None = None
    names: list[str] = field(default_factory=list)  # the function's arguments, in order
    # How the caller's arguments were split (inputs, held leaves, constants): another
    # callable with the same arguments (a reference implementation) is called the same way.
    arranged: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None

    def call_like_function(self, other: Callable[..., Any]) -> Callable[..., Any]:
        """``other``, taking the same arguments as the function, called as ``fn`` is."""
        assert self.arranged is not None
        return self.arranged(other)

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


def argument_names(fn: Callable[..., Any], count: int) -> list[str]:
    """The names ``count`` positional arguments of ``fn`` are reported by (``arg0``, ...
    where the signature does not name them all)."""
    return _names(fn, count)


def resolve_wrt(wrt: Sequence[int | str] | int | str | None, names: list[str]) -> tuple[str, ...]:
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


def _differentiable(name: str, value: Any) -> Any:
    """An argument to differentiate: a Python number becomes a float64 array (``2`` too);
    an integer or bool array, or a pytree with no floating array, is a UsageError (JAX
    would give zero derivatives and FD would step off the integers)."""
    import jax.numpy as jnp

    if isinstance(value, int | float) and not isinstance(value, bool):
        return jnp.asarray(float(value))  # the caller's default float (x64 or not)
    dtype = getattr(value, "dtype", None)
    if dtype is not None and kind_of(value) == "held":
        raise UsageError(
            f"argument {name!r} has dtype {dtype}: integer and bool arrays "
            "cannot be differentiated; pass floats (e.g. 2.0 or jnp.asarray(x, float)), "
            "or leave it out of wrt"
        )
    leaves = jax.tree_util.tree_leaves(value)
    if not any(kind_of(leaf) == "diff" for leaf in leaves):
        held = sorted({_what(leaf) for leaf in leaves}) or ["no leaves"]
        raise UsageError(
            f"argument {name!r} has no floating-point array to differentiate "
            f"(it holds {', '.join(held)}); leave it out of wrt"
        )
    return value


def _what(leaf: Any) -> str:
    dtype = getattr(leaf, "dtype", None)
    return f"{dtype} arrays" if dtype is not None else type(leaf).__name__


def _entries(tree: Any) -> int:
    return sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(tree))


def _shape_text(tree: Any) -> str:
    leaves = jax.tree_util.tree_leaves(tree)
    if len(leaves) == 1:
        return f"shape {tuple(np.shape(leaves[0]))}"
    return "shapes " + ", ".join(str(tuple(np.shape(a))) for a in leaves) if leaves else "no arrays"


@dataclass
class _Arguments:
    """The caller's arguments as the Problem takes them."""

    names: list[str]
    inputs: dict[str, Any]
    constants: dict[str, Any]
    parts: dict[str, Partition]
    wrt: tuple[str, ...]  # the inputs with entries
    dropped: bool  # some inputs were left out for having no entries


def _arguments(
    names: list[str], args: Sequence[Any], wrt: Sequence[int | str] | int | str | None
) -> _Arguments:
    """Split the arguments into inputs (``wrt``) and constants, each partitioned where it
    holds more than arrays to differentiate (inputs) or arrays (constants).

    Raises:
        UsageError: a bad ``wrt``, an argument in ``wrt`` with nothing to differentiate,
            or no differentiated argument with any entries.
    """
    wrt_names = resolve_wrt(wrt, names)
    inputs: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    parts: dict[str, Partition] = {}
    for name, value in zip(names, args, strict=True):
        differentiate = name in wrt_names
        if differentiate:
            value = _differentiable(name, value)
        if plain(value, differentiate=differentiate):
            (inputs if differentiate else constants)[name] = value
            continue
        part = Partition.of(value, differentiate=differentiate)
        parts[name] = part
        diff, held = part.split(value)
        if differentiate:
            inputs[name] = diff
            if held.values:
                constants[held_name(name)] = held
        else:
            constants[name] = held
    empty = [n for n in wrt_names if _entries(inputs[n]) == 0]
    if empty and len(empty) == len(wrt_names):
        first = empty[0]
        raise UsageError(
            f"{first} has no entries ({_shape_text(inputs[first])}): nothing to differentiate"
        )
    kept = tuple(n for n in wrt_names if n not in empty)
    return _Arguments(names, inputs, constants, parts, kept, bool(empty))


def problem_from_callable(
    fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    wrt: Sequence[int | str] | int | str | None = None,
    constants: dict[str, Any] | None = None,
    options: CheckOptions | None = None,
) -> Problem:
    """A Problem for ``fn(*args, **constants)`` checked at exactly ``args``.

    ``wrt`` lists positions or names of ``args`` to differentiate (default: all). The same
    function with arguments of the same structure, shapes and fixed leaves gets the same
    Problem back (with the new values), so a test suite checking it many times compiles
    its programs once.

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
    given = _arguments(names, args, wrt)
    options = options or CheckOptions()
    if wrt is not None or given.dropped:
        options = CheckOptions(**{**options.__dict__, "wrt": given.wrt})
    given.constants.update({k: jnp.asarray(v) for k, v in (constants or {}).items()})
    key = _cache_key(fn, given, options)
    cached = _PROBLEMS.get(key) if key is not None else None
    if cached is not None:
        cached.given_inputs, cached.given_constants = given.inputs, given.constants
        cached.spec = cached.spec.replace(check=options)  # the seed may differ
        return cached
    problem = _given_point(fn, given, options)
    if key is not None:
        if len(_PROBLEMS) >= _CACHE_SIZE:
            _PROBLEMS.pop(next(iter(_PROBLEMS)))
        _PROBLEMS[key] = problem
    return problem


def _arranged(given: _Arguments) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a function of the caller's arguments into one of the Problem's inputs and
    constants (partitioned arguments joined back, positions restored)."""
    names, parts = given.names, given.parts

    def arrange(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            for name, part in parts.items():
                if name in given.inputs:
                    kwargs[name] = part.join(kwargs[name], kwargs.pop(held_name(name), None))
                else:
                    kwargs[name] = part.join(Leaves((), ()), kwargs[name])
            return fn(*[kwargs.pop(n) for n in names], **kwargs)

        return call

    return arrange


def _given_point(fn: Callable[..., Any], given: _Arguments, options: CheckOptions) -> _GivenPoint:
    """The Problem of ``fn`` traced on the shapes of the given arguments."""
    names = given.names
    call = _arranged(given)(fn)

    def struct(tree: Any) -> Any:
        return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)

    input_structs = {n: struct(v) for n, v in given.inputs.items()}
    constant_structs = {n: struct(v) for n, v in given.constants.items()}
    plan = given_mesh(given.inputs, given.constants)  # None: the arguments are on one device
    if plan is not None:  # run, and differentiate, as the caller's sharded program does
        input_structs = plan.structs(input_structs, plan.inputs)
        constant_structs = plan.structs(constant_structs, plan.constants)
        call = plan.wrap(call)
    output = jax.eval_shape(lambda i, c: call(**i, **c), input_structs, constant_structs)
    name = getattr(fn, "__name__", type(fn).__name__)
    spec = Spec(
        name=name,
        function=Formula(python=f"{getattr(fn, '__module__', '?')}:{name}"),
        inputs={n: ArraySpec(shape=()) for n in given.inputs},
        constants={n: ArraySpec(shape=()) for n in names if n not in given.inputs},
        check=options,
    )
    return _GivenPoint(
        spec=spec,
        dims={},
        fn=call,
        input_structs=input_structs,
        constant_structs=constant_structs,
        output_struct=output,
        given_inputs=given.inputs,
        given_constants=given.constants,
        names=names,
        arranged=_arranged(given),
        mode=caller_mode(),  # the function runs as its caller runs it
        mesh=plan,
    )


def problem_of(
    target: Any, args: Sequence[Any], *, wrt: Sequence[int | str] | int | str | None, what: str
) -> Problem | None:
    """The Problem of ``target(*args)`` when ``target`` is a function, for the commands
    that also take a spec (``choose_mode``, ``memory_report``, ``curvature``, ``explain``);
    None when it is a Spec, a Problem or a path (which take no ``args``).

    Without ``wrt``, the arguments that hold a floating array (or are a Python float)
    are differentiated and the others (integer labels, config) are constants.

    Raises:
        TypeError: example arguments given with a spec, or a function without them.
        UsageError: as ``problem_from_callable``.
    """
    import os

    if isinstance(target, Problem | Spec | str | os.PathLike | list | tuple) or not callable(
        target
    ):
        if args:
            raise TypeError(f"{what}(): example arguments are for a function; a spec has its own")
        return None
    if not args:
        raise TypeError(f"{what}(fn, *args): give the arguments to call fn at")
    if wrt is None:
        names = _names(target, len(args))
        wrt = [
            n
            for n, a in zip(names, args, strict=True)
            if any(kind_of(leaf) == "diff" for leaf in jax.tree_util.tree_leaves(a))
        ]
    return problem_from_callable(target, args, wrt=wrt)


_CACHE_SIZE = 32
_PROBLEMS: dict[Any, _GivenPoint] = {}


def _cache_key(fn: Callable[..., Any], given: _Arguments, options: CheckOptions) -> Any:
    """What makes two calls the same problem: the function, the arguments' structure,
    shapes, dtypes and fixed leaves, the options, and the JAX settings it is traced under
    (x64, dtype promotion, ...)."""
    try:
        hash(fn)
    except TypeError:
        return None
    leaves, tree = jax.tree_util.tree_flatten((given.inputs, given.constants))
    # A sharded argument is a different program: its layout is part of the problem.
    shapes = tuple((np.shape(a), str(a.dtype), str(getattr(a, "sharding", ""))) for a in leaves)
    parts = tuple(sorted(given.parts.items()))
    options_key = repr(dataclasses.replace(options, seed=0))
    try:
        hash(parts)
    except TypeError:  # a fixed leaf that neither hashes nor compares: do not cache
        return None
    return (fn, tree, shapes, parts, options_key, caller_mode().key)
