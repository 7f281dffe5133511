"""JAX's derivative rules under ``jax.test_util.check_grads`` and ``adcli.assert_grads``,
side by side, on adcli's own op database (``_ops.py``).

    python benchmarks/op_suite.py --quick              # order 1 at the seeded points
    python benchmarks/op_suite.py --family linalg      # one family, every order and point
    python benchmarks/op_suite.py                      # everything (long: run it in the background)
    python benchmarks/op_suite.py --list               # the ops and their families

Each case (op, dtype, point, order) runs the way JAX's own tests run: float32 cases with
x64 off and float64 ones with x64 on, under JAX's test settings (NumPy dtype promotion
``strict``, rank promotion ``raise``; ``--checks`` adds ``jax_enable_checks``), all as
thread-local contexts. ``check_grads`` gets the tolerances and step of JAX's test helper
(``jtu.check_grads``: 1e-2 with x64 off, 1e-6 with it on); ``assert_grads`` gets only
``(f, args, order, modes)``, as a library author swapping one for the other would.

Outcomes: check_grads passes, fails (AssertionError) or errors (anything else);
assert_grads passes, fails (it raises AssertionError: a failure or an inconclusive
check), is *not judged* (a point or value that is not finite: nothing compared, nothing
raised) or errors. After every adcli call the global JAX config is compared with the
one before (it must not change). Every disagreement is listed with adcli's reason, and,
for scalar elementwise ops, mpmath's derivative at 50 digits against the rule's (when
mpmath is importable; it is a benchmark-only extra), which decides who is right.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ops import FAMILIES, Op, _mp, all_ops

import adcli
from adcli._check.special import not_judged

DTYPES = ("float32", "float64")
COMPLEX = {"float32": "complex64", "float64": "complex128"}


@dataclass
class Row:
    """One case and both outcomes."""

    op: str
    family: str
    dtype: str
    point: str
    order: int
    check_grads: str = ""
    adcli: str = ""
    s_check_grads: float = 0.0
    s_adcli: float = 0.0
    detail_check_grads: str = ""
    detail_adcli: str = ""
    config_changed: bool = False
    evidence: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def jax_test_settings(x64: bool, checks: bool) -> Iterator[None]:
    """The thread-local settings of JAX's own test cases, and this case's x64 mode."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(jax.enable_x64(x64))
        stack.enter_context(jax.numpy_dtype_promotion("strict"))
        stack.enter_context(jax.numpy_rank_promotion("raise"))
        if checks:
            stack.enter_context(jax.enable_checks(True))
        yield


def _cast(op: Op, a: np.ndarray, dtype: str) -> np.ndarray:
    if not op.complex:
        return np.asarray(a, dtype)
    imag = (0.3 + 0.1 * np.arange(a.size)).reshape(a.shape)
    if a.ndim == 2 and "eigh" in op.name:  # Hermitian: an antisymmetric imaginary part
        imag = imag - imag.T
    return np.asarray(a + 1j * imag, COMPLEX[dtype])


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " | ".join(lines[:4])[:400]


def run_check_grads(op: Op, args: tuple[Any, ...], order: int, x64: bool) -> tuple[str, str]:
    tol = 1e-6 if x64 else 1e-2  # jax._src.test_util.check_grads' defaults
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_grads(op.fn, args, order, modes=op.modes, atol=tol, rtol=tol, eps=tol)
    except AssertionError as exc:
        return "fail", _first_line(str(exc))
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {_first_line(str(exc))}"
    return "pass", ""


def run_adcli(op: Op, args: tuple[Any, ...], order: int) -> tuple[str, str]:
    """assert_grads' outcome, from the result it judges (check_function with its policy)."""
    try:
        result = adcli.check_function(
            op.fn, *args, order=order, modes=op.modes, kinks="subgradient"
        )
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {_first_line(str(exc))}"
    if any(not_judged(c) for c in result.comparisons):
        reason = next(c.reason for c in result.comparisons if not_judged(c))
        return "not judged", reason or ""
    if result.verdict in ("fail", "inconclusive", "error"):
        from adcli._report.console import spec_text

        return "fail", _first_line(spec_text(result).split("\n", 1)[-1])
    return "pass", ""


def cases(
    ops: list[Op], quick: bool, max_order: int, dtypes: tuple[str, ...]
) -> Iterator[tuple[Op, str, str, tuple[np.ndarray, ...], int]]:
    index = {o.name: k for k, o in enumerate(all_ops())}  # seeds do not depend on filters
    for op in ops:
        for dtype in dtypes:
            seeded = seeded_point(op, dtype, index[op.name])
            for order in op.orders:
                if order <= (1 if quick else max_order):
                    yield op, dtype, "seeded", seeded, order
            if not quick:
                for name, point in op.special:
                    yield op, dtype, name, point, 1


