"""Power: which derivative errors each checker finds, how often it cries wolf, and how long it
takes. adcli against jax.test_util.check_grads and torch.autograd.gradcheck.

    python benchmarks/check_power.py            # full run (5–8 minutes on 2 cores)
    python benchmarks/check_power.py --quick    # smoke run (under a minute)

Bugs are real derivative rules: a jax.custom_vjp (VJP rule), a jax.custom_jvp (JVP rule)
and a torch.autograd.Function (backward) that multiply the true gradient by (1 + δ), at
every coordinate or at one. Each seed is a different random point (and, for adcli and torch
fast mode, different random directions; check_grads always draws its direction from
RandomState(0)).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from _common import (
    CASES,
    TORCH_MISSING,
    Outcome,
    bug_scale,
    emit,
    fmt_count,
    fmt_d,
    fmt_ratio,
    fmt_s,
    header,
    jax_wrong_jvp,
    jax_wrong_vjp,
    load_average,
    parse_args,
    run_adcli,
    run_check_grads,
    run_torch,
    table,
    torch,
    torch_wrong_backward,
    write_json,
)

DELTAS = [10.0**-k for k in range(1, 10)] + [0.0]
TORCH_FULL_SEEDS_AT_1E4 = 5  # torch full mode takes ~10 s per check at d = 10⁴


@dataclass
class Tally:
    """Outcomes of one checker over seeds."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, *verdicts: str) -> int:
        return sum(o.verdict in verdicts for o in self.outcomes)

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def median_s(self) -> float | None:
        return statistics.median(o.seconds for o in self.outcomes) if self.outcomes else None

    def cell(self, what: str = "fail") -> str:
        """'k/n' of ``what``; adcli's inconclusive and any crash are shown beside it."""
        if not self.outcomes:
            return "·"
        text = fmt_count(self.count(what), self.n)
        if (k := self.count("inconclusive")) and what != "inconclusive":
            text += f" +{k}?"
        if k := self.count("error"):
            text += f" +{k}E"
        return text

    def to_dict(self) -> list[dict]:
        return [o.__dict__ for o in self.outcomes]


# --- checker line-ups ---------------------------------------------------------------------
# Each tool maps (case, x, consts, scale, seed) to an Outcome for the bugged function.

Tool = Callable[..., Outcome]


def bug_tools(case_name: str, include_torch: bool = True) -> dict[str, Tool]:
    case = CASES[case_name]
    vjp, jvp = jax_wrong_vjp(case.jax_fn), jax_wrong_jvp(case.jax_fn)
    tools: dict[str, Tool] = {
        "adcli (custom_vjp)": lambda x, c, s, seed: run_adcli(vjp, x, c, (s,), seed=seed),
        "adcli (custom_jvp)": lambda x, c, s, seed: run_adcli(jvp, x, c, (s,), seed=seed),
        "check_grads (custom_vjp, rev)": lambda x, c, s, seed: run_check_grads(
            vjp, x, c, (s,), modes=("rev",)
        ),
        "check_grads (custom_jvp)": lambda x, c, s, seed: run_check_grads(jvp, x, c, (s,)),
    }
    if include_torch and torch is not None:
        wrong = torch_wrong_backward(case.torch_fn)
        tools["torch full (Function)"] = lambda x, c, s, seed: run_torch(
            wrong, x, c, (s,), fast=False, seed=seed
        )
        tools["torch fast (Function)"] = lambda x, c, s, seed: run_torch(
            wrong, x, c, (s,), fast=True, seed=seed
        )
    return tools


# --- (1) smallest relative error detected -------------------------------------------------


def sweep(
    case_name: str, d: int, dtype: type, seeds: int, deltas: list[float]
) -> dict[str, dict[float, Tally]]:
    """Fail counts per tool and δ (δ injected at every coordinate). A tool's sweep stops
    after two δ in a row that it detects at 0/seeds (smaller δ: '·', not run); δ = 0 (the
    correct custom rule) always runs."""
    case = CASES[case_name]
    points = [case.point(d, s, dtype) for s in range(seeds)]
    size = points[0][0].shape[0]
    out: dict[str, dict[float, Tally]] = {}
    for tool, run in bug_tools(case_name).items():
        out[tool] = {}
        misses = 0
        for delta in deltas:
            if delta and misses >= 2:
                continue
            scale = bug_scale(size, delta, None, dtype)
            tally = Tally([run(x, c, scale, s) for s, (x, c) in enumerate(points)])
            out[tool][delta] = tally
            misses = misses + 1 if delta and tally.count("fail") == 0 else 0
        emit(
            f"  {case_name} {np.dtype(dtype).name} {tool:<30} "
            + " ".join(out[tool][dl].cell() for dl in deltas if dl in out[tool])
        )
    return out


def smallest_detected(row: dict[float, Tally], seeds: int) -> str:
    need = seeds - seeds // 20  # 19/20
    zero = row.get(0.0)
    if zero is not None and zero.count("fail", "error") >= need:
        return "none: fails when correct"
    found = [dl for dl, t in row.items() if dl and t.count("fail") >= need]
    return f"{min(found):.0e}" if found else "none ≥ 1e-1"


