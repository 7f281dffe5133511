"""Batched, jit-compiled evaluations of an ``InputFunction`` g: Rᵈ → Rᵐ.

Every perturbed evaluation a check needs at one point (the FD stencil along many
directions or coordinates, JVPs, VJPs, HVPs) runs as one vmapped, jit-compiled call,
chunked to stay within a memory budget (``batches.Batches``), never a Python loop over
coordinates. Arguments are passed (not closed over) so that every point reuses the same
compiled program.

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

from adcli._numerics.batches import Batches
from adcli._numerics.finite_diff import Stencil, offsets
from adcli._numerics.function import At
from adcli._numerics.nested import grad_phi, nested
from adcli._numerics.screen import REST_OFFSETS, SCREEN_MIN_WORK, SCREEN_OFFSETS
from adcli._problem import host

# (t, row, x0, *extra, inputs, constants) -> the value sampled at offset t along one row
Sample = Callable[..., jax.Array]


class Evaluator(Batches):
    """The batched evaluations of ``fn`` (one compiled program per kind of evaluation)."""

    def screens(self, rows: int) -> bool:
        """Whether FD over a batch of ``rows`` rows is worth screening (SCREEN_MIN_WORK);
        ``refine.fd_estimate`` also needs enough rows to pool the screen's noise over."""
        return rows * (self.fn.d + self.fn.m) >= SCREEN_MIN_WORK

    def share_coordinates(self, rows: int) -> None:
        """Compile the coordinate programs (FD stencils, ``jacobian_fwd``) for at least
        ``rows`` rows, so that every input's batch fits the same program."""
        kinds = ("level", "screen", "rest")
        fd = tuple(f"fd-coord-{ref}-{kind}" for ref in (True, False) for kind in kinds)
        self.share((*fd, "jacfwd"), rows, self._chunk_rows(True))
        self.share(("jacobians",), rows)

    def share_second_order(self, rows: int) -> None:
        """Compile the HVP programs and the FD of the gradient for at least ``rows`` rows:
        the Hessian's unit vectors (``expect.hessian``) and the random directions of the
        second-order check then share one program of each kind."""
        keys = ("hvps-fwd-over-rev-rev-over-rev", "hvp-fwd-over-rev", "hvp-rev-over-rev")
        self.share(keys, rows)
        kinds = ("level", "screen", "rest")
        self.share(tuple(f"fd-grad-{kind}" for kind in kinds), rows, self._chunk_rows(True))

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

        offsets_map = self._offsets_map()

        def program(rows: jax.Array, x0: jax.Array, ts: jax.Array, *args: Any) -> Any:
            *more, inputs, constants = args
            one: Callable[[jax.Array, jax.Array], Any] = lambda t, r: sample(  # noqa: E731
                t, r, x0, *more, inputs, constants
            )
            size = self._batch_size()
            if size is not None and ts.shape[0] * rows.shape[0] > size:
                # offsets one after the other (one trace), rows in cache-sized batches
                out = jax.lax.map(lambda t: self.over_rows(lambda r: one(t, r))(rows), ts)
            else:
                out = offsets_map(lambda t: self.over(lambda r: one(t, r))(rows))(ts)
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
                return compiled(host.put(padded), x0, at.inputs, at.constants)

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
