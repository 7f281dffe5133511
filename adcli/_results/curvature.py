"""What ``adcli curvature`` found: frozen, JSON-ready results (no jax, no rich here).

A ``CurvatureResult`` per spec holds the HVP strategy and its check against finite
differences, the trace estimates (Hutchinson with Rademacher/Gaussian probes, Hutch++),
the extreme eigenvalues by Lanczos with their residual bounds, and, when the Hessian was
small enough to form, the exact values each estimate is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adcli._results.check import Comparison
from adcli._results.common import SpecHeader, Verdict, common_dtype
from adcli._results.modes import CandidateResult

CURVATURE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class HvpStrategy:
    """The HVP composition used for every product, and why (from choose-mode)."""

    name: str  # e.g. fwd-over-rev
    passes: str  # "1 VJP, then 1 JVP of it"
    reason: str  # choose-mode's one-line reason, or "forced by --hvp-strategy"
    measure: str  # choose-mode's measure: none | close | forced
    batch: int  # HVPs per vmapped call
    batch_memory_bytes: int | None  # compiled memory of one batched call
    candidates: tuple[CandidateResult, ...] = ()
    seconds: float = 0.0
    batching: str = "vmap"  # or "lax.map, … (vmap fails: …)" when vmap cannot batch it


@dataclass(frozen=True)
class HvpCheckRow:
    """One seeded direction w: Hw by the strategy against central differences of ∇f."""

    direction: str  # w0, w1, ...
    verdict: Verdict
    margin: float  # max |AD − FD| ÷ tolerance over the d entries (≤ 1 passes)
    max_abs_error: float
    fd_error: float  # largest FD error bound over the entries
    hv_norm: float  # ‖Hw‖₂
    exact_rel_error: float | None = None  # ‖Hw − H_exact w‖ ÷ ‖H_exact w‖ when formed


@dataclass(frozen=True)
class HvpCheck:
    """The HVP check: per direction, the symmetry ⟨wᵢ, Hwⱼ⟩ = ⟨wⱼ, Hwᵢ⟩, and its verdict."""

    verdict: Verdict
    rows: tuple[HvpCheckRow, ...]
    symmetry: Comparison | None
    comparisons: tuple[Comparison, ...]  # the full detail (worst elements, diagnosis)
    rtol: float
    atol: float
    compute_dtype: str = ""  # the least precise float dtype the function computes in


@dataclass(frozen=True)
class TraceEstimate:
    """One trace estimate with its confidence interval from the sample variance.

    ``method``: ``rademacher`` / ``gaussian`` (Hutchinson) or ``hutch++`` (Meyer et al.
    2021: an exact trace on a sketched subspace plus Hutchinson on the rest; its interval
    comes from the residual part's samples). ``sample_variance`` is the per-probe variance
    of zᵀHz; ``theoretical_variance`` is its exact value when the Hessian is known.
    ``stopped``: ``budget`` (used --hvps) or ``rtol`` (the half-width fell below rtol·|est|).
    """

    method: str
    hvps: int
    samples: int
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    confidence: float
    sample_variance: float
    theoretical_variance: float | None = None
    exact: float | None = None
    stopped: str = "budget"

    @property
    def half_width(self) -> float:
        return float(self.ci_high - self.ci_low) / 2

    @property
    def covers_exact(self) -> bool | None:
        if self.exact is None:
            return None
        return bool(self.ci_low <= self.exact <= self.ci_high)

    @property
    def rel_error(self) -> float | None:
        """|estimate − exact| ÷ |exact|; None when there is no exact trace or it is 0."""
        if self.exact is None or self.exact == 0:
            return None
        return abs(self.estimate - self.exact) / abs(self.exact)


@dataclass(frozen=True)
class Eigenvalue:
    """A Ritz value θ with its residual bound r = ‖Hq − θq‖ (some eigenvalue lies in θ ± r)."""

    which: str  # top | bottom
    rank: int  # 1 = the largest (top) or the smallest (bottom)
    value: float
    residual: float
    exact: float | None = None

    @property
    def error(self) -> float | None:
        return None if self.exact is None else abs(self.value - self.exact)


@dataclass(frozen=True)
class EigenEstimate:
    """Top/bottom k eigenvalues by Lanczos (full reorthogonalisation) on HVPs.

    ``k``: the length of each list, min(K asked, ``steps``): Lanczos has one Ritz value
    per step, and when ``steps`` < 2K the two lists share values.
    ``invariant``: the Krylov space became invariant before d steps, so H has only
    ``steps`` distinct eigenvalues (to rounding) and each repeated one is listed once.
    ``note`` says either in words (None when neither happened).
    """

    k: int
    values: tuple[Eigenvalue, ...]
    steps: int  # Lanczos iterations (one HVP each)
    hvps: int  # steps + the HVPs of the explicit residuals
    converged: bool
    tol: float
    condition_number: float | None  # λmax / λmin when λmin > 0
    curvature: str  # positive definite | indefinite | ... (from the bottom eigenvalue)
    curvature_reason: str
    invariant: bool = False
    note: str | None = None


@dataclass(frozen=True)
class ExactHessian:
    """Whether the dense Hessian was formed, why (not), and what it gives."""

    formed: bool
    reason: str
    bytes_needed: int | None = None
    trace: float | None = None
    frobenius: float | None = None
    diagonal_sq: float | None = None  # Σ Hᵢᵢ²
    asymmetry: float | None = None  # ‖H − Hᵀ‖_F ÷ ‖H‖_F
    eigenvalues_top: tuple[float, ...] = ()
    eigenvalues_bottom: tuple[float, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class CurvatureResult(SpecHeader):
    """``adcli curvature`` for one spec at one point. Exit 1 when the HVP check failed.

    ``dtypes``: every input of f → the dtype the HVPs are computed in (one for all; ``dtype``
    names it: the least precise float dtype the function computes in).
    """

    name: str
    file: str | None
    line: int | None
    d: int
    dims: dict[str, int]
    backend: str
    dtypes: dict[str, str]
    point: int
    seed: int
    value: float
    grad_norm: float
    memory_budget_bytes: int
    strategy: HvpStrategy
    check: HvpCheck
    exact: ExactHessian
    trace: tuple[TraceEstimate, ...] = ()
    eigs: EigenEstimate | None = None
    hvps: int = 0  # every HVP this run computed (check, trace, Lanczos, residuals)
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def dtype(self) -> str:
        """The dtype the HVPs are computed in (the JSON ``dtype``)."""
        return common_dtype(self.dtypes)

    @property
    def trusted(self) -> bool:
        """False when the HVP check failed: every estimate below is built on a wrong HVP."""
        return self.check.verdict != "fail"

    @property
    def exit_code(self) -> int:
        return 0 if self.trusted else 1


@dataclass(frozen=True)
class SkippedSpec:
    """A selected spec curvature did not run (a vector-valued function among several)."""

    name: str
    file: str | None
    line: int | None
    reason: str


@dataclass(frozen=True)
class CurvatureReport:
    """``adcli curvature`` over the selected specs."""

    results: tuple[CurvatureResult, ...]
    seconds: float = 0.0
    skipped: tuple[SkippedSpec, ...] = ()

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.results), default=0)
