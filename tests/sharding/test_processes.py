"""Several processes on jax.distributed: 2 local processes × 4 CPU devices, coordinated over
the loopback interface, check one sharded spec together: one report (process 0's), one
agreed exit code from both. Each run is bounded by a timeout, so a hang fails the test
instead of blocking CI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from adcli._check.sharded import agree_across_processes
from adcli._cli.main import cli
from adcli._problem.processes import environment_asks
from adcli._results.check import SpecResult

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # seconds for a pair of processes; a healthy pair takes about 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    """This environment without the test process's device count: --devices sets each's."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    for name in ("JAX_COORDINATOR_ADDRESS", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"):
        env.pop(name, None)
    return env


def _pair(*args: str) -> list[subprocess.CompletedProcess[str]]:
    """``adcli check ARGS`` in 2 processes of 4 devices each; both killed on a timeout."""
    port = _free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "adcli",
                "check",
                *args,
                "--devices",
                "4",
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    done = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
            proc.communicate()
        pytest.fail(f"the 2-process run did not finish in {TIMEOUT} s (a hang?)")
    return done


def test_two_processes_agree_on_a_pass_and_write_one_report() -> None:
    first, second = _pair("specs/sharded_mlp.yaml", "--parity", "--format", "json")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    report = json.loads(first.stdout)  # gloo's own lines went to stderr: valid JSON
    (spec,) = report["specs"]
    assert (spec["name"], spec["verdict"], report["exit_code"]) == ("sharded_mlp", "pass", 0)
    assert spec["notes"][0] == (
        "sharded: mesh {data: 4, model: 2} (auto axes) on 8 cpu devices (simulated: XLA's "
        "host device count) in 2 processes"
    )
    assert {c["kind"] for c in spec["comparisons"]} >= {"rev", "parity:rev", "parity:value"}
    assert second.stdout == ""  # only process 0 writes the report


def test_two_processes_both_fail_on_a_planted_bug() -> None:
    first, second = _pair("examples/sharded.yaml", "--spec", "sharded_psum_twice")
    assert (first.returncode, second.returncode) == (1, 1), first.stderr + second.stderr
    assert "FAIL" in first.stdout and "sharded_psum_twice" in first.stdout
    assert second.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coordinator", "127.0.0.1:1"], "--coordinator, --num-processes and --process-id go"),
        (
            ["--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"],
            "--coordinator: expected HOST:PORT, got 'nohost'",
        ),
        (
            ["--coordinator", "127.0.0.1:9", "--num-processes", "2", "--process-id", "2"],
            "--process-id 2: expected 0 to 1 with --num-processes 2",
        ),
    ],
)
def test_process_options_are_checked_before_anything_starts(args: list[str], message: str) -> None:
    out = CliRunner().invoke(cli, ["check", str(ROOT / "specs" / "sharded_layer.yaml"), *args])
    assert out.exit_code == 2
    assert message in out.output


def test_memory_measure_stays_in_one_process() -> None:
    spec = str(ROOT / "specs" / "sharded_layer.yaml")
    args = ["--coordinator", "127.0.0.1:9", "--num-processes", "2", "--process-id", "0"]
    out = CliRunner().invoke(cli, ["memory", spec, "--measure", *args])
    assert out.exit_code == 2
    assert "--measure times a run, which differs between processes: use one" in out.output


def test_the_environment_asks_only_for_several_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JAX_COORDINATOR_ADDRESS", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not environment_asks()
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")  # an sbatch script running adcli once
    assert not environment_asks()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert environment_asks()
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    assert environment_asks()


def test_one_process_keeps_its_verdicts() -> None:
    result = SpecResult("s", None, None, "fail", 0, 1, {}, "cpu", {}, "-")
    assert agree_across_processes([result]) == [result]
