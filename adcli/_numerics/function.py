"""One spec's wrt inputs as a flat real vector: g: Rᵈ → Rᵐ and what it supports.

``InputFunction`` holds g (the spec's function of its wrt inputs, flattened, with the other
inputs and the constants passed in), its float64 reference version when one can be had, its
jaxpr, the dtype each input's derivatives are computed in and which AD modes trace. The
batched evaluations of g (FD stencils, JVPs, VJPs, HVPs) are ``adcli._numerics.evaluate``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from adcli._problem.build import Problem
from adcli._problem.flat import FlatLayout
from adcli._problem.gauge import GAUGE_KEY, aligned, decompositions, vectors
from adcli._problem.jaxpr import equations, float_dtypes, least_precise, real_dtype
from adcli._problem.promote import NotPromotable, promote, promote_function, promoted_dtype
from adcli._problem.runtime import jax_scope

_LOW_PRECISION = re.compile(r"\b(f32|bf16|f16|c64)\[")


@dataclass(frozen=True)
class At:
    """Where g is evaluated: the flat point ``x0`` and f's other arguments."""

    x0: jax.Array
    inputs: Any
    constants: Any


def failure(exc: BaseException) -> str:
    """``Type: first line`` of why a transformation could not be traced or run."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _is_literal(var: Any) -> bool:
    return isinstance(var, Literal)


class InputFunction:
    """``g(x) = flat(f(inputs with the wrt ones = unflat(x), constants))``.

    All the inputs derivatives are taken with respect to share one flat vector (each
    input a segment of it), so that every input is checked by the same compiled programs.
    ``g`` is f as it runs; ``g_ref`` its float64 version once ``use_promoted_reference``
    found one (else ``g`` itself).

    ``g`` is traced and run in the problem's ``mode`` (the settings f runs under), on flat
    vectors of ``dtype`` (float64, or float32 where that mode has no float64); ``g_ref``
    in adcli's scope, on float64.
    """

    def __init__(self, problem: Problem, names: tuple[str, ...]) -> None:
        self.problem = problem
        self.mode = problem.mode
        self.dtype = np.dtype(np.float64 if self.mode.x64 else np.float32)
        self.names = tuple(names)
        self.layout = FlatLayout({n: problem.input_structs[n] for n in self.names}, named_root=True)
        self.out_layout = FlatLayout(problem.output_struct, "out")
        self.d, self.m = self.layout.size, self.out_layout.size
        self.promoted_dtypes = {
            leaf.path: promoted_dtype(leaf.dtype) for leaf in self.layout.leaves
        }
        self.g = self._make_g(promoted=False)
        self.g_ref = self.g
        self.promoted = False
        self._promotion_tried = False
        self._support: dict[str, str | None] = {}
        self._jaxpr: Any = None  # f's jaxpr as it runs (one trace, shared)
        self._input_dtypes: dict[str, str] = {}
        # Why the float64 reference could not be had (None once it was, or not yet tried).
        self.promotion_note: str | None = None
        # The decompositions whose vectors f's outputs depend on (adcli._problem.gauge).
        self.gauge: list[str] | None = None

    def _make_g(self, promoted: bool) -> Callable[..., Any]:
        dtypes = self.promoted_dtypes if promoted else None
        out_dtype = np.float64 if promoted else self.dtype

        def g(x: jax.Array, inputs: Any, constants: Any) -> jax.Array:
            values = self.layout.unflatten(x, dtypes)
            inputs = dict(inputs)
            refs = inputs.pop(GAUGE_KEY, None)  # the point's vectors: align with them
            call = self.problem.run if refs is None else aligned(self.problem.run, refs)
            out = call({**inputs, **values}, constants)
            return self.out_layout.flatten(out, out_dtype)

        return g

    def gauge_vectors(self, inputs: Any, constants: Any) -> list[Any] | None:
        """The vectors of f's eigen- and singular-value decompositions at the point (the
        references of the fixed gauge, ``adcli._problem.gauge``), or None when f has none."""
        if self.gauge is None:
            self.gauge = decompositions(self.call_jaxpr(inputs, constants))
        if not self.gauge:
            return None
        with self.mode.apply():
            return [np.asarray(v) for v in vectors(self.problem.call, inputs, constants)]

    def own(self, value: Any) -> Any:
        """A floating NumPy array as ``g``'s flat dtype (other values unchanged)."""
        if isinstance(value, np.ndarray | np.generic) and np.issubdtype(value.dtype, np.floating):
            return np.asarray(value, self.dtype)
        return value

    def input_value(self, inputs: Any) -> dict[str, Any]:
        """The wrt inputs as the dict the layout flattens."""
        return {n: inputs[n] for n in self.names}

    def point(self, inputs: Any) -> jax.Array:
        """The flat point x0 of ``inputs`` (on a sharded spec, replicated on the mesh, so
        that every process can read it)."""
        mesh = self.problem.mesh
        if mesh is None:
            return self.layout.flatten(self.input_value(inputs))
        flatten = lambda v: self.layout.flatten(mesh.gathered(v))  # noqa: E731
        flat: jax.Array = mesh.jit(flatten)(self.input_value(inputs))
        return flat

    def jaxpr(self, at: At) -> Any:
        """f's jaxpr as it runs (in its mode), traced once for everything that reads it."""
        return self.call_jaxpr(at.inputs, at.constants)

    def call_jaxpr(self, inputs: Any, constants: Any) -> Any:
        """``jax.make_jaxpr(problem.call)(inputs, constants)`` in f's mode, traced once."""
        if self._jaxpr is None:
            inputs = {k: v for k, v in inputs.items() if k != GAUGE_KEY}
            with self.mode.apply():
                self._jaxpr = jax.make_jaxpr(self.problem.call)(inputs, constants)
        return self._jaxpr

    def input_dtype(self, name: str, inputs: Any, constants: Any) -> str:
        """The least precise floating dtype the derivatives with respect to ``name`` go
        through: the input's own, every value computed from it on the way to the output,
        and every value those computations use (the other operands and what they are
        computed from). Values that depend on neither (another input's own branch) do not
        count, so with inputs of mixed precision each gets its own dtype. A control-flow or
        call equation on that way counts with every dtype inside it.
        """
        if name not in self._input_dtypes:
            self._input_dtypes[name] = self._input_dtype(name, inputs, constants)
        return self._input_dtypes[name]

    def _input_dtype(self, name: str, inputs: Any, constants: Any) -> str:
        jaxpr = self.call_jaxpr(inputs, constants).jaxpr
        paths = [p for p, _ in jax.tree_util.tree_flatten_with_path((inputs, constants))[0]]
        own = [
            var
            for var, path in zip(jaxpr.invars, paths, strict=True)
            if getattr(path[0], "idx", None) == 0 and getattr(path[1], "key", None) == name
        ]
        found = {real_dtype(v.aval.dtype) for v in own if jnp.issubdtype(v.aval.dtype, jnp.inexact)}
        for eqn in _on_the_way(jaxpr, own):
            for var in eqn.outvars:
                dtype = getattr(getattr(var, "aval", None), "dtype", None)
                if dtype is not None and jnp.issubdtype(dtype, jnp.inexact):
                    found.add(real_dtype(dtype))
            for value in eqn.params.values():
                for sub in value if isinstance(value, tuple | list) else (value,):
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        found |= float_dtypes(inner)
        return str(least_precise(found))

    def use_promoted_reference(self, at: At) -> bool:
        """Make the FD reference a float64 version of f, if one can be had.

        First by casting inputs and constants; if f still computes in low precision
        (captured float32 arrays, casts inside), by running its jaxpr promoted
        (``adcli._problem.promote``). Returns whether it worked. Call before any reference use.
        """
        if self._promotion_tried:
            return self.promoted
        self._promotion_tried = True
        with jax_scope():
            x0 = np.asarray(at.x0, np.float64)
            args = (x0, promote(at.inputs), promote(at.constants))
            own = (self.own(x0), at.inputs, at.constants)
            candidates: list[Callable[[], Callable[..., Any]]] = [
                lambda: self._make_g(promoted=True),
                lambda: promote_function(self.g, *own, mode=self.mode),
            ]
            for make in candidates:
                try:
                    g = make()
                    text = str(jax.make_jaxpr(g)(*args))
                except NotPromotable as exc:
                    self.promotion_note = str(exc)
                    continue
                except Exception:  # user code that insists on its own dtypes: try the next way
                    continue
                if _LOW_PRECISION.search(text) is None:
                    self.g_ref, self.promoted, self.promotion_note = g, True, None
                    return True
        return False

    def supports(self, mode: str, at: At) -> str | None:
        """None if ``mode`` ('fwd' or 'rev') can be traced, else the reason it cannot."""
        if mode not in self._support:
            self._support[mode] = self._supports(mode, at)
        return self._support[mode]

    def _supports(self, mode: str, at: At) -> str | None:
        g, m = self.g, self.m
        # Traced, and lowered when the trace leaves something only lowering judges: JAX
        # reports a custom_vjp's missing JVP when lowering its ``custom_lin``. (Lowering
        # every time cost ~10% of a warm ``adcli check specs/``.) The inputs are
        # arguments, not captured: a sharded array spanning several processes cannot be
        # closed over.
        try:
            if mode == "fwd":
                fn = lambda x, i, c: jax.jvp(lambda y: g(y, i, c), (x,), (x,))[1]  # noqa: E731
            else:
                fn = lambda x, i, c: jax.vjp(lambda y: g(y, i, c), x)[1](  # noqa: E731
                    jnp.zeros(m, x.dtype)
                )
            with self.mode.apply():
                traced = jax.jit(fn).trace(self.own(np.asarray(at.x0)), at.inputs, at.constants)
                if any(_judged_when_lowered(e.primitive.name) for e in equations(traced.jaxpr)):
                    traced.lower()
        except Exception as exc:
            return failure(exc)
        return None


def _judged_when_lowered(primitive: str) -> bool:
    """Whether a primitive's transformation may fail only when lowered: a custom rule's
    leftovers (``custom_lin``, ``custom_vjp_call``), kernels and host callbacks."""
    return primitive.startswith("custom") or "pallas" in primitive or "callback" in primitive


def _on_the_way(jaxpr: Any, own: list[Any]) -> list[Any]:
    """The equations on the way from the variables ``own`` to the output, and the
    equations that compute what those use."""
    down = set(own)
    producer: dict[Any, Any] = {}
    used: list[Any] = []  # equations on the way from the input to the output
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            producer[var] = eqn
        if any(not _is_literal(v) and v in down for v in eqn.invars):
            down.update(eqn.outvars)
            used.append(eqn)
    seen = {id(e) for e in used}
    stack = [v for e in used for v in e.invars if not _is_literal(v)]
    while stack:  # what the equations on the way use, and what that is computed from
        eqn = producer.get(stack.pop())
        if eqn is not None and id(eqn) not in seen:
            seen.add(id(eqn))
            used.append(eqn)
            stack.extend(v for v in eqn.invars if not _is_literal(v))
    return used
