"""Stochastic trace estimates from Hessian-vector products: Hutchinson and Hutch++.

Hutchinson (1990): for probes z with E[zzᵀ] = I, E[zᵀHz] = tr H. With Rademacher probes
(±1 entries) Var(zᵀHz) = 2(‖H‖²_F − Σᵢ Hᵢᵢ²); with Gaussian probes 2‖H‖²_F (H
symmetric). The interval is the Student-t interval of the mean of the samples zᵀHz — it
uses their sample variance, never the unknown theoretical one.

Hutch++ (Meyer, Musco, Musco, Woodruff 2021): spend a third of the HVPs on a sketch
Q = orth(HS), take tr(QᵀHQ) exactly (another third), and Hutchinson on the deflated
(I − QQᵀ)H(I − QQᵀ) with the rest. Given Q the deflated estimate is unbiased, so the
interval is Hutchinson's on the deflated samples. It needs far fewer HVPs when a few
eigenvalues carry most of ‖H‖_F.

Everything here is numpy on a ``matmat(V) -> HV`` callable (rows are vectors), so the
same code runs on an HVP operator and on a dense test matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats  # type: ignore[import-untyped]  # a dependency of jax

from adcli._results.curvature import TraceEstimate

MatMat = Callable[[np.ndarray], np.ndarray]
PROBES = ("rademacher", "gaussian")
MIN_SAMPLES = 10  # the rtol rule never stops before this many samples
EPS64 = float(np.finfo(np.float64).eps)
VARIANCE_ROUNDING = 1e-30  # a per-probe variance below this × estimate² is shown as 0
BLOCK_FLOATS = 1 << 22  # probes drawn per block: at most 32 MiB of float64 at a time


def probes(kind: str, rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n probe vectors (rows) in Rᵈ with E[zzᵀ] = I."""
    if kind == "rademacher":
        return rng.integers(0, 2, size=(n, d)).astype(np.float64) * 2.0 - 1.0
    if kind == "gaussian":
        return rng.standard_normal((n, d))
    raise ValueError(f"unknown probe kind {kind!r}; expected one of {', '.join(PROBES)}")


def interval(
    samples: np.ndarray, confidence: float, rounding: float = 0.0
) -> tuple[float, float, float, float]:
    """(mean, standard error, low, high): Student-t interval of the mean of ``samples``,
    never narrower than ± ``rounding`` (the floating-point error of the samples)."""
    n = len(samples)
    mean = float(np.mean(samples))
    if n < 2:
        return mean, float("inf"), float("-inf"), float("inf")
    se = float(np.std(samples, ddof=1) / np.sqrt(n))
    half = float(max(float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se, rounding))
    return mean, se, mean - half, mean + half


def rounding(d: int, terms: float, eps: float = EPS64) -> float:
    """Rounding error of a sum of d products whose magnitudes add up to ``terms``, each
    computed to relative precision ``eps`` (the model of ``adcli._check.point.dot_scale``:
    10·√d·ε·Σ|aᵢbᵢ|)."""
    return float(10.0 * np.sqrt(max(d, 1)) * eps * terms)


def sample_variance(values: np.ndarray, estimate: float, terms: float) -> float:
    """The per-probe sample variance, 0 when it is at rounding level (below 1e-30 of the
    square of the estimate or of the samples' terms Σ|zᵢ(Hz)ᵢ|): an exact sketch in
    Hutch++ leaves deflated samples of ~1e-30 whose variance (~1e-60) means nothing."""
    if len(values) < 2:
        return float("nan")
    var = float(np.var(values, ddof=1))
    return 0.0 if var < VARIANCE_ROUNDING * max(estimate * estimate, terms * terms) else var


def theoretical_variance(kind: str, hessian: np.ndarray) -> float:
    """Var(zᵀHz) of one probe for a symmetric H."""
    fro = float(np.sum(hessian * hessian))
    if kind == "gaussian":
        return 2.0 * fro
    # ‖H‖²_F − Σ Hᵢᵢ² ≥ 0 exactly, but cancels to a rounding-level negative for a diagonal H.
    return max(0.0, 2.0 * (fro - float(np.sum(np.diag(hessian) ** 2))))


