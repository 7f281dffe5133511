"""Batched, jit-compiled evaluations of an ``InputFunction`` g: Rᵈ → Rᵐ.

Every perturbed evaluation a check needs at one point (the FD stencil along many
directions or coordinates, JVPs, VJPs, HVPs) runs as one vmapped, jit-compiled call,
chunked to stay within a memory budget, never a Python loop over coordinates. Arguments
are passed (not closed over) so that every point reuses the same compiled program.

Programs are jit-compiled, except while ``eager`` is set (a one-off first-order check of
a Python callable): then they run op by op, on JAX's per-primitive programs, which a test
suite shares across all its checks; compiling each program would cost more than running
it once (12 elementwise functions, order 1: 5.2 s op by op, 8.4 s compiled, check_grads
5.2 s). Higher orders compile (nested AD makes many distinct primitives: order 2 costs
the same either way, order 3 is 1.2× faster compiled), and so does a later check of the
same function and shapes.

Two kinds of program: those of f as it runs (AD, and FD in f's own precision) run in the
problem's ``JaxMode`` (the caller's settings for a Python callable: float32 flat vectors
when x64 is off), and those of the float64 reference run in adcli's scope. Results come
back as float64 NumPy arrays either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._numerics.finite_diff import OFFSETS, Stencil, offsets
from adcli._numerics.function import At, InputFunction
from adcli._numerics.nested import grad_phi, nested
from adcli._numerics.screen import REST_OFFSETS, SCREEN_OFFSETS

MEMORY_BUDGET = 1 << 26  # bytes of perturbed inputs/outputs in one chunk (64 MiB)
# On CPU, rows are evaluated in batches of about this many bytes (lax.map with a batch
# size): one vmap over a chunk makes a (rows, d) matrix that leaves the cache (at d = 10⁴
# a coordinate FD stencil ran 5–10× slower so, a forward Jacobian 10×).
CACHE_BUDGET = 1 << 21
MIN_BATCH = 8  # below this (d ≳ 3·10⁴), batches gain nothing: one vmap, as before
# (t, row, x0, *extra, inputs, constants) -> the value sampled at offset t along one row
Sample = Callable[..., jax.Array]


def _eagerly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run op by op on JAX arrays (what jit would have converted its arguments to)."""

    def run(*args: Any) -> Any:
        return fn(*jax.tree_util.tree_map(_as_jax, args))

    return run


def _as_jax(value: Any) -> Any:
    return jnp.asarray(value) if isinstance(value, np.ndarray | np.generic) else value


