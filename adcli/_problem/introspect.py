"""What ``adcli init --python`` reads from the user's code: the function, its example
arguments (``--example`` expressions, or an ``--args-from`` function), and the output of
one abstract call (``jax.eval_shape``), as plain data the spec layer writes out
(``adcli._spec.scaffold``).

An argument that YAML can describe leaf by leaf (an array, a dict or list of them with few
leaves) is described so; any other pytree (an Equinox or NNX Module, a NamedTuple, a tree
with many leaves or with both floating and integer leaves) is referred to as one item of
what the ``--args-from`` function returns: ``{python: models.py:example_args, item: 0}``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from adcli._errors import UsageError, hinted
from adcli._problem.partition import Leaves, Partition, kind_of
from adcli._problem.runtime import jax_scope
from adcli._spec.scaffold import ArgLeaf, ArgRef, Call, pairs

MAX_LEAVES = 8  # an argument with more leaves is referred to in the code, not listed
VALUE_LIMIT = 100  # integer constants up to this many elements are written as fixed data


def load_callable(ref: str) -> Callable[..., Any]:
    """Import ``file.py:fn`` (relative to the current directory) or ``package.module:fn``."""
    target, _, attr = ref.rpartition(":")
    if not target or not attr:
        raise UsageError(f"expected FILE.py:FUNCTION or package.module:function, got {ref!r}")
    try:
        if target.endswith(".py"):
            path = os.path.abspath(target)
            if not os.path.isfile(path):
                raise UsageError(f"{ref}: no such file {target!r}")
            name = "adcli_init_" + os.path.splitext(os.path.basename(path))[0]
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, os.path.dirname(path))  # its sibling imports, as pytest allows
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(os.path.dirname(path))
        else:
            module = importlib.import_module(target)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"{ref}: importing it failed: {type(exc).__name__}: {exc}") from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise UsageError(f"{ref}: {target} has no attribute {part!r}")
        value = getattr(value, part)
    if not callable(value):
        raise UsageError(f"{ref}: {attr} is not callable")
    return value  # type: ignore[no-any-return]


def _eval_example(name: str, text: str) -> Any:
    namespace: dict[str, Any] = {"np": np, "numpy": np, "__builtins__": {}}
    for fn in ("zeros", "ones", "full", "arange", "array", "eye", "linspace", "float32"):
        namespace[fn] = getattr(np, fn)
    try:
        return eval(text, namespace)  # the user's own command line, like python -c
    except Exception as exc:
        raise UsageError(f"--example {name}={text}: {type(exc).__name__}: {exc}") from None


def _call_args_from(ref: str) -> Any:
    """What the ``--args-from`` function returns (called with a key if it takes one)."""
    fn = load_callable(ref)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    key = next((p for p in params if p in ("key", "rng")), None)
    seed = {"seed": 0} if key is None and "seed" in params else {}
    try:
        return fn(**({key: jax.random.key(0)} if key else seed))
    except Exception as exc:
        raise UsageError(f"{ref}: calling it failed: {type(exc).__name__}: {exc}") from None


@jax_scope()  # adcli's float64 settings for the user's code, the caller's after
def describe_call(ref: str, examples: Sequence[str], args_from: str | None, spec_dir: str) -> Call:
    """The function, its arguments and its output, for a spec written to ``spec_dir``.

    Raises:
        UsageError: an import, an example or the call fails; an argument is missing or
            unknown; an argument cannot be described without ``--args-from``.
    """
    fn = load_callable(ref)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise UsageError(f"{ref}: has no inspectable signature") from None
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = [p.name for p in named]
    given, items = _given(ref, names, examples, args_from)
    missing = [p.name for p in named if p.name not in given and p.default is p.empty]
    if missing:
        raise UsageError(
            f"no example for {', '.join(missing)}: give --example NAME=VALUE "
            f"(e.g. --example '{missing[0]}=zeros(3)') or --args-from FILE.py:FN"
        )
    args = {n: given[n] for n in names if n in given}
    output = _output(ref, fn, args)
    described = {n: _describe(n, v, args_from, items.get(n), spec_dir) for n, v in args.items()}
    target, _, attr = ref.rpartition(":")
    shown = ", ".join(f"{k}={v}" for k, v in pairs(examples, "--example")) or args_from or ""
    return Call(f"{_relative(target, spec_dir)}:{attr}", described, output, f"{ref}({shown})")


def _given(
    ref: str, names: list[str], examples: Sequence[str], args_from: str | None
) -> tuple[dict[str, Any], dict[str, int | str]]:
    """The example arguments by name, and each one's item in what ``--args-from`` returns."""
    given: dict[str, Any] = {}
    items: dict[str, int | str] = {}
    if args_from:
        made = _call_args_from(args_from)
        if isinstance(made, dict):
            given.update(made)
            items.update({k: k for k in made})
        else:
            made = tuple(made) if isinstance(made, list | tuple) else (made,)
            if len(made) > len(names):
                raise UsageError(
                    f"{args_from} returned {len(made)} arguments; {ref} takes {len(names)}"
                )
            given.update(zip(names, made, strict=False))
            items.update({n: i for i, n in enumerate(names[: len(made)])})
    for key, text in pairs(examples, "--example"):
        given[key] = _eval_example(key, text)
        items.pop(key, None)
    for key in given:
        if key not in names:
            listing = f"; its parameters: {', '.join(names)}"
            raise UsageError(hinted(f"{ref} has no parameter {key!r}", key, names, listing))
    return given, items


