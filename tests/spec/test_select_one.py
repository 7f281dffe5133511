"""select.one_spec and select.all_loaded: the one-spec and all-files-loaded preludes of the
engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from adcli._errors import AdcliError, UsageError
from adcli._spec.load import load_text
from adcli._spec.select import all_loaded, one_spec, select_specs

ONE = """
name: {name}
function: {{expr: "sum(x ** 2)"}}
inputs: {{x: {{shape: [2]}}}}
"""


def test_one_spec_passes_a_spec_through_and_loads_a_file(tmp_path: Path) -> None:
    spec = load_text(ONE.format(name="a"))[0]
    assert one_spec(spec, instead="x_report") is spec
    path = tmp_path / "a.yaml"
    path.write_text(ONE.format(name="a"))
    assert one_spec(path, instead="x_report").name == "a"


def test_one_spec_refuses_a_file_of_several(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(ONE.format(name="a") + "---\n" + ONE.format(name="b"))
    message = f"{path} holds 2 specs \\(a, b\\): pass one Spec, or use x_report for a file"
    with pytest.raises(UsageError, match=message):
        one_spec(path, instead="x_report")


def test_all_loaded_raises_every_load_error(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(ONE.format(name="a"))
    (tmp_path / "bad.yaml").write_text("name: b\nfunction: {expr: 'x'}\n")
    with pytest.raises(AdcliError, match=r"bad\.yaml"):
        all_loaded(select_specs(tmp_path))
    (tmp_path / "bad.yaml").unlink()
    assert [s.name for s in all_loaded(select_specs(tmp_path))] == ["a"]
