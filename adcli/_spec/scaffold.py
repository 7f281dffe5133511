"""``adcli init``: write a starting spec from a callable and one example call, or a formula.

The spec is built as text (flow-style YAML, strings JSON-quoted so any formula survives),
validated with the loader before anything is written, then written atomically. What the
callable takes and returns is read by ``adcli._problem.introspect`` (it runs the user's
code and JAX) and handed here as plain data (``Call``): this module writes it out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adcli._errors import UsageError


@dataclass(frozen=True)
class ArgLeaf:
    """One array of an example argument (or of the output): its shape and dtype, and its
    values when it is a small integer constant (written as fixed data)."""

    shape: list[int]
    dtype: str
    value: Any = None


@dataclass(frozen=True)
class ArgRef:
    """An argument the spec takes from the code: ``{python: ref, item: item}``."""

    ref: str
    item: int | str
    floating: bool  # it holds floating arrays (an input), or not (a constant)


@dataclass(frozen=True)
class Call:
    """The function (``ref`` relative to the spec), its arguments by name (trees of
    ``ArgLeaf``/``ArgRef`` in dicts and lists), its output (a tree of ``ArgLeaf``, or None
    when YAML cannot declare it) and how it was called, for the spec's first line."""

    ref: str
    args: Mapping[str, Any]
    output: Any
    shown: str


Describe = Callable[[str, Sequence[str], "str | None", str], Call]


def pairs(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` items as pairs (a UsageError naming ``option`` otherwise)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"{option}: expected NAME=VALUE, got {item!r}")
        out.append((key.strip(), value.strip()))
    return out


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "complex", "bfloat"))


def _floating(tree: Any) -> bool:
    """Whether an argument holds a floating array (so it is an input)."""
    if isinstance(tree, ArgRef):
        return tree.floating
    if isinstance(tree, ArgLeaf):
        return _is_float(tree.dtype)
    items = tree.values() if isinstance(tree, dict) else tree
    return any(_floating(sub) for sub in items)


def _tree_text(tree: Any, *, constant: bool) -> str:
    """An argument (or an output) as flow-style YAML."""
    if isinstance(tree, ArgRef):
        return f"{{python: {json.dumps(tree.ref)}, item: {json.dumps(tree.item)}}}"
    if isinstance(tree, dict):
        inner = ", ".join(
            f"{json.dumps(str(k))}: {_tree_text(v, constant=constant)}" for k, v in tree.items()
        )
        return "{" + inner + "}"
    if isinstance(tree, list):
        return "[" + ", ".join(_tree_text(v, constant=constant) for v in tree) + "]"
    parts = [f"shape: {json.dumps(tree.shape)}", f"dtype: {tree.dtype}"]
    if constant and not _is_float(tree.dtype) and tree.value is not None:
        parts.append(f"init: {{value: {json.dumps(tree.value)}}}")
    return "{" + ", ".join(parts) + "}"


def _python_lines(call: Call, name: str | None, python: str) -> list[str]:
    """The spec's lines for ``--python``: inputs and constants from the example arguments."""
    title = name or python.rpartition(":")[2].replace(".", "_")
    lines = [f"# written by adcli init from {call.shown}", f"name: {json.dumps(title)}"]
    lines.append(f"function: {{python: {json.dumps(call.ref)}}}")
    ins = {k: v for k, v in call.args.items() if _floating(v)}
    cons = {k: v for k, v in call.args.items() if k not in ins}
    if not ins:
        raise UsageError("no floating-point argument to differentiate")
    lines.append("inputs:")
    lines += [f"  {k}: {_tree_text(v, constant=False)}" for k, v in ins.items()]
    if cons:
        lines.append("constants:")
        lines += [f"  {k}: {_tree_text(v, constant=True)}" for k, v in cons.items()]
    if call.output is not None:
        lines.append(f"output: {_tree_text(call.output, constant=False)}")
    return lines


def _expr_lines(expr: str, inputs: Sequence[str], dims: Sequence[str], title: str) -> list[str]:
    """The spec's lines for ``--expr``: inputs from ``--input NAME=[SHAPE]``."""
    import yaml  # type: ignore[import-untyped]

    lines = [f"# written by adcli init from {expr}", f"name: {json.dumps(title)}"]
    lines.append(f"function: {{expr: {json.dumps(expr)}}}")
    sizes = pairs(dims, "--dim")
    if sizes:
        lines.append("dims: {" + ", ".join(f"{k}: {v}" for k, v in sizes) + "}")
    lines.append("inputs:")
    for key, shape in pairs(inputs, "--input"):
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
    describe: Describe | None = None,
) -> str:
    """Write a spec to ``spec_file`` and return its text (validated before it is written).

    ``describe`` reads the ``--python`` function and its arguments
    (``adcli._problem.introspect.describe_call``, passed in by the CLI: this layer runs
    no user code).

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
        if describe is None:
            raise UsageError("--python needs the code reader: run adcli init from the CLI")
        call = describe(python, examples, args_from, spec_dir)
        lines = _python_lines(call, name, python)
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
