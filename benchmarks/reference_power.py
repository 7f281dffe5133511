"""Kernels against a reference: adcli beside the hand-tuned thresholds kernel repositories use.

    python benchmarks/reference_power.py            # 20 seeds per case (a few minutes)
    python benchmarks/reference_power.py --quick    # 4 seeds (under a minute, warm cache)

The cases are the bundled kernels: the correct ones in specs/kernels/ (every alarm is a false
alarm) and the planted bugs in examples/kernels/ (every alarm is a detection). At each seed
every checker sees the same inputs (the spec's sample point for that seed):

* adcli: ``adcli check`` of the spec at that seed, one point (values, JVPs and VJPs of random
  tangents and cotangents against the reference in float64, tolerance 2 × the plain
  implementation's own error + a rounding floor; FD too for float32 kernels; ``check.repeat``
  where the spec sets it);
* allclose(atol): what most kernel tests do: the value and ``grad(f(x).sum())`` of the kernel
  against the reference run on inputs upcast one precision (bfloat16 → float32 → float64),
  ``np.allclose(kernel, reference, atol=…)`` for atol 1e-2 and 5e-2;
* 2× rule: FlashAttention's test: max|kernel − upcast reference| ≤ 2 · max|plain − upcast
  reference| for the value and for the VJP of one random Gaussian cotangent, ``plain`` being
  the reference run in the kernel's own dtype.

Times are medians over the seeds after the first (which compiles), per check of one point.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _common import REPO, emit, fmt_s, header, parse_args, table, write_json

from adcli._check.engine import check_problem
from adcli._problem.build import Problem, build
from adcli._spec.load import load_file
from adcli._spec.model import Spec

UP = {"bfloat16": jnp.float32, "float16": jnp.float32, "float32": jnp.float64}
ATOLS = {"allclose 1e-2": 1e-2, "allclose 5e-2": 5e-2}
CHECKERS = ("adcli", *ATOLS, "2× rule")


@dataclass
class Row:
    """One case: its spec, whether it has a planted bug, and each checker's alarms and times."""

    name: str
    dtype: str
    buggy: bool
    alarms: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKERS, 0))
    seconds: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CHECKERS})
    seeds: int = 0


def _specs() -> list[tuple[Spec, bool]]:
    found = []
    for folder, buggy in (("specs/kernels", False), ("examples/kernels", True)):
        for path in sorted((Path(REPO) / folder).glob("*.yaml")):
            found += [(spec, buggy) for spec in load_file(path)]
    return found


def _upcast(tree: Any) -> Any:
    def leaf(a: Any) -> Any:
        up = UP.get(str(a.dtype))
        return a if up is None else a.astype(up)

    return jax.tree_util.tree_map(leaf, tree)


class Thresholds:
    """The value and VJP of the kernel, the plain reference and the upcast reference."""

    def __init__(self, problem: Problem) -> None:
        wrt = problem.spec.wrt

        def linear(fn: Callable[..., Any]) -> Callable[..., Any]:
            def run(inputs: Any, constants: Any, cotangent: Any) -> Any:
                def f(*w: Any) -> Any:
                    return fn(**{**inputs, **dict(zip(wrt, w, strict=True))}, **constants)

                out, pull = jax.vjp(f, *[inputs[n] for n in wrt])
                return out, pull(cotangent.astype(out.dtype))

            return jax.jit(run)

        assert problem.reference is not None
        self.kernel, self.reference = linear(problem.fn), linear(problem.reference)
        self.shape = tuple(problem.output_struct.shape)

    def allclose(self, inputs: Any, constants: Any, atol: float) -> bool:
        """True: an alarm (value or grad of the sum not allclose)."""
        ones = jnp.ones(self.shape)
        kernel = _leaves(self.kernel(inputs, constants, ones))
        ref = _leaves(self.reference(_upcast(inputs), _upcast(constants), ones))
        return not all(np.allclose(k, r, atol=atol) for k, r in zip(kernel, ref, strict=True))

    def twice(self, inputs: Any, constants: Any, seed: int) -> bool:
        """True: an alarm (the kernel's error above twice the plain implementation's)."""
        rng = np.random.default_rng([seed, 2])
        cot = jnp.asarray(rng.standard_normal(self.shape))
        kernel = _leaves(self.kernel(inputs, constants, cot))
        plain = _leaves(self.reference(inputs, constants, cot))
        truth = _leaves(self.reference(_upcast(inputs), _upcast(constants), cot))
        for k, p, t in zip(kernel, plain, truth, strict=True):
            if not np.max(np.abs(k - t), initial=0.0) <= 2 * np.max(np.abs(p - t), initial=0.0):
                return True
        return False


