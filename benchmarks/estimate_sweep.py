"""The 2dT-vs-O(T) lesson, measured: ``adcli estimate``'s sweep of the extended Rosenbrock
function (specs/estimate/rosenbrock.yaml, one evaluation costs O(d)) over d, with reference
tools side by side in the same run.

For each d: the time of one evaluation T, and for each method (forward and central
differences, the zero-order estimator at a fixed k, forward AD = d JVPs, reverse AD = one
VJP) its median time, that ÷ T, that ÷ reverse AD, and its relative error against reverse
AD. Then the references on the same function and point:

- ``scipy.optimize.approx_fprime`` (forward differences, a Python loop over d numpy
  evaluations, step √ε): time and error against adcli's forward differences;
- ``torch.autograd.grad`` (reverse mode, float64 CPU) and, up to d = 1000,
  ``torch.func.jacfwd`` (forward mode, d JVPs vmapped): time and error.

Timing of the references: one discarded call, then the median of ``--repeats`` calls.
Finally the fitted exponents p in time ∝ dᵖ (all sizes, and the last step only).

Usage: python benchmarks/estimate_sweep.py [--sizes 10,100,1000,10000] [--k 10] [--json F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adcli._estimate.sweep import estimate_sweep  # noqa: E402
from adcli._results.estimate import METHODS  # noqa: E402

SPEC = ROOT / "specs" / "estimate" / "rosenbrock.yaml"
TORCH_FWD_MAX = 1000  # torch.func.jacfwd builds a d × d basis at once


def rosenbrock_np(x: np.ndarray) -> float:
    r = x[1:] - x[:-1] ** 2
    return float(np.sum(100 * r**2 + (1 - x[:-1]) ** 2))


def median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # discarded: warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def references(x: np.ndarray, g_rev: np.ndarray, repeats: int) -> dict[str, tuple]:
    from scipy.optimize import approx_fprime

    scale = np.linalg.norm(g_rev)
    out: dict[str, tuple] = {}
    h = np.sqrt(np.finfo(float).eps)
    t, g = median_time(lambda: approx_fprime(x, rosenbrock_np, h), repeats)
    out["scipy approx_fprime (fwd FD)"] = (t, np.linalg.norm(g - g_rev) / scale)
    try:
        import torch
    except ImportError:
        return out
    torch.set_default_dtype(torch.float64)

    def f_t(xt):
        r = xt[1:] - xt[:-1] ** 2
        return torch.sum(100 * r**2 + (1 - xt[:-1]) ** 2)

    def rev():
        xt = torch.tensor(x, requires_grad=True)
        return torch.autograd.grad(f_t(xt), xt)[0].numpy()

    t, g = median_time(rev, repeats)
    out["torch.autograd.grad (reverse)"] = (t, np.linalg.norm(g - g_rev) / scale)
    if x.size <= TORCH_FWD_MAX:
        xt = torch.tensor(x)
        t, g = median_time(lambda: torch.func.jacfwd(f_t)(xt).numpy(), repeats)
        out["torch.func.jacfwd (forward)"] = (t, np.linalg.norm(g - g_rev) / scale)
    return out


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x * 1e9:.3g} ns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--k", type=int, default=10, help="zero-order directions (fixed)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of references")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")]
    import jax

    start = time.perf_counter()
    sweep = estimate_sweep(SPEC, "n", sizes, k=args.k, seeds=3, time_budget=0.5, min_rounds=3)
    first = sweep.results[0]
    print(
        f"# adcli estimate sweep: {sweep.name}, {first.backend}, {first.dtype}, "
        f"zero-order k = {sweep.k} ({first.directions}); jax {jax.__version__}"
    )
    print(f"# engine: {first.timing_method}; chunked: {first.notes[0]}")
    rows = []
    for p, r in zip(sweep.points, sweep.results, strict=True):
        rev = p.times["reverse-ad"]
        print(f"\nd = {p.d}   T (one evaluation of f) = {fmt_s(p.eval_seconds)}")
        print(
            f"  {'method':34} {'passes':>12} {'time':>10} {'÷ T':>10} {'÷ rev':>10} {'rel err':>10}"
        )
        for m in METHODS:
            row = r.method(m)
            t = row.median_seconds
            print(
                f"  {m:34} {f'{row.passes} {row.unit}':>12} {fmt_s(t):>10} "
                f"{(t / p.eval_seconds if t and p.eval_seconds else 0):>9.3g}× "
                f"{(t / rev if t and rev else 0):>9.3g}× {row.rel_error or 0:>10.2e}"
            )
            rows.append({"d": p.d, "method": m, "seconds": t, "T": p.eval_seconds,
                         "passes": row.passes, "rel_error": row.rel_error})  # fmt: skip
        x = np.asarray(_point(p.d))
        g_rev = _reverse_gradient(p.d)
        for name, (t, err) in references(x, g_rev, args.repeats).items():
            print(
                f"  {name:34} {'':>12} {fmt_s(t):>10} "
                f"{t / p.eval_seconds:>9.3g}× {t / rev:>9.3g}× {err:>10.2e}"
            )
            rows.append({"d": p.d, "method": name, "seconds": t, "rel_error": err})
    print("\ngrowth exponents p (time ∝ dᵖ): all sizes / last step")
    for m in ["eval", *METHODS]:
        a, b = sweep.time_exponents.get(m), sweep.last_time_exponents.get(m)
        print(
            f"  {m:14} {a if a is None else round(a, 2)!s:>6} / {b if b is None else round(b, 2)}"
        )
    print(f"  zero-order error at fixed k: d^{sweep.error_exponent:.2f} (theory d^0.5)")
    print(f"\n{time.perf_counter() - start:.0f}s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _point(d: int) -> np.ndarray:
    """The sample point adcli used (the spec's seeded x at point 0)."""
    from adcli._problem.build import build
    from adcli._spec.load import apply_overrides, load_file

    (spec,) = load_file(SPEC)
    problem = build(apply_overrides(spec, dims={"n": d}))
    return np.asarray(problem.sample_inputs(0)["x"], np.float64)


def _reverse_gradient(d: int) -> np.ndarray:
    import jax

    x = _point(d)

    def f(y):
        r = y[1:] - y[:-1] ** 2
        return (100 * r**2 + (1 - y[:-1]) ** 2).sum()

    return np.asarray(jax.grad(f)(jax.numpy.asarray(x)))


if __name__ == "__main__":
    main()
