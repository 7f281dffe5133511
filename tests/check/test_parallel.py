"""``adcli check -j N``: specs checked in spawned workers give the serial report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adcli._check.parallel import MIN_CORES, SPECS_PER_WORKER, auto_jobs
from adcli._cli.main import cli

SPECS = {
    "a.yaml": """\
name: ok
function:
  expr: sum(sin(x))
inputs:
  x: {shape: [3], init: normal, seed: 0}
output: {shape: []}
""",
    "b.yaml": """\
name: wrong_grad
function:
  expr: sum(x * x)
inputs:
  x: {shape: [3], init: normal, seed: 0}
output: {shape: []}
expect:
  grad:
    x: 3 * x
""",
    "c.yaml": """\
name: unbuildable
function:
  python: no_such_module_xyz:f
inputs:
  x: {shape: [3], init: normal, seed: 0}
output: {shape: []}
""",
}
TIMING = {"seconds", "compiles", "compiles_cached", "compile_seconds"}


def _untimed(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _untimed(v) for k, v in data.items() if k not in TIMING}
    if isinstance(data, list):
        return [_untimed(v) for v in data]
    return data


@pytest.mark.parametrize(
    ("specs", "cores", "jobs"),
    [(1, 16, 1), (7, 4, 1), (8, 4, 2), (47, 2, 1), (47, 3, 1), (47, 16, 11), (100, 4, 4)],
)
def test_auto_jobs_one_worker_per_core_and_per_few_specs(specs: int, cores: int, jobs: int) -> None:
    assert (SPECS_PER_WORKER, MIN_CORES) == (4, 4)
    assert auto_jobs(specs, cores) == jobs


def test_workers_give_the_serial_report_in_order_with_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in SPECS.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADCLI_CACHE_DIR", "")
    runs = {}
    for jobs in ("1", "3"):
        args = ["check", "a.yaml", "b.yaml", "c.yaml", "-j", jobs, "--format", "json"]
        runs[jobs] = CliRunner().invoke(cli, args)
    serial, parallel = (json.loads(runs[j].stdout) for j in ("1", "3"))
    assert runs["1"].exit_code == runs["3"].exit_code == 2  # the unbuildable spec
    assert [s["name"] for s in parallel["specs"]] == ["ok", "wrong_grad", "unbuildable"]
    assert [s["verdict"] for s in parallel["specs"]] == ["pass", "fail", "error"]
    assert parallel["specs"][2]["file"] == "c.yaml" and parallel["specs"][2]["line"] == 3
    assert "cannot import 'no_such_module_xyz'" in parallel["specs"][2]["error"]
    assert parallel["specs"][0]["compiles"] > 0  # counted in the worker
    assert _untimed(parallel) == _untimed(serial)


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_jobs_must_be_auto_or_a_positive_number(value: str) -> None:
    result = CliRunner().invoke(cli, ["check", "specs/quadratic.yaml", "-j", value])
    assert result.exit_code == 2
    assert f"'{value}' is neither auto nor a whole number ≥ 1" in result.output
