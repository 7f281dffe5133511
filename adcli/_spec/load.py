"""Load specs: find spec files, read their YAML documents, validate them into Spec objects.

Every mistake becomes a SpecError naming the file, line and field (see docs/spec.md).
Imports neither jax nor rich, so ``adcli validate`` and ``--help`` stay fast.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from adcli._errors import SpecError, UsageError, did_you_mean
from adcli._spec.model import (
    KINK_POLICIES,
    MEMORY_FIGURES,
    METHODS,
    MODES,
    CheckOptions,
    Expect,
    Formula,
    MemoryOptions,
    OutputSpec,
    Spec,
    Tree,
)
from adcli._spec.shapes import LEAF_KEYS, _dtype, read_array, recheck_sizes
from adcli._spec.sharding import check_shardings, read_mesh, recheck_shardings
from adcli._spec.trees import not_a_leaf, read_tree
from adcli._spec.yaml import Reader, child, kind_of, load_documents

TOP_KEYS = (
    "name",
    "description",
    "function",
    "inputs",
    "constants",
    "dims",
    "output",
    "check",
    "expect",
    "memory",
    "dtype",
    "requires",
    "reference",
    "mesh",
    "mesh_axis_types",
)
CHECK_KEYS = tuple(f.name for f in dataclasses.fields(CheckOptions) if f.metadata.get("spec", True))


def load_file(path: str | os.PathLike[str]) -> list[Spec]:
    """Read every spec in one YAML file (several may be separated by ``---``).

    Raises:
        SpecError: the file is missing, unreadable, empty, or holds an invalid spec.

    >>> load_file("no/such.yaml")
    Traceback (most recent call last):
    adcli._errors.SpecError: no/such.yaml: no such file
    """
    file = os.fspath(path)
    try:
        with open(file, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise SpecError("no such file", file=file) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", file=file) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=file) from None
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror}", file=file) from None
    specs = load_text(text, file=file, base_dir=os.path.dirname(os.path.abspath(file)))
    if not specs:
        raise SpecError("no spec in this file (it is empty)", file=file)
    return specs


def load_text(text: str, *, file: str | None = None, base_dir: str = ".") -> list[Spec]:
    """Validate the specs in YAML ``text``; an empty text gives ``[]``.

    ``file`` only labels errors; relative ``python:`` and ``file:`` paths are resolved
    against ``base_dir``.

    >>> [s.name for s in load_text("name: sq\\nfunction: {expr: x * x}\\ninputs: {x: []}")]
    ['sq']
    """
    base = os.path.abspath(base_dir)
    specs: list[Spec] = []
    for doc in load_documents(text, file=file):
        spec = _build(Reader(doc, file, base))
        for other in specs:
            if other.name == spec.name:
                raise SpecError(
                    f"duplicate spec name '{spec.name}'",
                    file=file,
                    line=doc.line_of("name"),
                    field="name",
                    hint=f"first used at line {other.where.line}; names must be unique in a file",
                )
        specs.append(spec)
    return specs


def find_spec_files(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files as given, and every ``*.yaml``/``*.yml`` under directories (sorted, recursive).

    Hidden files and directories (``.git``, ``.venv``) are skipped; duplicates are dropped.

    Raises:
        SpecError: a path does not exist, or a directory holds no spec files.
    """
    found: list[str] = []
    for path in [os.fspath(p) for p in paths]:
        if os.path.isdir(path):
            hits = sorted(_walk(path))
            if not hits:
                raise SpecError("no *.yaml or *.yml spec files in this directory", file=path)
            found.extend(hits)
        elif os.path.exists(path):
            found.append(path)
        else:
            raise SpecError("no such file or directory", file=path)
    return list(dict.fromkeys(found))


