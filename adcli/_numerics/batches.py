"""Chunked, batched running of the compiled programs an evaluator builds.

A batch of rows (directions, coordinates, tangents) is split into fixed-size chunks, each
padded to one shape so that one compiled program serves every chunk and every later,
smaller batch; on CPU the rows of a chunk are mapped in cache-sized batches.

Programs are jit-compiled, except while ``eager`` is set (a one-off first-order check of
a Python callable): then they run op by op, on JAX's per-primitive programs, which a test
suite shares across all its checks; compiling each program would cost more than running
it once (12 elementwise functions, order 1: 5.2 s op by op, 8.4 s compiled, check_grads
5.2 s). Higher orders compile (nested AD makes many distinct primitives: order 2 costs
the same either way, order 3 is 1.2× faster compiled), and so does a later check of the
same function and shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._numerics.finite_diff import OFFSETS
from adcli._numerics.function import InputFunction
from adcli._problem import host

MEMORY_BUDGET = 1 << 26  # bytes of perturbed inputs/outputs in one chunk (64 MiB)
# On CPU, rows are evaluated in batches of about this many bytes (lax.map with a batch
# size): one vmap over a chunk makes a (rows, d) matrix that leaves the cache (at d = 10⁴
# a coordinate FD stencil ran 5–10× slower so, a forward Jacobian 10×).
CACHE_BUDGET = 1 << 21
MIN_BATCH = 8  # below this (d ≳ 3·10⁴), batches gain nothing: one vmap, as before


def _eagerly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run op by op on JAX arrays (what jit would have converted its arguments to)."""

    def run(*args: Any) -> Any:
        return fn(*jax.tree_util.tree_map(_as_jax, args))

    return run


def _as_jax(value: Any) -> Any:
    return host.put(value) if isinstance(value, np.ndarray | np.generic) else value


def on_device(value: np.ndarray) -> jax.Array:
    """A host array on the default device, sharing its memory where the device can (the
    CPU: no copy of a K × d batch of directions, 8 MB a row at d = 10⁶). Safe here: the
    batches are not written while a program that reads them runs."""
    placed: jax.Array = jax.device_put(value, may_alias=True)
    return placed


class Batches:
    """Runs ``fn``'s programs over batches of rows (one compiled program per key)."""

    def __init__(self, fn: InputFunction) -> None:
        self.fn = fn
        per_eval = 32 * (fn.d + fn.m) + 1
        self.chunk = int(max(1, min(4096, MEMORY_BUDGET // (per_eval * len(OFFSETS)))))
        # Fewer rows than offsets fit a chunk (large d): a stencil's offsets are evaluated
        # one after the other, each over the chunk's rows, instead of all nine perturbed
        # copies of x at once (at d = 10⁶, 9 × 8 MB per row: 3-4× slower than in turn).
        self.offsets_in_turn = self.chunk < len(OFFSETS)
        self._jit: dict[tuple[str, bool], Callable[..., Any]] = {}
        self._sizes: dict[str, int] = {}
        # A sharded spec: programs with the spec's in-shardings (the inputs and constants
        # arrive placed so) and replicated results; batches of rows replicated on the mesh.
        mesh = fn.problem.mesh
        self._compile: Callable[..., Any] = jax.jit if mesh is None else mesh.jit
        self._put: Callable[[np.ndarray], Any] = on_device if mesh is None else mesh.replicate
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

    def share(self, keys: tuple[str, ...], rows: int, limit: int | None = None) -> None:
        """Compile the programs of ``keys`` for at least ``rows`` rows (a power of two, at
        most ``limit``, by default a chunk)."""
        size = min(limit or self.chunk, 1 << max(rows - 1, 0).bit_length())
        for key in keys:
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
        # Host arrays go to the device once, not once per chunk (x0 is d numbers), and every
        # chunk is dispatched before any result is read back, so that the host's next
        # transfer overlaps the device's work.
        placed = [self._put(a) if isinstance(a, np.ndarray) else a for a in rest]
        outs, kept = [], []
        for start in range(0, n, size):
            part = batch[start : start + size]
            kept.append(part.shape[0])
            if part.shape[0] < size:
                part = np.concatenate([part, np.repeat(part[:1], size - part.shape[0], axis=0)])
            outs.append(compiled(self._put(part), *placed))
        found = [
            np.take(np.asarray(out, dtype=np.float64), np.arange(keep), axis=axis)
            for out, keep in zip(outs, kept, strict=True)
        ]
        return np.concatenate(found, axis=axis)

    def _offsets_map(self) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """How a stencil maps over its offsets: vmapped with the rows, or (``offsets_in_turn``)
        one offset after the other: lax.map when compiled, a Python loop when run op by op
        (an eager lax.map would compile its body)."""
        if not self.offsets_in_turn:
            return self.over
        if self.eager:
            return lambda fn: lambda ts: jnp.stack([fn(t) for t in ts])
        return lambda fn: lambda ts: jax.lax.map(fn, ts)
