"""Every command's tail, the same way: ``-o`` JSON with the documented keys (pinned here for
all six), the chosen ``--format`` on stdout, and the report's exit code.

Each command runs once on a small bundled spec with ``--format text -o FILE``: the file
holds the JSON, stdout the terminal report. The key lists are what docs/json.md and each
command's page document; a key may be added (``dtypes`` and ``notes`` came with the shared
header), never removed or renamed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._report.formats import RENDERERS, formats
from adcli._results.reports import REPORTS

ROOT = Path(__file__).resolve().parents[2]

HEADER = {"name", "file", "line", "dims", "backend", "dtypes", "notes", "seconds"}
COMMANDS: dict[str, tuple[list[str], int, list[str], str, set[str]]] = {
    # command: (arguments, exit code, top-level keys in order, where the specs are, spec keys)
    "check": (
        ["check", "specs/quadratic.yaml", "--points", "1"],
        0,
        ["schema_version", "verdict", "exit_code", "seconds", "errors", "specs"],
        "specs",
        HEADER
        | {"verdict", "seed", "points", "method", "comparisons", "diagnoses", "error", "margin"}
        | {"compiles", "compiles_cached", "compile_seconds"},
    ),
    "choose-mode": (
        ["choose-mode", "specs/modes/linear_map.yaml", "--measure", "none", "--dim", "m=8"],
        0,
        ["results", "sweeps", "errors", "seconds", "exit_code", "schema_version", "skipped"],
        "results",
        HEADER
        | {"target", "n", "m", "dtype", "candidates", "recommendation", "reason", "predicted"}
        | {"tied", "cut", "errors", "memory_budget_bytes", "measure", "timing_method"},
    ),
    "memory": (
        ["memory", "specs/memory/mlp.yaml", "--no-policies", "--layers", "4"],
        1,  # the spec's memory.budget guard: 4 stacked blocks exceed it
        ["schema_version", "exit_code", "seconds", "specs"],
        "specs",
        HEADER
        | {"residuals", "compiled", "policies", "layers", "carry", "carry_bytes", "block_flops"}
        | {"schedules", "budget", "guard", "recommendation", "measurement", "warnings"},
    ),
    "explain": (
        ["explain", "specs/lecture_L.yaml"],
        0,
        ["schema_version", "exit_code", "seconds", "errors", "specs"],
        "specs",
        HEADER
        | {"kind", "point", "seed", "at", "wrt", "direction", "cotangent", "nodes", "edges"}
        | {"outputs", "summary", "summarised", "max_nodes", "all_nodes", "forward", "reverse"}
        | {"grad_error", "storage", "values_omitted"},
    ),
    "estimate": (
        [
            "estimate",
            "specs/estimate/rosenbrock.yaml",
            "--dim",
            "n=4",
            "--time-budget",
            "0.01",
            "--rounds",
            "1",
            "--seeds",
            "2",
        ],
        0,
        ["schema_version", "results", "sweeps", "errors", "seconds", "notes", "exit_code"],
        "results",
        HEADER
        | {"d", "m", "dtype", "scalarized", "k", "directions", "seeds", "batch", "sequential"}
        | {"eval_seconds", "eval_compile_seconds", "grad_norm", "methods", "errors"}
        | {"timing_method", "exit_code"},
    ),
    "curvature": (
        [
            "curvature",
            "specs/quadratic.yaml",
            "--trace",
            "--hvps",
            "8",
            "--eigs",
            "1",
            "--measure",
            "none",
            "--check-directions",
            "2",
        ],
        0,
        ["schema_version", "exit_code", "seconds", "specs", "skipped"],
        "specs",
        HEADER
        | {"d", "dtype", "point", "seed", "value", "grad_norm", "memory_budget_bytes"}
        | {"strategy", "check", "exact", "trace", "eigs", "hvps", "trusted", "exit_code"},
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, dict[str, Any]]]:
    """(exit code, stdout, the -o JSON) of each command, run once with --format text."""
    out = {}
    tmp = tmp_path_factory.mktemp("json")
    for command, (arguments, *_) in COMMANDS.items():
        path = tmp / f"{command}.json"
        result = CliRunner().invoke(cli, [*arguments, "--format", "text", "-o", str(path)])
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        out[command] = (result.exit_code, result.output, data)
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_json_keys_are_pinned(command: str, runs: dict[str, Any]) -> None:
    _, code, top, where, keys = COMMANDS[command]
    exit_code, output, data = runs[command]
    assert exit_code == code, output
    assert list(data) == top
    assert data["exit_code"] == exit_code  # the JSON says what the command exited with
    (spec,) = data[where]
    assert set(spec) == keys


@pytest.mark.parametrize("command", ["choose-mode", "estimate", "curvature"])
def test_dtype_stays_beside_the_shared_dtypes(command: str, runs: dict[str, Any]) -> None:
    *_, where, _ = COMMANDS[command]
    (spec,) = runs[command][2][where]
    keys = list(spec)
    assert keys.index("dtype") + 1 == keys.index("dtypes")  # the documented key, then the new
    assert set(spec["dtypes"].values()) == {spec["dtype"]}


def test_choose_mode_statuses_are_their_one_line_text(runs: dict[str, Any]) -> None:
    (spec,) = runs["choose-mode"][2]["results"]
    assert {c["status"] for c in spec["candidates"]} == {"ok"}  # --measure none: compiled
    assert all("detail" not in c for c in spec["candidates"])


@pytest.mark.parametrize("command", COMMANDS)
def test_text_goes_to_stdout_beside_the_json_file(command: str, runs: dict[str, Any]) -> None:
    _, output, data = runs[command]
    assert not output.lstrip().startswith("{")  # the terminal report, not the JSON
    names = [s["name"] for s in data.get("specs") or data.get("results") or []]
    assert names and all(name in output for name in names)


def test_every_report_has_one_row_of_formats_with_text_first() -> None:
    assert set(RENDERERS) == set(REPORTS)
    for report in REPORTS:
        assert formats(report)[:2] == ("text", "json")
    assert formats(REPORTS[0]) == ("text", "json", "github", "markdown")


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        ("check", "[text|json|github|markdown]"),
        ("choose-mode", "[text|json]"),
        ("explain", "[text|json|markdown|dot]"),
    ],
)
def test_format_choices_come_from_the_table(command: str, choices: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert choices in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["memory", "x.yaml", "--budget", "0"], "expected a positive size, got '0'"),
        (["choose-mode", "x.yaml", "--memory-budget", "8 gigs"], "unknown unit 'gigs'"),
        (["estimate", "x.yaml", "--memory-budget", "-1GB"], "expected a size such as 8GB"),
        (["curvature", "x.yaml", "--memory-budget", "0"], "expected a positive size"),
        (["explain", "x.yaml", "--dim", "n"], "expected NAME=SIZE (e.g. n=1000), got 'n'"),
        (["curvature", "x.yaml", "--dim", "n=x"], "expected NAME=SIZE"),
    ],
)
def test_one_size_and_one_dims_parser_for_every_command(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_an_error_is_one_line_and_exit_2_for_every_command() -> None:
    for command in COMMANDS:
        result = CliRunner().invoke(cli, [command, str(ROOT / "no_such_dir")])
        assert result.exit_code == 2, (command, result.output)
        assert result.output.startswith("adcli: error: "), (command, result.output)