def _relative(target: str, spec_dir: str) -> str:
    if not target.endswith(".py"):
        return target
    return os.path.relpath(os.path.abspath(target), spec_dir).replace(os.sep, "/")


def _output(ref: str, fn: Callable[..., Any], args: dict[str, Any]) -> Any:
    """The output of one abstract call, described (None where YAML cannot declare it)."""
    parts = {n: Partition.of(v, differentiate=False) for n, v in args.items()}
    arrays = {n: p.split(args[n])[1] for n, p in parts.items()}
    structs = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), arrays)

    def call(given: dict[str, Leaves]) -> Any:
        return fn(**{n: parts[n].join(Leaves((), ()), leaves) for n, leaves in given.items()})

    try:
        out = jax.eval_shape(call, structs)
    except Exception as exc:
        raise UsageError(
            f"{ref} fails on the example arguments: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return _output_tree(out)


def _output_tree(struct: Any) -> Any:
    if isinstance(struct, dict):
        parts = {str(k): _output_tree(v) for k, v in struct.items()}
        return None if not parts or any(p is None for p in parts.values()) else parts
    if isinstance(struct, tuple) and type(struct) is tuple:
        items = [_output_tree(v) for v in struct]
        return None if not items or any(p is None for p in items) else items
    if isinstance(struct, jax.ShapeDtypeStruct):
        return ArgLeaf([int(s) for s in struct.shape], str(struct.dtype))
    return None


def _describe(
    name: str, value: Any, args_from: str | None, item: int | str | None, spec_dir: str
) -> Any:
    """An argument as YAML leaves (dicts, lists), or as a reference into the code."""
    leaves = jax.tree_util.tree_leaves(value)
    yaml_tree = _yaml_tree(value)
    floats = [kind_of(leaf) == "diff" for leaf in leaves]
    mixed = any(floats) and not all(floats)
    referable = args_from is not None and item is not None
    if yaml_tree is not None and not mixed and (len(leaves) <= MAX_LEAVES or not referable):
        return yaml_tree
    if not referable:
        why = "it mixes floating and integer leaves" if mixed else "YAML cannot spell it"
        raise UsageError(
            f"argument {name!r} cannot be written leaf by leaf ({why}): give it with "
            "--args-from FILE.py:FN, and the spec refers to it there"
        )
    assert args_from is not None and item is not None
    module, _, attr = args_from.rpartition(":")
    return ArgRef(f"{_relative(module, spec_dir)}:{attr}", item, any(floats))


def _yaml_tree(value: Any) -> Any:
    """Dicts (string keys), lists and tuples of array leaves as described leaves; None for
    anything else (a Module, a NamedTuple, a function leaf)."""
    if isinstance(value, dict):
        if not value or not all(isinstance(k, str) for k in value):
            return None
        parts = {k: _yaml_tree(v) for k, v in value.items()}
        return None if any(p is None for p in parts.values()) else parts
    if type(value) in (list, tuple):
        items = [_yaml_tree(v) for v in value]
        return None if not items or any(p is None for p in items) else items
    if kind_of(value) == "static" and not isinstance(value, int | float | bool):
        return None
    array = np.asarray(value)
    if array.dtype == object:
        return None
    dtype = str(getattr(value, "dtype", array.dtype))
    if isinstance(value, bool):
        dtype = "bool"
    elif isinstance(value, int):
        dtype = "int64"
    elif isinstance(value, float):
        dtype = "float64"
    floating = np.issubdtype(array.dtype, np.inexact)
    data = array.tolist() if array.size <= VALUE_LIMIT and not floating else None
    return ArgLeaf([int(s) for s in array.shape], dtype, data)