def _leaves(tree: Any) -> list[np.ndarray]:
    return [np.asarray(jnp.asarray(a, jnp.float64)) for a in jax.tree_util.tree_leaves(tree)]


def _timed(row: Row, checker: str, alarm: Callable[..., bool], *args: Any) -> None:
    start = time.perf_counter()
    row.alarms[checker] += bool(alarm(*args))
    row.seconds[checker].append(time.perf_counter() - start)


def _adcli_alarm(problem: Problem) -> bool:
    return check_problem(problem).verdict in ("fail", "inconclusive")


def run_case(spec: Spec, buggy: bool, seeds: int) -> Row:
    spec = spec.replace(check=dataclasses.replace(spec.check, points=1))
    problem = build(spec)
    dtype = ", ".join(
        sorted({str(s.dtype) for s in jax.tree_util.tree_leaves(problem.input_structs)})
    )
    row = Row(spec.name, dtype, buggy, seeds=seeds)
    thresholds = Thresholds(problem)
    for seed in range(seeds):
        problem.spec = spec.replace(check=dataclasses.replace(spec.check, seed=seed))
        inputs, constants = problem.sample_inputs(0), problem.sample_constants()
        _timed(row, "adcli", _adcli_alarm, problem)
        for name, atol in ATOLS.items():
            _timed(row, name, thresholds.allclose, inputs, constants, atol)
        _timed(row, "2× rule", thresholds.twice, inputs, constants, seed)
    return row


def _cell(row: Row, checker: str) -> str:
    hits = row.alarms[checker]
    wrong = hits < row.seeds if row.buggy else hits > 0
    return f"{hits}/{row.seeds}" + (" ✗" if wrong else "")


def _median(row: Row, checker: str) -> float | None:
    warm = row.seconds[checker][1:]
    return statistics.median(warm) if warm else None


def _totals(rows: list[Row]) -> list[tuple[str, ...]]:
    """False alarms over the correct kernels' checks, detections over the bugs' checks."""
    out = []
    for label, buggy in (("false alarms (correct kernels)", False), ("detections (bugs)", True)):
        group = [r for r in rows if r.buggy == buggy]
        total = sum(r.seeds for r in group)
        out.append((label, *(f"{sum(r.alarms[c] for r in group)}/{total}" for c in CHECKERS)))
    return out


def main() -> None:
    args = parse_args(__doc__, default_repeats=0)
    seeds = 4 if args.quick else args.seeds
    emit(
        header("reference_power: kernels against a reference, adcli beside kernel-test thresholds")
    )
    rows = []
    for spec, buggy in _specs():
        rows.append(run_case(spec, buggy, seeds))
        emit(f"  {spec.name}: done")
    columns = ("case", "dtype", "bug?", *CHECKERS)
    body = [
        (r.name, r.dtype, "bug" if r.buggy else "correct", *(_cell(r, c) for c in CHECKERS))
        for r in rows
    ]
    notes = [
        f"alarms over {seeds} seeds: on a correct kernel a false alarm, on a bug a detection; "
        "✗ marks a wrong outcome (a false alarm, or a bug missed at some seed)",
    ]
    emit()
    emit(table("Alarms per case", columns, body, notes, left=3))
    timing = [
        (r.name, fmt_s(r.seconds["adcli"][0]), *(fmt_s(_median(r, c)) for c in CHECKERS))
        for r in rows
    ]
    emit()
    notes = ["first: adcli's first check of the case, compiling its programs (cache empty)"]
    emit(table("Seconds per check", ("case", "adcli first", *CHECKERS), timing, notes))
    emit()
    emit(table("Totals", ("", *CHECKERS), _totals(rows)))
    write_json(args.json, {"rows": [dataclasses.asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