class Evaluator:
    """The batched evaluations of ``fn`` (one compiled program per kind of evaluation)."""

    def __init__(self, fn: InputFunction) -> None:
        self.fn = fn
        per_eval = 32 * (fn.d + fn.m) + 1
        self.chunk = int(max(1, min(4096, MEMORY_BUDGET // (per_eval * len(OFFSETS)))))
        self._jit: dict[tuple[str, bool], Callable[..., Any]] = {}
        self._sizes: dict[str, int] = {}
        # A sharded spec: programs with the spec's in-shardings (the inputs and constants
        # arrive placed so) and replicated results; batches of rows replicated on the mesh.
        mesh = fn.problem.mesh
        self._compile: Callable[..., Any] = jax.jit if mesh is None else mesh.jit
        self._put: Callable[[np.ndarray], Any] = jnp.asarray if mesh is None else mesh.replicate
        self.eager = False  # run the programs op by op (see the module's docstring)
        # Rows are batched with vmap; a function that cannot be vmapped (a pure_callback
        # without a vmap_method) gets them one after the other (lax.map) instead.
        self.sequential = False

    def over(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``fn`` over the leading axis of its argument: vmap, or lax.map once vmap failed."""
        if self.sequential:
            return lambda xs: jax.lax.map(fn, xs)
        mapped: Callable[[Any], Any] = jax.vmap(fn)
        return mapped

    def _batch_size(self) -> int | None:
        """Rows per cache-sized batch, or None where one vmap serves (see CACHE_BUDGET)."""
        size = CACHE_BUDGET // (8 * (self.fn.d + self.fn.m + 1))
        if self.sequential or self.eager or size < MIN_BATCH or jax.default_backend() != "cpu":
            return None
        return size

    def over_rows(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``over(fn)`` for a batch of rows (perturbed inputs, tangents): on CPU, in
        cache-sized batches (``CACHE_BUDGET``) when the batch holds more rows than that."""
        size = self._batch_size()
        if size is None:
            return self.over(fn)

        def mapped(xs: Any) -> Any:
            n = jax.tree_util.tree_leaves(xs)[0].shape[0]
            if n <= size:
                return jax.vmap(fn)(xs)
            return jax.lax.map(fn, xs, batch_size=size)

        return mapped

    def _retry(self, run: Callable[[], Any]) -> Any:
        """``run()``; if the function cannot be vmapped, again with sequential rows."""
        try:
            return run()
        except Exception as exc:
            if self.sequential or "vmap" not in str(exc):
                raise
            self.sequential = True
            self._jit.clear()  # programs traced with vmap
            return run()

    def _program(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` compiled once per key (or, while ``eager``, run op by op)."""
        found = self._jit.get((key, self.eager))
        if found is None:
            found = _eagerly(fn) if self.eager else self._compile(fn)
            self._jit[(key, self.eager)] = found
        return found

    def share_coordinates(self, rows: int) -> None:
        """Compile the coordinate programs (FD stencils, ``jacobian_fwd``) for at least
        ``rows`` rows, so that every input's batch fits the same program."""
        kinds = ("level", "screen", "rest")
        fd = [f"fd-coord-{ref}-{kind}" for ref in (True, False) for kind in kinds]
        for key in (*fd, "jacfwd", "jacobians"):
            limit = self.chunk if key == "jacobians" else self._chunk_rows(True)
            size = min(limit, 1 << max(rows - 1, 0).bit_length())
            self._sizes[key] = max(self._sizes.get(key, 0), size)

    # -- chunked batching ---------------------------------------------------------------
    def _batched(
        self,
        key: str,
        fn: Callable[..., Any],
        batch: np.ndarray,
        *rest: Any,
        axis: int = 0,
        own: bool = True,
        batched: bool = False,
    ) -> np.ndarray:
        """Apply ``fn(batch_chunk, *rest)`` over fixed-size chunks of ``batch`` (its axis 0);
        the chunks' results are joined along ``axis``, as float64. The last chunk is padded
        so that every chunk has one shape and one compiled program. ``own``: a program of f
        as it runs (in f's mode, floating arguments in its flat dtype); otherwise one of the
        float64 reference (in adcli's scope). ``batched``: ``fn`` maps its rows with
        ``over_rows``, so a chunk may hold more rows (``_chunk_rows``)."""

        def run() -> np.ndarray:
            compiled = self._program(key, fn)
            if own:
                with self.fn.mode.apply():
                    cast = [self.fn.own(a) for a in rest]
                    return self._chunks(key, compiled, self.fn.own(batch), cast, axis, batched)
            return self._chunks(key, compiled, batch, list(rest), axis, batched)

        found: np.ndarray = self._retry(run)
        return found

    def _chunk_rows(self, batched: bool) -> int:
        """Rows per call: ``chunk``, or for a program mapping its rows in cache-sized
        batches as many as its outputs allow, up to 1024 (at d = 10⁴, 435 calls of 23
        rows took 5× as long)."""
        if not batched or self._batch_size() is None:
            return self.chunk
        outputs = MEMORY_BUDGET // (8 * len(OFFSETS) * (self.fn.m + 1))
        return int(max(self.chunk, min(1024, outputs)))

    def _chunks(
        self,
        key: str,
        compiled: Any,
        batch: np.ndarray,
        rest: list[Any],
        axis: int,
        batched: bool = False,
    ) -> np.ndarray:
        n = batch.shape[0]
        if n == 0:  # nothing to evaluate (no outputs, no rows): the shape of nothing
            one = jax.ShapeDtypeStruct((1, *batch.shape[1:]), batch.dtype)
            shape = list(jax.eval_shape(compiled, one, *rest).shape)
            shape[axis] = 0
            return np.zeros(shape)
        # Batch sizes are powers of two (up to the chunk), and a later, smaller call
        # (refining a few rows) pads up to the size already compiled: no compile per count.
        limit = self._chunk_rows(batched)
        size = max(self._sizes.get(key, 0), min(limit, 1 << max(n - 1, 0).bit_length()))
        self._sizes[key] = size
        outs = []
        for start in range(0, n, size):
            part = batch[start : start + size]
            keep = part.shape[0]
            if keep < size:
                part = np.concatenate([part, np.repeat(part[:1], size - keep, axis=0)])
            out = np.asarray(compiled(self._put(part), *rest), dtype=np.float64)
            outs.append(np.take(out, np.arange(keep), axis=axis))
        return np.concatenate(outs, axis=axis)

    def _stencil(
        self,
        key: str,
        sample: Sample,
        rows: np.ndarray,
        h: float,
        stencil: Stencil,
        at: At,
        *extra: Any,
        own: bool,
        shared_center: bool = True,
    ) -> np.ndarray:
        """``sample`` at every offset t of one stencil along every row: a level
        (``offsets(h, True)``: (9, K, q)), the screen (``SCREEN_OFFSETS``·h, then t = 0:
        (5, K, q)) or the rest of a level after a screen (``REST_OFFSETS``·h: (4, K, q)).
        ``shared_center``: the sample at t = 0 is the same for every row (g at the point),
        so the screen evaluates it once per chunk, not once per row."""
        screen = stencil == "screen"
        once = screen and shared_center

        def program(rows: jax.Array, x0: jax.Array, ts: jax.Array, *args: Any) -> Any:
            *more, inputs, constants = args
            one: Callable[[jax.Array, jax.Array], Any] = lambda t, r: sample(  # noqa: E731
                t, r, x0, *more, inputs, constants
            )
            size = self._batch_size()
            if size is None or ts.shape[0] * rows.shape[0] <= size:  # one vmap: all fit
                out = self.over(lambda t: self.over(lambda r: one(t, r))(rows))(ts)
            else:  # offsets one after the other (one trace), rows in cache-sized batches
                out = jax.lax.map(lambda t: self.over_rows(lambda r: one(t, r))(rows), ts)
            if once:
                center = one(jnp.zeros((), ts.dtype), rows[0])
                out = jnp.concatenate([out, jnp.broadcast_to(center, out.shape[1:])[None]])
            return out

        if screen:
            ts = SCREEN_OFFSETS * h if once else np.append(SCREEN_OFFSETS * h, 0.0)
        elif stencil == "rest":
            ts = REST_OFFSETS * h
        else:
            ts = np.asarray(offsets(h, True))
        args = (*(np.asarray(e) for e in extra), at.inputs, at.constants)
        name = f"{key}-{stencil}"
        x0 = np.asarray(at.x0)
        return self._batched(name, program, rows, x0, ts, *args, axis=1, own=own, batched=True)

    # -- finite differences -------------------------------------------------------------
    def fd_directions(
        self, at: At, directions: np.ndarray, h: float, stencil: Stencil, ref: bool
    ) -> np.ndarray:
        """g at x0 + t·v for t in the stencil's offsets and each direction v: (9|5|4, K, m)."""
        g = self.fn.g_ref if ref else self.fn.g

        def sample(t: jax.Array, v: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            return g(x0 + t * v, inputs, constants)

        own = not (ref and self.fn.promoted)
        return self._stencil(f"fd-dir-{ref}", sample, directions, h, stencil, at, own=own)

    def fd_coordinates(
        self, at: At, index: np.ndarray, scale: np.ndarray, h: float, stencil: Stencil, ref: bool
    ) -> np.ndarray:
        """g at x0 + t·sᵢ·eᵢ for t in the stencil's offsets and each coordinate i: (9|5|4, C, m)."""
        g = self.fn.g_ref if ref else self.fn.g

        def sample(
            t: jax.Array, i: jax.Array, x0: jax.Array, s: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            return g(x0.at[i].add(t * s[i]), inputs, constants)

        own = not (ref and self.fn.promoted)
        return self._stencil(f"fd-coord-{ref}", sample, index, h, stencil, at, scale, own=own)

    def fd_gradient(
        self, at: At, u: np.ndarray, directions: np.ndarray, h: float, stencil: Stencil
    ) -> np.ndarray:
        """∇φ (promoted, reverse mode) at x0 + t·w for each direction w: (9|5|4, K, d)."""
        grad = grad_phi(self.fn.g_ref)

        def sample(
            t: jax.Array, w: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            return grad(x0 + t * w, u, inputs, constants)

        return self._stencil(
            "fd-grad", sample, directions, h, stencil, at, u, own=not self.fn.promoted
        )

    def fd_second_fwd(
        self, at: At, u: np.ndarray, pairs: np.ndarray, h: float, stencil: Stencil
    ) -> np.ndarray:
        """⟨u, J(x0 + t·w)·v⟩ (promoted, forward mode) for each pair (v, w): (9|5|4, K, 1)."""
        g = self.fn.g_ref

        def sample(
            t: jax.Array, pair: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            out = jax.jvp(lambda y: g(y, inputs, constants), (x0 + t * pair[1],), (pair[0],))
            return jnp.dot(u, out[1])[None]

        own = not self.fn.promoted
        return self._stencil(
            "fd-fwd-fwd", sample, pairs, h, stencil, at, u, own=own, shared_center=False
        )

    # -- first-order AD -----------------------------------------------------------------
    def _ad(self, ref: bool) -> tuple[Callable[..., jax.Array], str, bool]:
        """g, a key suffix and whether it runs in f's mode: f as it runs, or (``ref``) the
        float64 reference, differentiated by the same rules when it has no custom rule."""
        if not ref:
            return self.fn.g, "", True
        return self.fn.g_ref, "-ref", not self.fn.promoted

    def jvp(self, at: At, directions: np.ndarray, ref: bool = False) -> np.ndarray:
        """J·v for each direction v (rows): (K, m)."""
        g, tag, own = self._ad(ref)

        def fn(dirs: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            def tangent(v: jax.Array) -> jax.Array:
                out: jax.Array = jax.jvp(lambda y: g(y, inputs, constants), (x0,), (v,))[1]
                return out

            return self.over(tangent)(dirs)

        args = (np.asarray(at.x0), at.inputs, at.constants)
        return self._batched("jvp" + tag, fn, directions, *args, own=own)

    def vjp(self, at: At, cotangents: np.ndarray, ref: bool = False) -> np.ndarray:
        """Jᵀ·u for each cotangent u (rows): (J, d)."""
        g, tag, own = self._ad(ref)

        def fn(cots: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            pull = jax.vjp(lambda y: g(y, inputs, constants), x0)[1]
            return self.over(lambda u: pull(u)[0])(cots)

        args = (np.asarray(at.x0), at.inputs, at.constants)
        return self._batched("vjp" + tag, fn, cotangents, *args, own=own)

    def jacobians(self, at: At, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The Jacobian's ``columns`` by JVPs (m, len(columns)) and the whole Jacobian by
        VJPs (m, d): one compiled program when both fit one chunk (most checks of small
        inputs), else ``jacobian_fwd`` and ``jacobian_rev``."""
        g, m = self.fn.g, self.fn.m
        size = min(self.chunk, 1 << max(len(columns) - 1, 0).bit_length())
        size = max(size, self._sizes.get("jacobians", 0))
        if m == 0 or len(columns) > size or m > self.chunk:
            return self.jacobian_fwd(at, columns), self.jacobian_rev(at)
        self._sizes["jacobians"] = size

        def fn(idx: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            def at_x(y: jax.Array) -> jax.Array:
                out: jax.Array = g(y, inputs, constants)
                return out

            def column(i: jax.Array) -> jax.Array:
                out: jax.Array = jax.jvp(at_x, (x0,), (jnp.zeros_like(x0).at[i].set(1.0),))[1]
                return out

            pull = jax.vjp(at_x, x0)[1]

            def row(i: jax.Array) -> jax.Array:
                out: jax.Array = pull(jnp.zeros(m, x0.dtype).at[i].set(1.0))[0]
                return out

            return self.over_rows(column)(idx), self.over_rows(row)(jnp.arange(m))

        padded = np.concatenate([columns, np.repeat(columns[:1], size - len(columns))])

        def run() -> Any:
            compiled = self._program("jacobians", fn)
            with self.fn.mode.apply():
                x0 = self.fn.own(np.asarray(at.x0))
                return compiled(jnp.asarray(padded), x0, at.inputs, at.constants)

        fwd, rev = self._retry(run)
        keep = np.asarray(fwd, np.float64)[: len(columns)]
        return keep.T, np.asarray(rev, np.float64)

    def jacobian_fwd(self, at: At, columns: np.ndarray, ref: bool = False) -> np.ndarray:
        """Columns of the Jacobian (m, len(columns)) from JVPs along those unit vectors."""
        g, tag, own = self._ad(ref)

        def fn(idx: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            def column(i: jax.Array) -> jax.Array:
                e = jnp.zeros_like(x0).at[i].set(1.0)
                out: jax.Array = jax.jvp(lambda y: g(y, inputs, constants), (x0,), (e,))[1]
                return out

            return self.over_rows(column)(idx)

        columns = np.asarray(columns)
        x0 = np.asarray(at.x0)
        args = (x0, at.inputs, at.constants)
        return self._batched("jacfwd" + tag, fn, columns, *args, own=own, batched=True).T

    def jacobian_rev(self, at: At, ref: bool = False) -> np.ndarray:
        """The full Jacobian (m, d) from m VJPs along the unit cotangents (built on device)."""
        (g, tag, own), m = self._ad(ref), self.fn.m
        if m == 0:  # no outputs (x[1:1]): no cotangent to pull back
            return np.zeros((0, self.fn.d))

        def fn(idx: jax.Array, x0: jax.Array, inputs: Any, constants: Any) -> Any:
            pull = jax.vjp(lambda y: g(y, inputs, constants), x0)[1]
            return self.over_rows(lambda i: pull(jnp.zeros(m, x0.dtype).at[i].set(1.0))[0])(idx)

        x0 = np.asarray(at.x0)
        args = (x0, at.inputs, at.constants)
        return self._batched("jacrev" + tag, fn, np.arange(m), *args, own=own, batched=True)

    # -- second order: φ(x) = ⟨u, g(x)⟩ ---------------------------------------------------
    def hvps(self, ways: tuple[str, ...], at: At, u: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """``hvp`` by each of ``ways`` in one compiled program: (len(ways), K, d)."""
        grad = grad_phi(self.fn.g)

        def fn(dirs: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> Any:
            gr = lambda y: grad(y, u, inputs, constants)  # noqa: E731
            found = []
            for how in ways:
                if how == "fwd-over-rev":
                    found.append(self.over(lambda w: jax.jvp(gr, (x0,), (w,))[1])(dirs))
                else:
                    pull: Callable[[jax.Array], Any] = jax.vjp(gr, x0)[1]
                    found.append(self.over(lambda w: pull(w)[0])(dirs))  # noqa: B023
            return jnp.stack(found, axis=1)  # (K, ways, d): rows stay the batch

        args = (np.asarray(at.x0), np.asarray(u), at.inputs, at.constants)
        both = self._batched(f"hvps-{'-'.join(ways)}", fn, dirs, *args)
        return np.moveaxis(both, 1, 0)

    def hvp(self, how: str, at: At, u: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """H_φ·w for each direction w, by 'fwd-over-rev' or 'rev-over-rev': (K, d)."""
        grad = grad_phi(self.fn.g)

        def fn(dirs: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> Any:
            gr = lambda y: grad(y, u, inputs, constants)  # noqa: E731
            if how == "fwd-over-rev":
                return self.over(lambda w: jax.jvp(gr, (x0,), (w,))[1])(dirs)
            pull = jax.vjp(gr, x0)[1]
            return self.over(lambda w: pull(w)[0])(dirs)

        args = (np.asarray(at.x0), np.asarray(u), at.inputs, at.constants)
        return self._batched(f"hvp-{how}", fn, directions, *args)

    def second_fwd(self, at: At, u: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """vᵀ H_φ w by forward-over-forward for each row (v, w) of ``pairs`` (K, 2, d): (K,)."""
        g = self.fn.g

        def fn(vw: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> Any:
            def one(pair: jax.Array) -> jax.Array:
                def inner(y: jax.Array) -> jax.Array:
                    return jnp.dot(
                        u, jax.jvp(lambda z: g(z, inputs, constants), (y,), (pair[0],))[1]
                    )

                out: jax.Array = jax.jvp(inner, (x0,), (pair[1],))[1]
                return out

            return self.over(one)(vw)

        args = (np.asarray(at.x0), np.asarray(u), at.inputs, at.constants)
        return self._batched("fwd-fwd", fn, pairs, *args)

    # -- order k >= 3: Dᵏφ[w₁, …, w_k] by nested first-order AD ----------------------------
    def derivative(
        self, at: At, u: np.ndarray, tuples: np.ndarray, how: tuple[str, ...]
    ) -> np.ndarray:
        """Dᵏφ[w₁, …, w_k] (φ = ⟨u, g⟩) for each row (k, d) of ``tuples`` (K, k, d),
        composed ``how`` (``adcli._numerics.nested``): (K,)."""
        g = self.fn.g

        def fn(ws: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any) -> Any:
            return self.over(lambda w: nested(g, u, inputs, constants, w, how)(x0))(ws)

        args = (np.asarray(at.x0), np.asarray(u), at.inputs, at.constants)
        return self._batched(f"d-{'-'.join(how)}", fn, tuples, *args)

    def fd_derivative(
        self,
        at: At,
        u: np.ndarray,
        tuples: np.ndarray,
        how: tuple[str, ...],
        h: float,
        stencil: Stencil,
    ) -> np.ndarray:
        """D^(k−1)φ[w₁, …, w_{k−1}] of the reference, composed ``how``, at x0 + t·w_k for
        each row of ``tuples`` (K, k, d): (9|5|4, K, 1)."""
        g = self.fn.g_ref

        def sample(
            t: jax.Array, ws: jax.Array, x0: jax.Array, u: jax.Array, inputs: Any, constants: Any
        ) -> Any:
            return nested(g, u, inputs, constants, ws[:-1], how)(x0 + t * ws[-1])[None]

        key = f"fd-d-{'-'.join(how)}"
        own = not self.fn.promoted
        return self._stencil(key, sample, tuples, h, stencil, at, u, own=own, shared_center=False)
