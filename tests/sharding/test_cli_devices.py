"""The host device count, set by the CLI before JAX starts (a fresh process each): what
``adcli check specs/`` needs on a plain one-device machine, and the error without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adcli._cli.devices import DeviceArgs, _set_count, mesh_sizes, spec_meshes

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


def _adcli(*args: str, xla_flags: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    return subprocess.run(
        [sys.executable, "-m", "adcli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_a_plain_machine_gets_the_devices_the_mesh_needs() -> None:
    done = _adcli("check", "specs/sharded_layer.yaml", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on 8 cpu devices (simulated: XLA's host device count)" in " ".join(done.stdout.split())


def test_a_device_count_chosen_by_the_user_wins_and_is_too_small() -> None:
    done = _adcli(
        "check", "specs/sharded_layer.yaml", xla_flags="--xla_force_host_platform_device_count=2"
    )
    assert done.returncode == 2
    text = " ".join((done.stdout + done.stderr).split())
    assert (
        "specs/sharded_layer.yaml:10: mesh: the mesh {data: 4, model: 2} needs 8 devices, but "
        "there are 2 cpu devices (run adcli with --devices 8" in text
    )
    forced = _adcli(
        "check",
        "specs/sharded_layer.yaml",
        "--devices",
        "8",
        xla_flags="--xla_force_host_platform_device_count=2",
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_the_count_goes_into_xla_flags(monkeypatch) -> None:
    import adcli._problem.processes as processes

    monkeypatch.setattr(processes, "backends_started", lambda: False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    _set_count(4, forced=False)
    assert os.environ["XLA_FLAGS"] == (
        "--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=4"
    )
    _set_count(8, forced=False)  # a count already there wins over a spec's need
    assert os.environ["XLA_FLAGS"].endswith("=4")
    _set_count(8, forced=True)  # --devices replaces it
    assert os.environ["XLA_FLAGS"] == (
        "--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=8"
    )


def test_the_meshes_of_the_chosen_specs() -> None:
    assert spec_meshes([str(ROOT / "specs")], ()) == [8, 8]
    assert spec_meshes([str(ROOT / "specs")], ("quadratic",)) == []
    assert mesh_sizes([]) == []
    assert DeviceArgs.take({"devices": 2, "x": 1}) == DeviceArgs(devices=2)