def hutchinson(
    matmat: MatMat,
    d: int,
    *,
    kind: str = "rademacher",
    max_hvps: int = 100,
    rtol: float | None = None,
    confidence: float = 0.95,
    rng: np.random.Generator,
    block: int = 32,
    exact: float | None = None,
    hessian: np.ndarray | None = None,
    eps: float = EPS64,
) -> TraceEstimate:
    """Hutchinson's estimate of tr H from up to ``max_hvps`` probes (one HVP each).

    With ``rtol`` it stops after a block once the interval's half-width is below
    rtol·|estimate| (after at least MIN_SAMPLES probes); the interval then is slightly
    optimistic (a sequential rule), which the docs say. ``eps``: the precision of the HVPs
    (the interval is never narrower than their rounding error).

    >>> rng = np.random.default_rng(0)
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> est = hutchinson(lambda V: V @ A, 10, max_hvps=200, rng=rng, kind="gaussian")
    >>> bool(est.ci_low < 55.0 < est.ci_high), est.hvps
    (True, 200)
    """
    if max_hvps < 2:
        raise ValueError("Hutchinson needs at least 2 HVPs for an interval")
    step = max(1, block) if rtol is not None else max(block, BLOCK_FLOATS // max(d, 1))
    samples: list[np.ndarray] = []
    terms = 0.0  # Σ|zᵢ(Hz)ᵢ| over all samples: their rounding error
    used, stopped = 0, "budget"
    while used < max_hvps:
        n = min(step, max_hvps - used)
        z = probes(kind, rng, n, d)
        hz = matmat(z)
        samples.append(np.einsum("ij,ij->i", z, hz))
        terms += float(np.sum(np.abs(z * hz)))
        used += n
        if rtol is not None and used >= MIN_SAMPLES:
            mean, _, low, high = interval(np.concatenate(samples), confidence)
            if (high - low) / 2 < rtol * abs(mean):
                stopped = "rtol"
                break
    values = np.concatenate(samples)
    mean, se, low, high = interval(values, confidence, rounding(d, terms / used, eps))
    return TraceEstimate(
        method=kind,
        hvps=used,
        samples=used,
        estimate=mean,
        std_error=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        sample_variance=sample_variance(values, mean, terms / used),
        theoretical_variance=None if hessian is None else theoretical_variance(kind, hessian),
        exact=exact,
        stopped=stopped,
    )


def hutch_plus_plus(
    matmat: MatMat,
    d: int,
    *,
    hvps: int,
    confidence: float = 0.95,
    rng: np.random.Generator,
    exact: float | None = None,
    eps: float = EPS64,
) -> TraceEstimate:
    """Hutch++ with ``hvps`` HVPs: a third sketch, a third exact part, a third Hutchinson.

    >>> rng = np.random.default_rng(0)
    >>> A = np.diag([100.0, 50.0] + [0.01] * 38)    # two eigenvalues carry the trace
    >>> est = hutch_plus_plus(lambda V: V @ A, 40, hvps=30, rng=rng)
    >>> bool(abs(est.estimate - np.trace(A)) < 0.05)
    True
    """
    if hvps < 6:
        raise ValueError("Hutch++ needs at least 6 HVPs (2 per part)")
    s = min(hvps // 3, d)
    g = hvps - 2 * s
    sketch = probes("rademacher", rng, s, d)
    q, _ = np.linalg.qr(matmat(sketch).T)  # (d, s): an orthonormal basis of range(HS)
    hq = matmat(q.T)
    low_rank = float(np.sum(q.T * hq))  # tr(QᵀHQ)
    z = probes("rademacher", rng, g, d)
    z = z - (z @ q) @ q.T  # (I − QQᵀ)z: the probes of the deflated matrix
    hz = matmat(z)
    values = np.einsum("ij,ij->i", z, hz)
    terms = float(np.sum(np.abs(q.T * hq))) + float(np.mean(np.sum(np.abs(z * hz), axis=1)))
    mean, se, lo, hi = interval(values, confidence, rounding(d, terms, eps))
    return TraceEstimate(
        method="hutch++",
        hvps=2 * s + g,
        samples=g,
        estimate=low_rank + mean,
        std_error=se,
        ci_low=low_rank + lo,
        ci_high=low_rank + hi,
        confidence=confidence,
        sample_variance=sample_variance(values, low_rank + mean, terms),
        exact=exact,
    )
