"""What every result shares: the per-spec header, verdicts and their order, the schema
version.

Imports neither jax nor rich."""

from __future__ import annotations

from typing import ClassVar, Literal

Verdict = Literal["pass", "fail", "inconclusive", "skipped", "error"]


SCHEMA_VERSION = 1


class SpecHeader:
    """The fields every per-spec result has, spelled once (docs/json.md, ``specs[]``).

    Each result dataclass (SpecResult, ModeResult, MemoryResult, ExplainResult,
    EstimateResult, CurvatureResult) declares these as fields, in the place its JSON
    documents them (a base dataclass would move them to the front of every JSON object,
    whose key order is documented); mypy rejects a result that types one differently, and
    tests/results/test_header.py one that leaves one out.

    ``dtypes`` maps an input name to the dtype its derivatives are computed in (memory:
    every input's, constant's and the output's dtypes); ``backend`` is ``-`` for a spec that
    did not run; ``seconds`` is wall time (differs from run to run).
    """

    HEADER: ClassVar[tuple[str, ...]] = (
        "name",
        "file",
        "line",
        "dims",
        "backend",
        "dtypes",
        "notes",
        "seconds",
    )

    name: str
    file: str | None
    line: int | None
    dims: dict[str, int]
    backend: str
    dtypes: dict[str, str]
    notes: tuple[str, ...]
    seconds: float

    @property
    def where(self) -> str:
        """``file:line`` of the spec ('' for a spec or function made in Python)."""
        if not self.file:
            return ""
        return self.file if self.line is None else f"{self.file}:{self.line}"


def common_dtype(dtypes: dict[str, str]) -> str:
    """The one dtype of a result whose inputs share it (choose-mode, estimate, curvature
    flatten every input into one vector of one dtype); several joined by ', ' otherwise."""
    return ", ".join(sorted(set(dtypes.values())))


# Worst first: the verdict of a group is the worst verdict in it.
_SEVERITY = {"pass": 0, "skipped": 1, "inconclusive": 2, "fail": 3, "error": 4}


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """The most severe verdict of several (pass < skipped < inconclusive < fail < error)."""
    if not verdicts:
        return "pass"
    return max(verdicts, key=_SEVERITY.__getitem__)
