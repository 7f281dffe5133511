"""``adcli init``: write a starting spec from a callable and one example call, or a formula.

The spec is built as text (flow-style YAML, strings JSON-quoted so any formula survives),
validated with the loader before anything is written, then written atomically.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from adcli._errors import UsageError, hinted

_VALUE_LIMIT = 100  # integer constants up to this many elements are written as fixed data


def _pairs(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"{option}: expected NAME=VALUE, got {item!r}")
        out.append((key.strip(), value.strip()))
    return out


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
    import numpy as np

    namespace: dict[str, Any] = {"np": np, "numpy": np, "__builtins__": {}}
    for fn in ("zeros", "ones", "full", "arange", "array", "eye", "linspace", "float32"):
        namespace[fn] = getattr(np, fn)
    try:
        return eval(text, namespace)  # the user's own command line, like python -c
    except Exception as exc:
        raise UsageError(f"--example {name}={text}: {type(exc).__name__}: {exc}") from None


def _leaf(value: Any) -> tuple[list[int], str]:
    import numpy as np

    array = np.asarray(value)
    dtype = str(getattr(value, "dtype", array.dtype))
    if isinstance(value, float):
        dtype = "float64"
    elif isinstance(value, bool):
        dtype = "bool"
    elif isinstance(value, int):
        dtype = "int64"
    return [int(s) for s in array.shape], dtype


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "complex", "bfloat"))


def _tree_text(name: str, value: Any, *, constant: bool) -> str:
    if isinstance(value, dict):
        inner = ", ".join(
            f"{json.dumps(str(k))}: {_tree_text(k, v, constant=constant)}" for k, v in value.items()
        )
        return "{" + inner + "}"
    if isinstance(value, list | tuple) and value and not _array_like(value):
        raise UsageError(
            f"argument {name!r} is a list/tuple pytree; specs describe dict pytrees "
            "(pass a dict, or edit the written spec)"
        )
    shape, dtype = _leaf(value)
    parts = [f"shape: {json.dumps(shape)}", f"dtype: {dtype}"]
    if constant and not _is_float(dtype):
        import numpy as np

        data = np.asarray(value)
        if data.size <= _VALUE_LIMIT:
            parts.append(f"init: {{value: {json.dumps(data.tolist())}}}")
    return "{" + ", ".join(parts) + "}"


def _array_like(value: Any) -> bool:
    import numpy as np

    try:
        return np.asarray(value).dtype != object
    except ValueError:
        return False


def _leaves_float(value: Any) -> list[bool]:
    if isinstance(value, dict):
        return [b for v in value.values() for b in _leaves_float(v)]
    return [_is_float(_leaf(value)[1])]


def _output_text(struct: Any) -> str | None:
    if isinstance(struct, dict):
        parts = [_output_text(v) for v in struct.values()]
        if any(p is None for p in parts) or not parts:
            return None
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))}: {p}" for k, p in zip(struct, parts, strict=True))
            + "}"
        )
    if isinstance(struct, tuple):
        parts = [_output_text(v) for v in struct]
        return None if any(p is None for p in parts) or not parts else "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]
    if hasattr(struct, "shape") and hasattr(struct, "dtype"):
        return f"{{shape: {json.dumps([int(s) for s in struct.shape])}, dtype: {struct.dtype}}}"
    return None


def _from_python(
    ref: str, examples: Sequence[str], args_from: str | None, spec_dir: str
) -> tuple[str, dict[str, Any], str | None, str]:
    fn = load_callable(ref)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise UsageError(f"{ref}: has no inspectable signature") from None
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    given: dict[str, Any] = {}
    if args_from:
        made = load_callable(args_from)()
        if isinstance(made, dict):
            given.update(made)
        else:
            made = tuple(made) if isinstance(made, list | tuple) else (made,)
            if len(made) > len(named):
                raise UsageError(
                    f"{args_from} returned {len(made)} arguments; {ref} takes {len(named)}"
                )
            given.update(zip([p.name for p in named], made, strict=False))
    for key, text in _pairs(examples, "--example"):
        given[key] = _eval_example(key, text)
    names = [p.name for p in named]
    for key in given:
        if key not in names:
            listing = f"; its parameters: {', '.join(names)}"
            raise UsageError(hinted(f"{ref} has no parameter {key!r}", key, names, listing))
    missing = [p.name for p in named if p.name not in given and p.default is p.empty]
    if missing:
        raise UsageError(
            f"no example for {', '.join(missing)}: give --example NAME=VALUE "
            f"(e.g. --example '{missing[0]}=zeros(3)') or --args-from FILE.py:FN"
        )
    args = {p.name: given[p.name] for p in named if p.name in given}
    import jax

    jax.config.update("jax_enable_x64", True)
    structs = jax.tree_util.tree_map(
        lambda v: jax.ShapeDtypeStruct(*reversed(_dtype_shape(v))), args
    )
    try:
        output = _output_text(jax.eval_shape(lambda kw: fn(**kw), structs))
    except Exception as exc:
        raise UsageError(
            f"{ref} fails on the example arguments: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    target, _, attr = ref.rpartition(":")
    if target.endswith(".py"):
        target = os.path.relpath(os.path.abspath(target), spec_dir).replace(os.sep, "/")
    shown = ", ".join(f"{k}={v}" for k, v in _pairs(examples, "--example")) or args_from or ""
    return f"{target}:{attr}", args, output, f"{ref}({shown})"


def _dtype_shape(value: Any) -> tuple[str, tuple[int, ...]]:
    shape, dtype = _leaf(value)
    return dtype, tuple(shape)


def _python_lines(
    python: str, examples: Sequence[str], args_from: str | None, spec_dir: str, name: str | None
) -> list[str]:
    """The spec's lines for ``--python``: inputs and constants from the example arguments."""
    ref, args, output, call = _from_python(python, examples, args_from, spec_dir)
    title = name or python.rpartition(":")[2].replace(".", "_")
    lines = [f"# written by adcli init from {call}", f"name: {json.dumps(title)}"]
    lines.append(f"function: {{python: {json.dumps(ref)}}}")
    ins = {k: v for k, v in args.items() if all(_leaves_float(v))}
    cons = {k: v for k, v in args.items() if k not in ins}
    for k, v in cons.items():
        if any(_leaves_float(v)):
            raise UsageError(f"argument {k!r} mixes float and integer leaves; edit the spec")
    if not ins:
        raise UsageError("no floating-point argument to differentiate")
    lines.append("inputs:")
    lines += [f"  {k}: {_tree_text(k, v, constant=False)}" for k, v in ins.items()]
    if cons:
        lines.append("constants:")
        lines += [f"  {k}: {_tree_text(k, v, constant=True)}" for k, v in cons.items()]
    if output:
        lines.append(f"output: {output}")
    return lines


