"""Plain, frozen, JSON-serialisable result objects that engines return and reporters render.

Imports neither jax nor rich. ``to_dict`` gives the stable JSON form documented in
docs/json.md (``schema_version`` changes only with an incompatible change).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "inconclusive", "skipped", "error"]
SCHEMA_VERSION = 1

# Worst first: the verdict of a group is the worst verdict in it.
_SEVERITY = {"pass": 0, "skipped": 1, "inconclusive": 2, "fail": 3, "error": 4}


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The most severe verdict of several (pass < skipped < inconclusive < fail < error)."""
    if not verdicts:
        return "pass"
    return max(verdicts, key=_SEVERITY.__getitem__)


@dataclass(frozen=True)
class Mismatch:
    """One compared element: where it is, both values and how far apart against the tolerance.

    ``input_index``/``output_index`` are readable locations such as ``x[3]`` or
    ``params['w1'][0, 2]``; for comparisons of directional derivatives they name the
    direction (``x·v2``) or the cotangent (``⟨u1, ·⟩``) instead.
    """

    input_index: str
    output_index: str
    ad: float
    reference: float
    step: float | None
    fd_error: float | None
    tolerance: float
    margin: float

    @property
    def abs_error(self) -> float:
        return abs(self.ad - self.reference)

    @property
    def rel_error(self) -> float:
        scale = max(abs(self.reference), abs(self.ad))
        return self.abs_error / scale if scale > 0 else 0.0


@dataclass(frozen=True)
class Comparison:
    """One check at one point for one input: e.g. reverse mode against finite differences.

    ``kind`` is one of: ``fwd`` (JVP vs FD), ``rev`` (VJP vs FD), ``adjoint`` (⟨u, Jv⟩ from
    JVP vs ⟨Jᵀu, v⟩ from VJP), ``hvp:fwd-over-rev`` / ``hvp:rev-over-rev`` /
    ``hvp:fwd-over-fwd`` (second order vs FD of the first derivative),
    ``hessian-symmetry``, ``expect-grad:ad``, ``expect-grad:fd``, ``expect-hessian:ad``,
    ``expect-hessian:fd``, ``value`` (the function itself is finite at the point).
    ``margin`` is the largest |AD − reference| ÷ tolerance over the compared elements
    (≤ 1 passes); ``worst`` holds the worst elements, largest margin first.
    """

    point: int
    wrt: str
    kind: str
    method: str
    verdict: Verdict
    margin: float = 0.0
    compared: int = 0
    failed: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    step: float | None = None
    worst: tuple[Mismatch, ...] = ()
    reason: str | None = None
    diagnosis: str | None = None
    locations: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpecResult:
    """Every comparison for one spec, with its verdict and the context to reproduce it."""

    name: str
    file: str | None
    line: int | None
    verdict: Verdict
    seed: int
    points: int
    dims: dict[str, int]
    backend: str
    dtypes: dict[str, str]
    method: str
    comparisons: tuple[Comparison, ...] = ()
    notes: tuple[str, ...] = ()
    diagnoses: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    @property
    def margin(self) -> float:
        """The worst margin of any comparison that was made (0 if none)."""
        margins = [c.margin for c in self.comparisons if c.verdict != "skipped"]
        # A NaN margin (an AD value that is not a number) counts as infinitely bad.
        return max((math.inf if m != m else m for m in margins), default=0.0)

    @property
    def failures(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.verdict in ("fail", "inconclusive"))


@dataclass(frozen=True)
class CheckReport:
    """The result of ``adcli check`` over one or more spec files."""

    results: tuple[SpecResult, ...]
    seconds: float = 0.0
    allow_inconclusive: bool = False
    errors: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        if self.errors:
            return "error"
        return worst_verdict(tuple(r.verdict for r in self.results))

    @property
    def exit_code(self) -> int:
        """0 all pass, 1 any failure (or inconclusive unless allowed), 2 a spec could not run."""
        if self.errors or any(r.verdict == "error" for r in self.results):
            return 2
        verdicts = {r.verdict for r in self.results}
        if "fail" in verdicts:
            return 1
        if "inconclusive" in verdicts and not self.allow_inconclusive:
            return 1
        return 0


