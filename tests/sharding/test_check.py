"""adcli check on a sharded spec: sharded programs, --parity, JAX's rejections, localisation,
on the 8 simulated CPU devices of tests/conftest.py (docs/sharding.md)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import jax
import numpy as np
import pytest
from click.testing import CliRunner

from adcli._check.engine import check_problem, check_spec
from adcli._check.parity import SLACK
from adcli._check.run import check_specs
from adcli._cli.main import cli
from adcli._numerics.batches import on_device
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.function import InputFunction
from adcli._problem.build import build
from adcli._spec.load import load_file, load_text

ROOT = Path(__file__).resolve().parents[2]


def _spec(folder: str, file: str, name: str | None = None, *, parity: bool = False):
    specs = load_file(ROOT / folder / file)
    (spec,) = [s for s in specs if name is None or s.name == name]
    return spec.replace(check=dataclasses.replace(spec.check, parity=parity))


def test_the_check_programs_are_sharded_and_run_the_collectives() -> None:
    problem = build(_spec("specs", "sharded_mlp.yaml"))
    result = check_problem(problem)
    assert result.verdict == "pass"
    assert result.notes[0] == (
        "sharded: mesh {data: 4, model: 2} (auto axes) on 8 cpu devices (simulated: XLA's "
        "host device count)"
    )
    (evals,) = [v for k, v in problem.cache.items() if k[0] == "check-evaluator"]
    inputs, constants = problem.sample_inputs(0), problem.sample_constants()
    x0 = evals.fn.point(inputs)
    assert x0.sharding.is_fully_replicated and len(x0.sharding.device_set) == 8
    rows = evals._put(np.arange(1))  # the full method: the Jacobians by JVPs and VJPs
    vjp = evals._jit[("jacobians", False)].lower(rows, x0, inputs, constants).compile()
    # The batch arrives split over data, and the reductions over data and model are
    # collectives in the check's own VJP program, as in the training step.
    assert vjp.input_shardings[0][3]["batch"].spec == jax.sharding.PartitionSpec("data", None)
    assert "all-reduce" in vjp.as_text()
    assert all(s.is_fully_replicated for s in vjp.output_shardings)


def test_without_a_mesh_the_evaluator_is_plain_jit() -> None:
    problem = build(_spec("specs", "quadratic.yaml"))
    evals = Evaluator(InputFunction(problem, problem.spec.wrt))
    assert evals._compile is jax.jit and evals._put is on_device  # device_put, may alias
    assert problem.mesh is None


def test_parity_passes_on_the_right_layers_and_reports_the_difference() -> None:
    for file in ("sharded_mlp.yaml", "sharded_layer.yaml"):
        result = check_spec(_spec("specs", file, parity=True))
        parity = [c for c in result.comparisons if c.kind.startswith("parity")]
        kinds = {(c.wrt, c.kind) for c in parity}
        assert ("-", "parity:value") in kinds and {c.point for c in parity} == {0, 1}
        assert result.verdict == "pass"
        for comp in parity:
            assert comp.verdict == "pass" and comp.margin < 0.1  # rounding, far below
            assert comp.max_abs_error < 1e-14
            assert re.fullmatch(
                r"max \|sharded − one device\| = \S+ where the allowance is \S+ "
                rf"\({SLACK}·√N·ε·\(\|v\| \+ RMS\), N = \d+, ε = 2.22e-16: reduction-order "
                r"rounding\)",
                comp.reason or "",
            )
    layer = check_spec(_spec("specs", "sharded_layer.yaml", parity=True))
    assert {c.kind for c in layer.comparisons if c.wrt == "w"} >= {"rev", "parity:rev"}
    # custom_vjp: no forward mode, so no parity of JVPs either.
    assert not [c for c in layer.comparisons if c.kind == "parity:fwd"]


def test_parity_names_the_leaf_and_the_shards_of_a_doubled_collective() -> None:
    result = check_spec(_spec("examples", "sharded.yaml", "sharded_psum_twice", parity=True))
    failing = [c for c in result.comparisons if c.verdict == "fail"]
    assert {(c.wrt, c.kind) for c in failing} == {("w", "rev"), ("w", "parity:rev")}
    for comp in (c for c in failing if c.kind == "parity:rev"):
        assert comp.failed == comp.compared == 24  # every element of w, on every shard
        assert set(comp.locations) == {
            "shard {model: 0} on devices 0, 2, 4, 6",
            "shard {model: 1} on devices 1, 3, 5, 7",
        }
        for row in comp.worst:
            assert re.fullmatch(
                r"w\[\d, \d\] \(shard \{model: [01]\} on devices .*\)", row.input_index
            )
            assert row.ad / row.reference == pytest.approx(4.0, rel=1e-12)  # |data| = 4
        assert comp.diagnosis == (
            "the sharded program differs from one device beyond reduction-order rounding: a "
            "collective missing, counted twice or over the wrong axis?"
        )
    assert "w: rev: constant ratio: AD = 4 × FD (a scale bug)" in result.diagnoses


def test_parity_of_a_psum_over_the_wrong_axis_names_the_batch_shards() -> None:
    result = check_spec(_spec("examples", "sharded.yaml", "sharded_wrong_axis", parity=True))
    failing = {(c.wrt, c.kind) for c in result.comparisons if c.verdict == "fail"}
    assert failing == {("x", "rev"), ("x", "parity:rev")}
    comp = next(c for c in result.comparisons if c.kind == "parity:rev" and c.wrt == "x")
    assert set(comp.locations) == {
        f"shard {{data: {i}}} on devices {2 * i}, {2 * i + 1}" for i in range(4)
    }


def test_jax_rejecting_a_missing_psum_fails_reverse_mode_with_its_reason() -> None:
    spec = _spec("examples", "sharded.yaml", "sharded_missing_psum")
    (result,) = check_specs([spec]).results
    assert result.verdict == "fail" and result.error is None and result.margin == math.inf
    rejected = [c for c in result.comparisons if c.kind == "rev"]
    assert {c.wrt for c in rejected} == {"x", "w"} and {c.point for c in rejected} == {0, 1}
    for comp in rejected:
        assert comp.verdict == "fail" and comp.compared == 0
        assert (comp.reason or "").startswith(
            "JAX rejects reverse mode of this sharded function: ValueError: Custom VJP bwd rule "
            "must produce an output with the same type as the args tuple of the primal "
            "function, but at output[1]"
        )
        assert comp.diagnosis == (
            "JAX's check_vma type check rejects it: a collective (psum) in a custom backward "
            "or a shard_map body is missing or over the wrong mesh axis"
        )
    # No comparison with FD was made: no "disagrees with FD" line.
    assert not [d for d in result.diagnoses if "disagrees with FD" in d]


def test_group_testing_localises_a_bug_in_a_sharded_input(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "name: sharded_one_coordinate\n"
        f"function: {{python: {ROOT / 'examples' / 'buggy_models.py'}:softplus_one_coordinate}}\n"
        "mesh: {data: 8}\n"
        "inputs:\n  x: {shape: [n], sharding: [data], seed: 0}\n"
        "dims: {n: 10000}\n"
        "check: {points: 1}\n"
    )
    (spec,) = load_file(tmp_path / "spec.yaml")
    result = check_spec(spec)
    (rev,) = [c for c in result.comparisons if c.kind == "rev"]
    assert rev.verdict == "fail" and rev.method == "directions"
    assert rev.locations == ("x[4321]",)


def test_cli_parity_json_and_devices(tmp_path: Path) -> None:
    runner = CliRunner()
    spec = str(ROOT / "examples" / "sharded.yaml")
    out = runner.invoke(
        cli,
        [
            "check",
            spec,
            "--spec",
            "sharded_psum_twice",
            "--parity",
            "--devices",
            "8",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 1, out.output
    data = json.loads(out.output)
    kinds = {c["kind"] for c in data["specs"][0]["comparisons"]}
    assert {"parity:value", "parity:rev"} <= kinds
    text = runner.invoke(cli, ["check", spec, "--spec", "sharded_psum_twice", "--parity"])
    heads = [line.split() for line in text.output.splitlines() if "one device" in line]
    assert [
        "input",
        "output",
        "sharded",
        "one",
        "device",
        "allowance",
        "margin",
    ] in heads  # no FD was taken: no step or FD error columns
    # JAX started in this process with 8 devices: more cannot be had.
    more = runner.invoke(cli, ["check", spec, "--devices", "16"])
    assert more.exit_code == 2
    assert "--devices 16: JAX has already started in this process with 8 CPU device(s)" in (
        more.output
    )
    missing = runner.invoke(cli, ["check", spec, "--spec", "sharded_missing_psum"])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "JAX rejects reverse mode of this sharded function" in missing.output


def test_an_unsharded_spec_ignores_parity() -> None:
    result = check_spec(_spec("specs", "quadratic.yaml", parity=True))
    assert not [c for c in result.comparisons if c.kind.startswith("parity")]
    assert not [n for n in result.notes if n.startswith("sharded")]


def test_explicit_axes_check_and_parity() -> None:
    (spec,) = load_text(
        "name: explicit\nfunction: {expr: sum(tanh(x @ w) ** 2)}\n"
        "mesh: {data: 4, model: 2}\nmesh_axis_types: explicit\n"
        "inputs: {w: {shape: [4, 6], sharding: [null, model]}}\n"
        "constants: {x: {shape: [8, 4], sharding: [data, null]}}\n"
        "check: {parity: true}\n"
    )
    result = check_spec(spec)
    assert result.verdict == "pass", [(c.kind, c.verdict, c.reason) for c in result.comparisons]
    assert result.notes[0].startswith("sharded: mesh {data: 4, model: 2} (explicit axes)")
    assert {c.kind for c in result.comparisons} >= {"fwd", "rev", "parity:fwd", "parity:rev"}
