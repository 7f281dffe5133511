"""``check.repeat`` / ``--repeat N``: is the backward pass bitwise deterministic?

The kernel's VJP of one random cotangent runs N times at the same point; any bit that differs
from the first run (an unordered or atomic accumulation, a race) fails, with how many runs and
elements differ and by how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from adcli._numerics.compare import Labels, Subject
from adcli._numerics.function import At
from adcli._numerics.linear import Linear
from adcli._results.check import CheckKind, Comparison, Mismatch

WORST_SHOWN = 5


def repeat_vjp(
    point: int,
    kernel: Linear,
    at: At,
    cotangent: np.ndarray,
    runs: int,
    segments: Mapping[str, slice],
    labels: Mapping[str, Labels],
) -> list[Comparison]:
    """One ``repeat`` comparison per input: ``runs`` VJPs of ``cotangent`` (1, m), bitwise."""
    results = np.concatenate([kernel.vjps(at, cotangent) for _ in range(runs)])  # (runs, d)
    return [
        _compare(
            Subject(point, name, CheckKind.REPEAT, "directions"), results[:, seg], labels[name]
        )
        for name, seg in segments.items()
    ]


def _compare(about: Subject, runs: np.ndarray, labels: Labels) -> Comparison:
    runs = np.ascontiguousarray(runs)
    first = runs[:1]
    differs = runs.view(np.uint64) != first.view(np.uint64)  # bits, so -0.0 ≠ 0.0 and NaNs count
    if not differs.any():
        return Comparison(
            about.point, about.wrt, about.kind, about.method, "pass", compared=int(runs.size)
        )
    with np.errstate(invalid="ignore"):
        gap = np.where(differs, np.abs(runs - first), 0.0)
    gap = np.where(np.isnan(gap), np.inf, gap)
    spread = float(np.max(gap))
    scale = float(np.max(np.abs(first[np.isfinite(first)]), initial=0.0))
    bad_runs, bad_elements = int(differs.any(axis=1).sum()), int(differs.any(axis=0).sum())
    relative = f" ({spread / scale:.2g} of the largest entry)" if scale > 0 else ""
    reason = (
        f"{bad_runs} of {len(runs) - 1} later runs differ bitwise from the first, at "
        f"{bad_elements} of {runs.shape[1]} elements; spread up to {spread:.3g}{relative}: the "
        "backward is not deterministic"
    )
    return Comparison(
        about.point,
        about.wrt,
        about.kind,
        about.method,
        verdict="fail",
        margin=math.inf,
        compared=int(runs.size),
        failed=bad_elements,
        max_abs_error=spread,
        max_rel_error=spread / scale if scale > 0 else math.inf,
        worst=_worst(runs, gap, labels),
        reason=reason,
        diagnosis="nondeterministic: repeated runs of the backward differ bitwise (an "
        "unordered or atomic accumulation, a race?)",
    )


def _worst(runs: np.ndarray, gap: np.ndarray, labels: Labels) -> tuple[Mismatch, ...]:
    """The elements that moved most, each in the run where it moved most."""
    per_element = np.max(gap, axis=0)
    out = []
    for col in np.argsort(-per_element)[:WORST_SHOWN]:
        if per_element[col] <= 0 and not np.isnan(per_element[col]):
            break
        run = int(np.argmax(gap[:, col]))
        idx = (0, int(col))
        out.append(
            Mismatch(
                input_index=labels.input(idx),
                output_index=f"run {run + 1} of {len(runs)}",
                ad=float(runs[run, col]),
                reference=float(runs[0, col]),
                step=None,
                fd_error=None,
                tolerance=0.0,
                margin=math.inf,
            )
        )
    return tuple(out)
