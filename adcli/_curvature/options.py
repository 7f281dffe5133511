"""The options of ``adcli curvature``, validated once: by ``CurvatureOptions`` itself."""

from __future__ import annotations

from dataclasses import dataclass

from adcli._curvature.hutchinson import PROBES
from adcli._errors import UsageError
from adcli._modes.engine import MEASURES

EXACT_POLICIES = ("auto", "always", "never")
PROBE_CHOICES = (*PROBES, "both")
DEFAULT_HVPS = 100  # per trace estimate, without --rtol
DEFAULT_RTOL_HVPS = 1000  # the cap with --rtol
DEFAULT_LANCZOS_STEPS = 300


@dataclass(frozen=True)
class CurvatureOptions:
    """What ``curvature`` estimates and how (the keywords of ``adcli.curvature``).

    Raises UsageError on construction for a value the CLI's option types would refuse,
    with the CLI option's name, so that the Python API refuses exactly what the CLI does.
    """

    trace: bool = False
    eigs: int = 0
    probes: str = "both"
    hvps: int | None = None
    rtol: float | None = None
    confidence: float = 0.95
    hutchpp: bool = True
    exact: str = "auto"
    memory_budget: int | None = None
    point: int = 0
    seed: int | None = None
    check_directions: int = 3
    hvp_strategy: str | None = None
    measure: str = "close"
    lanczos_steps: int | None = None
    eig_tol: float = 1e-8

    def __post_init__(self) -> None:
        self._validate_estimates()
        self._validate_run()

    def _validate_estimates(self) -> None:
        if self.eigs < 0:
            raise UsageError(f"--eigs: expected k ≥ 0, got {self.eigs}")
        if self.probes not in PROBE_CHOICES:
            choices = ", ".join(PROBE_CHOICES)
            raise UsageError(f"--probes: expected one of {choices}, got {self.probes!r}")
        if self.hvps is not None and self.hvps < 2:
            raise UsageError(f"--hvps: a trace interval needs at least 2 HVPs, got {self.hvps}")
        if self.rtol is not None and not self.rtol > 0:
            raise UsageError(f"--rtol: expected a positive number, got {self.rtol}")
        if not 0 < self.confidence < 1:
            raise UsageError(
                f"--confidence: expected a level in (0, 1) such as 0.95, got {self.confidence}"
            )
        if self.exact not in EXACT_POLICIES:
            choices = ", ".join(EXACT_POLICIES)
            raise UsageError(f"--exact: expected one of {choices}, got {self.exact!r}")

    def _validate_run(self) -> None:
        if self.check_directions < 1:
            raise UsageError(f"--check-directions: expected ≥ 1, got {self.check_directions}")
        if self.measure not in MEASURES:
            choices = ", ".join(MEASURES)
            raise UsageError(f"--measure: expected one of {choices}, got {self.measure!r}")
        if self.point < 0:
            raise UsageError(f"--point: expected ≥ 0, got {self.point}")
        # The CLI's click types already refuse these; the Python API must too.
        if self.memory_budget is not None and not self.memory_budget > 0:
            raise UsageError(
                f"--memory-budget: expected a positive size in bytes, got {self.memory_budget}"
            )
        if self.lanczos_steps is not None and self.lanczos_steps < 1:
            raise UsageError(f"--lanczos-steps: expected ≥ 1, got {self.lanczos_steps}")
        if not self.eig_tol > 0:
            raise UsageError(f"--eig-tol: expected a positive number, got {self.eig_tol}")

    @property
    def trace_hvps(self) -> int:
        """HVPs per trace estimate: ``hvps``, else the default (a cap with ``rtol``)."""
        if self.hvps is not None:
            return self.hvps
        return DEFAULT_RTOL_HVPS if self.rtol else DEFAULT_HVPS
