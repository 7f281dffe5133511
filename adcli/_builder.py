"""Spec → Problem: the runnable function, abstract shapes, and seeded sample points.

The Problem is what every engine (check, choose-mode, memory) starts from. It can be used
on abstract values alone (``input_structs``/``constant_structs`` are ShapeDtypeStructs), so
no data is allocated until ``sample_inputs``/``sample_constants`` is called.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import SpecError
from adcli._expr import parse_formula
from adcli._shapes import resolve_shape
from adcli._spec import ArraySpec, Formula, Init, Spec

_DEFAULT_PARAMS = {"normal": (0.0, 1.0), "uniform": (0.0, 1.0), "positive": (0.5, 2.0)}


@dataclass
class Problem:
    """A spec made runnable: ``call(inputs, constants)`` and how to sample both."""

    spec: Spec
    dims: dict[str, int]
    fn: Callable[..., Any]
    input_structs: dict[str, Any]
    constant_structs: dict[str, Any]
    output_struct: Any
    expect_grad: dict[str, Callable[..., Any]] = field(default_factory=dict)
    expect_hessian: dict[str, Callable[..., Any]] = field(default_factory=dict)
    _compiled: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)
    # Engines keep their per-problem state here (e.g. the check's compiled probe), so that
    # checking the same problem again reuses its programs instead of tracing them anew.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def call(self, inputs: Mapping[str, Any], constants: Mapping[str, Any]) -> Any:
        """The spec's function at ``inputs`` (with the ``constants``)."""
        return self.fn(**inputs, **constants)

    def evaluate(
        self,
        key: str,
        fn: Callable[..., Any],
        inputs: Mapping[str, Any],
        constants: Mapping[str, Any],
    ) -> Any:
        """``fn(**inputs, **constants)`` compiled once per ``key`` (not run op by op)."""
        if key not in self._compiled:
            self._compiled[key] = jax.jit(lambda i, c: fn(**i, **c))
        return self._compiled[key](dict(inputs), dict(constants))

    def sample_inputs(self, point: int, seed: int | None = None) -> dict[str, Any]:
        """The inputs at sample point ``point`` (deterministic in spec seed and point)."""
        seed = self.spec.check.seed if seed is None else seed
        return {
            name: _sample_tree(self.spec.inputs[name], self.input_structs[name], name, seed, point)
            for name in self.spec.inputs
        }

    def sample_constants(self, seed: int | None = None) -> dict[str, Any]:
        """The constants (the same at every point)."""
        seed = self.spec.check.seed if seed is None else seed
        return {
            name: _sample_tree(self.spec.constants[name], self.constant_structs[name], name, seed)
            for name in self.spec.constants
        }


def build(spec: Spec) -> Problem:
    """Resolve shapes, load or compile the function, and check the declared output.

    Raises:
        SpecError: naming the spec's file, line and field, for anything the function
            cannot do with the declared shapes.
    """
    dims = dict(spec.dims)
    input_structs = {
        name: _structs(tree, dims, spec, f"inputs.{name}") for name, tree in spec.inputs.items()
    }
    constant_structs = {
        name: _structs(tree, dims, spec, f"constants.{name}")
        for name, tree in spec.constants.items()
    }
    spec = _without_empty_inputs(spec, input_structs)
    names = set(spec.inputs) | set(spec.constants)
    fn = _callable(spec.function, spec, names, "function")
    output_struct = _eval_shape(fn, input_structs, constant_structs, spec, "function")
    if spec.output is not None:
        _check_output(spec, output_struct, dims)
    problem = Problem(spec, dims, fn, input_structs, constant_structs, output_struct)
    for kind, target in (("grad", problem.expect_grad), ("hessian", problem.expect_hessian)):
        for name, formula in getattr(spec.expect, kind).items():
            where = f"expect.{kind}.{name}"
            expect_fn = _callable(formula, spec, names, where)
            got = _eval_shape(expect_fn, input_structs, constant_structs, spec, where)
            _check_expect_shape(spec, kind, name, got, input_structs[name], output_struct, where)
            target[name] = expect_fn
    return problem


