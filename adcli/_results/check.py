"""What ``adcli check`` returns: compared elements, comparisons, a spec's result, the report.

Imports neither jax nor rich. ``to_dict`` gives the stable JSON form documented in
docs/json.md (``schema_version`` changes only with an incompatible change).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from adcli._results.common import SCHEMA_VERSION, Verdict, clean, worst_verdict


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
        return clean(data)
    if isinstance(obj, SpecResult):
        data = dataclasses.asdict(obj)
        data["margin"] = obj.margin
        return clean(data)
    return clean(dataclasses.asdict(obj))
