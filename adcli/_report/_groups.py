"""Shared by the CI reporters: a spec's comparisons grouped by check kind, and load errors."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from adcli._results.check import CheckKind, CheckReport, SpecResult
from adcli._results.common import Verdict, worst_verdict

_LOCATED = re.compile(r"^(?P<file>[^\n]*?):(?P<line>\d+): (?P<rest>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One spec × check kind (``kind`` "spec" for a spec that could not run at all)."""

    result: SpecResult
    kind: CheckKind | Literal["spec"]
    verdict: Verdict
    seconds: float

    @property
    def what(self) -> str:
        """The kind in words (``forward mode (JVP) vs FD``), or ``spec``."""
        return self.kind.text if isinstance(self.kind, CheckKind) else self.kind

    @property
    def only(self) -> SpecResult:
        """The spec's result restricted to this kind's comparisons (for its report text)."""
        if self.kind == "spec":
            return self.result
        keep = tuple(c for c in self.result.comparisons if c.kind == self.kind)
        return dataclasses.replace(self.result, comparisons=keep, verdict=self.verdict)


def cases(result: SpecResult) -> list[Case]:
    """One case per check kind in first-seen order; a spec error is one case of kind "spec".

    A spec's time is shared evenly between its cases (adcli times specs, not kinds).
    """
    kinds = list(dict.fromkeys(c.kind for c in result.comparisons))
    if result.error or not kinds:
        return [Case(result, "spec", result.verdict, result.seconds)]
    share = result.seconds / len(kinds)
    out = []
    for kind in kinds:
        verdict = worst_verdict(tuple(c.verdict for c in result.comparisons if c.kind == kind))
        out.append(Case(result, kind, verdict, share))
    return out


def all_cases(report: CheckReport) -> Iterator[Case]:
    for result in report.results:
        yield from cases(result)


def located(message: str) -> tuple[str | None, int | None, str]:
    """Split a ``FILE:LINE: problem`` error message (as load errors are) into its parts."""
    match = _LOCATED.match(message)
    if not match:
        file, sep, rest = message.partition(": ")
        return (file, None, rest) if sep and " " not in file else (None, None, message)
    return match["file"], int(match["line"]), match["rest"]
