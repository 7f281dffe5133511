"""Throughput of ``adcli check specs/``: two adcli trees side by side, cold and warm.

    python benchmarks/spec_throughput.py --old /path/to/old/bin/adcli --new .venv/bin/adcli
    python benchmarks/spec_throughput.py --old OLD --new NEW --quick   # one repeat, common specs

Each tree checks its own ``specs/`` folder (the folder beside the package of that ``adcli``,
or ``--old-root``/``--new-root``): *cold* with an empty compilation cache
(``ADCLI_CACHE_DIR`` a fresh directory), then *warm* with the cache that run filled. Two
sets: the whole folder of each tree, and the spec files common to both (same path, same
text), so that specs added since the old tree do not count against the new one. The new
tree runs with ``-j 1`` (serial: fewer compiles alone) and with ``-j --jobs`` (default: one
worker per core).
Times are wall-clock seconds of the whole command (start-up and import included), the
median of ``--repeats`` rounds; rounds interleave the trees so that both see the same load.
The load average is printed with each round: on a shared machine it moves the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    """One way to run: which adcli, in which tree, with which options, on which specs."""

    label: str
    adcli: str
    root: Path
    options: tuple[str, ...]
    specs: tuple[str, ...]


def tree_root(adcli: str) -> Path:
    """The source tree of an ``adcli`` executable (editable install): where its package is."""
    python = Path(adcli).with_name("python")
    code = "import adcli, os; print(os.path.dirname(os.path.dirname(adcli.__file__)))"
    out = subprocess.run(  # not from this directory, whose adcli would shadow the other
        [str(python), "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    return Path(out.stdout.strip())


def spec_files(root: Path) -> dict[str, bytes]:
    """Every spec file under ``root/specs``, by its path relative to ``root``."""
    found = sorted((root / "specs").rglob("*.y*ml"))
    return {str(p.relative_to(root)): p.read_bytes() for p in found}


def run(config: Config, cache: str) -> tuple[float, int]:
    """Seconds of one ``adcli check`` with this cache directory, and its exit code."""
    env = {**os.environ, "ADCLI_CACHE_DIR": cache}
    command = [config.adcli, "check", *config.specs, *config.options, "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=config.root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{config.label}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return seconds, done.returncode


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def round_of(configs: Sequence[Config]) -> dict[str, dict[str, float]]:
    """One cold and one warm run of each config."""
    times: dict[str, dict[str, float]] = {}
    for config in configs:
        cache = tempfile.mkdtemp(prefix="adcli-throughput-")
        try:
            cold, _ = run(config, cache)
            warm, _ = run(config, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        times[config.label] = {"cold": cold, "warm": warm}
        print(f"  {config.label:<28} cold {cold:6.1f}s  warm {warm:6.1f}s  load {load()}")
    return times


def configs(args: argparse.Namespace) -> list[Config]:
    old_root = Path(args.old_root) if args.old_root else tree_root(args.old)
    new_root = Path(args.new_root) if args.new_root else tree_root(args.new)
    old_specs, new_specs = spec_files(old_root), spec_files(new_root)
    common = tuple(p for p, text in new_specs.items() if old_specs.get(p) == text)
    print(f"old tree {old_root}: {len(old_specs)} spec files")
    print(f"new tree {new_root}: {len(new_specs)} spec files, {len(common)} common to both")
    jobs = ("-j", str(args.jobs))
    found = [
        Config("old, common", args.old, old_root, (), common),
        Config("new -j 1, common", args.new, new_root, ("-j", "1"), common),
        Config(f"new -j {args.jobs}, common", args.new, new_root, jobs, common),
    ]
    if not args.quick:
        found += [
            Config("old, whole folder", args.old, old_root, (), ("specs/",)),
            Config("new -j 1, whole folder", args.new, new_root, ("-j", "1"), ("specs/",)),
            Config(f"new -j {args.jobs}, whole folder", args.new, new_root, jobs, ("specs/",)),
        ]
    # The old tree's whole folder is its common specs when nothing was removed or changed.
    if not args.quick and set(old_specs) == set(common):
        found = [c for c in found if c.label != "old, whole folder"]
    return found


def summary(configs: Sequence[Config], rounds: list[dict[str, dict[str, float]]]) -> str:
    median = {
        c.label: {k: statistics.median(r[c.label][k] for r in rounds) for k in ("cold", "warm")}
        for c in configs
    }
    old = median["old, common"]
    lines = [
        f"medians of {len(rounds)} round(s); ratio = new ÷ old on the common specs",
        f"{'':<28} {'cold':>8} {'warm':>8} {'cold ratio':>11} {'warm ratio':>11}",
    ]
    for c in configs:
        m = median[c.label]
        ratios = f"{m['cold'] / old['cold']:>11.2f} {m['warm'] / old['warm']:>11.2f}"
        lines.append(f"{c.label:<28} {m['cold']:>7.1f}s {m['warm']:>7.1f}s {ratios}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the old tree's adcli executable")
    parser.add_argument("--new", required=True, help="the new tree's adcli executable")
    parser.add_argument("--old-root", help="the old source tree (default: found from --old)")
    parser.add_argument("--new-root", help="the new source tree (default: found from --new)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="one round, common specs only")
    parser.add_argument(
        "--jobs", type=int, default=_cores(), help="workers of the parallel runs (default: cores)"
    )
    parser.add_argument("--json", help="also write every time to this file")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    chosen = configs(args)
    print(f"{_cores()} cores available, load {load()}")
    rounds = []
    for i in range(args.repeats):
        print(f"round {i + 1}/{args.repeats}")
        rounds.append(round_of(chosen))
    print(summary(chosen, rounds))
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
