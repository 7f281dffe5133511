"""[tool.adcli] configuration: reading, errors, precedence (CLI > spec > config), provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._errors import UsageError
from adcli._spec.config import find_pyproject, load_config
from adcli._spec.load import load_text
from adcli._spec.select import Overrides, apply

PYPROJECT = """\
[project]
name = "demo"

[tool.adcli]
specs = ["checks"]
rtol = 1e-5
points = 3
format = "markdown"
memory-budget = "8GB"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "sq.yaml").write_text(
        "name: sq\nfunction: {expr: 'sum(x * x)'}\ninputs: {x: [2]}\n"
    )
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_values_and_where_they_come_from(project: Path) -> None:
    config = load_config()
    assert config.file == str(project / "pyproject.toml")
    assert config["rtol"] == 1e-5 and config.source("rtol").endswith("pyproject.toml:6")
    assert config["points"] == 3 and config.source("points").endswith("pyproject.toml:7")
    assert config["memory-budget"] == 8 * 10**9
    assert config["seed"] is None and config.source("seed") == "default"
    assert config["specs"] == ("checks",)


def test_nearest_pyproject_with_the_table_is_found_walking_up(project: Path) -> None:
    (project / "sub" / "pyproject.toml").write_text("[project]\nname = 'sub'\n")  # no table
    assert find_pyproject(project / "sub" / "deeper") == str(project / "pyproject.toml")
    (project / "sub" / "pyproject.toml").write_text("[tool.adcli]\npoints = 5\n")
    assert find_pyproject(project / "sub" / "deeper") == str(project / "sub" / "pyproject.toml")
    assert find_pyproject("/") is None


def test_specs_are_relative_to_the_pyproject(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "sub" / "deeper")
    assert load_config()["specs"] == ("../../checks",)


def test_unknown_key_is_an_error_with_did_you_mean() -> None:
    with pytest.raises(
        UsageError,
        match=r"pyproject.toml:2: \[tool.adcli\]: unknown key 'rtl' \(did you mean 'rtol'\?\)",
    ):
        load_config(text="[tool.adcli]\nrtl = 1e-6\n", file="pyproject.toml")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("points = 0", "points: expected an int >= 1, got 0"),
        ("rtol = -1.0", "rtol: expected a number >= 0"),
        ('format = "jsno"', "did you mean 'json'"),
        ('memory-budget = "8 gigs"', "unknown unit 'gigs'"),
        ("allow-inconclusive = 1", "expected true or false"),
        ("specs = 3", "expected a list of paths"),
    ],
)
def test_bad_values_name_the_line(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=r"pyproject.toml:2: .*" + message.replace("(", r"\(")):
        load_config(text=f"[tool.adcli]\n{line}\n", file="pyproject.toml")


def test_cli_unknown_key_exits_2(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.adcli]\npoint = 3\n")
    result = CliRunner().invoke(cli, ["check", "checks"])
    assert result.exit_code == 2
    assert "unknown key 'point' (did you mean 'points'?)" in result.output
    assert CliRunner().invoke(cli, ["config"]).exit_code == 2


def test_show_config_gives_provenance_and_cli_wins(project: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--show-config", "--points", "5", "--seed", "2"])
    assert result.exit_code == 0
    lines = {line.split(" = ")[0]: line for line in result.output.splitlines() if " = " in line}
    assert lines["points"].split("#")[0].strip() == "points = 5"
    assert lines["points"].endswith("# command line")
    assert lines["rtol"].startswith("rtol = 1e-05") and lines["rtol"].endswith("pyproject.toml:6")
    assert lines["atol"].endswith("# default")
    assert lines["format"].startswith('format = "markdown"')
    plain = CliRunner().invoke(cli, ["config"])
    assert plain.exit_code == 0 and "points = 3" in plain.output
    assert plain.output.splitlines()[0] == f"# {project / 'pyproject.toml'}"


SPECS = """\
name: own
function: {expr: 'sum(x * x)'}
inputs: {x: [2]}
check: {rtol: 1e-3, points: 1}
---
name: bare
function: {expr: 'sum(x * x)'}
inputs: {x: [2]}
"""


def test_precedence_cli_over_spec_over_config() -> None:
    specs = load_text(SPECS)
    defaults = {"rtol": 1e-5, "points": 3, "seed": 4, "atol": None}
    own, bare = apply(specs, Overrides(defaults=defaults))
    assert (own.check.rtol, own.check.points, own.check.seed) == (1e-3, 1, 4)  # spec kept
    assert (bare.check.rtol, bare.check.points, bare.check.seed) == (1e-5, 3, 4)  # config
    own, bare = apply(specs, Overrides(defaults=defaults, rtol=1e-9, points=2))
    assert (own.check.rtol, own.check.points) == (1e-9, 2)  # the command line beats both
    assert (bare.check.rtol, bare.check.points, bare.check.seed) == (1e-9, 2, 4)


def test_check_without_paths_uses_config_specs_and_format(project: Path) -> None:
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("## adcli check")  # format = "markdown" from the config
    assert "| sq | ✅ pass |" in result.output
    text = CliRunner().invoke(cli, ["check", "--format", "text"])
    assert "PASS" in text.output and "3 pt" in text.output  # points = 3 from the config


def test_check_without_paths_or_config_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "no PATHS given and no [tool.adcli] specs" in result.output