def seeded_point(op: Op, dtype: str, k: int) -> tuple[np.ndarray, ...]:
    """The seeded point of the k-th op of the database, for one dtype."""
    return op.point(np.random.default_rng([k, DTYPES.index(dtype)]))


def run(ops: list[Op], args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    dtypes = tuple(args.dtype) if args.dtype else DTYPES
    for op, dtype, point_name, point, order in cases(ops, args.quick, args.max_order, dtypes):
        x64 = dtype == "float64"
        row = Row(op.name, op.family, COMPLEX[dtype] if op.complex else dtype, point_name, order)
        with jax_test_settings(x64, args.checks):
            values = tuple(_cast(op, a, dtype) for a in point)
            start = time.perf_counter()
            row.check_grads, row.detail_check_grads = run_check_grads(op, values, order, x64)
            row.s_check_grads = time.perf_counter() - start
            before = dict(jax.config.values)
            start = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                row.adcli, row.detail_adcli = run_adcli(op, values, order)
            row.s_adcli = time.perf_counter() - start
            row.config_changed = dict(jax.config.values) != before
            judged = row.adcli != "not judged"
            if (
                op.mp is not None
                and judged
                and (row.adcli != row.check_grads or row.adcli == "fail")
            ):
                row.evidence = mp_evidence(op, values, order)
        rows.append(row)
        if args.verbose:
            print(
                f"{row.op:34} {row.dtype:10} {row.point:10} o{row.order}  "
                f"check_grads {row.check_grads:5} {row.s_check_grads:6.2f}s  "
                f"adcli {row.adcli:10} {row.s_adcli:6.2f}s",
                flush=True,
            )
    return rows


def mp_evidence(op: Op, values: tuple[np.ndarray, ...], order: int) -> str:
    """The rule's derivative against mpmath's (50 digits), element by element, for each
    argument: the worst relative error, and whether it is beyond the dtype's rounding."""
    mp = _mp()
    if mp is None or op.mp is None:
        return ""
    mp.mp.dps = 50
    worst: tuple[float, str] = (-1.0, "")
    for j in range(len(values)):
        for i in range(values[0].size):
            xs = [float(np.ravel(v)[i]) for v in values]
            if not all(np.isfinite(xs)):
                continue

            def exact(t: Any, xs: list[float] = xs, j: int = j) -> Any:
                vals = [mp.mpf(v) for v in xs]
                vals[j] = t
                return op.mp(*vals)

            def scalar(t: Any, xs: list[float] = xs, j: int = j) -> Any:
                vals = [jnp.asarray(v, values[0].dtype) for v in xs]
                vals[j] = t
                return op.fn(*vals)

            try:
                ref = float(mp.diff(exact, mp.mpf(xs[j]), order))
                deriv = scalar
                for _ in range(order):
                    deriv = jax.grad(deriv)
                ad = float(deriv(jnp.asarray(xs[j], values[0].dtype)))
            except Exception:
                continue
            # A NaN or infinite AD value is as wrong as can be; at a zero the error is absolute.
            rel = abs(ad - ref) / (abs(ref) if ref != 0 else 1.0) if np.isfinite(ad) else np.inf
            if rel > worst[0]:
                worst = (
                    rel,
                    f"∂{'ᵏ' if order > 1 else ''}/∂arg{j} at {xs}: AD {ad:.8g}, mpmath {ref:.8g}",
                )
    if worst[0] < 0:
        return ""
    limit = 1e-3 if values[0].dtype in (np.float32, np.complex64) else 1e-9
    verdict = "RULE DEFECT: AD is off mpmath" if worst[0] > limit else "the rule matches mpmath"
    return f"{verdict} (worst rel. error {worst[0]:.2g}: {worst[1]})"


def table(rows: list[Row]) -> str:
    lines = []
    head = (
        f"{'family':12} {'cases':>5}  {'check_grads pass/fail/error':>28}  "
        f"{'adcli pass/fail/not judged/error':>33}  {'s check_grads':>13} {'s adcli':>8} "
        f"{'ratio':>6}"
    )
    lines += [head, "-" * len(head)]
    groups = [(f, [r for r in rows if r.family == f]) for f in FAMILIES] + [("all", rows)]
    for name, group in groups:
        if not group:
            continue
        c = Counter(r.check_grads for r in group)
        a = Counter(r.adcli for r in group)
        s_c = sum(r.s_check_grads for r in group)
        s_a = sum(r.s_adcli for r in group)
        lines.append(
            f"{name:12} {len(group):5}  {c['pass']:>12}/{c['fail']}/{c['error']:<12}"
            f"  {a['pass']:>13}/{a['fail']}/{a['not judged']}/{a['error']:<12}"
            f"  {s_c:13.1f} {s_a:8.1f} {s_a / max(s_c, 1e-9):5.2f}×"
        )
    return "\n".join(lines)


def disagreements(rows: list[Row]) -> str:
    """Every case where the tools disagree or adcli fails, with its evidence; the cases
    adcli did not judge (a non-finite point or value) are counted, not listed."""
    out = []
    skipped: Counter[tuple[str, str]] = Counter()
    for r in rows:
        if r.adcli == "not judged":
            why = (
                "a point that is not finite" if "point is not" in r.detail_adcli else "f not finite"
            )
            skipped[(why, r.check_grads)] += 1
            continue
        if r.check_grads == r.adcli and r.adcli not in ("fail", "error"):
            continue
        if r.evidence.startswith("the rule matches"):
            wrong = [
                t for t, v in (("adcli", r.adcli), ("check_grads", r.check_grads)) if v == "fail"
            ]
            r.evidence += f": a false alarm of {' and '.join(wrong)}" if wrong else ""
        out.append(
            f"- {r.op} [{r.dtype}, {r.point}, order {r.order}]: check_grads {r.check_grads}, "
            f"adcli {r.adcli}"
        )
        for label, text in (
            ("check_grads", r.detail_check_grads),
            ("adcli", r.detail_adcli),
            ("evidence", r.evidence),
        ):
            if text:
                out.append(f"    {label}: {text}")
    for (why, outcome), count in sorted(skipped.items()):
        out.append(f"- not judged by adcli at {why}: {count} cases (check_grads {outcome})")
    return "\n".join(out) if out else "(none)"


def evidence_from(path: str) -> list[Row]:
    """The rows of a --json file, with mpmath evidence recomputed for each disagreement."""
    with open(path) as fh:
        rows = [Row(**r) for r in json.load(fh)]
    ops = {o.name: (k, o) for k, o in enumerate(all_ops())}
    for row in rows:
        judged = row.check_grads != row.adcli or row.adcli == "fail"
        if (
            not judged
            or row.adcli == "not judged"
            or row.op not in ops
            or ops[row.op][1].mp is None
        ):
            continue
        k, op = ops[row.op]
        dtype = {"complex64": "float32", "complex128": "float64"}.get(row.dtype, row.dtype)
        named = dict(op.special)
        point = seeded_point(op, dtype, k) if row.point == "seeded" else named.get(row.point)
        if point is None:
            continue
        with jax_test_settings(dtype == "float64", False):
            values = tuple(_cast(op, a, dtype) for a in point)
            row.evidence = mp_evidence(op, values, row.order)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="order 1 at the seeded points only")
    parser.add_argument(
        "--family", action="append", choices=FAMILIES, help="only these families (repeatable)"
    )
    parser.add_argument(
        "--op", action="append", help="only ops whose name contains this (repeatable)"
    )
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="only these dtypes")
    parser.add_argument("--max-order", type=int, default=3, help="highest order (default 3)")
    parser.add_argument(
        "--checks", action="store_true", help="also jax_enable_checks, as JAX's tests"
    )
    parser.add_argument("--list", action="store_true", help="list the ops and exit")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per case as it runs")
    parser.add_argument("--json", metavar="PATH", help="also write every row as JSON")
    parser.add_argument(
        "--evidence",
        metavar="JSON",
        help="recompute the mpmath evidence of the disagreements in a --json file and exit",
    )
    args = parser.parse_args(argv)
    if args.evidence:
        print(disagreements(evidence_from(args.evidence)))
        return 0
    ops = [o for o in all_ops() if not args.family or o.family in args.family]
    if args.op:
        ops = [o for o in ops if any(s in o.name for s in args.op)]
    if args.list:
        for o in ops:
            print(
                f"{o.family:12} {o.name:36} orders {o.orders} special {[n for n, _ in o.special]}"
            )
        return 0
    print("adcli benchmarks: op_suite" + (" (--quick)" if args.quick else ""))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"python {platform.python_version()}"
    )
    print(
        f"jax {jax.__version__} (backend {jax.default_backend()}), numpy {np.__version__}, "
        f"mpmath {'yes' if _mp() is not None else 'not installed (no evidence column)'}"
    )
    print(f"ops: {len(ops)}; started {time.strftime('%Y-%m-%d %H:%M:%S')}\n", flush=True)
    start = time.perf_counter()
    rows = run(ops, args)
    print(table(rows))
    changed = sum(r.config_changed for r in rows)
    print(f"\nglobal JAX config changed by adcli: {changed} of {len(rows)} cases")
    print(f"wall time {time.perf_counter() - start:.0f} s\n\nDisagreements:\n{disagreements(rows)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in rows], fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