def _expr_lines(expr: str, inputs: Sequence[str], dims: Sequence[str], title: str) -> list[str]:
    """The spec's lines for ``--expr``: inputs from ``--input NAME=[SHAPE]``."""
    import yaml  # type: ignore[import-untyped]

    lines = [f"# written by adcli init from {expr}", f"name: {json.dumps(title)}"]
    lines.append(f"function: {{expr: {json.dumps(expr)}}}")
    sizes = _pairs(dims, "--dim")
    if sizes:
        lines.append("dims: {" + ", ".join(f"{k}: {v}" for k, v in sizes) + "}")
    lines.append("inputs:")
    for key, shape in _pairs(inputs, "--input"):
        try:
            parsed = yaml.safe_load(shape)
        except yaml.YAMLError:
            parsed = None
        if not isinstance(parsed, list):
            raise UsageError(f"--input {key}={shape}: expected a shape list such as [n, 3]")
        lines.append(f"  {key}: {{shape: {json.dumps(parsed).replace(chr(34), '')}}}")
    return lines


def init_spec(
    spec_file: str,
    *,
    python: str | None = None,
    expr: str | None = None,
    examples: Sequence[str] = (),
    inputs: Sequence[str] = (),
    dims: Sequence[str] = (),
    args_from: str | None = None,
    name: str | None = None,
    force: bool = False,
) -> str:
    """Write a spec to ``spec_file`` and return its text (validated before it is written).

    Raises:
        UsageError: conflicting options, missing examples, or a spec that would not load.
    """
    from adcli._errors import SpecError
    from adcli._files import write_atomically
    from adcli._spec.load import load_text
    from adcli._spec.validate import check_formulas

    if (python is None) == (expr is None):
        raise UsageError("give exactly one of --python FILE.py:FN and --expr FORMULA")
    if os.path.exists(spec_file) and not force:
        raise UsageError(f"{spec_file} exists (use --force to overwrite it)")
    spec_dir = os.path.dirname(os.path.abspath(spec_file))
    if python is not None:
        if inputs or dims:
            raise UsageError("--input/--dim are for --expr; with --python give --example")
        lines = _python_lines(python, examples, args_from, spec_dir, name)
    else:
        if examples or args_from:
            raise UsageError("--example/--args-from are for --python; with --expr give --input")
        if not inputs:
            raise UsageError("--expr needs at least one --input NAME=[SHAPE], e.g. x=[n]")
        title = name or os.path.splitext(os.path.basename(spec_file))[0].split(".")[0]
        lines = _expr_lines(str(expr), inputs, dims, title)
    lines.append("check: {points: 2, seed: 0}")
    text = "\n".join(lines) + "\n"
    try:
        for spec in load_text(text, file=spec_file, base_dir=spec_dir):
            check_formulas(spec)
    except SpecError as exc:
        raise UsageError(f"the spec would not be valid: {exc.format()}") from None
    try:
        write_atomically(spec_file, text)
    except OSError as exc:
        raise UsageError(f"cannot write {spec_file}: {exc.strerror or exc}") from None
    return text
