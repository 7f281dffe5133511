"""Speed: time to check a correct function as d grows, adcli against jax.test_util.check_grads
and torch.autograd.gradcheck; plus the CLI end to end on a 10⁶-parameter spec and
``adcli --help``.

    python benchmarks/check_speed.py            # full grid (4–7 minutes on 2 cores)
    python benchmarks/check_speed.py --quick    # smoke run (under a minute)
    python benchmarks/check_speed.py --full-jacobian   # adcli full vs jax fd2 at d = 10⁴ only

``jax fd2`` is the yardstick of a full-Jacobian check: plain 2-point central differences
(2d evaluations, no error model, no AD), vmapped and jitted in JAX, rows in batches of 32
inside one program (the fastest of the batch sizes 8–2048 tried on this machine; one vmap
over all 10⁴ coordinates took 10× longer).

Times are wall-clock seconds on the CPU backend: the median of --repeats runs after a first
call that is reported apart (it includes JAX tracing and XLA compilation, with an empty
adcli compilation cache). A cell whose first call takes over 10 s is repeated once.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from _common import (
    CASES,
    REPO,
    TORCH_MISSING,
    Timing,
    emit,
    fmt_d,
    fmt_ratio,
    fmt_s,
    header,
    load_average,
    parse_args,
    run_adcli,
    run_check_grads,
    run_torch,
    table,
    time_calls,
    torch,
    write_json,
)

FULL_MAX = 10**4  # adcli full and torch full mode are O(d) function evaluations: capped here
BUDGET_S = 10.0  # slower cells get fewer timed runs than --repeats (see time_calls)
SPEC = os.path.join("benchmarks", "specs", "million.yaml")
TOOLS = ("adcli auto", "adcli full", "jax fd2", "check_grads", "torch full", "torch fast")
FD2_BATCH = 32
_FD2: dict[object, object] = {}  # one compiled yardstick per function


def run_fd2(fn, x, consts):
    """The yardstick: a 2-point central-difference Jacobian of x ↦ fn(x, consts), steps
    ε^(1/3)·max(|xᵢ|, 1), jitted, rows vmapped in batches (FD2_BATCH); no verdict."""
    program = _FD2.get(fn)
    if program is None:

        def jacobian(x, consts, h):
            def row(i):
                return (fn(x.at[i].add(h[i]), consts) - fn(x.at[i].add(-h[i]), consts)) / (2 * h[i])

            return jax.lax.map(row, jnp.arange(x.shape[0]), batch_size=FD2_BATCH)

        program = _FD2[fn] = jax.jit(jacobian)
    h = np.finfo(x.dtype).eps ** (1 / 3) * np.maximum(np.abs(x), 1.0)
    return program(jnp.asarray(x), tuple(jnp.asarray(c) for c in consts), jnp.asarray(h))


def sizes(quick: bool, case: str) -> list[int]:
    if case == "logistic":
        return [10, 1000] if quick else [10, 100, 1000, 10**4, 10**5, 10**6]
    return [10, 100] if quick else [10, 100, 1000, 10**4]


def warm_up() -> None:
    """One tiny check per tool, so that one-off costs (first jit, torch start-up) do not land
    in the first row of the table."""
    for case in CASES.values():
        x, c = case.point(3, 0)
        run_adcli(case.jax_fn, x, c)
        run_check_grads(case.jax_fn, x, c)
        if torch is not None:
            run_torch(case.torch_fn, x, c, fast=False)
            run_torch(case.torch_fn, x, c, fast=True)


def time_case(name: str, quick: bool, repeats: int) -> dict[int, dict[str, Timing | float]]:
    case = CASES[name]
    results: dict[int, dict[str, Timing | float]] = {}
    for d in sizes(quick, name):
        x, c = case.point(d, 0)
        calls = {
            "adcli auto": partial(run_adcli, case.jax_fn, x, c),
            "adcli full": partial(run_adcli, case.jax_fn, x, c, method="full"),
            "jax fd2": partial(run_fd2, case.jax_fn, x, c),
            "check_grads": partial(run_check_grads, case.jax_fn, x, c),
            "torch full": partial(run_torch, case.torch_fn, x, c, fast=False),
            "torch fast": partial(run_torch, case.torch_fn, x, c, fast=True),
        }
        if torch is None:
            del calls["torch full"], calls["torch fast"]
        if d > FULL_MAX:
            calls.pop("adcli full")
            calls.pop("jax fd2")
            calls.pop("torch full", None)
        row: dict[str, Timing | float] = {}
        for tool, call in calls.items():
            row[tool] = time_calls(call, repeats, budget_s=BUDGET_S)
            emit(
                f"  {name} d={d:>7} {tool:<12} {fmt_s(row[tool].median):>7} s "
                f"(first {fmt_s(row[tool].first)}, verdicts {set(row[tool].verdicts)})"
            )
        results[d] = row
    _estimate_torch_full(results)
    return results


def _estimate_torch_full(results: dict[int, dict[str, Timing | float]]) -> None:
    """Extrapolate torch full mode past FULL_MAX from its two largest measured sizes
    (t ∝ d^k with the measured k clamped to [1, 2]: d perturbed evaluations of an O(d)
    function, plus a per-coordinate overhead): an estimate, labelled as such."""
    measured = sorted(d for d, row in results.items() if isinstance(row.get("torch full"), Timing))
    if len(measured) < 2:
        return
    d0, d1 = measured[-2:]
    t0, t1 = results[d0]["torch full"].median, results[d1]["torch full"].median
    k = min(2.0, max(1.0, math.log(t1 / t0) / math.log(d1 / d0)))
    for d, row in results.items():
        if d > d1:
            row["torch full est"] = t1 * (d / d1) ** k


def render_case(name: str, results: dict[int, dict[str, Timing | float]], repeats: int) -> str:
    rows, ratio_rows, notes = [], [], []
    for d, row in results.items():
        cells = [fmt_d(d)]
        for tool in TOOLS:
            t = row.get(tool)
            if isinstance(t, Timing):
                flag = "" if set(t.verdicts) <= {"pass"} else "!"
                if flag:
                    notes.append(
                        f"! {tool} at d={fmt_d(d)}: did not pass a CORRECT function "
                        f"(verdicts {t.verdicts})"
                    )
                cells.append(f"{fmt_s(t.median)}{flag} ({fmt_s(t.first)})")
            elif tool == "torch full" and "torch full est" in row:
                cells.append(f"~{fmt_s(row['torch full est'])} est.")
            elif tool in ("adcli full", "jax fd2", "torch full") and d > FULL_MAX:
                cells.append("too slow")
            else:
                cells.append("–")
        rows.append(cells)

        def med(tool: str, row: dict = row) -> float | None:
            t = row.get(tool)
            return t.median if isinstance(t, Timing) else None

        est = "" if med("torch full") else " est."
        torch_full = med("torch full") or row.get("torch full est")
        ratio_rows.append(
            [
                fmt_d(d),
                fmt_ratio(med("adcli full"), med("jax fd2")),
                fmt_ratio(torch_full, med("adcli full")),
                fmt_ratio(torch_full, med("adcli auto")) + (est if torch_full else ""),
                fmt_ratio(med("torch fast"), med("adcli auto")),
                fmt_ratio(med("check_grads"), med("adcli auto")),
            ]
        )

    title = (
        f"{CASES[name].label}: seconds to check a correct float64 function, "
        f"median of {repeats} (first call)"
    )
    notes += [
        "adcli auto = full Jacobian for d ≤ 256 (and d·m ≤ 65536), random directions above.",
        f"Cells whose first call took over {BUDGET_S:.0f} s: median of 2 runs (over "
        f"{3 * BUDGET_S:.0f} s: the first call and one more).",
        f"adcli full and torch full (one FD column per coordinate) run for d ≤ {fmt_d(FULL_MAX)}; "
        "'est.' extrapolates torch full as d^k, k in [1, 2] fitted to its two largest sizes.",
        "jax fd2: the yardstick of a full check, 2-point central differences jitted and "
        f"vmapped in batches of {FD2_BATCH} (no error model, no AD, no verdict).",
        "check_grads: order 1, modes fwd+rev, one random direction. First calls after the first "
        "tool in a row may reuse programs it compiled.",
    ]
    if torch is None:
        notes.append(TORCH_MISSING)
    ratios = table(
        f"{CASES[name].label}: ratios of medians (other tool ÷ adcli: > 1× = adcli faster; "
        "adcli full ÷ jax fd2: its cost over the yardstick)",
        [
            "d",
            "adcli full ÷ jax fd2",
            "torch full ÷ adcli full",
            "torch full ÷ adcli auto",
            "torch fast ÷ adcli auto",
            "check_grads ÷ adcli auto",
        ],
        ratio_rows,
    )
    return table(title, ["d", *TOOLS], rows, notes) + "\n\n" + ratios


# --- the CLI in a fresh process ---------------------------------------------------------


def adcli_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "adcli")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "adcli"]


def run_cli(args: list[str], cache: str | None) -> tuple[float, int, str]:
    env = dict(os.environ)
    if cache is not None:
        env["ADCLI_CACHE_DIR"] = cache
    start = time.perf_counter()
    proc = subprocess.run(adcli_command() + args, cwd=REPO, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode, proc.stdout + proc.stderr


def time_cli(quick: bool, repeats: int) -> dict[str, object]:
    n = 1 if quick else repeats
    cold, warm, codes, last = [], [], [], ""
    for _ in range(n):
        cache = tempfile.mkdtemp(prefix="adcli-bench-cli-")
        seconds, rc, last = run_cli(["check", SPEC], cache)
        cold.append(seconds)
        codes.append(rc)
        seconds, rc, _ = run_cli(["check", SPEC], cache)  # the same cache, now filled
        warm.append(seconds)
        codes.append(rc)
        shutil.rmtree(cache, ignore_errors=True)
    helps = [run_cli(["--help"], None)[0] for _ in range(3 if quick else 5)]
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, adcli._cli.main; print('jax' in sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return {
        "cold": cold,
        "warm": warm,
        "exit_codes": codes,
        "help": helps,
        "help_imports_jax": probe.stdout.strip(),
        "output": last,
    }


def render_cli(cli: dict[str, object]) -> str:
    cold, warm, helps = cli["cold"], cli["warm"], cli["help"]
    rows = [
        [
            f"adcli check {SPEC}, empty compilation cache",
            fmt_s(statistics.median(cold)),
            f"{fmt_s(min(cold))}–{fmt_s(max(cold))}",
            len(cold),
            "< 20 s",
        ],
        [
            f"adcli check {SPEC}, cache from the run before",
            fmt_s(statistics.median(warm)),
            f"{fmt_s(min(warm))}–{fmt_s(max(warm))}",
            len(warm),
            "",
        ],
        [
            "adcli --help",
            f"{statistics.median(helps):.3f}",
            f"{min(helps):.3f}–{max(helps):.3f}",
            len(helps),
            "< 0.3 s",
        ],
    ]
    notes = [
        "Fresh subprocess each run: python start-up, imports, spec loading, tracing, "
        "compiling and checking included.",
        "million.yaml: logistic_million (x: 10⁶) and mlp_million (W1 999×999, b1, w2, b2: "
        "10⁶ parameters), 2 points each, fwd + rev.",
        f"exit codes: {sorted(set(cli['exit_codes']))}; importing the CLI imports jax: "
        f"{cli['help_imports_jax']}",
    ]
    return table(
        "CLI end to end, wall seconds (median, min–max)",
        ["command", "median s", "range", "runs", "target"],
        rows,
        notes,
    )


def full_jacobian_rows(results: dict[str, dict]) -> list[list[str]]:
    """The target: adcli full within 2× of the jax fd2 yardstick at d = 10⁴."""
    rows = []
    for name, res in results.items():
        row = res.get(FULL_MAX, {})
        a, y = row.get("adcli full"), row.get("jax fd2")
        if isinstance(a, Timing) and isinstance(y, Timing):
            r = a.median / y.median
            rows.append(
                [
                    f"full Jacobian at d=10⁴, {name}: adcli full ÷ jax fd2 ≤ 2×",
                    f"{r:.2g}× ({fmt_s(a.median)} s ÷ {fmt_s(y.median)} s)",
                    "met" if r <= 2 else "NOT met",
                ]
            )
    return rows


def render_targets(results: dict[str, dict], cli: dict[str, object] | None) -> str:
    rows = full_jacobian_rows(results)
    for name, res in results.items():
        row = res.get(FULL_MAX, {})
        a, t = row.get("adcli full"), row.get("torch full")
        if isinstance(a, Timing) and isinstance(t, Timing):
            r = t.median / a.median
            rows.append(
                [
                    f"full Jacobian at d=10⁴, {name}: torch full ÷ adcli full ≥ 3×",
                    f"{r:.2g}×",
                    "met" if r >= 3 else "NOT met",
                ]
            )
    if cli is None:
        return table("Targets", ["target", "measured", "status"], rows)
    cold = statistics.median(cli["cold"])
    rows.append(
        [
            "adcli check million.yaml (cold) < 20 s",
            f"{cold:.1f} s",
            "met" if cold < 20 else "NOT met",
        ]
    )
    help_s = statistics.median(cli["help"])
    rows.append(["adcli --help < 0.3 s", f"{help_s:.3f} s", "met" if help_s < 0.3 else "NOT met"])
    notes = [
        "One-coordinate error at d=10⁴ found in < 1/20 of torch full mode's time: "
        "see check_power.py."
    ]
    return table("Targets", ["target", "measured", "status"], rows, notes)


def time_full_jacobian(repeats: int) -> dict[str, dict[int, dict[str, Timing]]]:
    """adcli full and the jax fd2 yardstick at d = 10⁴ on both cases, one after the other."""
    results: dict[str, dict[int, dict[str, Timing]]] = {}
    for name in ("logistic", "tanh_layer"):
        case = CASES[name]
        x, c = case.point(FULL_MAX, 0)
        # Every repeat runs (no BUDGET_S cut): a first call that compiles for 15 s would
        # otherwise leave a median of two runs, one of them still loading programs.
        full = partial(run_adcli, case.jax_fn, x, c, method="full")
        row = {
            "jax fd2": time_calls(partial(run_fd2, case.jax_fn, x, c), repeats, budget_s=1e9),
            "adcli full": time_calls(full, repeats, budget_s=1e9),
        }
        for tool, t in row.items():
            emit(
                f"  {name} d={FULL_MAX} {tool:<10} median {fmt_s(t.median)} s "
                f"(runs {t.spread}, first {fmt_s(t.first)}, verdicts {set(t.verdicts) or '–'})"
            )
        results[name] = {FULL_MAX: row}
    return results


def add_flags(parser) -> None:
    parser.add_argument(
        "--full-jacobian",
        action="store_true",
        help="only adcli full against the jax fd2 yardstick at d = 10⁴ (both cases)",
    )


def main() -> None:
    args = parse_args(__doc__, extra=add_flags)
    title = "adcli benchmarks: check_speed" + (" (--quick)" if args.quick else "")
    emit(header(title + (" (--full-jacobian)" if args.full_jacobian else "")))
    emit()
    warm_up()
    if args.full_jacobian:
        emit(render_targets(time_full_jacobian(args.repeats), None))
        emit(f"finished {time.strftime('%H:%M:%S')}, load average {load_average()}")
        return
    results = {}
    for name in ("logistic", "tanh_layer"):
        results[name] = time_case(name, args.quick, args.repeats)
        emit()
        emit(render_case(name, results[name], args.repeats))
        emit()
    cli = time_cli(args.quick, args.repeats)
    emit(render_cli(cli))
    emit()
    emit(render_targets(results, cli))
    emit()
    emit(f"finished {time.strftime('%H:%M:%S')}, load average {load_average()}")
    write_json(
        args.json,
        {
            "cases": {
                n: {
                    d: {k: (v.to_dict() if isinstance(v, Timing) else v) for k, v in row.items()}
                    for d, row in r.items()
                }
                for n, r in results.items()
            },
            "cli": cli,
        },
    )


if __name__ == "__main__":
    main()
