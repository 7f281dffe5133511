"""The recommendation rule of choose-mode and its one-line reason. Pure: data in, words out.

Rule:
1. Only candidates that compiled, fit the memory budget and agree with the others count.
2. The *prediction* is the one with the fewest predicted FLOPs (the pass count when FLOPs
   are unknown); ties broken by memory, then by the order reverse, forward, mixed,
   rev-over-rev, fwd-over-rev, rev-over-fwd, fwd-over-fwd.
3. If candidates were timed, the fastest median wins — unless others are within the noise
   band of it (``adcli._timing.ties_with``): then it is a tie, reported as such, and the
   prediction among the tied candidates is recommended (FLOPs and memory do not jitter).
4. Nothing timed: the prediction is the recommendation.
"""

from __future__ import annotations

from collections.abc import Sequence

from adcli._results import CandidateResult, CutInfo
from adcli._timing import ties_with

ORDER = (
    "reverse",
    "forward",
    "mixed",
    "rev-over-rev",
    "fwd-over-rev",
    "rev-over-fwd",
    "fwd-over-fwd",
)


def decide(
    results: Sequence[CandidateResult],
    *,
    target: str,
    n: int,
    m: int,
    cut: CutInfo | None = None,
) -> tuple[str | None, str, tuple[str, ...], str | None]:
    """(recommendation, reason, tied names, predicted name) for the candidates' results."""
    usable = [r for r in results if r.status == "ok"]
    if not usable:
        why = "; ".join(f"{r.name}: {r.status}" for r in results)
        return None, f"no candidate could run ({why})", (), None
    predicted = min(usable, key=_predicted_key)
    timed = [r for r in usable if r.samples]
    if not timed:
        return (
            predicted.name,
            f"{_why(predicted, target, n, m, cut)}; predicted, not measured",
            (),
            predicted.name,
        )
    fastest = min(timed, key=lambda r: r.median_seconds or float("inf"))
    tied = [r for r in timed if r is fastest or ties_with(fastest.samples, r.samples)[0]]
    if len(tied) == 1:
        others = sorted((r for r in timed if r is not fastest), key=_median)
        reason = _why(fastest, target, n, m, cut)
        if others:
            ratio = _median(others[0]) / _median(fastest)
            reason += f"; measured {ratio:.3g}× faster than {others[0].name}"
        else:
            reason += "; the only candidate measured"
        return fastest.name, reason, (), predicted.name
    choice = min(tied, key=_predicted_key)
    rest = [r for r in tied if r is not choice]
    spans = ", ".join(
        f"{r.name} {ties_with(choice.samples, r.samples)[1]:.2f}×"
        + f" (noise ±{(ties_with(choice.samples, r.samples)[2] - 1) * 100:.0f}%)"
        for r in rest
    )
    reason = (
        f"{_why(choice, target, n, m, cut)}; measured a tie with {spans}: "
        f"chose the one predicted cheaper"
    )
    return choice.name, reason, tuple(r.name for r in tied), predicted.name


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
            return f"{r.name}: {n} inputs {_cmp(n, m)} {m} outputs, {counts}"
        if r.name == "mixed" and cut is not None:
            where = f" from {cut.source}" if cut.source else ""
            shape = "×".join(str(d) for d in cut.shape) or "scalar"
            return (
                f"mixed: every path passes through a {cut.size}-entry intermediate "
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
