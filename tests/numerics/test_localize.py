"""Group testing (adcli._numerics.localize): halve the failing ranges until the faulty
coordinates are found, in O(log d) batched tests."""

from __future__ import annotations

import numpy as np

from adcli._numerics.localize import localize, range_masks


class Faults:
    """A tester whose restricted check fails (margin 3) when a range holds a faulty
    coordinate; ``together`` coordinates fail only when all of them are in the range."""

    def __init__(self, faulty: set[int], together: frozenset[int] = frozenset()) -> None:
        self.faulty, self.together, self.batches = faulty, together, 0

    def __call__(self, ranges: np.ndarray) -> np.ndarray:
        self.batches += 1
        margins = []
        for lo, hi in ranges.tolist():
            inside = set(range(lo, hi))
            bad = bool(self.faulty & inside) or bool(self.together and self.together <= inside)
            margins.append(3.0 if bad else 0.5)
        return np.array(margins)


def test_one_faulty_coordinate_in_a_thousand_in_ten_batches() -> None:
    test = Faults({613})
    assert localize(test, 1000) == [(613, 614)]
    assert test.batches == 10  # ⌈log₂ 1000⌉ halvings


def test_several_faulty_coordinates_up_to_max_found() -> None:
    assert localize(Faults({3, 40, 41}), 64) == [(3, 4), (40, 41), (41, 42)]
    found = localize(Faults({1, 20, 33, 50, 60}), 64, max_found=2)
    assert len(found) == 2 and all(hi - lo == 1 for lo, hi in found)


def test_errors_that_only_show_together_are_returned_as_their_range() -> None:
    """Coordinates 6 and 9 fail only together: [0, 16) fails, but its halves [0, 8) and
    [8, 16) both pass, so [0, 16) is the narrowest range that shows the error."""
    assert localize(Faults(set(), together=frozenset({6, 9})), 32) == [(0, 16)]


def test_range_masks() -> None:
    masks = range_masks(np.array([[0, 2], [3, 5]]), 5)
    assert masks.tolist() == [[1, 1, 0, 0, 0], [0, 0, 0, 1, 1]]
