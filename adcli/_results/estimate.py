"""What ``adcli estimate`` returns: frozen, JSON-ready results (no jax, no rich here).

``adcli._results.json`` gives the strict JSON form documented in docs/estimate.md (NaN/inf
as strings, as everywhere in adcli). The five methods are named here, with the unit of
their passes and their formulas, so that reporters need not import the estimators (jax).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adcli._results.common import SCHEMA_VERSION, SpecHeader, common_dtype

Method = Literal["forward-diff", "central-diff", "zero-order", "forward-ad", "reverse-ad"]
METHODS: tuple[Method, ...] = (
    "forward-diff",
    "central-diff",
    "zero-order",
    "forward-ad",
    "reverse-ad",
)
# What a method's passes count.
UNITS: dict[Method, str] = {
    "forward-diff": "evals",
    "central-diff": "evals",
    "zero-order": "evals",
    "forward-ad": "JVPs",
    "reverse-ad": "VJPs",
}
# (passes in theory, step rule) per method, as the report's columns show them.
FORMULAS: dict[Method, tuple[str, str]] = {
    "forward-diff": ("d + 1", "h = √ε·max(1, |xᵢ|)"),
    "central-diff": ("2d", "h = ∛ε·max(1, |xᵢ|)"),
    "zero-order": ("2k", "δ = ∛ε·max(1, rms x)"),
    "forward-ad": ("d", "-"),
    "reverse-ad": ("1", "-"),
}


@dataclass(frozen=True)
class MethodResult:
    """One way to get the gradient: what it ran, how long it took, how far it is off.

    ``passes`` is counted from the program's output (the number of function evaluations,
    JVPs or VJPs it returned), ``unit`` says which. Times are seconds per gradient (median
    over interleaved rounds; ``spread`` = interquartile range ÷ median); ``ratio_to_eval``
    is that time divided by one evaluation of f (T). Errors are against reverse-mode AD:
    ``rel_error`` = ‖g − g_rev‖ / ‖g_rev‖, ``max_abs_error`` = maxᵢ |gᵢ − g_revᵢ|;
    ``predicted_rel_error`` is what theory expects (``theory`` says which formula). For the
    zero-order estimator ``rel_errors`` holds one error per seed (``rel_error`` is their
    mean, ``rel_error_spread`` their standard deviation).
    """

    name: Method
    passes: int
    unit: str
    formula: str
    step: str
    compile_seconds: float | None = None
    first_call_seconds: float | None = None
    median_seconds: float | None = None
    spread: float | None = None
    samples: tuple[float, ...] = ()
    ratio_to_eval: float | None = None
    rel_error: float | None = None
    max_abs_error: float | None = None
    predicted_rel_error: float | None = None
    theory: str = ""
    rel_errors: tuple[float, ...] = ()
    rel_error_spread: float | None = None
    status: str = "ok"


@dataclass(frozen=True)
class EstimateResult(SpecHeader):
    """``adcli estimate`` for one function f: Rᵈ → R at one point.

    ``d`` is the number of flat real inputs (the spec's ``wrt`` inputs); ``dtypes`` maps each
    of them to the dtype f computes in (one for all; ``dtype`` names it); ``m`` the number of
    outputs: when m > 1 the gradient is that of ⟨u, f⟩ for a seeded random unit vector u
    (``scalarized``). ``eval_seconds`` is T, the median time of one evaluation of f.
    ``batch`` is the number of rows evaluated per vmapped chunk (1: ``sequential``).
    ``errors`` (exit code 1) holds a disagreement between forward and reverse AD.
    """

    name: str
    file: str | None
    line: int | None
    dims: dict[str, int]
    d: int
    m: int
    dtypes: dict[str, str]
    backend: str
    scalarized: bool
    k: int
    directions: str
    seeds: int
    batch: int
    sequential: bool
    eval_seconds: float | None
    eval_compile_seconds: float | None
    grad_norm: float
    methods: tuple[MethodResult, ...]
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    timing_method: str = ""
    seconds: float = 0.0

    @property
    def dtype(self) -> str:
        """The dtype f computes in (the JSON ``dtype``)."""
        return common_dtype(self.dtypes)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def method(self, name: str) -> MethodResult:
        """The row of method ``name`` (KeyError if it was not run)."""
        for m in self.methods:
            if m.name == name:
                return m
        raise KeyError(name)


@dataclass(frozen=True)
class EstimatePoint:
    """One value of a swept dim: per method, its time, time ÷ T, and relative error."""

    value: int
    d: int
    eval_seconds: float | None
    times: dict[str, float | None]
    ratios: dict[str, float | None]
    errors: dict[str, float | None]
    predicted_zero_order_error: float | None


@dataclass(frozen=True)
class EstimateSweep:
    """``--sweep dim=v1,v2,…`` for one spec: the zero-order estimator at a fixed k.

    ``time_exponents[method]`` is p in time ∝ dᵖ (least squares on log time vs log d);
    ``eval`` is the exponent of T itself, so ``ratio_exponents`` (time ÷ T ∝ dᵖ) reads as
    "FD costs O(d)·T, reverse O(1)·T". ``error_exponent`` is the zero-order error's
    exponent (theory: 1/2 at fixed k). ``last_time_exponents`` is the slope between the two
    largest sizes only: at small d the fixed cost of a call hides the growth, so this is
    the asymptotic figure.
    """

    name: str
    dim: str
    k: int
    points: tuple[EstimatePoint, ...]
    time_exponents: dict[str, float | None]
    ratio_exponents: dict[str, float | None]
    error_exponent: float | None
    last_time_exponents: dict[str, float | None]
    results: tuple[EstimateResult, ...]


@dataclass(frozen=True)
class EstimateReport:
    """Everything ``adcli estimate`` found: one result per spec, or one sweep per spec.

    ``errors`` (exit code 2) holds each spec that could not be loaded, built or estimated,
    as ``FILE:LINE: …``; ``notes`` what was left out and why (a spec without the swept dim).
    """

    results: tuple[EstimateResult, ...] = ()
    sweeps: tuple[EstimateSweep, ...] = ()
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        every = list(self.results) + [r for s in self.sweeps for r in s.results]
        return max((r.exit_code for r in every), default=0)
