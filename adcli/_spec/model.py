"""The Spec: a validated, immutable description of one function to differentiate.

Specs are built by ``adcli._spec.load`` from YAML (or directly in Python) and turned into a
runnable ``Problem`` by ``adcli._problem.build``. This module imports neither jax nor yaml.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

INPUT_DTYPES = ("float64", "float32", "bfloat16", "float16", "complex64", "complex128")
CONSTANT_DTYPES = (
    *INPUT_DTYPES,
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
)
MODES = ("fwd", "rev")
METHODS = ("auto", "full", "directions")
MESH_AXIS_TYPES = ("auto", "explicit")
# One entry of a leaf's ``sharding`` (a PartitionSpec): the mesh axis that splits that
# dimension, several axes (a tuple) that split it together, or None (not split).
ShardingEntry = Union[str, tuple[str, ...], None]  # noqa: UP007 (read as a runtime alias)


@dataclass(frozen=True)
class Where:
    """A place in a spec file: path as the user gave it and a 1-based line (None if unknown)."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        text = self.file or "<spec>"
        return f"{text}:{self.line}" if self.line is not None else text


@dataclass(frozen=True)
class Init:
    """How to fill an array at a sample point.

    kind:
      normal   -- params (mean, std), default (0, 1)
      uniform  -- params (lo, hi), default (0, 1)
      positive -- params (lo, hi), default (0.5, 2.0): uniform on a positive interval
      randint  -- params (lo, hi): integers drawn uniformly from lo, lo + 1, ..., hi - 1
      value    -- ``value`` holds the nested list (broadcast to the shape)
      file     -- ``path`` is an absolute path to a ``.npy`` file
      zeros, ones
    """

    kind: Literal["normal", "uniform", "positive", "randint", "value", "file", "zeros", "ones"] = (
        "normal"
    )
    params: tuple[float, ...] = ()
    value: Any = None
    path: str | None = None


@dataclass(frozen=True)
class ArraySpec:
    """One array (a pytree leaf); shape entries are ints or dim expressions (``n``, ``2*n``)."""

    shape: tuple[int | str, ...]
    dtype: str | None = "float64"  # None only in outputs: "do not check the dtype"
    init: Init = field(default_factory=Init)
    seed: int | None = None
    where: Where = field(default_factory=Where)
    # A PartitionSpec over the spec's mesh (``sharding: [data, null]``); None: not sharded
    # (replicated on a mesh). See docs/sharding.md.
    sharding: tuple[ShardingEntry, ...] | None = None


@dataclass(frozen=True)
class MeshSpec:
    """The ``mesh:`` of a sharded spec: its named axes and their sizes, in order, and
    their axis types (``auto``: the compiler places what the shardings leave open;
    ``explicit``: shardings are part of every value's type, as ``jax.make_mesh``'s
    default)."""

    axes: Mapping[str, int]
    axis_types: str = "auto"
    where: Where = field(default_factory=Where)

    @property
    def size(self) -> int:
        """How many devices the mesh needs."""
        count = 1
        for size in self.axes.values():
            count *= size
        return count

    def __str__(self) -> str:
        return "{" + ", ".join(f"{name}: {size}" for name, size in self.axes.items()) + "}"


@dataclass(frozen=True)
class PythonTree:
    """An argument made by the user's code (``{python: REF}``): a callable returning a
    pytree, or an attribute holding one. Its shapes and dtypes are read from the code.

    ``init``: None keeps the code's values; an Init keeps only the structure and draws
    every floating leaf by it. ``dtype``: cast every floating leaf to it (None: keep the
    code's dtypes). ``seed``: a fixed seed for its key (used instead of ``check.seed``).
    ``item``: take item ``[item]`` of what the code gives (one of the arguments an
    example-arguments function returns, by position or name).
    """

    ref: str
    init: Init | None = None
    dtype: str | None = None
    seed: int | None = None
    where: Where = field(default_factory=Where)
    item: int | str | None = None


# A pytree of arrays: a leaf, a value from code, a list of subtrees (a YAML sequence,
# stored as a tuple) or a mapping of names to subtrees.
Tree = Union[ArraySpec, PythonTree, tuple["Tree", ...], Mapping[str, "Tree"]]  # noqa: UP007
# Declared output: one leaf, a tuple of leaves, or a mapping of names to leaves (or subtrees).
OutputSpec = Union[ArraySpec, tuple["OutputSpec", ...], Mapping[str, "OutputSpec"]]  # noqa: UP007


