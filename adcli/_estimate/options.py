"""The options of ``adcli estimate``, validated once: by ``EstimateOptions`` itself."""

from __future__ import annotations

from dataclasses import dataclass

from adcli._errors import UsageError
from adcli._estimate.cost import DEFAULT_MAX_SECONDS
from adcli._estimate.estimators import DIRECTIONS

# Bytes of rows evaluated at once (one vmapped chunk). Small on purpose: on a 2-core CPU,
# central differences at d = 10⁴ ran 0.22 s in chunks of 8 rows (0.6 MB) and 0.70–0.87 s
# in chunks of 128–512 (10–40 MB): a chunk that stays in cache wins.
DEFAULT_MEMORY_BUDGET = 8 * 2**20


@dataclass(frozen=True)
class EstimateOptions:
    """How the five gradients are computed and timed (``estimate_function``'s keywords).

    ``k`` None means d (the cost of central differences); ``seed`` seeds the zero-order
    directions. Raises UsageError on construction for a bad ``k``, ``directions`` or
    ``seeds``, named as the CLI option.
    """

    k: int | None = None
    directions: str = "sphere"
    seeds: int = 3
    seed: int = 0
    sequential: bool = False
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    time_budget: float = 1.0
    max_seconds: float = DEFAULT_MAX_SECONDS
    min_rounds: int = 5

    def __post_init__(self) -> None:
        k, seeds = self.k, self.seeds
        if k is not None and (not isinstance(k, int) or k < 1):
            raise UsageError(f"--k: expected a positive number of directions, got {k!r}")
        if self.directions not in DIRECTIONS:
            raise UsageError(
                f"--directions: expected one of {', '.join(DIRECTIONS)}, got {self.directions!r}"
            )
        if not isinstance(seeds, int) or seeds < 1:
            raise UsageError(f"--seeds: expected a positive number of seeds, got {seeds!r}")
