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
        probes, exact = ", ".join(PROBE_CHOICES), ", ".join(EXACT_POLICIES)
        _require(self.eigs >= 0, f"--eigs: expected k ≥ 0, got {self.eigs}")
        _require(
            self.probes in PROBE_CHOICES, f"--probes: expected one of {probes}, got {self.probes!r}"
        )
        _require(
            self.hvps is None or self.hvps >= 2,
            f"--hvps: a trace interval needs at least 2 HVPs, got {self.hvps}",
        )
        _require(
            self.rtol is None or self.rtol > 0,
            f"--rtol: expected a positive number, got {self.rtol}",
        )
        _require(
            0 < self.confidence < 1,
            f"--confidence: expected a level in (0, 1) such as 0.95, got {self.confidence}",
        )
        _require(
            self.exact in EXACT_POLICIES, f"--exact: expected one of {exact}, got {self.exact!r}"
        )
        _require(
            self.check_directions >= 1,
            f"--check-directions: expected ≥ 1, got {self.check_directions}",
        )
        measures = ", ".join(MEASURES)
        _require(
            self.measure in MEASURES, f"--measure: expected one of {measures}, got {self.measure!r}"
        )
        _require(self.point >= 0, f"--point: expected ≥ 0, got {self.point}")
        # The CLI's click types already refuse these; the Python API must too.
        budget, steps = self.memory_budget, self.lanczos_steps
        _require(
            budget is None or budget > 0,
            f"--memory-budget: expected a positive size in bytes, got {budget}",
        )
        _require(steps is None or steps >= 1, f"--lanczos-steps: expected ≥ 1, got {steps}")
        _require(self.eig_tol > 0, f"--eig-tol: expected a positive number, got {self.eig_tol}")

    @property
    def trace_hvps(self) -> int:
        """HVPs per trace estimate: ``hvps``, else the default (a cap with ``rtol``)."""
        if self.hvps is not None:
            return self.hvps
        return DEFAULT_RTOL_HVPS if self.rtol else DEFAULT_HVPS


def _require(holds: bool, problem: str) -> None:
    if not holds:
        raise UsageError(problem)