@dataclass(frozen=True)
class Formula:
    """An inline formula (``expr``) or a Python callable reference (``python: file.py:fn``).

    ``expr_line`` is the file line of the formula's first line, so that errors inside a
    multi-line formula can name the exact line.
    """

    expr: str | None = None
    python: str | None = None
    where: Where = field(default_factory=Where)
    expr_line: int | None = None


@dataclass(frozen=True)
class CheckOptions:
    """The ``check:`` section: what to compare and how strictly."""

    wrt: tuple[str, ...] | None = None  # None: every input
    order: int = 1
    modes: tuple[str, ...] = MODES
    points: int = 2
    method: str = "auto"
    directions: int = 3
    # None: the per-dtype default (adcli._numerics.compare); a mapping from dtype names
    # ("float32") to numbers is a per-dtype choice (the Python API's check_grads form).
    rtol: float | Mapping[str, float] | None = None
    atol: float | Mapping[str, float] | None = None
    seed: int = 0
    # Sizes for checking only (a large model is checked small, analysed at full size).
    dims: Mapping[str, int] = field(default_factory=dict)
    # Against ``reference:``: the kernel's error may be this many times the plain
    # reference's own error in the kernel's precision (docs/reference.md).
    factor: float = 2.0
    # Run the VJP this many times at each point; from 2 the runs must agree bitwise.
    repeat: int = 1
    # A sharded spec: also compare its values and derivatives with one device's (--parity).
    parity: bool = False
    # The largest FD step, relative to each coordinate's scale (None: adcli's own steps).
    eps: float | None = None
    # A kink exactly at the point: "inconclusive", or "subgradient" (passes when AD lies
    # between the one-sided FD derivatives: assert_grads' policy).
    kinks: str = "inconclusive"


# What ``check.kinks`` may say: how an element with a kink exactly at the point is judged.
KINK_POLICIES = ("inconclusive", "subgradient")

# What ``memory.figure`` may name (see docs/memory.md): the residuals the backward pass
# stores, or the compiler's temporary / total bytes of the value-and-VJP program.
MEMORY_FIGURES = ("residuals", "compiled-temp", "compiled-peak")


@dataclass(frozen=True)
class MemoryOptions:
    """The ``memory:`` section: a CI budget for ``adcli memory`` (exit 1 when exceeded)."""

    budget: int | None = None  # bytes; None: no guard
    figure: str = "residuals"  # one of MEMORY_FIGURES
    layers: int | None = None  # treat the function as one block of a stack of this many


@dataclass(frozen=True)
class Expect:
    """Hand-derived derivatives, by input name."""

    grad: Mapping[str, Formula] = field(default_factory=dict)
    hessian: Mapping[str, Formula] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """One function with its inputs, constants, declared output and check options."""

    name: str
    function: Formula
    inputs: Mapping[str, Tree]
    constants: Mapping[str, Tree] = field(default_factory=dict)
    dims: Mapping[str, int] = field(default_factory=dict)
    output: OutputSpec | None = None
    check: CheckOptions = field(default_factory=CheckOptions)
    expect: Expect = field(default_factory=Expect)
    memory: MemoryOptions | None = None
    reference: Formula | None = None  # a trusted implementation with the same arguments
    mesh: MeshSpec | None = None  # run sharded over this device mesh (docs/sharding.md)
    description: str = ""
    where: Where = field(default_factory=Where)
    base_dir: str = "."  # directory that relative ``python:`` paths are resolved against
    # Dotted field path -> file line, so later stages (the builder) can point at a field.
    field_lines: Mapping[str, int] = field(default_factory=dict)
    dtype: str | None = None  # the spec-wide default dtype of its leaves (``dtype:``)
    # Packages the spec's code needs (``requires:``): a spec whose package is not installed
    # is reported skipped ("not checked: flax is not installed"), not failed.
    requires: tuple[str, ...] = ()

    def line_of(self, field_path: str) -> int | None:
        """The file line of a field (or of its closest recorded parent), if known."""
        path = field_path
        while path:
            if path in self.field_lines:
                return self.field_lines[path]
            path = path.rpartition(".")[0]
        return self.where.line

    @property
    def wrt(self) -> tuple[str, ...]:
        """The inputs derivatives are taken with respect to."""
        return self.check.wrt if self.check.wrt is not None else tuple(self.inputs)

    def replace(self, **changes: Any) -> Spec:
        return dataclasses.replace(self, **changes)
