"""The timing protocol (adcli._numerics.timing) on a simulated clock, where every call takes
a known time: first call apart, warm-up to 3 ms, interleaved rotating rounds, medians; and
the tie rule by hand."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from adcli._numerics.timing import (
    MAX_TIE,
    MIN_GAP,
    Timing,
    measure,
    noise_band,
    paired_ratio,
    ties_with,
)


class Machine:
    """A clock that only moves when a candidate runs; each candidate has a fixed cost."""

    def __init__(self) -> None:
        self.now = 0.0
        self.log: list[str] = []

    def clock(self) -> float:
        return self.now

    def candidate(self, name: str, seconds: float, first: float) -> Callable[[], str]:
        calls = 0

        def call() -> str:
            nonlocal calls
            calls += 1
            self.now += first if calls == 1 else seconds
            self.log.append(name)
            return f"output of {name}"

        return call


def test_measure_follows_the_protocol() -> None:
    """A costs 2⁻¹⁰ s (first call 2⁻⁶), B 2⁻⁹ s. Warm-up to ≥ 3 ms: 4 calls of A, 2 of B,
    so number = ⌈3 ms / cost⌉ = 4 and 2; a round costs 4·2⁻¹⁰ + 2·2⁻⁹ = 2⁻⁷ s, and a
    0.1 s budget buys ⌊0.1 / 2⁻⁷⌋ = 12 rounds."""
    m = Machine()
    calls = {"A": m.candidate("A", 2**-10, 2**-6), "B": m.candidate("B", 2**-9, 2**-9)}
    firsts: dict[str, object] = {}
    timings = measure(calls, budget_s=0.1, clock=m.clock, first_outputs=firsts)
    assert firsts == {"A": "output of A", "B": "output of B"}
    a, b = timings["A"], timings["B"]
    assert (a.first_call, a.number, len(a.samples)) == (2**-6, 4, 12)
    assert (b.first_call, b.number, len(b.samples)) == (2**-9, 2, 12)
    assert set(a.samples) == {2**-10} and set(b.samples) == {2**-9}
    assert (a.median, a.spread) == (2**-10, 0.0)
    rounds = m.log[1 + 4 + 1 + 2 :]  # after the first calls and the warm-ups
    assert rounds[:12] == ["A"] * 4 + ["B"] * 2 + ["B"] * 2 + ["A"] * 4  # the order rotates


def test_round_limits() -> None:
    m = Machine()
    slow = {"A": m.candidate("A", 1.0, 1.0)}  # one call is over the whole budget
    assert len(measure(slow, budget_s=0.01, clock=m.clock)["A"].samples) == 5  # min_rounds
    fast = {"A": m.candidate("A", 2**-10, 2**-10)}
    assert len(measure(fast, budget_s=100.0, clock=m.clock)["A"].samples) == 40  # max_rounds


def test_spread_is_the_interquartile_range_over_the_median() -> None:
    timing = Timing(samples=(1.0, 2.0, 3.0, 4.0), first_call=9.0, number=1)
    assert timing.median == 2.5
    assert timing.spread == pytest.approx((3.25 - 1.75) / 2.5)  # inclusive quartiles
    assert Timing((1.0,), 1.0, 1).spread == 0.0


def test_noise_band_by_hand() -> None:
    # No noise: the band is the floor MIN_GAP, and the ratio is exact.
    assert noise_band([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]) == (2.0, MIN_GAP)
    # Log-ratios 0, +0.1, −0.1: MAD 0.1, SE = 1.253·1.4826·0.1/√3, band e^(2·SE) ≈ 1.239.
    e = math.exp
    ratio, band = noise_band([1.0, e(0.1), e(-0.1)], [1.0, 1.0, 1.0])
    se = 1.253 * 1.4826 * 0.1 / math.sqrt(3)
    assert ratio == pytest.approx(1.0) and band == pytest.approx(math.exp(2 * se))
    assert band == pytest.approx(1.239, abs=1e-3)
    # Wide noise is capped at MAX_TIE; unpaired rounds use the ratio of medians.
    assert noise_band([1.0, 3.0, 1.0], [1.0, 1.0, 3.0])[1] == MAX_TIE
    assert noise_band([4.0, 6.0], [1.0, 2.0, 3.0]) == (2.5, MAX_TIE)
    assert paired_ratio([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]) == 2.0


def test_ties_with() -> None:
    best = [1.0] * 9
    tie, ratio, band = ties_with(best, [1.04] * 9)
    assert tie and ratio == pytest.approx(1.04) and band == MIN_GAP
    tie, ratio, band = ties_with(best, [1.06] * 9)
    assert not tie and ratio == pytest.approx(1.06) and band == MIN_GAP
