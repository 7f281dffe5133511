"""Extreme eigenvalues of a symmetric operator from matrix-vector products (Lanczos).

Why our own Lanczos and not ``scipy.sparse.linalg.eigsh``: one Krylov space gives the top
and the bottom k together (eigsh needs ``which='BE'`` with 2k values and restarts), every
step is one HVP that we count, and the Ritz values after each step are available, which
is what the accuracy-vs-HVPs figures need. The basis is fully reorthogonalised (twice per
step, "twice is enough"), so no spurious copies of converged eigenvalues appear; it costs
O(steps·d) memory and O(steps²·d) flops, negligible next to the HVPs for steps ≤ a few
hundred. The tests compare it with ``numpy.linalg.eigvalsh`` and the benchmark with eigsh.

Error bounds: for each reported Ritz pair (θ, q), ‖q‖ = 1, the residual r = ‖Hq − θq‖ is
computed explicitly (one more HVP per pair) and some eigenvalue of H lies in [θ − r, θ + r]
(Weyl/Bauer–Fike for symmetric H). By Cauchy interlacing the i-th largest Ritz value
never exceeds the i-th largest eigenvalue (and the i-th smallest never falls below the
i-th smallest). Stopping uses the cheap estimate β·|last entry of the Ritz vector|.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal  # type: ignore[import-untyped]  # jax needs scipy

MatVec = Callable[[np.ndarray], np.ndarray]
History = Callable[[int, np.ndarray], None]


@dataclass(frozen=True)
class LanczosRun:
    """Ritz values (ascending) and their vectors (rows) for the k bottom then k top."""

    bottom: np.ndarray  # (kb,) ascending: the smallest first
    top: np.ndarray  # (kt,) descending: the largest first
    bottom_vectors: np.ndarray  # (kb, d)
    top_vectors: np.ndarray  # (kt, d)
    steps: int
    converged: bool
    invariant: bool = False  # β ≈ 0 before d steps: H has only ``steps`` distinct eigenvalues


def lanczos(
    matvec: MatVec,
    d: int,
    k: int,
    *,
    max_steps: int,
    tol: float,
    rng: np.random.Generator,
    history: History | None = None,
) -> LanczosRun:
    """k largest and k smallest eigenpairs of a symmetric d×d operator, one matvec per step.

    Stops when each wanted Ritz value's estimated residual β|sₘ| is ≤ tol·max|θ|, when the
    Krylov space becomes invariant (β ≈ 0: the Ritz values are then exact eigenvalues of
    H on that space), or after ``max_steps``. ``history(step, ritz_values)`` is called
    after every step.

    >>> A = np.diag(np.arange(1.0, 51.0))
    >>> run = lanczos(lambda v: A @ v, 50, 2, max_steps=50, tol=1e-10,
    ...               rng=np.random.default_rng(0))
    >>> np.round(run.top, 8).tolist(), np.round(run.bottom, 8).tolist()
    ([50.0, 49.0], [1.0, 2.0])
    """
    m = max(1, min(max_steps, d))
    basis = np.zeros((m + 1, d))
    v = rng.standard_normal(d)
    basis[0] = v / np.linalg.norm(v)
    alpha: list[float] = []
    beta: list[float] = []
    theta, vecs = np.zeros(0), np.zeros((0, 0))
    converged = invariant = False
    steps = 0
    for j in range(m):
        w = np.asarray(matvec(basis[j]), dtype=np.float64)
        a = float(basis[j] @ w)
        w = w - a * basis[j] - (beta[-1] * basis[j - 1] if j else 0.0)
        for _ in range(2):  # full reorthogonalisation, twice
            w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        b = float(np.linalg.norm(w))
        alpha.append(a)
        steps = j + 1
        theta, vecs = eigh_tridiagonal(np.array(alpha), np.array(beta))
        if history is not None:
            history(steps, theta)
        scale = max(float(np.max(np.abs(theta))), 1e-300)
        wanted = np.r_[np.arange(min(k, steps)), np.arange(max(steps - k, 0), steps)]
        estimate = b * np.abs(vecs[-1, wanted])
        if steps >= min(2 * k, d) and np.all(estimate <= tol * scale):
            converged = True
            break
        if b <= 1e-13 * scale:  # invariant subspace: T's eigenvalues are H's, exactly
            # From a random start this happens before d steps only when H has this few
            # distinct eigenvalues: each eigenvalue of a cluster is found once.
            converged, invariant = True, steps < d
            break
        if j + 1 < m:
            beta.append(b)
            basis[j + 1] = w / b
    kb = min(k, steps)
    ritz_vectors = vecs.T @ basis[:steps]  # (steps, d), ascending θ
    return LanczosRun(
        bottom=theta[:kb],
        top=theta[::-1][:kb],
        bottom_vectors=ritz_vectors[:kb],
        top_vectors=ritz_vectors[::-1][:kb],
        steps=steps,
        converged=converged or steps >= d,
        invariant=invariant,
    )


def residuals(
    matmat: Callable[[np.ndarray], np.ndarray], values: np.ndarray, vectors: np.ndarray
) -> np.ndarray:
    """‖Hq − θq‖ for each Ritz pair (rows of ``vectors`` normalised first); one HVP each."""
    if len(values) == 0:
        return np.zeros(0)
    q = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    norms: np.ndarray = np.linalg.norm(matmat(q) - values[:, None] * q, axis=1)
    return norms
