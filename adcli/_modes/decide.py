"""The recommendation rule of choose-mode and its one-line reason. Pure: data in, words out.

Rule:
1. Only candidates that compiled, fit the memory budget and agree with the others count.
2. The *prediction* is the one with the fewest predicted FLOPs (the pass count when FLOPs
   are unknown; within 5% counts as equal); ties broken by memory, then by the order
   reverse, forward, mixed, rev-over-rev, fwd-over-rev, rev-over-fwd, fwd-over-fwd.
3. If candidates were timed, the fastest wins (by the median of the per-round paired
   ratios, robust to a load that changes during timing) — unless others are within the
   noise band of it (``adcli._numerics.timing.ties_with``): then it is a tie, reported as such, and
   the prediction among the tied candidates is recommended (FLOPs and memory do not
   jitter). Candidates not timed (predicted far off) do not compete.
4. Nothing timed: the prediction is the recommendation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from adcli._numerics.timing import paired_ratio, ties_with
from adcli._results.modes import CandidateResult, CandidateStatus, CutInfo

ORDER = (
    "reverse",
    "forward",
    "mixed",
    "rev-over-rev",
    "fwd-over-rev",
    "rev-over-fwd",
    "fwd-over-fwd",
)


@dataclass(frozen=True)
class Decision:
    """The recommendation (None when no candidate could run) and its one-line reason;
    ``tied``: the candidates measured within the noise of each other; ``predicted``: the
    one the prediction alone picks."""

    recommendation: str | None
    reason: str
    tied: tuple[str, ...] = ()
    predicted: str | None = None


def decide(
    results: Sequence[CandidateResult],
    *,
    target: str,
    n: int,
    m: int,
    cut: CutInfo | None = None,
) -> Decision:
    """The recommendation for the candidates' results, by the rule of the module docstring."""
    decision = _choose(results, target, n, m, cut)
    failed = [r for r in results if r.status is CandidateStatus.ERROR]
    if decision.recommendation is not None and failed:
        # The counting argument alone may favour a mode that could not run: say so.
        cannot = "; ".join(f"{r.name} cannot run ({r.detail})" for r in failed)
        return replace(decision, reason=f"{decision.reason}; {cannot}")
    return decision


def _choose(
    results: Sequence[CandidateResult], target: str, n: int, m: int, cut: CutInfo | None
) -> Decision:
    """The rule of the module docstring; ``decide`` adds the candidates that failed."""
    usable = [r for r in results if r.status.usable]
    if not usable:
        why = "; ".join(f"{r.name}: {r.status_text}" for r in results)
        return Decision(None, f"no candidate could run ({why})")
    predicted = _prefer(usable)
    timed = [r for r in usable if r.samples]
    if not timed:
        reason = f"{_why(predicted, target, n, m, cut)}; predicted, not measured"
        return Decision(predicted.name, reason, (), predicted.name)
    # The fastest by paired rounds against the fastest median: robust to a machine whose
    # load changes during the measurement (both candidates of a round saw the same load).
    anchor = min(timed, key=_median)
    fastest = min(
        timed, key=lambda r: 1.0 if r is anchor else paired_ratio(r.samples, anchor.samples)
    )
    tied = [r for r in timed if r is fastest or ties_with(fastest.samples, r.samples)[0]]
    if len(tied) == 1:
        others = sorted(
            (r for r in timed if r is not fastest),
            key=lambda r: paired_ratio(r.samples, fastest.samples),
        )
        reason = _why(fastest, target, n, m, cut)
        if others:
            ratio = paired_ratio(others[0].samples, fastest.samples)
            reason += f"; measured {ratio:.3g}× faster than {others[0].name}"
        else:
            untimed = sorted((r for r in usable if r is not fastest), key=_predicted_key)
            if untimed and fastest.predicted_flops and untimed[0].predicted_flops:
                ratio = untimed[0].predicted_flops / fastest.predicted_flops
                reason += f"; predicted {ratio:.3g}× fewer FLOPs than {untimed[0].name}"
            else:
                reason += "; the only candidate measured"
        return Decision(fastest.name, reason, (), predicted.name)
    choice = _prefer(tied)
    spans = []
    for r in tied:
        if r is not choice:
            _, ratio, band = ties_with(choice.samples, r.samples)
            spans.append(
                f"{r.name} (times differ {max(ratio, 1 / ratio):.2f}×, noise band {band:.2f}×)"
            )
    reason = (
        f"{_why(choice, target, n, m, cut)}; measured a tie with {', '.join(spans)}: "
        f"chose by predicted FLOPs, then memory"
    )
    return Decision(choice.name, reason, tuple(r.name for r in tied), predicted.name)


def _prefer(tied: Sequence[CandidateResult]) -> CandidateResult:
    """Among tied candidates: fewest predicted FLOPs (within 5% counts as equal), then the
    least memory, then the fixed ORDER."""
    best = min(_predicted_key(r)[0] for r in tied)
    cheap = [r for r in tied if _predicted_key(r)[0] <= 1.05 * best]
    return min(cheap, key=lambda r: _predicted_key(r)[1:])


def _median(r: CandidateResult) -> float:
    return r.median_seconds or float("inf")


def _predicted_key(r: CandidateResult) -> tuple[float, float, int]:
    cost = r.predicted_flops if r.predicted_flops else float(max(r.count, 1))
    memory = float(r.memory_bytes) if r.memory_bytes is not None else float("inf")
    rank = ORDER.index(r.name) if r.name in ORDER else len(ORDER)
    return cost, memory, rank


def _n(count: int, what: str) -> str:
    return f"{count} {what}" + ("" if count == 1 else "s")


def _cmp(a: int, b: int) -> str:
    return "<" if a < b else ">" if a > b else "="


def _why(r: CandidateResult, target: str, n: int, m: int, cut: CutInfo | None) -> str:
    """The counting argument for one candidate, e.g. '100 inputs < 1000 outputs, …'."""
    if target == "jacobian":
        counts = f"{_n(n, 'JVP')} vs {_n(m, 'VJP')}"
        if r.name in ("forward", "reverse"):
            return f"{r.name}: {_n(n, 'input')} {_cmp(n, m)} {_n(m, 'output')}, {counts}"
        if r.name == "mixed" and cut is not None:
            where = f" from {cut.source}" if cut.source else ""
            shape = "×".join(str(d) for d in cut.shape) or "scalar"
            return (
                f"mixed: every path passes through one intermediate of {cut.size} entries "
                f"({cut.dtype}[{shape}]{where}): {_n(cut.size, 'VJP')} + {_n(cut.size, 'JVP')} "
                f"instead of {_n(n, 'JVP')} (forward) or {_n(m, 'VJP')} (reverse)"
            )
    if target == "hessian":
        if r.name.endswith("over-rev"):
            return f"{r.name}: inner reverse gives the gradient in 1 VJP, then {n} passes over it"
        return f"{r.name}: inner forward needs {n} JVPs per gradient, {n}×{n} passes in all"
    if target == "hvp":
        return f"{r.name}: {r.passes}"
    return f"{r.name}: {r.passes}"
