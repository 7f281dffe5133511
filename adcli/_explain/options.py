"""The options of ``adcli explain``, validated once: by ``ExplainOptions`` itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from adcli._errors import UsageError
from adcli._explain.point import SEEDS

DEFAULT_MAX_NODES = 40


@dataclass(frozen=True)
class ExplainOptions:
    """Where ``explain`` evaluates, how it seeds the sweeps and how much graph it shows
    (the keywords of ``adcli.explain``; see there). Raises UsageError on construction for
    a seed kind, point or node limit the CLI would refuse."""

    wrt: str | None = None
    direction: str = "first"
    cotangent: str = "first"
    at: Mapping[str, Any] | None = None
    point: int = 0
    seed: int | None = None
    all_nodes: bool = False
    max_nodes: int = DEFAULT_MAX_NODES
    output_name: str | None = None

    def __post_init__(self) -> None:
        for option, value in (("--direction", self.direction), ("--cotangent", self.cotangent)):
            if value not in SEEDS:
                raise UsageError(f"{option} {value}: expected one of {', '.join(SEEDS)}")
        point = self.point
        if isinstance(point, bool) or not isinstance(point, int | np.integer) or point < 0:
            raise UsageError(f"--point: expected a sample point ≥ 0, got {point!r}")
        if self.max_nodes < 1:
            raise UsageError("--max-nodes must be at least 1")
