"""Five ways to get the gradient of a scalar f: Rᵈ → R, each with its own count of passes.

Every method is a jittable function of x that returns ``(gradient, rows)``, where ``rows``
holds what was actually evaluated (one entry per function evaluation, JVP or VJP), so the
cost a report shows is the size of an array the program computed, not a formula:

=================  ======================================================  ==============
method             gradient                                                 passes
=================  ======================================================  ==============
forward-diff       gᵢ = (f(x + hᵢeᵢ) − f(x)) / hᵢ, hᵢ = √ε·max(1, |xᵢ|)     d + 1 evals
central-diff       gᵢ = (f(x + hᵢeᵢ) − f(x − hᵢeᵢ)) / 2hᵢ, hᵢ = ∛ε·max(1,|xᵢ|)  2d evals
zero-order         G = c/k Σⱼ (f(x + δvⱼ) − f(x − δvⱼ)) / 2δ · vⱼ           2k evals
forward-ad         gᵢ = JVP of f along eᵢ                                    d JVPs
reverse-ad         g = VJP of f with the cotangent 1                         1 VJP
=================  ======================================================  ==============

Zero-order directions: ``sphere`` (vⱼ uniform on the unit sphere, c = d: the
lecture's formula, since E[vvᵀ] = I/d) or ``gaussian`` (vⱼ ~ N(0, I), c = 1, since E[vvᵀ] = I).
Both are unbiased; their relative mean-square errors are (d − 1)/k and (d + 1)/k
(``zero_order_rms``). The step δ is ∛ε·max(1, rms(x)) along a unit direction (δ/√d for a
Gaussian one, whose length is about √d), so truncation stays far below the sampling noise.

Batching: evaluations run ``batch`` rows at a time (``vmap`` over a chunk inside a
``lax.scan`` over chunks, as ``lax.map(batch_size=...)`` does), so memory is bounded by
the chunk and never by d rows of length d; ``batch = 1`` evaluates one point at a time.
Points and directions are built inside each chunk from their index (x + hᵢ·one_hot(i): a
dense add, which XLA:CPU fuses; a batched scatter ``x.at[i].add`` measured 1.2–2× slower).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Scalar = Callable[[jax.Array], jax.Array]
DIRECTIONS = ("sphere", "gaussian")


def eps(dtype: Any) -> float:
    """Machine epsilon of a real dtype."""
    return float(jnp.finfo(dtype).eps)


def fd_steps(x: jax.Array, power: float, dtype: Any = None) -> jax.Array:
    """hᵢ = ε^power·max(1, |xᵢ|), rounded so that x + h − x = h exactly.

    ``dtype`` is the dtype f computes in (default x's): ε is its epsilon, and the rounding
    is done in it, so that a float16 function whose flat x is float32 still sees exactly
    the step h after it rounds x + h to float16.
    """
    dtype = x.dtype if dtype is None else dtype
    h = eps(dtype) ** power * jnp.maximum(1.0, jnp.abs(x))
    xc = x.astype(dtype)
    step: jax.Array = ((xc + h.astype(dtype)) - xc).astype(x.dtype)
    return step


def _rows(row: Callable[[jax.Array], Any], n: int, batch: int) -> Any:
    """``row(i)`` for i < n stacked, ``batch`` rows per vmapped chunk (a scan over chunks)."""
    return jax.lax.map(row, jnp.arange(n), batch_size=min(max(batch, 1), max(n, 1)))


def forward_differences(
    f: Scalar, x: jax.Array, batch: int, dtype: Any = None
) -> tuple[jax.Array, jax.Array]:
    """Forward differences: d shifted points and f(x) itself (d + 1 evaluations)."""
    h = fd_steps(x, 0.5, dtype)
    f0 = f(x)

    def row(i: jax.Array) -> jax.Array:
        return f(x + h[i] * jax.nn.one_hot(i, x.size, dtype=x.dtype))

    shifted = _rows(row, x.size, batch)
    return (shifted - f0) / h, jnp.concatenate([shifted, f0[None]])


def central_differences(
    f: Scalar, x: jax.Array, batch: int, dtype: Any = None
) -> tuple[jax.Array, jax.Array]:
    """Central differences: f(x ± hᵢeᵢ) for each i (2d evaluations)."""
    h = fd_steps(x, 1 / 3, dtype)

    def row(i: jax.Array) -> jax.Array:
        e = h[i] * jax.nn.one_hot(i, x.size, dtype=x.dtype)
        return jnp.stack([f(x + e), f(x - e)])

    pairs = _rows(row, x.size, batch)  # (d, 2)
    return (pairs[:, 0] - pairs[:, 1]) / (2 * h), pairs.ravel()


def direction(key: jax.Array, j: jax.Array, d: int, kind: str, dtype: Any) -> jax.Array:
    """The j-th random direction: N(0, I), or that normalised (uniform on the sphere)."""
    v = jax.random.normal(jax.random.fold_in(key, j), (d,), dtype)
    return v / jnp.linalg.norm(v) if kind == "sphere" else v


def zero_order_step(x: jax.Array, kind: str, dtype: Any = None) -> jax.Array:
    """δ: ∛ε·max(1, rms(x)) along a unit direction; divided by √d for Gaussian ones.

    ε is that of ``dtype``, the dtype f computes in (default x's)."""
    e = eps(x.dtype if dtype is None else dtype)
    delta = e ** (1 / 3) * jnp.maximum(1.0, jnp.sqrt(jnp.mean(x * x)))
    step: jax.Array = delta / math.sqrt(x.size) if kind == "gaussian" else delta
    return step


def zero_order(
    f: Scalar, x: jax.Array, key: jax.Array, k: int, kind: str, batch: int, dtype: Any = None
) -> tuple[jax.Array, jax.Array]:
    """The two-point random-direction estimator averaged over k directions (2k evaluations).

    G = c/k Σⱼ (f(x + δvⱼ) − f(x − δvⱼ)) / 2δ · vⱼ with c = d (sphere) or 1 (gaussian).
    Accumulated chunk by chunk, so the k directions never exist as one k × d array.
    """
    d = x.size
    delta = zero_order_step(x, kind, dtype)
    scale = d if kind == "sphere" else 1

    def chunk(start: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
        def one(j: jax.Array) -> tuple[jax.Array, jax.Array]:
            v = direction(key, j, d, kind, x.dtype)
            pair = jnp.stack([f(x + delta * v), f(x - delta * v)])
            return pair, (pair[0] - pair[1]) / (2 * delta) * v

        pairs, terms = jax.vmap(one)(start + jnp.arange(size))
        return pairs, terms.sum(0)

    size = min(max(batch, 1), k)
    full, rest = divmod(k, size)

    def body(total: jax.Array, i: jax.Array) -> tuple[jax.Array, jax.Array]:
        pairs, part = chunk(i * size, size)
        return total + part, pairs

    total, pairs = jax.lax.scan(body, jnp.zeros_like(x), jnp.arange(full))
    evaluated = [pairs.reshape(-1)]
    if rest:
        last, part = chunk(jnp.asarray(full * size), rest)
        total, evaluated = total + part, [*evaluated, last.reshape(-1)]
    return scale / k * total, jnp.concatenate(evaluated)


def forward_ad(f: Scalar, x: jax.Array, batch: int) -> tuple[jax.Array, jax.Array]:
    """d JVPs, one per basis vector eᵢ (vmapped over chunks of the basis)."""

    def row(i: jax.Array) -> jax.Array:
        tangent: jax.Array = jax.jvp(f, (x,), (jax.nn.one_hot(i, x.size, dtype=x.dtype),))[1]
        return tangent

    g = _rows(row, x.size, batch)
    return g, g


def reverse_ad(f: Scalar, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One VJP: the pullback of f at x applied to the one cotangent 1."""
    value, pullback = jax.vjp(f, x)
    cotangents = jnp.ones((1,), value.dtype)  # the rows pulled back: exactly one
    (g,) = jax.vmap(pullback)(cotangents)
    return g[0], cotangents


def zero_order_rms(d: int, k: int, kind: str) -> float:
    """E‖G − g‖² / ‖g‖², square-rooted: √((d − 1)/k) on the sphere, √((d + 1)/k) Gaussian.

    For v ~ N(0, I): E[(vᵀg)² vvᵀ] = ‖g‖²I + 2ggᵀ, so one direction has E‖G₁‖² = (d + 2)‖g‖²
    and E‖G₁ − g‖² = (d + 1)‖g‖². On the sphere E[(vᵀg)² vvᵀ] = (‖g‖²I + 2ggᵀ)/(d(d + 2)),
    so with the factor d, E‖G₁‖² = d‖g‖² and E‖G₁ − g‖² = (d − 1)‖g‖². k independent
    directions divide the mean square by k.
    """
    return math.sqrt(max(d - 1 if kind == "sphere" else d + 1, 0) / k)