def _without_empty_inputs(spec: Spec, input_structs: Mapping[str, Any]) -> Spec:
    """The spec without the wrt inputs that have no entries (a zero size, e.g. ``[0]``).

    There is nothing to differentiate with respect to them. If no wrt input has any
    entry, that is a SpecError naming the first one's shape.
    """
    leaves = {n: jax.tree_util.tree_leaves(input_structs[n]) for n in spec.wrt}
    empty = [n for n in spec.wrt if sum(int(np.prod(a.shape)) for a in leaves[n]) == 0]
    if not empty:
        return spec
    if len(empty) < len(spec.wrt):
        keep = tuple(n for n in spec.wrt if n not in empty)
        return spec.replace(check=dataclasses.replace(spec.check, wrt=keep))
    name = empty[0]
    shapes = [tuple(a.shape) for a in leaves[name]]
    shown = f"shape {shapes[0]}" if len(shapes) == 1 else f"shapes {', '.join(map(str, shapes))}"
    tree = spec.inputs[name]
    field = f"inputs.{name}.shape" if isinstance(tree, ArraySpec) else f"inputs.{name}"
    raise SpecError(
        f"{name} has no entries ({shown}): nothing to differentiate",
        file=spec.where.file,
        line=spec.line_of(field),
        field=field,
        hint="give every size a value >= 1",
    )


def _structs(tree: Any, dims: Mapping[str, int], spec: Spec, path: str) -> Any:
    if isinstance(tree, ArraySpec):
        shape = resolve_shape(tree.shape, dims, where=tree.where, field=f"{path}.shape")
        return jax.ShapeDtypeStruct(shape, jnp.dtype(tree.dtype or "float64"))
    return {key: _structs(sub, dims, spec, f"{path}.{key}") for key, sub in tree.items()}


def _callable(formula: Formula, spec: Spec, names: set[str], where: str) -> Callable[..., Any]:
    if formula.expr is not None:
        compiled = parse_formula(
            formula.expr,
            names=names,
            file=spec.where.file,
            first_line=formula.expr_line,
            field=f"{where}.expr" if where != "function" else "function.expr",
        )
        return lambda **env: compiled(env)
    assert formula.python is not None
    return load_python(formula.python, spec.base_dir, spec, f"{where}.python")


def load_python(ref: str, base_dir: str, spec: Spec, where: str) -> Callable[..., Any]:
    """Import ``file.py:attr`` (relative to the spec) or ``package.module:attr``.

    This runs the user's own module code, as pytest does with test files.
    """
    target, _, attr = ref.rpartition(":")
    line = spec.line_of(where)
    try:
        if target.endswith(".py"):
            path = (Path(base_dir) / target).resolve()
            module_name = "adcli_user_" + str(zlib.crc32(str(path).encode()))
            module = sys.modules.get(module_name)
            if module is None:
                module_spec = importlib.util.spec_from_file_location(module_name, path)
                if module_spec is None or module_spec.loader is None:
                    raise ImportError(f"cannot import {path}")
                module = importlib.util.module_from_spec(module_spec)
                # Let the user's module import its neighbours, as a script would.
                sys.path.insert(0, str(path.parent))
                try:
                    sys.modules[module_name] = module
                    module_spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(module_name, None)
                    raise
                finally:
                    sys.path.remove(str(path.parent))
        else:
            module = importlib.import_module(target)
    except SpecError:
        raise
    except Exception as exc:  # the user's module failed to import: show why, no traceback
        raise SpecError(
            f"cannot import '{target}': {type(exc).__name__}: {exc}",
            file=spec.where.file,
            line=line,
            field=where,
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            from adcli._errors import did_you_mean

            public = [n for n in dir(obj) if not n.startswith("_")]
            raise SpecError(
                f"'{target}' has no attribute '{attr}'",
                file=spec.where.file,
                line=line,
                field=where,
                hint=did_you_mean(part, public),
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"'{ref}' is not callable", file=spec.where.file, line=line, field=where)
    return obj


def _eval_shape(fn: Callable[..., Any], inputs: Any, constants: Any, spec: Spec, where: str) -> Any:
    try:
        return jax.eval_shape(lambda i, c: fn(**i, **c), inputs, constants)
    except SpecError:
        raise
    except Exception as exc:  # user code or formula fails on these shapes: report, no traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"the function fails on the declared shapes: {type(exc).__name__}: {message}",
            file=spec.where.file,
            line=spec.line_of(where),
            field=where,
        ) from exc


def _describe(struct: Any) -> str:
    return jax.tree_util.tree_map(lambda s: f"{s.dtype}{list(s.shape)}", struct).__repr__()


def _check_output(spec: Spec, got: Any, dims: Mapping[str, int]) -> None:
    declared = spec.output

    def expected(node: Any, path: str) -> Any:
        if isinstance(node, ArraySpec):
            shape = resolve_shape(node.shape, dims, where=node.where, field=f"{path}.shape")
            return _Leaf(shape, node.dtype)
        if isinstance(node, tuple | list):
            return tuple(expected(sub, f"{path}[{i}]") for i, sub in enumerate(node))
        return {key: expected(sub, f"{path}.{key}") for key, sub in node.items()}

    want = expected(declared, "output")
    mismatch = _compare_output(want, got, "output")
    if mismatch:
        path, problem = mismatch
        raise SpecError(problem, file=spec.where.file, line=spec.line_of(path), field=path)


