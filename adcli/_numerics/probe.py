"""Batched, jit-compiled evaluations of one spec input's flat view g: Rᵈ → Rᵐ.

Every perturbed evaluation a check needs at one point (the FD stencil along many
directions or coordinates, JVPs, VJPs, HVPs) runs as one vmapped, jit-compiled call,
chunked to stay within a memory budget, never a Python loop over coordinates. Arguments
are passed (not closed over) so that every point reuses the same compiled program.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from adcli._numerics.finite_diff import OFFSETS, offsets
from adcli._problem.build import Problem
from adcli._problem.flat import FlatLayout
from adcli._problem.jaxpr import float_dtypes, least_precise, real_dtype
from adcli._problem.promote import promote, promote_function, promoted_dtype

MEMORY_BUDGET = 1 << 26  # bytes of perturbed inputs/outputs in one chunk (64 MiB: stays in cache)
_LOW_PRECISION = re.compile(r"\b(f32|bf16|f16|c64)\[")


def _is_literal(var: Any) -> bool:
    return isinstance(var, Literal)


class InputProbe:
    """Evaluations of ``g(x) = flat(f(inputs with the wrt ones = unflat(x), constants))``.

    All the inputs derivatives are taken with respect to share one flat vector (each
    input a segment of it), so that every input is checked by the same compiled programs.
    """

    def __init__(self, problem: Problem, names: tuple[str, ...]) -> None:
        self.problem = problem
        self.names = tuple(names)
        self.layout = FlatLayout({n: problem.input_structs[n] for n in self.names}, named_root=True)
        self.out_layout = FlatLayout(problem.output_struct, "out")
        self.d, self.m = self.layout.size, self.out_layout.size
        self.promoted_dtypes = {
            leaf.path: promoted_dtype(leaf.dtype) for leaf in self.layout.leaves
        }
        per_eval = 32 * (self.d + self.m) + 1
        self.chunk = int(max(1, min(4096, MEMORY_BUDGET // (per_eval * len(OFFSETS)))))
        self._g_native = self._make_g(promoted=False)
        self._g_ref = self._g_native
        self.promoted = False
        self._promotion_tried = False
        self._support: dict[str, str | None] = {}
        self._jaxpr: Any = None
        self._input_dtypes: dict[str, str] = {}
        self._jit: dict[str, Callable[..., Any]] = {}
        self._sizes: dict[str, int] = {}

    # -- the function and its properties ------------------------------------------------
    def _make_g(self, promoted: bool) -> Callable[..., Any]:
        dtypes = self.promoted_dtypes if promoted else None

        def g(x: jax.Array, inputs: Any, constants: Any) -> jax.Array:
            values = self.layout.unflatten(x, dtypes)
            out = self.problem.call({**inputs, **values}, constants)
            return self.out_layout.flatten(out, jnp.float64)

        return g

    def jaxpr(self, x0: jax.Array, inputs: Any, constants: Any) -> Any:
        if self._jaxpr is None:
            self._jaxpr = jax.make_jaxpr(self._g_native)(x0, inputs, constants)
        return self._jaxpr

    def compute_dtype(self, x0: jax.Array, inputs: Any, constants: Any) -> str:
        """The least precise floating dtype f computes in (inputs, intermediates, output).

        It sets the rounding allowance of the derivative: a float32 function that
        computes in bfloat16 inside has bfloat16-accurate derivatives."""
        return str(least_precise(float_dtypes(self.jaxpr(x0, inputs, constants).jaxpr)))

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
        closed = jax.make_jaxpr(self.problem.call)(inputs, constants)
        jaxpr = closed.jaxpr
        paths = [p for p, _ in jax.tree_util.tree_flatten_with_path((inputs, constants))[0]]
        own = [
            var
            for var, path in zip(jaxpr.invars, paths, strict=True)
            if getattr(path[0], "idx", None) == 0 and getattr(path[1], "key", None) == name
        ]
        found = {real_dtype(v.aval.dtype) for v in own if jnp.issubdtype(v.aval.dtype, jnp.inexact)}
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
        for eqn in used:
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

    def use_promoted_reference(self, x0: jax.Array, inputs: Any, constants: Any) -> bool:
        """Make the FD reference a float64 version of f, if one can be had.

        First by casting inputs and constants; if f still computes in low precision
        (captured float32 arrays, casts inside), by running its jaxpr promoted
        (``adcli._problem.promote``). Returns whether it worked. Call before any reference use.
        """
        if self._promotion_tried:
            return self.promoted
        self._promotion_tried = True
        args = (x0, promote(inputs), promote(constants))
        candidates: list[Callable[[], Callable[..., Any]]] = [lambda: self._make_g(promoted=True)]
        candidates.append(lambda: promote_function(self._g_native, x0, inputs, constants))
        for make in candidates:
            try:
                g = make()
                text = str(jax.make_jaxpr(g)(*args))
            except Exception:  # user code that insists on its own dtypes: try the next way
                continue
            if _LOW_PRECISION.search(text) is None:
                self._g_ref, self.promoted = g, True
                return True
        return False

    def supports(self, mode: str, x0: jax.Array, inputs: Any, constants: Any) -> str | None:
        """None if ``mode`` ('fwd' or 'rev') can be traced, else the reason it cannot."""
        if mode not in self._support:
            self._support[mode] = self._supports(mode, x0, inputs, constants)
        return self._support[mode]

    def _supports(self, mode: str, x0: jax.Array, inputs: Any, constants: Any) -> str | None:
        g = self._g_native
        # Lowered, not just traced: JAX reports a custom_vjp's missing JVP only when lowering.
        try:
            if mode == "fwd":
                fn = lambda x: jax.jvp(lambda y: g(y, inputs, constants), (x,), (x,))[1]  # noqa: E731
            else:
                fn = lambda x: jax.vjp(lambda y: g(y, inputs, constants), x)[1](  # noqa: E731
                    jnp.zeros(self.m)
                )
            jax.jit(fn).lower(x0)
        except Exception as exc:
            text = str(exc).strip().splitlines()
            return f"{type(exc).__name__}: {text[0] if text else ''}"
        return None

    def reserve(self, key: str, rows: int) -> None:
        """Compile ``key``'s program for at least ``rows`` rows, so that every input's
        batch fits the same program."""
        size = min(self.chunk, 1 << max(rows - 1, 0).bit_length())
        self._sizes[key] = max(self._sizes.get(key, 0), size)

    def input_value(self, inputs: Any) -> dict[str, Any]:
        """The wrt inputs as the dict the layout flattens."""
        return {n: inputs[n] for n in self.names}

    # -- chunked batching ---------------------------------------------------------------
    def _batched(
        self, key: str, fn: Callable[..., Any], batch: np.ndarray, *rest: Any, axis: int = 0
    ) -> np.ndarray:
        """Apply ``fn(batch_chunk, *rest)`` over fixed-size chunks of ``batch`` (its axis 0);
        the chunks' results are joined along ``axis``. The last chunk is padded so that
        every chunk has one shape and one compiled program."""
        compiled = self._jit.setdefault(key, jax.jit(fn))
        n = batch.shape[0]
        # Batch sizes are powers of two (up to the chunk) so that refining a few rows
        # reuses a compiled program instead of compiling one per row count.
        # A later, smaller call (refining a few rows) pads up to the size already compiled.
        size = max(self._sizes.get(key, 0), min(self.chunk, 1 << max(n - 1, 0).bit_length()))
        self._sizes[key] = size
        outs = []
        for start in range(0, n, size):
            part = batch[start : start + size]
            keep = part.shape[0]
            if keep < size:
                part = np.concatenate([part, np.repeat(part[:1], size - keep, axis=0)])
            out = np.asarray(compiled(jnp.asarray(part), *rest))
            outs.append(np.take(out, np.arange(keep), axis=axis))
        return np.concatenate(outs, axis=axis)

    # -- finite differences -------------------------------------------------------------
    def fd_directions(
        self,
        x0: jax.Array,
        directions: np.ndarray,
        h: float,
        noise: bool,
        inputs: Any,
        constants: Any,
        ref: bool,
    ) -> np.ndarray:
        """g at x0 + t·v for t in OFFSETS·h and each direction v (rows): (8, K, m)."""
        g = self._g_ref if ref else self._g_native

        def fn(dirs: jax.Array, x0: jax.Array, ts: jax.Array, inputs: Any, constants: Any) -> Any:
            at: Callable[..., Any]
            at = lambda t, v: g(x0 + t * v, inputs, constants)  # noqa: E731
            return jax.vmap(lambda t: jax.vmap(lambda v: at(t, v))(dirs))(ts)

        return self._batched(
            f"fd-dir-{ref}-{noise}",
            fn,
            directions,
            x0,
            jnp.asarray(offsets(h, noise)),
            inputs,
            constants,
            axis=1,
        )

    def fd_gradient(
        self,
        x0: jax.Array,
        u: np.ndarray,
        directions: np.ndarray,
        h: float,
        noise: bool,
        inputs: Any,
        constants: Any,
    ) -> np.ndarray:
        """∇φ (promoted, reverse mode) at x0 + t·w for each direction w: (8, K, d)."""
        grad = self.grad_phi(ref=True)

        def fn(
            dirs: jax.Array, x0: jax.Array, u: jax.Array, ts: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            at: Callable[..., Any]
            at = lambda t, w: grad(x0 + t * w, u, inputs, constants)  # noqa: E731
            return jax.vmap(lambda t: jax.vmap(lambda w: at(t, w))(dirs))(ts)

        return self._batched(
            f"fd-grad-{noise}",
            fn,
            directions,
            x0,
            jnp.asarray(u),
            jnp.asarray(offsets(h, noise)),
            inputs,
            constants,
            axis=1,
        )

    def fd_second_fwd(
        self,
        x0: jax.Array,
        u: np.ndarray,
        pairs: np.ndarray,
        h: float,
        noise: bool,
        inputs: Any,
        constants: Any,
    ) -> np.ndarray:
        """⟨u, J(x0 + t·w)·v⟩ (promoted, forward mode) for each pair (v, w): (8, K, 1)."""
        g = self._g_ref

        def fn(
            vw: jax.Array, x0: jax.Array, u: jax.Array, ts: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            def at(t: jax.Array, pair: jax.Array) -> jax.Array:
                out = jax.jvp(lambda y: g(y, inputs, constants), (x0 + t * pair[1],), (pair[0],))
                return jnp.dot(u, out[1])[None]

            return jax.vmap(lambda t: jax.vmap(lambda p: at(t, p))(vw))(ts)

        return self._batched(
            f"fd-fwd-fwd-{noise}",
            fn,
            pairs,
            x0,
            jnp.asarray(u),
            jnp.asarray(offsets(h, noise)),
            inputs,
            constants,
            axis=1,
        )

    def fd_coordinates(
        self,
        x0: jax.Array,
        index: np.ndarray,
        scale: np.ndarray,
        h: float,
        noise: bool,
        inputs: Any,
        constants: Any,
        ref: bool,
    ) -> np.ndarray:
        """g at x0 + t·sᵢ·eᵢ for t in OFFSETS·h and each coordinate i: (8, C, m)."""
        g = self._g_ref if ref else self._g_native

        def fn(
            idx: jax.Array, x0: jax.Array, s: jax.Array, ts: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            at: Callable[..., Any]
            at = lambda t, i: g(x0.at[i].add(t * s[i]), inputs, constants)  # noqa: E731
            return jax.vmap(lambda t: jax.vmap(lambda i: at(t, i))(idx))(ts)

        return self._batched(
            f"fd-coord-{ref}-{noise}",
            fn,
            index,
            x0,
            jnp.asarray(scale),
            jnp.asarray(offsets(h, noise)),
            inputs,
            constants,
            axis=1,
        )

    # -- first-order AD -----------------------------------------------------------------
    def jvp(self, x0: jax.Array, directions: np.ndarray, inputs: Any, constants: Any) -> np.ndarray:
        """J·v for each direction v (rows): (K, m)."""
        g = self._g_native

        def fn(dirs: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            tangent: Callable[..., Any]
            tangent = lambda v: jax.jvp(lambda y: g(y, inputs, constants), (x0,), (v,))[1]  # noqa: E731
            return jax.vmap(tangent)(dirs)

        return self._batched("jvp", fn, directions, x0, inputs, constants)

    def vjp(self, x0: jax.Array, cotangents: np.ndarray, inputs: Any, constants: Any) -> np.ndarray:
        """Jᵀ·u for each cotangent u (rows): (J, d)."""
        g = self._g_native

        def fn(cots: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            pull = jax.vjp(lambda y: g(y, inputs, constants), x0)[1]
            return jax.vmap(lambda u: pull(u)[0])(cots)

        return self._batched("vjp", fn, cotangents, x0, inputs, constants)

    def jacobian_fwd(
        self, x0: jax.Array, columns: np.ndarray, inputs: Any, constants: Any
    ) -> np.ndarray:
        """Columns of the Jacobian (m, len(columns)) from JVPs along those unit vectors."""
        g = self._g_native

        def fn(idx: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            def column(i: jax.Array) -> jax.Array:
                e = jnp.zeros_like(x0).at[i].set(1.0)
                tangent: jax.Array = jax.jvp(lambda y: g(y, inputs, constants), (x0,), (e,))[1]
                return tangent

            return jax.vmap(column)(idx)

        return self._batched("jacfwd", fn, np.asarray(columns), x0, inputs, constants).T

    def jacobian_rev(self, x0: jax.Array, inputs: Any, constants: Any) -> np.ndarray:
        """The full Jacobian (m, d) from m VJPs along the unit cotangents (built on device)."""
        g = self._g_native

        def fn(idx: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            pull = jax.vjp(lambda y: g(y, inputs, constants), x0)[1]
            return jax.vmap(lambda i: pull(jnp.zeros(self.m).at[i].set(1.0))[0])(idx)

        return self._batched("jacrev", fn, np.arange(self.m), x0, inputs, constants)

    # -- second order: φ(x) = ⟨u, g(x)⟩ ---------------------------------------------------
    def grad_phi(self, ref: bool) -> Callable[..., Any]:
        """(x, u, inputs, constants) ↦ ∇φ(x) = J(x)ᵀu by reverse mode."""
        g = self._g_ref if ref else self._g_native

        def grad(x: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> jax.Array:
            cotangent: jax.Array = jax.vjp(lambda y: g(y, inputs, constants), x)[1](u)[0]
            return cotangent

        return grad

    def hvp(
        self,
        how: str,
        x0: jax.Array,
        u: np.ndarray,
        directions: np.ndarray,
        inputs: Any,
        constants: Any,
    ) -> np.ndarray:
        """H_φ·w for each direction w, by 'fwd-over-rev' or 'rev-over-rev': (K, d)."""
        grad = self.grad_phi(ref=False)

        def fn(dirs: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> Any:
            gr = lambda y: grad(y, u, inputs, constants)  # noqa: E731
            if how == "fwd-over-rev":
                return jax.vmap(lambda w: jax.jvp(gr, (x0,), (w,))[1])(dirs)
            pull = jax.vjp(gr, x0)[1]
            return jax.vmap(lambda w: pull(w)[0])(dirs)

        return self._batched(f"hvp-{how}", fn, directions, x0, jnp.asarray(u), inputs, constants)

    def second_fwd(
        self, x0: jax.Array, u: np.ndarray, pairs: np.ndarray, inputs: Any, constants: Any
    ) -> np.ndarray:
        """vᵀ H_φ w by forward-over-forward for each row (v, w) of ``pairs`` (K, 2, d): (K,)."""
        g = self._g_native

        def fn(vw: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> Any:
            def one(pair: jax.Array) -> jax.Array:
                def inner(y: jax.Array) -> jax.Array:
                    return jnp.dot(
                        u, jax.jvp(lambda z: g(z, inputs, constants), (y,), (pair[0],))[1]
                    )

                second: jax.Array = jax.jvp(inner, (x0,), (pair[1],))[1]
                return second

            return jax.vmap(one)(vw)

        return self._batched("fwd-fwd", fn, pairs, x0, jnp.asarray(u), inputs, constants)
