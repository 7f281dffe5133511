"""The timing protocol of choose-mode: warm-up, interleaved rounds, medians, and the tie rule.

Method (stated in every report): each candidate is called once and that first call is
discarded (it pays for transfers and lazy initialisation, 1–12× a steady call), then
called repeatedly for at least 3 ms as a warm-up that also sets ``number``. Each round
then times every candidate in turn (the order rotates every round, so a slow moment of a
shared machine hits all candidates alike), ``number`` calls per measurement with
``block_until_ready`` on each result; a measurement is the mean call time of those
``number`` calls. The summary of a candidate is the median over rounds and its spread
(interquartile range ÷ median).

Two candidates *tie* when their difference is within the noise: the ratio of the paired,
per-round times has a median that is less than ``max(MIN_GAP, exp(2·SE))`` from 1, where SE
is the standard error of the median log-ratio (1.253·1.4826·MAD/√rounds). The pairing is
what interleaving buys: both candidates of a round saw the same machine.

This module imports jax lazily (only ``block_until_ready`` through the callables).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

MIN_GAP = 1.05  # below a 5% difference, never call a winner
MAX_TIE = 1.30  # the noise band is capped: at a 30% difference there is always a winner
MIN_MEASUREMENT_S = 3e-3  # measurements of ≥ 3 ms keep timer resolution and jitter out


@dataclass(frozen=True)
class Timing:
    """Per-call seconds of one candidate: one entry per round (``samples``)."""

    samples: tuple[float, ...]
    first_call: float
    number: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range ÷ median (0 with fewer than 2 rounds)."""
        if len(self.samples) < 2:
            return 0.0
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (q[2] - q[0]) / self.median if self.median > 0 else 0.0


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """``action()`` and the seconds it took: for one-off steps such as a compilation, which
    are reported apart from the steady run times ``measure`` gives."""
    start = time.perf_counter()
    out = action()
    return out, time.perf_counter() - start


def measure(
    calls: Mapping[str, Callable[[], object]],
    *,
    budget_s: float = 1.0,
    min_rounds: int = 5,
    max_rounds: int = 40,
    clock: Callable[[], float] = time.perf_counter,
    first_outputs: dict[str, object] | None = None,
) -> dict[str, Timing]:
    """Time zero-argument callables by the protocol above; return a Timing per name.

    ``budget_s`` bounds the rounds (never fewer than ``min_rounds``, so a slow candidate
    still gets a median). ``first_outputs``, when given, receives each first call's result
    (choose-mode compares the candidates on them, so checking agreement costs no extra run).
    """
    names = list(calls)
    first: dict[str, float] = {}
    for name in names:
        start = clock()
        out = _block(calls[name]())
        first[name] = clock() - start
        if first_outputs is not None:
            first_outputs[name] = out
        del out
    steady: dict[str, float] = {}
    for name in names:  # warm-up: calls until MIN_MEASUREMENT_S, the estimate of one call
        count, start = 0, clock()
        while True:
            _block(calls[name]())
            count += 1
            elapsed = clock() - start
            if elapsed >= MIN_MEASUREMENT_S or count >= 1000:
                break
        steady[name] = max(elapsed / count, 1e-9)
    number = {n: max(1, math.ceil(MIN_MEASUREMENT_S / steady[n])) for n in names}
    per_round = sum(number[n] * steady[n] for n in names)
    rounds = max(min_rounds, min(max_rounds, int(budget_s / per_round) if per_round else 0))
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            call, k = calls[name], number[name]
            start = clock()
            for _ in range(k):
                _block(call())
            samples[name].append((clock() - start) / k)
    return {n: Timing(tuple(samples[n]), first[n], number[n]) for n in names}


def _block(out: object) -> object:
    import jax

    return jax.block_until_ready(out)


def noise_band(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(median of the paired ratios a/b, the ratio band within which a and b tie).

    Rounds are paired (same index = same round); unpaired data fall back to the ratio of
    medians and the widest band.
    """
    if len(a) != len(b) or len(a) < 3:
        ratio = statistics.median(a) / statistics.median(b)
        return ratio, MAX_TIE
    logs = [math.log(x / y) for x, y in zip(a, b, strict=True)]
    centre = statistics.median(logs)
    mad = statistics.median(abs(v - centre) for v in logs)
    se = 1.253 * 1.4826 * mad / math.sqrt(len(logs))
    band = min(MAX_TIE, max(MIN_GAP, math.exp(2 * se)))
    return math.exp(centre), band


def ties_with(best: Sequence[float], other: Sequence[float]) -> tuple[bool, float, float]:
    """Whether ``other`` ties with ``best``: (tie, other/best ratio, the noise band)."""
    ratio, band = noise_band(other, best)
    return ratio < band, ratio, band


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of the per-round ratios a/b (ratio of medians when the rounds do not pair)."""
    return noise_band(a, b)[0]