def render_sweep(
    case_name: str, d: int, results: dict[str, dict], seeds: int, deltas: list[float]
) -> str:
    rows = []
    for dtype, per_tool in results.items():
        for tool, row in per_tool.items():
            rows.append(
                [
                    f"{dtype} {tool}",
                    *(row[dl].cell() if dl in row else "·" for dl in deltas),
                    smallest_detected(row, seeds),
                    fmt_s(_median_s(row)),
                ]
            )
    columns = [
        "dtype, checker",
        *(f"{dl:.0e}" if dl else "0 (ok)" for dl in deltas),
        "smallest δ ≥19/20",
        "s/check",
    ]
    notes = [
        "Cells: failed checks / seeds at relative error δ in every coordinate of the gradient.",
        "'+k?' = k adcli verdicts 'inconclusive' (not counted as detections); '+kE' = crashes;",
        "'·' = not run (the two larger δ were detected 0 times). Column '0 (ok)' = the correct",
        "custom rule (δ = 0): every failure there is a false alarm. s/check: median seconds.",
    ]
    if torch is None:
        notes.append(TORCH_MISSING)
    return table(
        f"Smallest relative error detected: {CASES[case_name].label}, d = {d}, {seeds} seeds",
        columns,
        rows,
        notes,
    )


def _median_s(row: dict[float, Tally]) -> float | None:
    times = [o.seconds for t in row.values() for o in t.outcomes]
    return statistics.median(times) if times else None


# --- (2) false alarms on correct functions ------------------------------------------------


def false_alarms(case_name: str, d: int, dtype: type, seeds: int) -> dict[str, Tally]:
    case = CASES[case_name]
    tools: dict[str, Tool] = {
        "adcli auto": lambda x, c, seed: run_adcli(case.jax_fn, x, c, seed=seed),
        "check_grads": lambda x, c, seed: run_check_grads(case.jax_fn, x, c),
    }
    if torch is not None:
        tools["torch full"] = lambda x, c, seed: run_torch(
            case.torch_fn, x, c, fast=False, seed=seed
        )
        tools["torch fast"] = lambda x, c, seed: run_torch(
            case.torch_fn, x, c, fast=True, seed=seed
        )
    points = [case.point(d, s, dtype) for s in range(seeds)]
    return {
        tool: Tally([run(x, c, s) for s, (x, c) in enumerate(points)])
        for tool, run in tools.items()
    }


def render_false_alarms(results: list[tuple[str, int, str, dict[str, Tally]]]) -> str:
    tools = list(results[0][3])
    rows = []
    for case_name, d, dtype, tallies in results:
        size = CASES[case_name].size(d)
        m = CASES[case_name].outputs(size)
        rows.append(
            [
                f"{CASES[case_name].short} d={size} m={m} {dtype}",
                *(tallies[t].cell() for t in tools),
                *(fmt_s(tallies[t].median_s) for t in tools),
            ]
        )
    notes = [
        "Cells: checks that did not pass / seeds, on a CORRECT function (so every one is a "
        "false alarm); '+k?' = adcli 'inconclusive'.",
        "torch gradcheck warns on float32 inputs ('not a double precision floating point').",
    ]
    return table(
        f"False alarms on correct functions ({results[0][3][tools[0]].n} random points "
        "each); then median seconds per check",
        ["function, dtype", *tools, *(f"s {t}" for t in tools)],
        rows,
        notes,
    )


# --- (3) a 10% error in one coordinate -----------------------------------------------------


def one_coordinate(d: int, seeds: int, quick: bool) -> dict[str, dict]:
    case = CASES["logistic"]
    tools = bug_tools("logistic")
    vjp = jax_wrong_vjp(case.jax_fn)
    full = lambda x, c, s, seed: run_adcli(vjp, x, c, (s,), method="full", seed=seed)  # noqa: E731
    if d <= 1000:
        tools = {"adcli full (custom_vjp)": full, **tools}
    out: dict[str, dict] = {}
    for tool, run in tools.items():
        n = seeds
        if tool.startswith("torch full") and d >= 10**4:
            n = min(seeds, 1 if quick else TORCH_FULL_SEEDS_AT_1E4)
        hits, exact, worst, outcomes = 0, 0, 0, []
        for seed in range(n):
            x, c = case.point(d, seed)
            index = int(np.random.default_rng([seed, 99]).integers(d))
            o = run(x, c, bug_scale(d, 0.1, index), seed)
            outcomes.append(o)
            hits += f"x[{index}]" in o.locations
            exact += o.locations == (f"x[{index}]",)
            worst += f"x[{index}]" in o.worst_inputs
        out[tool] = {"tally": Tally(outcomes), "hits": hits, "exact": exact, "worst": worst}
        emit(
            f"  one coordinate d={d} {tool:<30} found {out[tool]['tally'].cell()}, "
            f"localised {hits}/{n}, median {fmt_s(out[tool]['tally'].median_s)} s"
        )
    return out