def _clean(value: Any) -> Any:
    # JSON has no NaN/inf: render them as strings so the output stays strict JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_dict(obj: Any) -> Any:
    """A result object as plain JSON-ready data (NaN/inf become strings)."""
    if isinstance(obj, CheckReport):
        data = {
            "schema_version": SCHEMA_VERSION,
            "verdict": obj.verdict,
            "exit_code": obj.exit_code,
            "seconds": obj.seconds,
            "errors": list(obj.errors),
            "specs": [to_dict(r) for r in obj.results],
        }
        return _clean(data)
    if isinstance(obj, SpecResult):
        data = dataclasses.asdict(obj)
        data["margin"] = obj.margin
        return _clean(data)
    return _clean(dataclasses.asdict(obj))


# --- choose-mode ---


@dataclass(frozen=True)
class CutInfo:
    """The narrow intermediate of a mixed-mode candidate: f = g ∘ h through it."""

    shape: tuple[int, ...]
    dtype: str
    size: int
    primitive: str
    source: str | None  # "models.py:12 (bottleneck)" when JAX knows the user's line


@dataclass(frozen=True)
class CandidateResult:
    """One way to compute the derivative, with its prediction and what was measured.

    ``status``: ``ok`` (compiled; timed if ``samples``), ``not timed: …`` (predicted far
    from the best), ``skipped: needs 102 GB …`` (over the memory budget, never run),
    ``disagrees: …`` or ``error: …``. Times are seconds per call; ``spread`` is the
    interquartile range ÷ median; ``memory_bytes`` is the compiled argument + output +
    temporary size.
    """

    name: str
    passes: str
    status: str = "ok"
    predicted_flops: float | None = None
    count: int = 0
    compile_seconds: float | None = None
    memory_bytes: int | None = None
    first_call_seconds: float | None = None
    median_seconds: float | None = None
    spread: float | None = None
    samples: tuple[float, ...] = ()

    @property
    def timed(self) -> bool:
        return self.status == "ok" and bool(self.samples)


@dataclass(frozen=True)
class ModeResult:
    """``adcli choose-mode`` for one spec: the candidates, the recommendation and why.

    ``tied`` lists the candidates whose measured difference from the fastest was within
    the noise (the recommendation is then the one predicted cheapest among them).
    ``exit_code`` is 0 with a recommendation and no error, 1 when candidates disagree or
    none could run.
    """

    name: str
    file: str | None
    line: int | None
    target: str
    n: int
    m: int
    dims: dict[str, int]
    backend: str
    dtype: str
    candidates: tuple[CandidateResult, ...]
    recommendation: str | None
    reason: str
    predicted: str | None = None
    tied: tuple[str, ...] = ()
    cut: CutInfo | None = None
    errors: tuple[str, ...] = ()
    memory_budget_bytes: int = 0
    measure: str = "close"
    timing_method: str = ""
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.errors or self.recommendation is None else 0


@dataclass(frozen=True)
class SweepPoint:
    """One value of a swept dim: each candidate's median time, and the ratio of the
    reverse-like to the forward-like one (``SweepResult.ratio_of``; > 1: forward is faster)."""

    value: int
    n: int
    m: int
    times: dict[str, float | None]
    ratio: float | None
    recommendation: str | None
    crossover: bool = False  # the ratio crossed 1 between the previous value and this one


@dataclass(frozen=True)
class SweepResult:
    """``--sweep dim=v1,v2,…`` for one spec."""

    name: str
    dim: str
    points: tuple[SweepPoint, ...]
    crossover: str | None
    results: tuple[ModeResult, ...]
    ratio_of: str = "reverse/forward"  # what SweepPoint.ratio divides


@dataclass(frozen=True)
class ModeReport:
    """The result of ``adcli choose-mode``: a ModeResult per spec (or a sweep per spec)."""

    results: tuple[ModeResult, ...] = ()
    sweeps: tuple[SweepResult, ...] = ()
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    exit_code: int = 0
    schema_version: int = SCHEMA_VERSION
    skipped: tuple[str, ...] = ()  # specs a scalar-only target cannot take, in a many-spec run


# --- memory ---
# What ``adcli memory`` returns (adcli._memory); rendered by adcli._report.memory_console.
# Sizes are bytes; FLOPs are XLA cost-analysis estimates; docs/memory.md documents each field.


@dataclass(frozen=True)
class Residual:
    """One value the backward pass keeps from the forward pass.

    ``origin`` is ``operation`` (an intermediate), ``named`` (tagged with
    ``checkpoint_name``; ``name`` holds the tag), ``argument`` (an input, held anyway;
    ``name`` holds its path), ``literal``/``constant`` (baked into the program) or
    ``unknown`` (the fallback could not say). ``source`` is ``file:line`` of the user code.
    """

    shape: tuple[int, ...]
    dtype: str
    bytes: int
    origin: str
    primitive: str | None = None
    name: str | None = None
    source: str | None = None
    function: str | None = None


