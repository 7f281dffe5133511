"""What ``adcli choose-mode`` returns: candidates, the recommendation, sweeps (no jax, no rich)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from adcli._results.common import SCHEMA_VERSION, SpecHeader, common_dtype


class CandidateStatus(StrEnum):
    """What happened to a candidate; ``CandidateResult.detail`` says the rest."""

    OK = "ok"  # compiled (and timed, when it has samples)
    NOT_TIMED = "not timed"  # predicted far from the best
    SKIPPED = "skipped"  # over the memory budget, never run
    DISAGREES = "disagrees"  # its derivative differs from the others'
    ERROR = "error"  # JAX could not build or compile it

    @property
    def usable(self) -> bool:
        """Compiled within the budget and agreeing: it may be recommended."""
        return self in (CandidateStatus.OK, CandidateStatus.NOT_TIMED)


# The status as one line of text (the JSON ``status``), from the status and its detail.
_STATUS_TEXT = {
    CandidateStatus.NOT_TIMED: "not timed: {}",
    CandidateStatus.SKIPPED: "skipped: {}",
    CandidateStatus.DISAGREES: "disagrees with {}",
    CandidateStatus.ERROR: "error: {}",
}


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

    ``status`` is a CandidateStatus and ``detail`` what goes with it (``needs 95 GiB
    (budget 7.45 GiB)`` for ``skipped``); ``status_text`` joins them as the JSON ``status``
    (``skipped: needs 95 GiB …``, ``disagrees with reverse at …``). Times are seconds per
    call; ``spread`` is the interquartile range ÷ median; ``memory_bytes`` is the compiled
    argument + output + temporary size.
    """

    name: str
    passes: str
    status: CandidateStatus = CandidateStatus.OK
    predicted_flops: float | None = None
    count: int = 0
    compile_seconds: float | None = None
    memory_bytes: int | None = None
    first_call_seconds: float | None = None
    median_seconds: float | None = None
    spread: float | None = None
    samples: tuple[float, ...] = ()
    detail: str | None = None

    @property
    def timed(self) -> bool:
        return self.status is CandidateStatus.OK and bool(self.samples)

    @property
    def status_text(self) -> str:
        """``ok``, or the status and its detail: ``skipped: needs 95 GiB (budget 7.45 GiB)``."""
        if self.status is CandidateStatus.OK or self.detail is None:
            return self.status.value
        return _STATUS_TEXT[self.status].format(self.detail)


@dataclass(frozen=True)
class ModeMesh:
    """choose-mode on a sharded spec's mesh: the candidates ran as sharded programs.

    ``collectives`` counts the collective operations (all-reduce, all-gather,
    reduce-scatter, all-to-all, collective-permute) in each candidate's compiled program;
    ``one_device`` is the recommendation for the same spec on one device, and
    ``changes_answer`` whether the mesh's (collective) cost made the answer differ.
    """

    axes: dict[str, int]
    devices: int
    platform: str
    collectives: dict[str, int]
    one_device: str | None
    changes_answer: bool | None


@dataclass(frozen=True)
class ModeResult(SpecHeader):
    """``adcli choose-mode`` for one spec: the candidates, the recommendation and why.

    ``dtypes``: every differentiated input → the dtype the candidates compute in (one for
    all: they see the inputs as one flat vector; ``dtype`` names it). ``tied`` lists the
    candidates whose measured difference from the fastest was within the noise (the
    recommendation is then the one predicted cheapest among them). ``exit_code`` is 0 with
    a recommendation and no error, 1 when candidates disagree or none could run.
    """

    name: str
    file: str | None
    line: int | None
    target: str  # jacobian | hessian | hvp
    n: int
    m: int
    dims: dict[str, int]
    backend: str
    dtypes: dict[str, str]
    candidates: tuple[CandidateResult, ...]
    recommendation: str | None
    reason: str
    predicted: str | None = None
    tied: tuple[str, ...] = ()
    cut: CutInfo | None = None
    errors: tuple[str, ...] = ()
    memory_budget_bytes: int = 0
    measure: str = "close"  # close | all | none
    timing_method: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())
    mesh: ModeMesh | None = None  # a sharded spec (absent from the JSON otherwise)

    @property
    def dtype(self) -> str:
        """The dtype the candidates compute in (the JSON ``dtype``)."""
        return common_dtype(self.dtypes)

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
