"""Spec → Problem: the runnable function, abstract shapes, and seeded sample points.

The Problem is what every engine (check, choose-mode, memory) starts from. It can be used
on abstract values alone (``input_structs``/``constant_structs`` are ShapeDtypeStructs), so
no data is allocated until ``sample_inputs``/``sample_constants`` is called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import SpecError
from adcli._problem.arguments import Arguments
from adcli._problem.mesh import MeshPlan, mesh_plan
from adcli._problem.python import load_python
from adcli._problem.runtime import JaxMode, spec_mode
from adcli._spec.expr import parse_formula
from adcli._spec.model import ArraySpec, Formula, Spec
from adcli._spec.shapes import resolve_shape


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
    # ``reference:``: a trusted implementation, called like ``fn`` (docs/reference.md).
    reference: Callable[..., Any] | None = None
    _compiled: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)
    # Engines keep their per-problem state here (e.g. the check's compiled probe), so that
    # checking the same problem again reuses its programs instead of tracing them anew.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    # The spec's arguments: how they are sampled and split (None for a Problem made from
    # a callable, which has its own sample point).
    arguments: Arguments | None = field(default=None, repr=False)

    @property
    def notes(self) -> list[str]:
        """What a report should say about the arguments (e.g. values from code without a key)."""
        return list(self.arguments.notes) if self.arguments is not None else []

    # A sharded spec's mesh and shardings (adcli._problem.mesh); None: one device.
    mesh: MeshPlan | None = None
    # The JAX settings the function runs (and is differentiated) in: a spec's own
    # (``spec_mode``), or the caller's for a Python callable. Caches are keyed by it.
    mode: JaxMode = field(default_factory=spec_mode, repr=False)

    def call(self, inputs: Mapping[str, Any], constants: Mapping[str, Any]) -> Any:
        """The spec's function at ``inputs`` (with the ``constants``)."""
        return self.fn(**inputs, **constants)

    def run(self, inputs: Mapping[str, Any], constants: Mapping[str, Any]) -> Any:
        """``call`` as the flat views of the check and choose-mode run it: on a sharded
        spec each argument is laid out by its spec sharding first (the flat vector they
        are cut from is replicated) and, with explicit axes, the result is gathered."""
        if self.mesh is None:
            return self.call(inputs, constants)
        out = self.fn(**self.mesh.constrain({**inputs, **constants}))
        return self.mesh.gathered(out)

    def evaluate(
        self,
        key: str,
        fn: Callable[..., Any],
        inputs: Mapping[str, Any],
        constants: Mapping[str, Any],
    ) -> Any:
        """``fn(**inputs, **constants)`` compiled once per ``key`` (not run op by op), run in
        the problem's ``mode`` (jit retraces when the mode differs)."""
        if key not in self._compiled:
            jit = jax.jit if self.mesh is None else self.mesh.jit  # sharded: results replicated
            self._compiled[key] = jit(lambda i, c: fn(**i, **c))
        with self.mode.apply():
            return self._compiled[key](dict(inputs), dict(constants))

    def sample_inputs(self, point: int, seed: int | None = None) -> dict[str, Any]:
        """The inputs at sample point ``point`` (deterministic in spec seed and point)."""
        seed = self.spec.check.seed if seed is None else seed
        arguments = self.arguments
        assert arguments is not None  # a Problem from a spec has its arguments
        if self.mesh is not None:  # the same values, each leaf made with its sharding
            return self.mesh.placed(lambda: arguments.sample_inputs(seed, point), self.mesh.inputs)
        return arguments.sample_inputs(seed, point)

    def sample_constants(self, seed: int | None = None) -> dict[str, Any]:
        """The constants (the same at every point)."""
        seed = self.spec.check.seed if seed is None else seed
        arguments = self.arguments
        assert arguments is not None
        if self.mesh is not None:
            return self.mesh.placed(lambda: arguments.sample_constants(seed), self.mesh.constants)
        return arguments.sample_constants(seed)


def build(spec: Spec) -> Problem:
    """Resolve shapes, load or compile the function, and check the declared output.

    Raises:
        SpecError: naming the spec's file, line and field, for anything the function
            cannot do with the declared shapes.
    """
    dims = dict(spec.dims)
    arguments = Arguments(spec, dims)
    input_structs = arguments.input_structs()
    constant_structs = arguments.constant_structs()
    spec = _without_empty_inputs(spec, input_structs)
    plan = mesh_plan(spec)  # None without a mesh: nothing below changes
    if plan is not None:
        input_structs = plan.structs(input_structs, plan.inputs)
        constant_structs = plan.structs(constant_structs, plan.constants)
    names = set(spec.inputs) | set(spec.constants)
    fn = _under(plan, arguments.joined(_callable(spec.function, spec, names, "function")))
    output_struct = _eval_shape(fn, input_structs, constant_structs, spec, "function")
    if spec.output is not None:
        _check_output(spec, output_struct, dims)
    problem = Problem(
        spec,
        dims,
        fn,
        input_structs,
        constant_structs,
        output_struct,
        arguments=arguments,
        mesh=plan,
    )
    if spec.reference is not None:
        reference = arguments.joined(_callable(spec.reference, spec, names, "reference"))
        problem.reference = _under(plan, reference)
        got = _eval_shape(problem.reference, input_structs, constant_structs, spec, "reference")
        _check_reference_output(spec, output_struct, got)
    for kind, target in (("grad", problem.expect_grad), ("hessian", problem.expect_hessian)):
        for name, formula in getattr(spec.expect, kind).items():
            where = f"expect.{kind}.{name}"
            expect_fn = _under(plan, arguments.joined(_callable(formula, spec, names, where)))
            got = _eval_shape(expect_fn, input_structs, constant_structs, spec, where)
            _check_expect_shape(spec, kind, name, got, input_structs[name], output_struct, where)
            target[name] = expect_fn
    return problem


def _under(plan: MeshPlan | None, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run with the spec's mesh as the context mesh (itself without a mesh)."""
    return fn if plan is None else plan.wrap(fn)


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
    text: str = jax.tree_util.tree_map(lambda s: f"{s.dtype}{list(s.shape)}", struct).__repr__()
    return text


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


def same_shapes(a: Any, b: Any) -> bool:
    """Whether two pytrees of arrays (or ShapeDtypeStructs) share structure and shapes."""
    structure: Any = jax.tree_util.tree_structure(a)
    if structure != jax.tree_util.tree_structure(b):
        return False
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return all(tuple(x.shape) == tuple(y.shape) for x, y in pairs)


def shapes_text(tree: Any) -> str:
    """``float32[2, 3]`` for one array (or struct), the pytree of those otherwise."""
    if isinstance(tree, jax.ShapeDtypeStruct):
        return f"{tree.dtype}{list(tree.shape)}"
    return _describe(tree)


def _check_reference_output(spec: Spec, output: Any, got: Any) -> None:
    """The reference must return what the function returns: same structure, same shapes
    (its dtypes may differ: it is compared in float64)."""
    if not same_shapes(got, output):
        raise SpecError(
            f"the reference returns {shapes_text(got)}, but the function returns "
            f"{shapes_text(output)}",
            file=spec.where.file,
            line=spec.line_of("reference"),
            field="reference",
            hint="a reference takes the function's arguments and returns the same shapes",
        )


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
