"""Sharded checks as the device count grows: the time of ``adcli check`` on a sharded spec
against the same spec unsharded, for 1, 2, 4 and 8 devices, and ``adcli memory``'s
per-device bytes against the number of shards.

    python benchmarks/sharded_check.py              # 1, 2, 4, 8 devices (2-3 min, 2 cores)
    python benchmarks/sharded_check.py --quick      # 1 and 8 devices
    python benchmarks/sharded_check.py --json out.json

XLA reads its host device count when JAX starts, so each (device count, mesh) runs in its
own process (``XLA_FLAGS=--xla_force_host_platform_device_count=N``), with an empty adcli
compilation cache. On a CPU these are *simulated* devices sharing the host's cores: the
table shows what sharding costs adcli's check (partitioned programs, collectives, the
replicated bookkeeping), not the speed-up of real devices. On a machine with GPUs or TPUs
the mesh takes the accelerators instead (when there are enough of them).

The spec is a data- and model-parallel MLP autoencoder (specs/sharded_models.py:mlp_loss):
``mesh {data: N}`` splits the batch; ``mesh {data: N/2, model: 2}`` also splits the hidden
layer (w1 by columns, b1, w2 by rows). "first" is the first check in the process (tracing
and compiling included, from an empty cache), "again" the median of the next ones (the same
spec rebuilt: traced again, its compiled programs read from the cache).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "specs" / "sharded_models.py"
CHECK_DIMS = {"B": 64, "d": 16, "h": 32}
MEMORY_DIMS = {"B": 1024, "d": 256, "h": 1024}


def spec_text(name: str, mesh: dict[str, int] | None, dims: dict[str, int]) -> str:
    """The benchmark spec: unsharded without ``mesh``; with ``model`` in it, the hidden
    layer split too."""
    model = mesh is not None and mesh.get("model", 1) > 1
    hidden = ", sharding: [null, model]" if model else ""
    rows = ", sharding: [model, null]" if model else ""
    bias = ", sharding: [model]" if model else ""
    batch = ", sharding: [data, null]" if mesh is not None else ""
    lines = [
        f"name: {name}",
        f"function: {{python: {MODELS}:mlp_loss}}",
        *([f"mesh: {{{', '.join(f'{k}: {v}' for k, v in mesh.items())}}}"] if mesh else []),
        "inputs:",
        "  params:",
        f"    w1: {{shape: [d, h]{hidden}, init: {{normal: [0, 0.3]}}, seed: 1}}",
        f"    b1: {{shape: [h]{bias}, init: {{normal: [0, 0.1]}}, seed: 2}}",
        f"    w2: {{shape: [h, d]{rows}, init: {{normal: [0, 0.3]}}, seed: 3}}",
        "constants:",
        f"  batch: {{shape: [B, d]{batch}, seed: 4}}",
        f"dims: {{{', '.join(f'{k}: {v}' for k, v in dims.items())}}}",
    ]
    return "\n".join(lines) + "\n"


def meshes(devices: int) -> list[tuple[str, dict[str, int] | None]]:
    out: list[tuple[str, dict[str, int] | None]] = [("unsharded", None)]
    out.append((f"{{data: {devices}}}", {"data": devices}))
    if devices >= 2:
        out.append((f"{{data: {devices // 2}, model: 2}}", {"data": devices // 2, "model": 2}))
    return out


def child(devices: int, which: int, repeats: int) -> dict[str, Any]:
    """One (device count, mesh), in this fresh process: check times and memory per device."""
    import jax

    from adcli._check.engine import check_spec
    from adcli._memory.engine import analyse_memory
    from adcli._spec.load import load_text

    assert len(jax.devices()) == devices, jax.devices()
    label, mesh = meshes(devices)[which]
    (spec,) = load_text(spec_text("bench", mesh, CHECK_DIMS))
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        result = check_spec(spec)
        times.append(time.perf_counter() - start)
        assert result.verdict == "pass", (label, result.verdict, result.error)
    (big,) = load_text(spec_text("bench", mesh, MEMORY_DIMS))
    memory = analyse_memory(big, policies=False)
    vjp = next(c for c in memory.compiled if c.program == "vjp")
    return {
        "devices": devices,
        "mesh": label,
        "first_s": times[0],
        "again_s": statistics.median(times[1:]),
        "method": result.method,
        "residual_bytes": memory.residuals.bytes,
        "vjp_argument_bytes": vjp.argument_bytes,
        "vjp_temp_bytes": vjp.temp_bytes,
        "vjp_peak_bytes": vjp.peak_bytes,
    }


def run(devices: int, which: int, repeats: int) -> dict[str, Any]:
    """``child`` in a fresh process with its own device count and an empty cache."""
    cache = tempfile.mkdtemp(prefix="adcli-bench-cache-")
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["ADCLI_CACHE_DIR"] = cache
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, __file__, "--child", f"{devices},{which}", "--repeats", str(repeats)]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=1800, check=False
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"{devices} devices, mesh {which} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:,.0f} KiB"


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "check time (s): the first check in a fresh process (empty cache) / the median of "
        f"the next (dims {CHECK_DIMS}; 1,056 parameters)",
        "",
        "| devices | mesh | first | again | again ÷ unsharded |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        base = next(b for b in rows if b["devices"] == r["devices"] and b["mesh"] == "unsharded")
        lines.append(
            f"| {r['devices']} | {r['mesh']} | {r['first_s']:.2f} | {r['again_s']:.2f} | "
            f"{r['again_s'] / base['again_s']:.2f}× |"
        )
    lines += [
        "",
        f"adcli memory per device (dims {MEMORY_DIMS}, float64)",
        "",
        "| devices | mesh | residuals | vjp arguments | vjp temporaries | vjp peak |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['devices']} | {r['mesh']} | {_kib(r['residual_bytes'])} | "
            f"{_kib(r['vjp_argument_bytes'])} | {_kib(r['vjp_temp_bytes'])} | "
            f"{_kib(r['vjp_peak_bytes'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 8 devices only")
    parser.add_argument("--repeats", type=int, default=2, help="checks after the first")
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        devices, which = (int(v) for v in args.child.split(","))
        print(json.dumps(child(devices, which, args.repeats)))
        return
    import platform

    print(
        f"sharded check benchmark · {platform.machine()}, {os.cpu_count()} CPU cores · "
        f"simulated CPU devices · started {time.strftime('%Y-%m-%d %H:%M:%S')}, load "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    counts = [1, 8] if args.quick else [1, 2, 4, 8]
    rows = []
    for devices in counts:
        for which, (label, _) in enumerate(meshes(devices)):
            print(f"{devices} device(s), {label}...", file=sys.stderr, flush=True)
            rows.append(run(devices, which, args.repeats))
    print(report(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