@dataclass(frozen=True)
class _Leaf:
    shape: tuple[int, ...]
    dtype: str | None


def _compare_output(want: Any, got: Any, path: str) -> tuple[str, str] | None:
    if isinstance(want, _Leaf):
        shape, dtype = want.shape, want.dtype
        if not isinstance(got, jax.ShapeDtypeStruct):
            return (
                path,
                f"declared one array of shape {list(shape)}, "
                f"but the function returns {_describe(got)}",
            )
        if tuple(got.shape) != shape:
            return (
                f"{path}.shape" if path else "output.shape",
                f"declared shape {list(shape)}, but the function returns shape {list(got.shape)}",
            )
        if dtype is not None and jnp.dtype(dtype) != got.dtype:
            return f"{path}.dtype", f"declared dtype {dtype}, but the function returns {got.dtype}"
        return None
    if isinstance(want, tuple):
        if not isinstance(got, tuple | list) or len(got) != len(want):
            return (
                path,
                f"declared a tuple of {len(want)} arrays, "
                f"but the function returns {_describe(got)}",
            )
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            found = _compare_output(w, g, f"{path}[{i}]")
            if found:
                return found
        return None
    if not isinstance(got, Mapping) or set(got) != set(want):
        keys = sorted(got) if isinstance(got, Mapping) else _describe(got)
        return path, f"declared a mapping with keys {sorted(want)}, but the function returns {keys}"
    for key in want:
        found = _compare_output(want[key], got[key], f"{path}.{key}")
        if found:
            return found
    return None


def _check_expect_shape(
    spec: Spec, kind: str, name: str, got: Any, input_struct: Any, output: Any, where: str
) -> None:
    def fail(problem: str) -> None:
        raise SpecError(problem, file=spec.where.file, line=spec.line_of(where), field=where)

    if not (isinstance(output, jax.ShapeDtypeStruct) and output.shape == ()):
        fail(f"expect.{kind} needs a scalar function, but it returns {_describe(output)}")
    if not isinstance(input_struct, jax.ShapeDtypeStruct):
        fail(f"expect.{kind} is supported for array inputs; '{name}' is a pytree")
    want = input_struct.shape if kind == "grad" else input_struct.shape * 2
    if not isinstance(got, jax.ShapeDtypeStruct) or tuple(got.shape) != tuple(want):
        shape = list(got.shape) if isinstance(got, jax.ShapeDtypeStruct) else _describe(got)
        fail(f"the {kind} of '{name}' must have shape {list(want)}, but the formula gives {shape}")


# --- sampling -----------------------------------------------------------------------------


def _sample_tree(tree: Any, struct: Any, path: str, seed: int, point: int | None = None) -> Any:
    if isinstance(tree, ArraySpec):
        own_seed = seed if tree.seed is None else tree.seed
        key = [own_seed, zlib.crc32(path.encode())]
        if point is not None:
            key.append(point)
        rng = np.random.default_rng(key)
        return jnp.asarray(_sample_leaf(tree.init, struct.shape, struct.dtype, rng), struct.dtype)
    return {k: _sample_tree(sub, struct[k], f"{path}.{k}", seed, point) for k, sub in tree.items()}


def _sample_leaf(init: Init, shape: tuple[int, ...], dtype: Any, rng: np.random.Generator) -> Any:
    dtype = np.dtype(dtype) if dtype != jnp.bfloat16 else np.dtype(np.float32)
    if init.kind == "value":
        return np.broadcast_to(np.asarray(init.value), shape).copy()
    if init.kind == "file":
        assert init.path is not None  # the loader resolves a file init's path or fails
        return np.broadcast_to(np.load(init.path, allow_pickle=False), shape).copy()
    if init.kind in ("zeros", "ones"):
        return np.full(shape, 0 if init.kind == "zeros" else 1)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    a, b = init.params or _DEFAULT_PARAMS[init.kind]

    def draw() -> np.ndarray:
        if init.kind == "normal":
            return rng.normal(a, b, shape)
        return rng.uniform(a, b, shape)

    if np.issubdtype(dtype, np.integer):
        return np.rint(draw())
    if np.issubdtype(dtype, np.complexfloating):
        return draw() + 1j * draw()
    return draw()
