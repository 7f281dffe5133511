"""Array leaves: the shape grammar, and a leaf's shape, dtype and init read from a spec.

Shape entries are ints or integer dim expressions such as ``n``, ``2*n+1``. A dim
expression is read with :mod:`ast` and walked over a tiny whitelist (names, int literals,
``+ - * //``, unary minus, parentheses); nothing is ever ``eval``-ed.

>>> resolve_shape(("n", "2*n+1", 3), {"n": 4})
(4, 9, 3)
>>> sorted(dims_used(("n*m", 3, "n//2")))
['m', 'n']
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from adcli._errors import SpecError, did_you_mean
from adcli._spec.model import CONSTANT_DTYPES, INPUT_DTYPES, ArraySpec, Init, Spec, Where
from adcli._spec.yaml import Reader, child, kind_of

Shape = tuple[int | str, ...]

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//"}
_GRAMMAR = "a shape entry is an int, a dim name, or + - * // over them, e.g. 2*n+1"


class _DimSyntax(ValueError):
    def __init__(self, problem: str, hint: str = _GRAMMAR) -> None:
        super().__init__(problem)
        self.problem, self.hint = problem, hint


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> ast.expr:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise _DimSyntax(f"cannot read the dim expression '{text}'") from None
    _check(tree.body, text)
    return tree.body


def _check(node: ast.expr, text: str) -> None:
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div):
            raise _DimSyntax(f"'/' in '{text}' is not integer division", "use // instead")
        if isinstance(node.op, ast.Pow):
            raise _DimSyntax(f"'**' in '{text}' is not supported", "write n*n instead of n**2")
        if type(node.op) not in _OPS:
            raise _DimSyntax(f"operator not allowed in the dim expression '{text}'")
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, text)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int) or isinstance(node.value, bool):
            raise _DimSyntax(f"'{text}' holds {node.value!r}, but sizes are integers")
    elif not isinstance(node, ast.Name):
        raise _DimSyntax(f"cannot read the dim expression '{text}'")


def _names(node: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _eval(node: ast.expr, dims: Mapping[str, int], text: str) -> int:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int)  # checked by _check
        return node.value
    if isinstance(node, ast.Name):
        return dims[node.id]
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, dims, text)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.BinOp)
    left, right = _eval(node.left, dims, text), _eval(node.right, dims, text)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if right == 0:
        raise _DimSyntax(f"division by zero in '{text}'", "check the dims it uses")
    return left // right


def _fail(where: Where | None, field: str | None, problem: str, hint: str | None) -> SpecError:
    where = where or Where()
    return SpecError(problem, file=where.file, line=where.line, field=field, hint=hint)


def parse_entry(entry: Any, *, where: Where | None = None, field: str | None = None) -> int | str:
    """Check one shape entry; return it as an int if it has no dim names, else stripped text."""
    if isinstance(entry, bool) or not isinstance(entry, int | str):
        kind = "nothing" if entry is None else f"{kind_of(entry)} ({entry!r})"
        raise _fail(where, field, f"expected an int or a dim name, got {kind}", _GRAMMAR)
    if isinstance(entry, int):
        if entry < 0:
            raise _fail(where, field, f"a size cannot be negative, got {entry}", None)
        return entry
    try:
        node = _parse(entry)
        if not _names(node):
            return parse_entry(_eval(node, {}, entry), where=where, field=field)
    except _DimSyntax as exc:
        raise _fail(where, field, exc.problem, exc.hint) from None
    return entry.strip()


def parse_shape(
    value: Any,
    *,
    where: Where | None = None,
    field: str = "shape",
    entry_lines: Sequence[int | None] | None = None,
) -> Shape:
    """Check a YAML shape (a list of entries) and return it as a tuple.

    Raises:
        SpecError: for a non-list (with a hint for ``"n, 3"`` and ``3``) or a bad entry.
    """
    where = where or Where()
    if isinstance(value, str):
        raise _fail(
            where,
            field,
            "expected a list of ints or dim names, got a string",
            f"write [{value.strip().strip('()[]')}]",
        )
    if not isinstance(value, list):
        kind = kind_of(value)
        hint = (
            f"write [{value}]" if isinstance(value, int) and not isinstance(value, bool) else None
        )
        raise _fail(
            where,
            field,
            f"expected a list of ints or dim names, got {kind}",
            hint or "[] is a scalar",
        )
    lines = list(entry_lines or [])
    out = []
    for i, entry in enumerate(value):
        line = lines[i] if i < len(lines) and lines[i] is not None else where.line
        out.append(parse_entry(entry, where=Where(where.file, line), field=f"{field}[{i}]"))
    return tuple(out)


def dims_used(shape: Sequence[int | str]) -> set[str]:
    """The dim names a (valid) shape refers to."""
    names: set[str] = set()
    for entry in shape:
        if isinstance(entry, str):
            names |= _names(_parse(entry))
    return names


def resolve_shape(
    shape: Sequence[int | str],
    dims: Mapping[str, int],
    *,
    where: Where | None = None,
    field: str = "shape",
    entry_lines: Sequence[int | None] | None = None,
) -> tuple[int, ...]:
    """Evaluate every entry of ``shape`` with ``dims``, e.g. ``("n", "2*n") -> (3, 6)``.

    Raises:
        SpecError: an unknown dim name (with "did you mean"), a malformed expression,
            division by zero, or a negative size. ``field`` gets ``[i]`` appended.
    """
    where = where or Where()
    lines = list(entry_lines or [])
    out: list[int] = []
    for i, entry in enumerate(shape):
        line = lines[i] if i < len(lines) and lines[i] is not None else where.line
        here, sub = Where(where.file, line), f"{field}[{i}]"
        if not isinstance(entry, str):
            out.append(int(parse_entry(entry, where=here, field=sub)))  # raises unless a size
            continue
        try:
            node = _parse(entry)
            for name in sorted(_names(node) - set(dims)):
                hint = did_you_mean(name, dims) or f"define it under dims:, e.g. {{{name}: 10}}"
                raise _fail(here, sub, f"unknown dim '{name}'", hint)
            size = _eval(node, dims, entry)
        except _DimSyntax as exc:
            raise _fail(here, sub, exc.problem, exc.hint) from None
        if size < 0:
            used = ", ".join(f"{n}={dims[n]}" for n in sorted(_names(node)))
            raise _fail(
                here, sub, f"'{entry}' is {size} with {used}; a size cannot be negative", None
            )
        out.append(size)
    return tuple(out)


def broadcasts(source: Sequence[int], target: Sequence[int]) -> bool:
    """Whether an array of shape ``source`` broadcasts to exactly ``target`` (numpy rules)."""
    if len(source) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(source), reversed(target), strict=False))


# --- Array leaves: reading a leaf's shape, dtype and init from a spec document ---

INIT_KINDS = ("normal", "uniform", "positive", "randint", "value", "file", "zeros", "ones")
# Accepted dtype spellings besides the canonical numpy names (documented in docs/spec.md).
DTYPE_ALIASES = {
    **{"f16": "float16", "half": "float16", "bf16": "bfloat16"},
    **{"f32": "float32", "single": "float32", "f64": "float64", "double": "float64"},
    **{"float": "float64", "c64": "complex64", "c128": "complex128", "complex": "complex128"},
    **{"int": "int64", **{f"i{b}": f"int{b}" for b in (8, 16, 32, 64)}},
    **{f"u{b}": f"uint{b}" for b in (8, 16, 32, 64)},
}
LEAF_KEYS = {
    "input": ("shape", "dtype", "init", "seed", "sharding"),
    "output": ("shape", "dtype"),
}


def read_array(
    r: Reader,
    m: dict[str, Any],
    path: str,
    kind: str,
    dims: Mapping[str, int],
    *,
    shorthand: list[Any] | None = None,
    default_dtype: str = "float64",
) -> ArraySpec:
    """One leaf (``kind`` input, constant or output) from its mapping ``m`` or a bare shape;
    ``default_dtype`` is the dtype of an input or constant that names none (``dtype:``)."""
    keys = LEAF_KEYS["output" if kind == "output" else "input"]
    other = "an output takes only shape and dtype" if kind == "output" else None
    r.mapping(m, path, keys, other_hint=other)
    raw, spath = (m["shape"], child(path, "shape")) if shorthand is None else (shorthand, path)
    lines = (
        [r.doc.line_of(child(spath, i)) for i in range(len(raw))] if isinstance(raw, list) else None
    )
    where = Where(r.file, r.doc.line_of(spath))
    shape = parse_shape(raw, where=where, field=spath, entry_lines=lines)
    sizes = resolve_shape(shape, dims, where=where, field=spath, entry_lines=lines)
    seed = m.get("seed")
    sharding = None
    if m.get("sharding") is not None:  # a sharded spec's PartitionSpec (docs/sharding.md)
        from adcli._spec.sharding import read_sharding

        sharding = read_sharding(r, m["sharding"], child(path, "sharding"))
    return ArraySpec(
        shape=shape,
        dtype=_dtype(r, m.get("dtype"), child(path, "dtype"), kind, default_dtype),
        init=_init(r, m.get("init"), child(path, "init"), sizes),
        seed=None if seed is None else r.integer(seed, child(path, "seed"), minimum=0),
        where=r.where(path),
        sharding=sharding,
    )


def _dtype(r: Reader, value: Any, path: str, kind: str, default: str = "float64") -> str | None:
    if value is None:
        return None if kind == "output" else default
    if not isinstance(value, str):
        r.fail(path, f"expected a dtype name such as float64, got {kind_of(value)}")
    dtype = DTYPE_ALIASES.get(value, value)
    allowed = INPUT_DTYPES if kind == "input" else CONSTANT_DTYPES
    if dtype in allowed:
        return dtype
    if dtype in CONSTANT_DTYPES:
        problem = f"an input cannot be {dtype}: only float and complex inputs are differentiable"
        r.fail(path, problem, "put it under constants:, or make it a float dtype")
    hint = (
        did_you_mean(value, [*allowed, *DTYPE_ALIASES]) or f"expected one of: {', '.join(allowed)}"
    )
    r.fail(path, f"unknown dtype '{value}'", hint)


def _init(r: Reader, value: Any, path: str, sizes: tuple[int, ...]) -> Init:
    """``normal`` ..., ``{uniform: [lo, hi]}``, ``{value: [...]}`` or ``{file: x.npy}``."""
    if value is None:
        return Init()
    if isinstance(value, str):
        if value in ("value", "file"):
            r.fail(path, f"init {value} needs an argument", f"write init: {{{value}: ...}}")
        if value not in INIT_KINDS:
            hint = did_you_mean(value, INIT_KINDS) or f"expected one of: {', '.join(INIT_KINDS)}"
            r.fail(path, f"unknown init '{value}'", hint)
        return Init(value)  # type: ignore[arg-type]
    if not isinstance(value, dict):
        hint = f"for fixed data write init: {{value: {value}}}"
        r.fail(
            path,
            f"expected an init such as normal or {{uniform: [0, 1]}}, got {kind_of(value)}",
            hint,
        )
    if len(value) != 1:
        r.fail(
            path, f"expected one init kind, got {len(value)} keys", "e.g. init: {uniform: [0, 1]}"
        )
    ((kind, arg),) = value.items()
    apath = child(path, kind)
    if kind not in INIT_KINDS:
        hint = did_you_mean(kind, INIT_KINDS) or f"expected one of: {', '.join(INIT_KINDS)}"
        r.fail(apath, f"unknown init '{kind}'", hint, key=True)
    if kind in ("zeros", "ones"):
        r.fail(apath, f"init {kind} takes no argument", f"write init: {kind}")
    if kind == "value":
        data, source = _nested(r, arg, apath)
        _check_broadcast(r, apath, "value", source, sizes)
        return Init("value", value=data)
    if kind == "file":
        return Init("file", path=_npy(r, arg, apath, sizes))
    return Init(kind, params=_params(r, arg, apath, kind))


def _params(r: Reader, value: Any, path: str, kind: str) -> tuple[float, ...]:
    names = "[mean, std]" if kind == "normal" else "[lo, hi]"
    what = "ints" if kind == "randint" else "numbers"
    if not isinstance(value, list) or len(value) != 2:
        r.fail(path, f"expected two {what} {names}, got {kind_of(value)}")
    if kind == "randint":  # half-open, as numpy and jax.random draw them
        lo, hi = (_int(r, v, child(path, i)) for i, v in enumerate(value))
        if not lo < hi:
            r.fail(path, f"expected lo < hi, got [{lo}, {hi}]", "randint draws lo ... hi - 1")
        return (lo, hi)
    a, b = (r.number(v, child(path, i)) for i, v in enumerate(value))
    if kind == "normal" and not b > 0:
        r.fail(child(path, 1), f"std must be > 0, got {b:g}")
    if kind != "normal" and not a < b:
        r.fail(path, f"expected lo < hi, got [{a:g}, {b:g}]")
    if kind == "positive" and not a > 0:
        r.fail(child(path, 0), f"positive needs lo > 0, got {a:g}", "use uniform for other ranges")
    return (a, b)


def _int(r: Reader, value: Any, path: str) -> int:
    """An int of either sign (a float with no fraction gets a hint to write it as one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            r.fail(path, f"expected an int, got {value}", f"write {int(value)}")
        r.fail(path, f"expected an int, got {kind_of(value)}")
    return value


def _nested(r: Reader, value: Any, path: str) -> tuple[Any, tuple[int, ...]]:
    """A number or a rectangular nested list, as nested tuples, and its shape."""
    if isinstance(value, list):
        items = [_nested(r, sub, child(path, i)) for i, sub in enumerate(value)]
        shapes = {shape for _, shape in items}
        if len(shapes) > 1:
            r.fail(path, f"ragged value: its rows have different shapes {sorted(shapes)}")
        return tuple(v for v, _ in items), (len(items), *(shapes.pop() if shapes else ()))
    if isinstance(value, bool | int | float):
        return value, ()
    if isinstance(value, str):
        for parse in (float, complex):
            try:
                return parse(value.replace(" ", "")), ()
            except ValueError:
                pass
    r.fail(path, f"expected a number or a nested list of numbers, got {kind_of(value)}")


def _broadcast_problem(kind: str, source: Sequence[int], sizes: Sequence[int]) -> str:
    return f"the init {kind} has shape {list(source)}, which does not broadcast to {list(sizes)}"


def _check_broadcast(
    r: Reader, path: str, kind: str, source: tuple[int, ...], sizes: tuple[int, ...]
) -> None:
    if not broadcasts(source, sizes):
        hint = "give the full array, or one that broadcasts (a number fills the shape)"
        r.fail(path, _broadcast_problem(kind, source, sizes), hint)


def _npy(r: Reader, value: Any, path: str, sizes: tuple[int, ...]) -> str:
    name = r.string(value, path, what="a .npy file name")
    if not name.endswith(".npy"):
        r.fail(path, f"expected a .npy file, got '{name}'", "save arrays with numpy.save")
    full = os.path.normpath(os.path.join(r.base_dir, name))
    if not os.path.isfile(full):
        r.fail(
            path,
            f"no such file '{name}'",
            f"looked for {full}; paths are relative to the spec file's directory",
        )
    try:
        source = _npy_shape(full)
    except (OSError, ValueError) as exc:
        r.fail(path, f"cannot read '{name}' as a .npy array: {exc}")
    _check_broadcast(r, path, "file", source, sizes)
    return full


def recheck_sizes(spec: Spec, dims: Mapping[str, int]) -> None:
    """Check that every shape and ``value``/``file`` init still fits with new ``dims``."""
    trees: list[tuple[str, Any]] = [("inputs", spec.inputs), ("constants", spec.constants)]
    for path, leaf in (p for root in [*trees, ("output", spec.output)] for p in _leaves(*root)):
        sizes = resolve_shape(leaf.shape, dims, where=leaf.where, field=child(path, "shape"))
        init, source = leaf.init, None
        if init.kind == "value":
            source = _value_shape(init.value)
        elif init.kind == "file" and init.path is not None:
            source = _npy_shape(init.path)
        if source is not None and not broadcasts(source, sizes):
            raise SpecError(
                _broadcast_problem(init.kind, source, sizes),
                file=leaf.where.file,
                line=leaf.where.line,
                field=child(path, "init"),
            )


def _leaves(path: str, tree: Any) -> Iterator[tuple[str, ArraySpec]]:
    if isinstance(tree, ArraySpec):
        yield path, tree
    elif isinstance(tree, tuple):
        for i, sub in enumerate(tree):
            yield from _leaves(child(path, i), sub)
    elif isinstance(tree, Mapping):
        for key, sub in tree.items():
            yield from _leaves(child(path, key), sub)


def _value_shape(value: Any) -> tuple[int, ...]:
    return (
        (len(value), *(_value_shape(value[0]) if value else ())) if isinstance(value, tuple) else ()
    )


def _npy_shape(path: str) -> tuple[int, ...]:
    import numpy as np  # only specs with a file init pay for numpy

    return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
