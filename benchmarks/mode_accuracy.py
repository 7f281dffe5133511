"""How often is ``adcli choose-mode``'s recommendation the measured fastest? How bad a miss?

For each grid point the recommendation is made as a user gets it (``choose_mode`` with its
defaults: predict, compile, time the close candidates), then the *ground truth* is measured
independently: every candidate compiled again and timed in up to three independent
sessions (interleaved rounds; per session the paired-round ratio to the fastest; the
median over sessions), since single timings of ~100 µs calls vary 2–4× on a loaded 2-core
machine. Candidates predicted ≥ FAR× the best FLOPs are not run in the ground truth
(counted as slower; the count of such is printed) — a 10⁴-output reverse Jacobian would
take minutes and the prediction of a 30× gap is never wrong by that much.

Grid: f = Ax, tanh(Ax), a 3-layer tanh MLP (hidden 128); n ∈ {30, 100, 300},
m/n ∈ {0.01 … 100}; bottleneck maps; Hessians of a logistic loss up to n = 2000.

Scores: accuracy on the points whose measured gap (2nd best ÷ best) exceeds 20%, the worst
slowdown (time of the recommendation ÷ time of the fastest), and the time to recommend.

Usage: python benchmarks/mode_accuracy.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAR = 30.0
SESSIONS = 3
RATIOS = (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100)


def spec_text(family: str, n: int, m: int, k: int = 0) -> str:
    exprs = {
        "linear": ("A @ x", "A: {shape: [m, n], init: {normal: [0, 0.1]}, seed: 1}"),
        "tanh": ("tanh(A @ x)", "A: {shape: [m, n], init: {normal: [0, 0.1]}, seed: 1}"),
        "mlp": (
            "W3 @ tanh(W2 @ tanh(W1 @ x))",
            "W1: {shape: [h, n], init: {normal: [0, 0.1]}, seed: 1}\n"
            "  W2: {shape: [h, h], init: {normal: [0, 0.1]}, seed: 2}\n"
            "  W3: {shape: [m, h], init: {normal: [0, 0.1]}, seed: 3}",
        ),
        "bottleneck": (
            "D2 @ tanh(D1 @ tanh(E @ x))",
            "E: {shape: [k, n], init: {normal: [0, 0.05]}, seed: 1}\n"
            "  D1: {shape: [h, k], init: {normal: [0, 0.3]}, seed: 2}\n"
            "  D2: {shape: [m, h], init: {normal: [0, 0.05]}, seed: 3}",
        ),
        "loss": (
            "mean(log1p(exp(-(X @ x)))) + 0.005 * sum(x ** 2)",
            "X: {shape: [N, n], init: normal, seed: 1}",
        ),
    }
    expr, constants = exprs[family]
    dims = {"n": n, "m": m, "h": 128 if family == "mlp" else max(k * 8, 64), "k": max(k, 1)}
    dims["N"] = 200
    return (
        f"name: {family}_n{n}_m{m}\nfunction: {{expr: '{expr}'}}\n"
        f"inputs: {{x: {{shape: [n], init: normal}}}}\nconstants:\n  {constants}\n"
        f"dims: {json.dumps(dims)}\n"
    )


def grid(quick: bool) -> list[tuple[str, int, int, int, str]]:
    points = []
    ns = (30, 100) if quick else (30, 100, 300)
    ratios = (0.01, 0.1, 1, 10, 100) if quick else RATIOS
    for family in ("linear", "tanh", "mlp"):
        for n in ns:
            for m in sorted({max(1, round(n * r)) for r in ratios}):  # m = 1 only once
                points.append((family, n, m, 0, "jacobian"))
    for n, m, k in ((300, 300, 4), (1000, 1000, 8), (1000, 200, 8), (200, 1000, 16)):
        if not quick or n <= 300:
            points.append(("bottleneck", n, m, k, "jacobian"))
    for n in (30, 300) if quick else (30, 100, 300, 1000, 2000):
        points.append(("loss", n, 1, 0, "hessian"))
    return points


def ground_truth(spec, target: str) -> tuple[dict[str, float], int]:
    """Median seconds per candidate, measured afresh; and how many were predicted far."""
    from adcli._modes.candidates import find_split, make_candidates
    from adcli._modes.engine import _predict_and_compile
    from adcli._numerics.timing import measure, paired_ratio
    from adcli._problem.build import build
    from adcli._problem.flat import flatten_problem
    from adcli._problem.runtime import default_memory_budget

    flat = flatten_problem(build(spec), with_vector=target == "hvp")
    split = find_split(flat) if target == "jacobian" else None
    cands = make_candidates(flat, target, cut=split)
    results, compiled = _predict_and_compile(flat, cands, default_memory_budget(), lambda _: None)
    flops = {r.name: r.predicted_flops or float(r.count) for r in results if r.name in compiled}
    best = min(flops.values())
    near = [name for name in compiled if flops[name] < FAR * best]
    x, rest = flat.sample(0)
    calls = {name: (lambda e=compiled[name]: e(x, rest)) for name in near}
    # Up to SESSIONS independent sessions (one when calls are slow, ≥ 50 ms, and noise is
    # small beside them); per session, times relative to the fastest median by paired
    # rounds (robust to load changes); the median over sessions, scaled to seconds.
    ratios: dict[str, list[float]] = {name: [] for name in near}
    scale = []
    for _ in range(SESSIONS):
        timings = measure(calls, budget_s=1.5, min_rounds=7, max_rounds=80)
        anchor = min(timings, key=lambda k: timings[k].median)
        for k, t in timings.items():
            ratios[k].append(paired_ratio(t.samples, timings[anchor].samples))
        scale.append(timings[anchor].median)
        if min(t.median for t in timings.values()) >= 0.05:
            break
    rel = {k: statistics.median(v) for k, v in ratios.items()}
    seconds = statistics.median(scale) / min(rel.values())
    return {k: rel[k] * seconds for k in rel}, len(compiled) - len(near)


def cli_seconds(path: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "adcli", "choose-mode", path, "--format", "json"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced grid (~1/3)")
    parser.add_argument("--json", help="write every point to this file")
    args = parser.parse_args()

    import jax

    from adcli._modes.engine import choose_mode
    from adcli._spec.load import load_text

    jax.config.update("jax_enable_x64", True)  # this script's own process
    rows = []
    print(
        f"{'point':<24} {'target':<8} {'recommended':<13} {'fastest':<13} "
        f"{'gap':>6} {'slowdown':>8} {'rec s':>6}  far"
    )
    for family, n, m, k, target in grid(args.quick):
        spec = load_text(spec_text(family, n, m, k))[0]
        result = choose_mode(spec, target=target)
        truth, far = ground_truth(spec, target)
        order = sorted(truth, key=truth.get)
        fastest = order[0]
        gap = truth[order[1]] / truth[fastest] if len(order) > 1 else float("inf")
        rec = result.recommendation
        slowdown = truth[rec] / truth[fastest] if rec in truth else float("inf")
        row = dict(
            point=spec.name, target=target, n=result.n, m=result.m, recommended=rec,
            fastest=fastest, gap=gap, slowdown=slowdown, seconds=result.seconds,
            far=far, tied=list(result.tied), truth=truth,
        )  # fmt: skip
        rows.append(row)
        mark = "" if rec == fastest else ("  (tie)" if gap <= 1.2 else "  MISS")
        print(
            f"{spec.name:<24} {target:<8} {rec or '-':<13} {fastest:<13} {gap:6.2f} "
            f"{slowdown:8.2f} {result.seconds:6.2f}  {far}{mark}",
            flush=True,
        )
    decisive = [r for r in rows if r["gap"] > 1.2]
    right = [r for r in decisive if r["recommended"] == r["fastest"]]
    small = ROOT / "specs" / "modes" / "linear_map.yaml"
    cli = [cli_seconds(str(small)) for _ in range(3)]
    engine = [r["seconds"] for r in rows if r["point"].startswith("linear_n30_")]
    print()
    print(f"points: {len(rows)}; with a measured gap > 20%: {len(decisive)}")
    print(
        f"right where the gap > 20%: {len(right)}/{len(decisive)} "
        f"= {100 * len(right) / max(len(decisive), 1):.1f}%"
    )
    print(f"right on all points: {sum(r['recommended'] == r['fastest'] for r in rows)}/{len(rows)}")
    print(f"worst slowdown: {max(r['slowdown'] for r in rows):.2f}× the fastest")
    print(f"median slowdown: {statistics.median(r['slowdown'] for r in rows):.3f}×")
    print(f"candidates predicted ≥{FAR:g}× the best, not run in the ground truth: "
          f"{sum(r['far'] for r in rows)}")  # fmt: skip
    print(f"time to recommend, engine (after import), linear n=30: median "
          f"{statistics.median(engine):.2f} s, max {max(engine):.2f} s")  # fmt: skip
    print(f"time to recommend, whole CLI on specs/modes/linear_map.yaml (3 runs): "
          f"{', '.join(f'{s:.2f}' for s in cli)} s")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