@dataclass(frozen=True)
class ResidualGroup:
    """Residuals made by the same operation at the same source line, summed."""

    label: str
    count: int
    bytes: int
    shape: tuple[int, ...]
    dtype: str
    origin: str


@dataclass(frozen=True)
class ResidualSummary:
    """Figure 1: what reverse mode stores (jaxpr level, the same on every backend).

    ``bytes`` excludes arguments (they are in memory anyway); ``argument_bytes`` counts the
    arguments the backward pass also reads. ``method`` says which JAX function listed them.
    """

    bytes: int
    argument_bytes: int
    count: int
    groups: tuple[ResidualGroup, ...]
    arguments: tuple[Residual, ...]
    residuals: tuple[Residual, ...]
    method: str


@dataclass(frozen=True)
class CompiledMemory:
    """Figure 2: what XLA allocates for one program (``forward``, ``vjp`` or ``jvp``).

    ``vjp`` computes the value and the VJP of a cotangent (a training step's shape);
    ``jvp`` the value and one JVP. ``peak_bytes`` = argument + output + temp − alias.
    ``flops`` are the lowered (pre-optimisation) estimate, loop bodies times trip count.
    """

    program: str
    argument_bytes: int | None
    output_bytes: int | None
    temp_bytes: int | None
    alias_bytes: int | None
    peak_bytes: int | None
    flops: float | None
    note: str | None = None


@dataclass(frozen=True)
class PolicyResult:
    """One checkpoint policy applied to the whole function as one block.

    ``extra_flops_pct`` compares the lowered FLOPs of the value-and-VJP program with the
    same program without checkpointing. ``stripped`` is True when the compiled program lost
    the optimisation barriers or recompute dots that the lowered one has.
    """

    name: str
    description: str
    residual_bytes: int
    host_bytes: int
    compiled_temp_bytes: int | None
    flops: float | None
    extra_flops_pct: float | None
    pareto: bool = False
    barriers_lowered: int = 0
    barriers_compiled: int = 0
    dots_lowered: int = 0
    dots_compiled: int = 0
    stripped: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ScheduleResult:
    """One way to run an L-layer stack of the block: activation memory and recompute."""

    name: str
    kind: str  # none | policy | sqrt | revolve
    memory_bytes: int
    extra_flops_pct: float
    detail: str
    checkpoints: int | None = None
    fits: bool | None = None  # against the budget, when one is given


@dataclass(frozen=True)
class Measurement:
    """Figure 3 (``--measure``): the value-and-VJP program run on sampled inputs."""

    peak_bytes: int | None
    memory_method: str
    compile_seconds: float
    run_seconds_median: float
    run_seconds_min: float
    runs: int
    timing_method: str


@dataclass(frozen=True)
class Guard:
    """The spec's ``memory: {budget, figure}`` compared with the computed figure."""

    figure: str
    budget: int
    value: int
    exceeded: bool
    what: str


@dataclass(frozen=True)
class Recommendation:
    """What adcli suggests and why; ``fits`` is None when no budget was given."""

    choice: str
    reason: str
    memory_bytes: int | None = None
    extra_flops_pct: float | None = None
    fits: bool | None = None


@dataclass(frozen=True)
class MemoryResult:
    """``adcli memory`` for one spec."""

    name: str
    file: str | None
    line: int | None
    backend: str
    dtypes: dict[str, str]
    dims: dict[str, int]
    residuals: ResidualSummary
    compiled: tuple[CompiledMemory, ...]
    policies: tuple[PolicyResult, ...] = ()
    layers: int | None = None
    carry: tuple[str, ...] = ()
    carry_bytes: int = 0
    block_flops: dict[str, float] = field(default_factory=dict)
    schedules: tuple[ScheduleResult, ...] = ()
    budget: int | None = None
    guard: Guard | None = None
    recommendation: Recommendation | None = None
    measurement: Measurement | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class MemoryReport:
    """``adcli memory`` over one or more specs; exit 1 when a spec's budget is exceeded."""

    results: tuple[MemoryResult, ...]
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if any(r.guard is not None and r.guard.exceeded for r in self.results) else 0


def memory_report_dict(report: MemoryReport) -> dict[str, Any]:
    """The memory report as JSON-ready data (docs/memory.md, "JSON")."""
    return _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "exit_code": report.exit_code,
            "seconds": report.seconds,
            "specs": [dataclasses.asdict(r) for r in report.results],
        }
    )
