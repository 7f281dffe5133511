"""What ``adcli check`` adds for a sharded spec (docs/sharding.md): the mesh it ran on,
JAX's own rejection of a sharded derivative rule reported as that mode's failure, ``--parity``
and, with several processes, one verdict agreed by all of them.

The comparisons themselves need nothing here: the check's programs are the spec's
sharded programs (``adcli._problem.mesh``), so a wrong collective in a custom backward
shows up as reverse mode disagreeing with FD, like any wrong rule.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

from adcli._check.parity import parity_comparisons
from adcli._errors import first_line
from adcli._numerics.evaluate import Evaluator
from adcli._problem.build import Problem
from adcli._problem.processes import gather_ints, process_count
from adcli._results.check import CheckKind, Comparison, SpecResult
from adcli._results.common import Verdict

# JAX's check_vma type errors: a custom backward whose cotangents vary over other mesh
# axes than its inputs do, or a shard_map body whose output is not replicated as its
# out_specs say. Each is a wrong (or missing) collective, found by JAX before any number.
_REJECTED = re.compile(
    r"manual axis types do not match|out_specs which require replication|check_vma"
)
_SEVERITY: tuple[Verdict, ...] = ("pass", "skipped", "inconclusive", "fail", "error")


def finish_sharded(
    problem: Problem, evals: Evaluator, comparisons: list[Comparison], notes: list[str]
) -> tuple[list[Comparison], list[str]]:
    """A sharded spec's check, completed: the mesh note, JAX's rejections, ``--parity``."""
    plan = problem.mesh
    assert plan is not None
    comparisons = [_rejected(c) for c in comparisons]
    notes = [f"sharded: {plan.describe()}", *notes]
    if problem.spec.check.parity:
        try:
            for point in range(problem.spec.check.points):
                comparisons = [*comparisons, *parity_comparisons(problem, evals, point)]
        except Exception as exc:  # the function cannot run on one device: say why, go on
            why = f"--parity: the function cannot run on one device: {first_line(exc)}"
            notes.append(why)
            comparisons.append(
                Comparison(0, "-", CheckKind.PARITY_VALUE, "parity", "skipped", reason=why)
            )
    return comparisons, notes


def _rejected(comp: Comparison) -> Comparison:
    """A mode JAX refused to trace for a sharding type error is a failure of that mode,
    with JAX's reason (not a skip, not a traceback): the rule is wrong, JAX found how."""
    if comp.verdict != "skipped" or not comp.reason or not _REJECTED.search(comp.reason):
        return comp
    mode = "reverse" if comp.kind == "rev" else "forward"
    return dataclasses.replace(
        comp,
        verdict="fail",
        margin=math.inf,
        reason=f"JAX rejects {mode} mode of this sharded function: {comp.reason}",
        diagnosis=REJECTED_DIAGNOSIS,
    )


REJECTED_DIAGNOSIS = (
    "JAX's check_vma type check rejects it: a collective (psum) in a custom backward or a "
    "shard_map body is missing or over the wrong mesh axis"
)


def agree_across_processes(results: Sequence[SpecResult]) -> list[SpecResult]:
    """With several processes (``jax.distributed``): each spec's verdict becomes the worst
    any process reached, so that every process exits with the same code; a spec on which
    processes differed says so in a note. One process: ``results`` unchanged."""
    if process_count() <= 1:
        return list(results)
    codes = [_SEVERITY.index(r.verdict) for r in results]
    every = gather_ints(codes)  # (processes, specs)
    out = []
    for i, result in enumerate(results):
        seen = sorted({int(row[i]) for row in every})
        worst = _SEVERITY[seen[-1]]
        if len(seen) > 1:
            note = "processes disagreed: " + ", ".join(
                f"process {p}: {_SEVERITY[int(row[i])]}" for p, row in enumerate(every)
            )
            result = dataclasses.replace(result, verdict=worst, notes=(*result.notes, note))
        out.append(result)
    return out
