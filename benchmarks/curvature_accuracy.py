"""How accurate are ``adcli curvature``'s estimates for a given number of HVPs, on a 10⁵-parameter
model?

Model: ``specs/mlp_loss.yaml`` (MSE of a two-hidden-layer tanh MLP) at d_in = 128, h = 256,
N = 32: d = h·(d_in + h + 2) + 1 = 99,073 parameters. HVPs by the composition choose-mode
recommends (what ``adcli curvature`` uses), batched with vmap.

References (d HVPs for the exact trace would take minutes here, so neither uses them):
- trace: the exact Hessian diagonal in closed form for this network,
  diag H = (2/N) Σₙ [gₙ² + rₙ Dₙ] with gₙ = ∂netₙ/∂θ, Dₙ = diag ∂²netₙ/∂θ², rₙ the residual
  (``exact_trace`` below; checked here against ``jax.hessian`` at a small size first);
- eigenvalues: a long Lanczos run (``--lanczos-steps``, default 400) whose explicit residual
  bounds ‖Hq − θq‖ are printed; scipy's ``eigsh`` (ARPACK, on the same HVP) is run beside it
  as the independent tool, with its count of HVPs.

Hutchinson (Rademacher, Gaussian) at budgets 10 … 1000 uses prefixes of one probe sequence
per repeat; Hutch++ is run separately at each budget. Reported per budget: the median
relative error over the repeats and the coverage of the 95% intervals.

Usage: python benchmarks/curvature_accuracy.py [--quick] [--repeats R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adcli._curvature.hutchinson import hutch_plus_plus, interval, probes  # noqa: E402
from adcli._curvature.hvp import HvpOperator, batch_size, pick_strategy  # noqa: E402
from adcli._curvature.lanczos import lanczos, residuals  # noqa: E402
from adcli._problem.build import build  # noqa: E402
from adcli._problem.flat import flatten_problem  # noqa: E402
from adcli._problem.runtime import default_memory_budget  # noqa: E402
from adcli._spec.select import select_specs  # noqa: E402

BUDGETS = (10, 30, 100, 300, 1000)
STEPS = (10, 20, 30, 50, 75, 100, 150, 200, 300, 400)
K = 5


def exact_trace(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """tr H of L = mean((net(x) − y)²) for the tanh MLP of specs/models.py, in closed form."""
    w1, b1, w2, b2, w3, b3 = (np.asarray(params[k]) for k in ("w1", "b1", "w2", "b2", "w3", "b3"))
    n = len(y)
    z1 = x @ w1.T + b1
    a1 = np.tanh(z1)
    z2 = a1 @ w2.T + b2
    a2 = np.tanh(z2)
    r = a2 @ w3 + b3 - y
    d1s, d2s = 1 - a1**2, 1 - a2**2  # σ' at z1, z2
    dd1, dd2 = -2 * a1 * d1s, -2 * a2 * d2s  # σ''
    delta2 = w3 * d2s  # ∂net/∂b2, (N, h)
    c2 = w3 * dd2  # ∂²net/∂b2², (N, h)
    back = delta2 @ w2  # Σᵢ δ2ᵢ W2ᵢⱼ, (N, h)
    delta1 = back * d1s  # ∂net/∂b1
    # ∂²net/∂b1ⱼ² = Σᵢ c2ᵢ (W2ᵢⱼ σ'(z1ⱼ))² + σ''(z1ⱼ) Σᵢ δ2ᵢ W2ᵢⱼ
    dd_b1 = (c2 @ w2**2) * d1s**2 + dd1 * back
    x2 = np.sum(x**2, axis=1)  # Σₖ xₖ² (W1 entries: g = δ1ⱼ xₖ, D = D1ⱼ xₖ²)
    a1sq = np.sum(a1**2, axis=1)
    g2 = (
        1.0  # b3
        + np.sum(a2**2, axis=1)  # w3
        + np.sum(delta2**2, axis=1) * (1 + a1sq)  # b2, w2
        + np.sum(delta1**2, axis=1) * (1 + x2)  # b1, w1
    )
    dd = np.sum(c2, axis=1) * (1 + a1sq) + np.sum(dd_b1, axis=1) * (1 + x2)
    return float(2.0 / n * np.sum(g2 + r * dd))


def setup(dims: dict[str, int]) -> tuple[object, HvpOperator, float, dict[str, object]]:
    specs, _ = select_specs(ROOT / "specs" / "mlp_loss.yaml", dims=dims)
    problem = build(specs[0])
    flat = flatten_problem(problem, with_vector=True)
    inputs, constants = problem.sample_inputs(0), problem.sample_constants()
    x = flat.in_layout.flatten({"params": inputs["params"]}, flat.dtype)
    rest = {"inputs": {}, "constants": constants}
    budget = default_memory_budget()
    t0 = time.perf_counter()
    strategy, per = pick_strategy(problem, None, "close", budget)
    info = {"strategy": strategy.name, "why": strategy.reason, "choose_s": time.perf_counter() - t0}
    op = HvpOperator(flat, strategy.name, x, rest, batch_size(per, budget, flat.n))
    op.batch_memory()
    params = {k: np.asarray(v) for k, v in inputs["params"].items()}
    tr = exact_trace(params, np.asarray(constants["x"]), np.asarray(constants["y"]))
    return flat, op, tr, info


def validate_formula() -> float:
    """The closed-form trace against jax.hessian at d = 1,633 (relative difference)."""
    flat, op, tr, _ = setup({"d": 16, "h": 32, "N": 64})
    h = jax.hessian(lambda v: flat.fn(v, op.rest)[0])(op.x)
    return abs(tr - float(np.trace(np.asarray(h)))) / abs(tr)


def trace_table(op: HvpOperator, d: int, exact: float, budgets, repeats: int) -> list[dict]:
    rows: dict[tuple[str, int], list[tuple[float, bool]]] = {}
    for rep in range(repeats):
        for kind in ("rademacher", "gaussian"):
            rng = np.random.default_rng([rep, 1 if kind == "gaussian" else 0])
            samples = []
            for start in range(0, max(budgets), 100):
                z = probes(kind, rng, min(100, max(budgets) - start), d)
                samples.append(np.einsum("ij,ij->i", z, op.matmat(z)))
            values = np.concatenate(samples)
            for b in budgets:
                mean, _, lo, hi = interval(values[:b], 0.95)
                rows.setdefault((kind, b), []).append(
                    (abs(mean - exact) / abs(exact), lo <= exact <= hi)
                )
        for b in budgets:
            est = hutch_plus_plus(op.matmat, d, hvps=b, rng=np.random.default_rng([rep, 2, b]))
            rows.setdefault(("hutch++", b), []).append(
                (abs(est.estimate - exact) / abs(exact), est.ci_low <= exact <= est.ci_high)
            )
    out = []
    for (method, b), vals in rows.items():
        out.append(
            {
                "method": method,
                "hvps": b,
                "median_rel_error": statistics.median(v[0] for v in vals),
                "coverage": sum(v[1] for v in vals) / len(vals),
                "repeats": len(vals),
            }
        )
    return out


def lanczos_table(op: HvpOperator, d: int, max_steps: int) -> tuple[list[dict], dict]:
    hist: dict[int, np.ndarray] = {}
    t0 = time.perf_counter()
    run = lanczos(
        op.matvec, d, K, max_steps=max_steps, tol=1e-12, rng=np.random.default_rng(0),
        history=lambda s, theta: hist.__setitem__(s, theta.copy()),
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    r_top = residuals(op.matmat, run.top, run.top_vectors)
    r_bot = residuals(op.matmat, run.bottom, run.bottom_vectors)
    ref_top, ref_bot = run.top, run.bottom
    rows = []
    for s in STEPS:
        if s not in hist or len(hist[s]) < 2 * K:
            continue
        theta = hist[s]
        top, bot = theta[::-1][:K], theta[:K]
        rows.append(
            {
                "steps": s,
                "top1_rel": abs(top[0] - ref_top[0]) / abs(ref_top[0]),
                "top5_rel": float(np.max(np.abs(top - ref_top) / np.abs(ref_top))),
                "bottom1_rel": abs(bot[0] - ref_bot[0]) / abs(ref_bot[0]),
                "bottom5_rel": float(np.max(np.abs(bot - ref_bot) / np.abs(ref_bot))),
            }
        )
    ref = {
        "steps": run.steps,
        "converged": run.converged,
        "seconds": seconds,
        "top": ref_top.tolist(),
        "top_residual": r_top.tolist(),
        "bottom": ref_bot.tolist(),
        "bottom_residual": r_bot.tolist(),
    }
    return rows, ref


def eigsh_reference(op: HvpOperator, d: int, ref: dict) -> dict:
    from scipy.sparse.linalg import LinearOperator, eigsh

    out = {}
    for which in ("LA", "SA"):
        before = op.count
        lin = LinearOperator((d, d), matvec=lambda v: op.matvec(np.ravel(v)), dtype=np.float64)
        t0 = time.perf_counter()
        vals = eigsh(lin, k=K, which=which, tol=1e-10, return_eigenvectors=False,
                     v0=np.random.default_rng(1).standard_normal(d))  # fmt: skip
        mine = np.array(ref["top" if which == "LA" else "bottom"])
        vals = np.sort(vals)[::-1] if which == "LA" else np.sort(vals)
        out[which] = {
            "hvps": op.count - before,
            "seconds": time.perf_counter() - t0,
            "max_rel_diff_vs_lanczos": float(np.max(np.abs(vals - mine) / np.abs(mine))),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="budgets ≤ 300, 4 repeats, 200 steps")
    ap.add_argument("--repeats", type=int, default=6, help="seeded runs per budget")
    ap.add_argument("--lanczos-steps", type=int, default=400)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)  # this script's own process
    budgets = BUDGETS[:-1] if args.quick else BUDGETS
    repeats = 4 if args.quick else args.repeats
    steps = 200 if args.quick else args.lanczos_steps
    start = time.perf_counter()
    check = validate_formula()
    print(f"closed-form trace vs jax.hessian at d = 1,633: relative difference {check:.1e}")
    flat, op, exact, info = setup({"d": 128, "h": 256, "N": 32})
    d = flat.n
    print(f"model: mlp_loss, d = {d:,}; HVP strategy {info['strategy']} ({info['why']})")
    print(f"exact trace (closed form) = {exact:.10g}; backend {jax.default_backend()}")
    t0 = time.perf_counter()
    op.matmat(np.zeros((op.batch, d)))
    t0 = time.perf_counter()
    op.matmat(np.random.default_rng(0).standard_normal((4 * op.batch, d)))
    per_hvp = (time.perf_counter() - t0) / (4 * op.batch)
    print(f"one HVP ≈ {per_hvp * 1e3:.2f} ms in batches of {op.batch}")

    trace_rows = trace_table(op, d, exact, budgets, repeats)
    print(f"\ntrace: median relative error | coverage of the 95% interval ({repeats} repeats)")
    methods = ("rademacher", "gaussian", "hutch++")
    print(f"{'HVPs':>6} " + " ".join(f"{m:>22}" for m in methods))
    for b in budgets:
        cells = []
        for m in methods:
            row = next(r for r in trace_rows if r["method"] == m and r["hvps"] == b)
            cells.append(f"{row['median_rel_error']:>12.2e} | {row['coverage']:>6.0%}")
        print(f"{b:>6} " + " ".join(f"{c:>22}" for c in cells))

    lrows, ref = lanczos_table(op, d, steps)
    print(
        f"\nLanczos reference: {ref['steps']} steps ({ref['seconds']:.1f} s), top {K}: "
        + ", ".join(
            f"{v:.6g}±{r:.0e}" for v, r in zip(ref["top"], ref["top_residual"], strict=True)
        )
    )
    print(
        f"  bottom {K}: "
        + ", ".join(
            f"{v:.6g}±{r:.0e}" for v, r in zip(ref["bottom"], ref["bottom_residual"], strict=True)
        )
    )
    print(
        f"{'steps=HVPs':>10} {'top1 rel':>10} {'top5 max':>10} {'bottom1':>10} {'bottom5 max':>11}"
    )
    for r in lrows:
        print(
            f"{r['steps']:>10} {r['top1_rel']:>10.1e} {r['top5_rel']:>10.1e} "
            f"{r['bottom1_rel']:>10.1e} {r['bottom5_rel']:>11.1e}"
        )
    ref_tool = eigsh_reference(op, d, ref)
    for which, r in ref_tool.items():
        side = "top" if which == "LA" else "bottom"
        print(
            f"scipy eigsh {which} (k={K}, tol 1e-10): {r['hvps']} HVPs, {r['seconds']:.1f} s, "
            f"max rel diff vs Lanczos {side}: {r['max_rel_diff_vs_lanczos']:.1e}"
        )
    total = time.perf_counter() - start
    print(f"\n{op.count:,} HVPs in all; {total:.0f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"d": d, "exact_trace": exact, "formula_check": check, "per_hvp_s": per_hvp,
                 "info": info, "trace": trace_rows, "lanczos": lrows, "lanczos_ref": ref,
                 "eigsh": ref_tool, "seconds": total},
                indent=2,
            )
        )  # fmt: skip


if __name__ == "__main__":
    main()
