"""The spec keys of a sharded spec: mesh:, mesh_axis_types:, sharding: (adcli/_spec/sharding.py).

Every mistake is a SpecError naming file, line and field, pinned here; loading imports no jax.
"""

from __future__ import annotations

import pytest

from adcli._errors import SpecError, UsageError
from adcli._spec.load import apply_overrides, load_text
from adcli._spec.model import ArraySpec, MeshSpec
from adcli._spec.schema import spec_schema

HEAD = "name: s\nfunction: {python: m.py:f}\n"


def _load(text: str, tmp_path) -> object:
    (tmp_path / "m.py").write_text("def f(**kw):\n    return 0.0\n")
    (spec,) = load_text(HEAD + text, file="s.yaml", base_dir=str(tmp_path))
    return spec


def test_a_sharded_spec_loads_its_mesh_and_partition_specs(tmp_path) -> None:
    spec = _load(
        "mesh: {data: 4, model: 2}\n"
        "mesh_axis_types: explicit\n"
        "inputs:\n"
        "  p:\n"
        "    w: {shape: [d, h], sharding: [null, model]}\n"
        "    v: {shape: [h, d], sharding: [[data, model]]}\n"
        "constants:\n"
        "  x: {shape: [B, d], sharding: [data]}\n"
        "dims: {B: 8, d: 4, h: 8}\n",
        tmp_path,
    )
    assert spec.mesh == MeshSpec({"data": 4, "model": 2}, "explicit", spec.mesh.where)
    assert spec.mesh.size == 8 and str(spec.mesh) == "{data: 4, model: 2}"
    assert spec.mesh.where.line == 3
    w, v = spec.inputs["p"]["w"], spec.inputs["p"]["v"]
    assert isinstance(w, ArraySpec) and w.sharding == (None, "model")
    assert v.sharding == (("data", "model"),)
    assert spec.constants["x"].sharding == ("data",)


def test_without_a_mesh_nothing_is_sharded(tmp_path) -> None:
    spec = _load("inputs: {x: [3]}\n", tmp_path)
    assert spec.mesh is None and spec.inputs["x"].sharding is None
    assert spec.check.parity is False


BAD = [
    # (yaml after HEAD, line, field, message)
    (
        "mesh: {data: 2}\ninputs: {x: {shape: [4], sharding: [dta]}}\n",
        4,
        "inputs.x.sharding[0]",
        r"'dta' is not an axis of the mesh \{data: 2\} \(did you mean 'data'\?\)",
    ),
    (
        "mesh: {data: 4}\ndims: {n: 6}\ninputs: {x: {shape: [n], sharding: [data]}}\n",
        5,
        "inputs.x.sharding[0]",
        r"dimension 0 of 'x' has size 6, which mesh axis 'data' \(size 4\) does not divide",
    ),
    (
        "mesh: {a: 2, b: 3}\ninputs: {x: {shape: [12, 4], sharding: [[a, b], a]}}\n",
        4,
        "inputs.x.sharding[1]",
        r"mesh axis 'a' splits two dimensions of 'x' \(0 and 1\)",
    ),
    (
        "mesh: {a: 2, b: 4}\ninputs: {x: {shape: [12], sharding: [[a, b]]}}\n",
        4,
        "inputs.x.sharding[0]",
        r"mesh axes 'a', 'b' \(together 8\) does not divide",
    ),
    (
        "mesh: {a: 2}\ninputs: {x: {shape: [4], sharding: [a, null]}}\n",
        4,
        "inputs.x.sharding",
        r"2 sharding entries for 'x', which has 1 dimension \(give at most one entry",
    ),
    (
        "inputs: {x: {shape: [4], sharding: [data]}}\n",
        3,
        "inputs.x.sharding",
        r"a sharding needs a mesh: this spec has no mesh: \(add a mesh",
    ),
    (
        "mesh: {a: 2}\ninputs: {x: {shape: [4], sharding: a}}\n",
        4,
        "inputs.x.sharding",
        r"expected a list with one entry per dimension, got a string \(write \[a\]\)",
    ),
    (
        "mesh: {a: 2}\ninputs: {x: {shape: [4], sharding: [3]}}\n",
        4,
        "inputs.x.sharding[0]",
        r"expected a mesh axis name, a list of names or null, got an int",
    ),
    ("mesh: {}\ninputs: {x: [4]}\n", 3, "mesh", r"a mesh needs at least one axis"),
    ("mesh: {data: 0}\ninputs: {x: [4]}\n", 3, "mesh.data", r"expected an int >= 1, got 0"),
    ("mesh: [4, 2]\ninputs: {x: [4]}\n", 3, "mesh", r"expected a mapping of axis names"),
    (
        "mesh_axis_types: explicit\ninputs: {x: [4]}\n",
        3,
        "mesh_axis_types",
        r"mesh_axis_types needs a mesh",
    ),
    (
        "mesh: {a: 2}\nmesh_axis_types: explicitt\ninputs: {x: [4]}\n",
        4,
        "mesh_axis_types",
        r"unknown axis type 'explicitt' \(did you mean 'explicit'\?\)",
    ),
    (
        "mesh: {data: 2}\ndims: {n: 4}\ninputs: {x: {shape: [n], sharding: [data]}}\n"
        "check: {dims: {n: 3}}\n",
        5,
        "inputs.x.sharding[0]",
        r"at check.dims \(n=3\): dimension 0 of 'x' has size 3, which mesh axis 'data'",
    ),
    ("inputs: {x: [4]}\ncheck: {parity: yes please}\n", 4, "check.parity", r"expected true or"),
    (
        "inputs: {x: {sharding: [a]}}\n",
        3,
        "inputs.x",
        r"missing required key 'shape'",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "match"), BAD, ids=[b[2] for b in BAD])
def test_each_mistake_names_file_line_and_field(
    text: str, line: int, field: str, match: str, tmp_path
) -> None:
    with pytest.raises(SpecError, match=match) as info:
        _load(text, tmp_path)
    assert (info.value.file, info.value.line, info.value.field) == ("s.yaml", line, field)


def test_an_output_takes_no_sharding(tmp_path) -> None:
    with pytest.raises(SpecError, match="unknown key 'sharding'") as info:
        _load("mesh: {a: 2}\ninputs: {x: [4]}\noutput: {shape: [], sharding: []}\n", tmp_path)
    assert info.value.field == "output.sharding"


def test_a_dim_override_that_breaks_a_sharding_is_a_usage_error(tmp_path) -> None:
    spec = _load(
        "mesh: {data: 4}\ndims: {n: 8}\ninputs: {x: {shape: [n], sharding: [data]}}\n", tmp_path
    )
    assert apply_overrides(spec, dims={"n": 12}).dims == {"n": 12}
    with pytest.raises(UsageError, match=r"with --dim n=6: .*mesh axis 'data' \(size 4\)"):
        apply_overrides(spec, dims={"n": 6})


def test_the_schema_knows_the_keys() -> None:
    schema = spec_schema()
    assert schema["properties"]["mesh_axis_types"]["anyOf"][1] == {"enum": ["auto", "explicit"]}
    assert "sharding" in schema["$defs"]["input_leaf"]["properties"]
    assert "sharding" in schema["$defs"]["constant_leaf"]["properties"]
    assert "sharding" not in schema["$defs"]["output_leaf"]["properties"]
    assert schema["properties"]["check"]["anyOf"][1]["properties"]["parity"] == {
        "anyOf": [{"type": "null"}, {"type": "boolean"}]
    }
