"""Run check_speed.py then check_power.py, each in its own process, and keep their output.

    python benchmarks/run_all.py                 # full runs (10–15 minutes on 2 cores)
    python benchmarks/run_all.py --quick         # smoke runs (under 2 minutes)
    python benchmarks/run_all.py --out results/  # also save <name>.txt and <name>.json there

Other flags (--repeats N, --seeds N) are passed on to both scripts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", metavar="DIR", help="save each script's output and JSON here")
    args, passed = parser.parse_known_args()
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    worst = 0
    for name in ("check_speed", "check_power"):
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), *passed]
        if args.out:
            cmd += ["--json", os.path.join(args.out, f"{name}.json")]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in proc.stdout:  # stream, so a long run shows progress
            sys.stdout.write(line)
            lines.append(line)
        worst = max(worst, proc.wait())
        print(
            f"[{name}: {time.perf_counter() - start:.0f} s, exit {proc.returncode}]\n", flush=True
        )
        if args.out:
            with open(os.path.join(args.out, f"{name}.txt"), "w") as fh:
                fh.writelines(lines)
    return worst


if __name__ == "__main__":
    sys.exit(main())
