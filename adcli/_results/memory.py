"""What ``adcli memory`` returns (no jax, no rich); rendered by adcli._report.memory_console.

Sizes are bytes; FLOPs are XLA cost-analysis estimates; docs/memory.md documents each field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adcli._results.common import SpecHeader

ScheduleKind = Literal["none", "policy", "sqrt", "revolve"]


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
    kind: ScheduleKind
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
class ReplicatedResidual:
    """A residual every device along some mesh axes holds whole, although one of its
    dimensions could be split over one of those axes (``could_split``), saving
    ``saving_bytes`` per device. ``shape`` is the whole shape; bytes are per device."""

    label: str
    shape: tuple[int, ...]
    dtype: str
    bytes_per_device: int
    replicated_over: tuple[str, ...]
    could_split: str
    saving_bytes: int


@dataclass(frozen=True)
class MeshMemory:
    """A sharded spec's mesh: every figure of its MemoryResult is per device."""

    axes: dict[str, int]
    axis_types: str
    devices: int
    platform: str
    replicated: tuple[ReplicatedResidual, ...] = ()


@dataclass(frozen=True)
class MemoryResult(SpecHeader):
    """``adcli memory`` for one spec (``dtypes``: every input, constant and the output →
    its dtypes, comma-joined)."""

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
    # A sharded spec (mesh:): the figures above are per device; absent from the JSON else.
    mesh: MeshMemory | None = None


@dataclass(frozen=True)
class MemoryReport:
    """``adcli memory`` over one or more specs; exit 1 when a spec's budget is exceeded."""

    results: tuple[MemoryResult, ...]
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if any(r.guard is not None and r.guard.exceeded for r in self.results) else 0