def render_one_coordinate(results: dict[int, dict[str, dict]]) -> str:
    rows = []
    for d, per_tool in results.items():
        for tool, r in per_tool.items():
            t: Tally = r["tally"]
            adcli = tool.startswith("adcli")
            rows.append(
                [
                    fmt_d(d),
                    tool,
                    t.cell(),
                    fmt_count(r["hits"], t.n) if adcli else "–",
                    fmt_count(r["exact"], t.n) if adcli else "–",
                    fmt_count(r["worst"], t.n) if adcli else "–",
                    fmt_s(t.median_s),
                    f"{fmt_s(min(o.seconds for o in t.outcomes))}–"
                    f"{fmt_s(max(o.seconds for o in t.outcomes))}",
                ]
            )
    notes = [
        "(a) ln(1+exp⟨a,x⟩), float64; the gradient is wrong by 10% at one random coordinate.",
        "located: the right index is among comparison.locations; exactly: it is the only one;",
        "in worst: it is named by comparison.worst[].input_index (adcli full fills only worst).",
        f"torch full mode at d = 10⁴ runs {TORCH_FULL_SEEDS_AT_1E4} seeds only (≈10 s each).",
        "adcli auto uses random directions here (d > 256) and localises by group testing.",
    ]
    return table(
        "A 10% error in ONE coordinate",
        ["d", "checker", "found", "located", "exactly", "in worst", "median s", "range s"],
        rows,
        notes,
        left=2,
    )


def render_targets(one: dict[int, dict[str, dict]], alarms) -> str:
    rows = []
    per_tool = one.get(10**4, {})
    adcli, tfull = per_tool.get("adcli (custom_vjp)"), per_tool.get("torch full (Function)")
    if adcli and tfull:
        a, t = adcli["tally"].median_s, tfull["tally"].median_s
        tally = adcli["tally"]
        found = tally.count("fail") >= tally.n - tally.n // 20  # "detects": ≥ 19/20
        rows.append(
            [
                "one-coordinate error at d=10⁴ found (≥19/20) in < 1/20 of torch full's time",
                f"{fmt_count(tally.count('fail'), tally.n)} found; {fmt_s(a)} s vs "
                f"{fmt_s(t)} s = 1/{fmt_ratio(t, a).rstrip('×')}",
                "met" if found and a * 20 < t else "NOT met",
            ]
        )
    f32 = [(c, d, dt, t) for c, d, dt, t in alarms if dt == "float32"]
    total = sum(t["adcli auto"].count("fail", "inconclusive", "error") for *_, t in f32)
    n = sum(t["adcli auto"].n for *_, t in f32)
    rows.append(
        [
            "adcli: 0 false alarms on correct float32 checks",
            f"{total}/{n}",
            "met" if total == 0 else "NOT met",
        ]
    )
    return table("Targets", ["target", "measured", "status"], rows)


def main() -> None:
    args = parse_args(__doc__)
    seeds = min(args.seeds, 4) if args.quick else args.seeds
    emit(header("adcli benchmarks: check_power" + (" (--quick)" if args.quick else "")))
    emit()
    d_sweep = 100
    deltas = [1e-2, 1e-6, 0.0] if args.quick else DELTAS
    swept = {
        np.dtype(dt).name: sweep("logistic", d_sweep, dt, seeds, deltas)
        for dt in (np.float64, np.float32)
    }
    emit()
    emit(render_sweep("logistic", d_sweep, swept, seeds, deltas))
    emit()

    alarm_grid = [("logistic", 100), ("mlp", 161), ("tanh_layer", 100)]
    if not args.quick:
        alarm_grid.append(("tanh_layer", 1000))
    alarms = []
    for case_name, d in alarm_grid:
        for dt in (np.float32, np.float64):
            tallies = false_alarms(case_name, d, dt, seeds)
            alarms.append((case_name, d, np.dtype(dt).name, tallies))
            emit(
                f"  false alarms {case_name} d={d} {np.dtype(dt).name}: "
                + ", ".join(f"{t} {v.cell()}" for t, v in tallies.items())
            )
    emit()
    emit(render_false_alarms(alarms))
    emit()

    one = {
        d: one_coordinate(d, seeds, args.quick) for d in ((1000,) if args.quick else (1000, 10**4))
    }
    emit()
    emit(render_one_coordinate(one))
    emit()
    emit(render_targets(one, alarms))
    emit()
    emit(f"finished {time.strftime('%H:%M:%S')}, load average {load_average()}")
    write_json(
        args.json,
        {
            "sweep": {
                dt: {
                    tool: {str(dl): t.to_dict() for dl, t in row.items()}
                    for tool, row in per.items()
                }
                for dt, per in swept.items()
            },
            "false_alarms": [
                {
                    "case": c,
                    "d": d,
                    "dtype": dt,
                    "tools": {t: v.to_dict() for t, v in tallies.items()},
                }
                for c, d, dt, tallies in alarms
            ],
            "one_coordinate": {
                str(d): {
                    tool: {"hits": r["hits"], "exact": r["exact"], "outcomes": r["tally"].to_dict()}
                    for tool, r in per.items()
                }
                for d, per in one.items()
            },
        },
    )


if __name__ == "__main__":
    main()
