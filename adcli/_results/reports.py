"""The six reports, the results they hold, and the report a lone result belongs to.

Every reporter and the JSON module take a report; ``as_report`` wraps a result returned by
a per-spec function (``check_function``, ``choose_mode``, ``analyse_memory``, ``explain``,
``estimate``, ``curvature``) into the report of one spec, so that each renders it too.
Imports neither jax nor rich.
"""

from __future__ import annotations

from typing import overload

from adcli._results.check import CheckReport, SpecResult
from adcli._results.curvature import CurvatureReport, CurvatureResult
from adcli._results.estimate import EstimateReport, EstimateResult, EstimateSweep
from adcli._results.explain import ExplainReport, ExplainResult
from adcli._results.memory import MemoryReport, MemoryResult
from adcli._results.modes import ModeReport, ModeResult, SweepResult

Report = CheckReport | ModeReport | MemoryReport | ExplainReport | EstimateReport | CurvatureReport
Result = (
    SpecResult
    | ModeResult
    | SweepResult
    | MemoryResult
    | ExplainResult
    | EstimateResult
    | EstimateSweep
    | CurvatureResult
)
REPORTS: tuple[type[Report], ...] = (
    CheckReport,
    ModeReport,
    MemoryReport,
    ExplainReport,
    EstimateReport,
    CurvatureReport,
)


@overload
def as_report(obj: CheckReport | SpecResult) -> CheckReport: ...
@overload
def as_report(obj: ModeReport | ModeResult | SweepResult) -> ModeReport: ...
@overload
def as_report(obj: MemoryReport | MemoryResult) -> MemoryReport: ...
@overload
def as_report(obj: ExplainReport | ExplainResult) -> ExplainReport: ...
@overload
def as_report(obj: EstimateReport | EstimateResult | EstimateSweep) -> EstimateReport: ...
@overload
def as_report(obj: CurvatureReport | CurvatureResult) -> CurvatureReport: ...
@overload
def as_report(obj: Report | Result) -> Report: ...
def as_report(obj: Report | Result) -> Report:
    """``obj`` itself if it is a report, else the report of that one result."""
    match obj:
        case SpecResult():
            return CheckReport(results=(obj,), seconds=obj.seconds)
        case ModeResult():
            return ModeReport(results=(obj,), seconds=obj.seconds, exit_code=obj.exit_code)
        case SweepResult():
            code = max((r.exit_code for r in obj.results), default=0)
            seconds = sum(r.seconds for r in obj.results)
            return ModeReport(sweeps=(obj,), seconds=seconds, exit_code=code)
        case MemoryResult():
            return MemoryReport(results=(obj,), seconds=obj.seconds)
        case ExplainResult():
            return ExplainReport(results=(obj,), seconds=obj.seconds)
        case EstimateResult():
            return EstimateReport(results=(obj,), seconds=obj.seconds)
        case EstimateSweep():
            return EstimateReport(sweeps=(obj,), seconds=sum(r.seconds for r in obj.results))
        case CurvatureResult():
            return CurvatureReport(results=(obj,), seconds=obj.seconds)
    if isinstance(obj, REPORTS):
        return obj
    raise TypeError(f"not an adcli result or report: {type(obj).__name__}")