def _walk(top: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                yield os.path.join(dirpath, name)


def apply_overrides(
    spec: Spec,
    *,
    dims: Mapping[str, int] | None = None,
    points: int | None = None,
    seed: int | None = None,
) -> Spec:
    """The spec with command-line overrides (``--dim n=...``, ``--points``, ``--seed``).

    Raises:
        UsageError: an unknown dim (with "did you mean"), a non-positive value, or dims
            that make a shape negative or a ``value``/``file`` init no longer broadcast.
    """
    changes: dict[str, Any] = {}
    if dims:
        new = dict(spec.dims)
        for name, size in dims.items():
            if name not in spec.dims:
                known = ", ".join(spec.dims) or "none"
                hint = did_you_mean(name, spec.dims)
                raise UsageError(
                    f"--dim {name}: spec '{spec.name}' has no dim '{name}'"
                    + (f" ({hint})" if hint else "")
                    + f"; its dims: {known}"
                )
            _positive(f"--dim {name}", size, 1)
            new[name] = size
        try:
            recheck_sizes(spec, new)
            recheck_shardings(spec, new)
        except SpecError as exc:
            assigned = " ".join(f"{k}={v}" for k, v in dims.items())
            raise UsageError(f"with --dim {assigned}: {exc.format()}") from None
        changes["dims"] = new
    check: dict[str, Any] = {}
    if points is not None:
        check["points"] = _positive("--points", points, 1)
    if seed is not None:
        check["seed"] = _positive("--seed", seed, 0)
    if check:
        changes["check"] = dataclasses.replace(spec.check, **check)
    return spec.replace(**changes) if changes else spec


def _positive(option: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{option}: expected an int >= {minimum}, got {value!r}")
    return value


def _build(r: Reader) -> Spec:
    """Validate one document into a Spec; checks run in reading order, first error wins."""
    data = r.doc.data
    if not isinstance(data, dict):
        r.fail(
            "", f"a spec must be a mapping (name:, function:, inputs:, ...), got {kind_of(data)}"
        )
    top = r.mapping(data, "", TOP_KEYS, required=("name", "function", "inputs"))
    name = r.string(top["name"], "name", what="a name")
    if "\n" in name:
        r.fail("name", "a spec name must be one line")
    description = top.get("description")
    if description is not None and not isinstance(description, str):
        r.fail("description", f"expected a string, got {kind_of(description)}")
    dims = _dims(r, top.get("dims"))
    function = _function(r, top["function"])
    trees = function.python is not None  # pytree arguments: for python: functions only
    dtype = None if top.get("dtype") is None else _dtype(r, top["dtype"], "dtype", "input")
    inputs = _arguments(r, top["inputs"], "inputs", dims, trees, dtype)
    constants = _arguments(r, top.get("constants"), "constants", dims, trees, dtype)
    for other in constants:
        if other in inputs:
            r.fail(f"constants.{other}", f"'{other}' is both an input and a constant", key=True)
    spec = Spec(
        name=name,
        function=function,
        inputs=inputs,
        constants=constants,
        dims=dims,
        output=None
        if top.get("output") is None
        else _output(r, top["output"], "output", dims, trees),
        check=_check(r, top.get("check"), inputs, constants, dims),
        expect=_expect(r, top.get("expect"), inputs, constants),
        memory=None if top.get("memory") is None else _memory(r, top["memory"]),
        reference=_reference(r, top),
        mesh=read_mesh(r, top.get("mesh"), top.get("mesh_axis_types")),
        description=description or "",
        where=r.where("name"),
        base_dir=r.base_dir,
        field_lines={p: m.key_line or m.line for p, m in r.doc.marks.items() if p},
        dtype=dtype,
        requires=_requires(r, top.get("requires")),
    )
    check_shardings(r, spec)  # each leaf's sharding against the mesh and the sizes
    return spec


def _requires(r: Reader, value: Any) -> tuple[str, ...]:
    """``requires: [flax, optax]``: the importable packages the spec's code needs."""
    if value is None:
        return ()
    if isinstance(value, str):
        r.fail("requires", "expected a list, got a string", f"write [{value}]")
    if not isinstance(value, list):
        r.fail("requires", f"expected a list of package names, got {kind_of(value)}")
    for i, name in enumerate(value):
        path = f"requires[{i}]"
        text = r.string(name, path, what="a package name such as flax")
        if not all(part.isidentifier() for part in text.split(".")):
            r.fail(path, f"'{text}' is not a package name", "e.g. flax, equinox, jax.numpy")
    return tuple(value)


def _identifier(r: Reader, name: str, path: str, what: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        r.fail(path, f"'{name}' is not a valid {what} name", "use letters, digits and _", key=True)


def _dims(r: Reader, value: Any, path: str = "dims") -> dict[str, int]:
    dims = r.mapping(value, path, expected="a mapping of names to sizes, e.g. {n: 100}")
    for name, size in dims.items():
        _identifier(r, name, f"{path}.{name}", "dim")
        r.integer(size, f"{path}.{name}", minimum=1)
    return dims


def _function(r: Reader, value: Any) -> Formula:
    if isinstance(value, str):
        r.fail("function", "expected a mapping, got a string", "write function: {expr: ...}")
    return _formula(r, value, "function")


def _reference(r: Reader, top: Mapping[str, Any]) -> Formula | None:
    """``reference: {python: ...}`` or ``{expr: ...}``: the trusted implementation."""
    value = top.get("reference")
    if value is None:
        if (top.get("check") or {}).get("factor") is not None:
            hint = "add reference: {python: file.py:plain_version} to compare with"
            r.fail("check.factor", "check.factor applies to a comparison with a reference", hint)
        return None
    if isinstance(value, str):
        r.fail("reference", "expected a mapping, got a string", "write reference: {expr: ...}")
    return _formula(r, value, "reference")


def _formula(r: Reader, value: Any, path: str) -> Formula:
    """``{expr: ...}`` or ``{python: ref}``; under expect:, a bare formula string too."""
    if path not in ("function", "reference") and isinstance(value, str | int | float):
        return _expr(r, value, path)
    want = "a mapping with 'expr' or 'python'"
    m = r.mapping(value, path, ("expr", "python"), expected=want)
    if len(m) != 1:
        problem = "give either 'expr' or 'python', not both" if m else f"expected {want}"
        r.fail(path, problem, "e.g. {expr: x * x} or {python: models.py:loss}", key=True)
    if "expr" in m:
        return _expr(r, m["expr"], child(path, "expr"))
    ref = _python_ref(r, m["python"], child(path, "python"))
    return Formula(python=ref, where=r.where(child(path, "python")))


def _expr(r: Reader, value: Any, path: str) -> Formula:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        hint = "quote it" if isinstance(value, bool) else None
        r.fail(path, f"expected a formula string, got {kind_of(value)}", hint)
    text = str(value)
    if not text.strip():
        r.fail(path, "the formula is empty")
    mark = r.doc.marks.get(path)
    return Formula(expr=text, where=r.where(path), expr_line=mark.text_line if mark else None)


def _python_ref(r: Reader, value: Any, path: str) -> str:
    ref = r.string(value, path, what="'file.py:function' or 'package.module:function'")
    module, _, attr = ref.rpartition(":")
    if not module or not attr:
        hint = "name the callable after a colon, e.g. models.py:loss or mypkg.models:loss"
        r.fail(path, f"expected 'file.py:function' or 'package.module:function', got '{ref}'", hint)
    if not all(part.isidentifier() for part in attr.split(".")):
        r.fail(path, f"'{attr}' is not a Python attribute name")
    if module.endswith(".py"):
        full = os.path.normpath(os.path.join(r.base_dir, module))
        if not os.path.isfile(full):
            hint = f"looked for {full}; a .py path is relative to the spec file's directory"
            r.fail(path, f"no such file '{module}'", hint)
    elif not all(part.isidentifier() for part in module.split(".")):
        r.fail(path, f"'{module}' is neither a .py file nor a module name like package.module")
    return ref


def _arguments(
    r: Reader,
    value: Any,
    path: str,
    dims: Mapping[str, int],
    trees: bool,
    dtype: str | None = None,
) -> dict[str, Tree]:
    args = r.mapping(value, path, expected="a mapping of argument names")
    if path == "inputs" and not args:
        r.fail(path, "a spec needs at least one input", "e.g. inputs: {x: {shape: [n]}}", key=True)
    kind = "input" if path == "inputs" else "constant"
    for name in args:
        _identifier(r, name, child(path, name), kind)
    return {
        name: read_tree(r, sub, child(path, name), kind, dims, trees=trees, dtype=dtype)
        for name, sub in args.items()
    }


def _output(
    r: Reader, value: Any, path: str, dims: Mapping[str, int], trees: bool = True
) -> OutputSpec:
    """A leaf ``{shape: ...}``, a list of outputs (a tuple) or a mapping of them (a dict);
    ``trees``: the function is Python (under a formula no mapping is a subtree)."""
    if isinstance(value, list):
        if not value:
            r.fail(path, "an empty list declares an empty tuple", "for a scalar write {shape: []}")
        return tuple(_output(r, sub, child(path, i), dims, trees) for i, sub in enumerate(value))
    if not isinstance(value, dict):
        problem = f"expected an output such as {{shape: [n]}}, got {kind_of(value)}"
        hint = "a list under output: declares a tuple of outputs; one array is {shape: [n]}"
        r.fail(path, problem, hint if path.endswith("]") else None)
    if "shape" in value:
        return read_array(r, value, path, "output", dims)
    if not trees or not value or not all(isinstance(v, dict | list) for v in value.values()):
        not_a_leaf(r, value, path, LEAF_KEYS["output"])  # a leaf with a mistake, not a subtree
    return {key: _output(r, sub, child(path, key), dims, trees) for key, sub in value.items()}


def _not_constant(r: Reader, name: Any, path: str, constants: Mapping[str, Any], key: bool) -> None:
    if isinstance(name, str) and name in constants:
        hint = "derivatives are taken only with respect to inputs; move it under inputs:"
        r.fail(path, f"'{name}' is a constant, not an input", hint, key=key)


def _check(
    r: Reader,
    value: Any,
    inputs: Mapping[str, Any],
    constants: Mapping[str, Any],
    dims: Mapping[str, int],
) -> CheckOptions:
    m = {k: v for k, v in r.mapping(value, "check", CHECK_KEYS).items() if v is not None}
    opts: dict[str, Any] = {}
    if "wrt" in m:
        for i, name in enumerate(m["wrt"] if isinstance(m["wrt"], list) else []):
            _not_constant(r, name, f"check.wrt[{i}]", constants, key=False)
        opts["wrt"] = r.names(m["wrt"], "check.wrt", tuple(inputs), what="input")
    if "order" in m:
        if type(m["order"]) is not int or m["order"] < 1:
            hint = "1 checks first derivatives; 2 also Hessian-vector products; k >= 3 also D^k"
            r.fail("check.order", f"expected an int >= 1, got {m['order']!r}", hint)
        opts["order"] = m["order"]
    if "modes" in m:
        hint = "modes are fwd (forward, JVPs) and rev (reverse, VJPs)"
        opts["modes"] = r.names(m["modes"], "check.modes", MODES, what="mode", hint=hint)
    if "method" in m:
        if m["method"] not in METHODS:
            hint = (
                did_you_mean(str(m["method"]), METHODS) or f"expected one of: {', '.join(METHODS)}"
            )
            r.fail("check.method", f"unknown method {m['method']!r}", hint)
        opts["method"] = m["method"]
    for key in ("points", "directions", "seed"):
        if key in m:
            opts[key] = r.integer(m[key], f"check.{key}", minimum=0 if key == "seed" else 1)
    for key in ("rtol", "atol", "factor"):
        if key in m:
            opts[key] = r.number(m[key], f"check.{key}", minimum=0)
    if "repeat" in m:
        opts["repeat"] = r.integer(m["repeat"], "check.repeat", minimum=1)
    if "eps" in m:
        eps = r.number(m["eps"], "check.eps", minimum=0)
        if not 0 < eps < math.inf:
            hint = "the largest FD step, relative to each coordinate's scale"
            r.fail("check.eps", f"expected a finite number > 0, got {m['eps']}", hint)
        opts["eps"] = eps
    if "kinks" in m:
        if m["kinks"] not in KINK_POLICIES:
            hint = did_you_mean(str(m["kinks"]), KINK_POLICIES) or (
                f"expected one of: {', '.join(KINK_POLICIES)}"
            )
            r.fail("check.kinks", f"unknown kinks policy {m['kinks']!r}", hint)
        opts["kinks"] = m["kinks"]
    if "dims" in m:
        sizes = _dims(r, m["dims"], path="check.dims")
        for name in sizes:
            if name not in dims:
                hint = did_you_mean(name, dims) or f"dims: {', '.join(dims) or 'none'}"
                r.fail(f"check.dims.{name}", f"'{name}' is not a dim of this spec", hint, key=True)
        opts["dims"] = sizes
    if "parity" in m:
        if not isinstance(m["parity"], bool):
            r.fail("check.parity", f"expected true or false, got {kind_of(m['parity'])}")
        opts["parity"] = m["parity"]
    return CheckOptions(**opts)


def _expect(
    r: Reader, value: Any, inputs: Mapping[str, Any], constants: Mapping[str, Any]
) -> Expect:
    m = r.mapping(value, "expect", ("grad", "hessian"))
    found: dict[str, dict[str, Formula]] = {}
    for what in ("grad", "hessian"):
        path = f"expect.{what}"
        formulas = r.mapping(m.get(what), path, expected="a mapping of input names to formulas")
        for name in formulas:
            _not_constant(r, name, child(path, name), constants, key=True)
            if name not in inputs:
                hint = did_you_mean(name, inputs) or f"inputs: {', '.join(inputs)}"
                r.fail(child(path, name), f"'{name}' is not an input", hint, key=True)
        found[what] = {n: _formula(r, f, child(path, n)) for n, f in formulas.items()}
    return Expect(**found)


def _memory(r: Reader, value: Any) -> MemoryOptions:
    """``memory: {budget: 8GB, figure: residuals, layers: 48}`` (the CI guard of adcli memory)."""
    from adcli._units import SIZE_HELP, parse_size

    keys = tuple(f.name for f in dataclasses.fields(MemoryOptions))
    m = r.mapping(value, "memory", keys, expected="a mapping such as {budget: 8GB}")
    opts: dict[str, Any] = {}
    if m.get("budget") is not None:
        budget = m["budget"]
        if isinstance(budget, bool) or not isinstance(budget, str | int):
            r.fail("memory.budget", f"expected {SIZE_HELP}, got {kind_of(budget)}")
        try:
            opts["budget"] = parse_size(budget)
        except ValueError as exc:
            r.fail("memory.budget", str(exc))
    if m.get("figure") is not None:
        figure = m["figure"]
        if figure not in MEMORY_FIGURES:
            hint = did_you_mean(str(figure), MEMORY_FIGURES)
            hint = hint or f"expected one of: {', '.join(MEMORY_FIGURES)}"
            r.fail("memory.figure", f"unknown figure {figure!r}", hint)
        opts["figure"] = figure
    if m.get("layers") is not None:
        opts["layers"] = r.integer(m["layers"], "memory.layers", minimum=1)
    return MemoryOptions(**opts)
