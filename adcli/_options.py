"""Options objects from the keywords of the public function they stand for.

``adcli.curvature``, ``adcli.estimate_function`` and ``adcli.explain`` keep their documented
keyword signatures; each passes its ``locals()`` here to build its options dataclass, so
the keywords are the one list of its options (a test checks that the two agree).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def from_keywords(cls: type[T], keywords: Mapping[str, Any]) -> T:
    """``cls`` (a dataclass) from the entries of ``keywords`` named like its fields."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: keywords[name] for name in names})
