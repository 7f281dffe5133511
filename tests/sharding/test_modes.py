"""choose-mode on a mesh: candidates compiled and timed as sharded programs, their collectives
counted, and the answer compared with one device's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._modes.engine import choose_mode
from adcli._modes.sharded import collectives
from adcli._spec.load import load_file

ROOT = Path(__file__).resolve().parents[2]


def test_sharded_prediction_and_the_one_device_answer() -> None:
    (spec,) = load_file(ROOT / "specs" / "sharded_mlp.yaml")
    result = choose_mode(spec, measure="none")
    assert result.recommendation == "reverse"  # 104 inputs, 1 output
    mesh = result.mesh
    assert mesh is not None
    assert (mesh.axes, mesh.devices, mesh.platform) == ({"data": 4, "model": 2}, 8, "cpu")
    # Both candidates reduce over the mesh: each compiled program has collectives.
    assert set(mesh.collectives) == {"forward", "reverse"}
    assert all(count > 0 for count in mesh.collectives.values())
    assert mesh.one_device == "reverse" and mesh.changes_answer is False
    assert result.reason.endswith(
        "On one device reverse wins too: the collectives do not change the answer "
        f"(collective ops per program: forward {mesh.collectives['forward']}, "
        f"reverse {mesh.collectives['reverse']})."
    )


def test_sharded_candidates_are_timed_as_sharded_programs() -> None:
    # At 104 inputs both programs take about a millisecond, dispatch included: which one
    # wins is timing noise, so only what the measurement must contain is pinned here.
    (spec,) = load_file(ROOT / "specs" / "sharded_mlp.yaml")
    result = choose_mode(spec, measure="all", time_budget=0.2)
    timed = [c for c in result.candidates if c.median_seconds is not None]
    assert {c.name for c in timed} == {"forward", "reverse"}
    mesh = result.mesh
    assert mesh is not None and mesh.one_device in {"forward", "reverse"}
    assert all(count > 0 for count in mesh.collectives.values())
    assert f"On one device {mesh.one_device} wins" in result.reason


def test_collectives_are_counted_in_the_compiled_text() -> None:
    class Text:
        def __init__(self, text: str) -> None:
            self.text = text

        def as_text(self) -> str:
            return self.text

    hlo = (
        "  %a = f64[4]{0} all-reduce(f64[4]{0} %x), replica_groups={{0,1}}\n"
        "  %b = (f64[2]{0}, f64[8]{0}) all-gather-start(f64[2]{0} %y)\n"
        "  %c = f64[8]{0} all-gather-done((f64[2]{0}, f64[8]{0}) %b)\n"
        "  %d = f64[4]{0} add(f64[4]{0} %a, f64[4]{0} %a)\n"
    )
    assert collectives(Text(hlo)) == 2
    assert collectives(object()) == 0


def test_json_has_the_mesh_only_for_a_sharded_spec() -> None:
    runner = CliRunner()
    out = runner.invoke(
        cli,
        [
            "choose-mode",
            str(ROOT / "specs" / "sharded_layer.yaml"),
            "--measure",
            "none",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    (spec,) = json.loads(out.output)["results"]
    assert spec["mesh"]["axes"] == {"data": 4, "model": 2}
    assert spec["mesh"]["one_device"] == spec["recommendation"] == "reverse"
    plain = runner.invoke(
        cli,
        [
            "choose-mode",
            str(ROOT / "specs" / "modes" / "linear_map.yaml"),
            "--measure",
            "none",
            "--format",
            "json",
        ],
    )
    assert plain.exit_code == 0, plain.output
    assert "mesh" not in json.loads(plain.output)["results"][0]
