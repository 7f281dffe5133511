"""`adcli schema` against the loader: every good spec validates, every schema-level bad one fails.

jsonschema is not a dependency, so a small validator for the keywords the schema uses is
below (it refuses any keyword it does not know, so the schema cannot silently outgrow it).
If jsonschema is installed, the same documents are checked with it too.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from adcli._errors import SpecError
from adcli._spec.load import load_file
from adcli._spec.schema import spec_schema
from adcli._spec.yaml import load_documents

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "bad"

# Bad fixtures a JSON Schema cannot catch, and why (the loader does; test_load pins the message).
NOT_SCHEMA_LEVEL = {
    # the YAML itself does not parse (or is not one document per spec): no data to validate
    "bad_yaml_syntax.yaml": "YAML syntax error",
    "duplicate_key.yaml": "a key given twice: JSON data cannot hold it",
    "tab_indent.yaml": "YAML syntax error (tab)",
    "unsafe_tag.yaml": "YAML tag refused by the reader",
    "empty.yaml": "no document at all",
    "duplicate_spec_name.yaml": "names unique across documents of a file",
    # semantic: needs the values of other keys, or the file system
    "unknown_dim.yaml": "a shape's dim must be defined under dims:",
    "negative_size.yaml": "n - 5 is negative only with n = 3",
    "value_shape_mismatch.yaml": "the value must broadcast to the resolved shape",
    "python_file_missing.yaml": "the .py file must exist",
    "init_file_missing.yaml": "the .npy file must exist",
    "input_and_constant.yaml": "a name may not be both input and constant",
    "wrt_not_input.yaml": "wrt must name inputs",
    "wrt_constant.yaml": "wrt must name inputs, not constants",
    "expect_not_input.yaml": "expect keys must name inputs",
    "bad_uniform_range.yaml": "lo < hi compares two items",
    "ragged_value.yaml": "rows of a nested list must have equal lengths",
    "factor_without_reference.yaml": "check.factor needs reference: beside it",
}


# --- a validator for the subset of JSON Schema 2020-12 that spec_schema() uses ---

_KNOWN = {
    "$schema", "$id", "title", "description", "$defs", "$ref", "type", "properties",
    "required", "additionalProperties", "propertyNames", "minProperties", "maxProperties",
    "items", "minItems", "maxItems", "uniqueItems", "enum", "minimum", "pattern", "anyOf",
    "oneOf", "not",
}  # fmt: skip
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
}


def _same(a: Any, b: Any) -> bool:
    numbers = _TYPES["number"](a) and _TYPES["number"](b)
    return a == b and (type(a) is type(b) or numbers)


def errors(schema: dict[str, Any], value: Any, root: dict[str, Any], path: str = "") -> list[str]:
    unknown = set(schema) - _KNOWN
    assert not unknown, f"the test validator does not know {unknown}"
    out: list[str] = []
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        out += errors(target, value, root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [f"{path}: expected {types}, got {value!r}"]
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        out.append(f"{path}: {value!r} not in enum")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        out.append(f"{path}: {value} < minimum")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{path}: missing {key}")
        if len(value) < schema.get("minProperties", 0):
            out.append(f"{path}: too few properties")
        if len(value) > schema.get("maxProperties", 10**9):
            out.append(f"{path}: too many properties")
        for key, sub in value.items():
            if "propertyNames" in schema:
                out += errors(schema["propertyNames"], key, root, f"{path}.{key}(name)")
            if key in props:
                out += errors(props[key], sub, root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: unknown key {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(schema["additionalProperties"], sub, root, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10**9):
            out.append(f"{path}: wrong number of items")
        if schema.get("uniqueItems") and len({json.dumps(v) for v in value}) < len(value):
            out.append(f"{path}: items not unique")
        if "items" in schema:
            for i, sub in enumerate(value):
                out += errors(schema["items"], sub, root, f"{path}[{i}]")
    if "anyOf" in schema and all(errors(s, value, root, path) for s in schema["anyOf"]):
        out.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not errors(s, value, root, path)]
        if len(matching) != 1:
            out.append(f"{path}: matches {len(matching)} of oneOf")
    if "not" in schema and not errors(schema["not"], value, root, path):
        out.append(f"{path}: matches a 'not'")
    return out


def schema_errors(data: Any) -> list[str]:
    schema = spec_schema()
    found = errors(schema, data, schema)
    try:
        import jsonschema
    except ImportError:
        return found
    official = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert bool(official) == bool(found), (official, found)
    return found


def documents(path: Path) -> list[Any]:
    return [d.data for d in load_documents(path.read_text(), file=str(path))]


def spec_files(*tops: Path) -> list[Path]:
    return sorted(p for top in tops for p in top.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))


GOOD = spec_files(ROOT / "specs", ROOT / "tests" / "fixtures" / "good", ROOT / "examples")


@pytest.mark.parametrize("path", GOOD, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_spec_validates(path: Path) -> None:
    load_file(path)  # the loader accepts it ...
    for data in documents(path):
        assert schema_errors(data) == []  # ... and so does the schema


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.name)
def test_every_schema_level_bad_fixture_fails_the_schema(path: Path) -> None:
    with pytest.raises(SpecError):
        load_file(path)  # the loader refuses every bad fixture
    if path.name in NOT_SCHEMA_LEVEL:
        try:
            docs = documents(path)
        except SpecError:
            return  # not even YAML data: nothing for a schema to see
        if len(docs) > 1 or not docs:
            return
        # Semantic: valid by the schema, so this list stays exact (no fixture hides here).
        assert schema_errors(docs[0]) == [], NOT_SCHEMA_LEVEL[path.name]
        return
    (data,) = documents(path)
    assert schema_errors(data), f"{path.name} passes the schema but not the loader"


def test_the_exception_list_names_real_fixtures() -> None:
    assert set(NOT_SCHEMA_LEVEL) <= {p.name for p in BAD.glob("*.yaml")}


@pytest.mark.parametrize(
    ("yaml_text", "ok"),
    [
        ("name: s\nfunction: {expr: x}\ninputs: {x: [n, '2*n+1']}\ndims: {n: 2}", True),
        ("name: s\nfunction: {expr: x}\ninputs: {x: ['n/2']}\ndims: {n: 2}", False),
        ("name: s\nfunction: {expr: x}\ninputs: {x: ['n**2']}\ndims: {n: 2}", False),
        ("name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], dtype: int32}}", False),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\n"
            "constants: {i: {shape: [], dtype: i32}}",
            True,
        ),
        ("name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {rtol: '1e-6', order: 2}", True),
        ("name: s\nfunction: {expr: x}\ninputs: {x: []}\nmemory: {budget: 1.5 GiB}", True),
        ("name: s\nfunction: {expr: x}\ninputs: {x: []}\nmemory: {budget: 1.5}", False),
        ("name: s\nfunction: {python: m.mod:f}\ninputs: {p: {w: [2], b: {shape: []}}}", True),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\n"
            "output: [{shape: []}, {d: {shape: [2]}}]",
            True,
        ),
        ("name: s\nfunction: {expr: x}\ninputs: {class: []}", False),
    ],
)
def test_schema_agrees_with_the_loader_on_edge_cases(yaml_text: str, ok: bool) -> None:
    from adcli._spec.load import load_text

    try:
        load_text(yaml_text, base_dir=str(ROOT))
        loads = True
    except SpecError:
        loads = False
    assert loads is ok
    (data,) = [d.data for d in load_documents(yaml_text)]
    assert (schema_errors(data) == []) is ok


def test_schema_command_prints_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from adcli._cli.main import cli

    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["required"] == ["name", "function", "inputs"]


def test_validate_names_a_leaf_key_typo_in_a_python_pytree(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from adcli._cli.main import cli

    (tmp_path / "m.py").write_text("def loss(params):\n    return params['w'].sum()\n")
    spec = tmp_path / "s.yaml"
    # `dtype: float32` cannot be a subtree, so this mapping is a leaf and `shap` its typo;
    # `{shap: []}` alone would be a subtree with a scalar leaf named shap.
    spec.write_text(
        "name: s\nfunction: {python: m.py:loss}\ninputs:\n  params:\n"
        "    w: {shape: [3]}\n    b: {shap: [], dtype: float32}\n"
    )
    out = CliRunner().invoke(cli, ["validate", str(spec)])
    assert out.exit_code == 2
    assert "s.yaml:6: inputs.params.b.shap: unknown key 'shap' (did you mean 'shape'?)" in (
        out.output
    )


def test_validate_reports_a_formula_error_and_exits_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from adcli._cli.main import cli

    (tmp_path / "s.yaml").write_text("name: s\nfunction: {expr: 'sum(y)'}\ninputs: {x: [3]}\n")
    (tmp_path / "ok.yaml").write_text("name: ok\nfunction: {expr: 'sum(x)'}\ninputs: {x: [3]}\n")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "s.yaml:2: function.expr" in result.output and "'y'" in result.output
    assert "1 specs in 1 files valid; 1 file invalid" in result.output
    assert CliRunner().invoke(cli, ["validate", str(tmp_path / "ok.yaml")]).exit_code == 0
    assert CliRunner().invoke(cli, ["validate", str(tmp_path / "nope")]).exit_code == 2
    assert os.path.exists(tmp_path / "ok.yaml")


# --- mutations: the schema and the loader must agree on documents near the good ones ---

# Loader errors that a schema cannot see (cross-field or file-system rules, as above).
_SEMANTIC = re.compile(
    r"unknown dim|is not an input|is a constant|both an input and a constant|does not broadcast"
    r"|no such file|lo < hi|std must be|positive needs|is not a dim of this spec"
    r"|cannot be negative|; a size|ragged|are for python: functions only"
)
_VALUES = [None, True, -1, 0, 1.5, "", "zz zz", [1], {"q": 1}]
_EVERY_SECTION = """\
name: all
description: every section, for the mutations
function: {expr: "sum(a * x) + y"}
inputs:
  x: {shape: [n, "2*n"], dtype: f64, init: {uniform: [0, 1]}, seed: 1}
  y: {shape: [], init: {value: 0.5}}
constants:
  a: {shape: [n, 1], dtype: int32, init: {value: [[1], [2]]}}
dims: {n: 2}
output: {shape: [], dtype: float64}
check: {wrt: [x], order: 2, modes: [rev], points: 1, method: full, directions: 2,
        rtol: 1e-6, atol: "0", seed: 3, dims: {n: 1}}
expect:
  grad: {y: "1.0"}
  hessian: {y: {expr: "0.0"}}
memory: {budget: 8GB, figure: compiled-temp, layers: 2}
"""
_MUTATED = [
    ROOT / "tests" / "fixtures" / "good" / name
    for name in ("logistic.yaml", "multi.yaml", "pytree.yaml")
] + [ROOT / "examples" / "wrong_vjp.yaml", "every-section"]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, sub in items:
        out += _paths(sub, (*prefix, key))
    return out


def _mutate(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    import copy

    out = copy.deepcopy(data)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


@pytest.mark.parametrize("path", _MUTATED, ids=lambda p: getattr(p, "name", str(p)))
def test_schema_and_loader_agree_on_mutated_specs(path: Path | str) -> None:
    import yaml

    from adcli._spec.load import load_text

    if isinstance(path, str):
        load_text(_EVERY_SECTION)  # the starting point is valid
        docs, path = [d.data for d in load_documents(_EVERY_SECTION)], ROOT
    else:
        docs = documents(path)
    disagree, crashes = [], []
    for data in docs:
        for where in _paths(data):
            changes = [(v, False) for v in _VALUES] + [(None, True)] * isinstance(where[-1], str)
            for value, delete in changes:
                text = yaml.safe_dump(_mutate(data, where, value, delete))
                try:
                    load_text(text, file="m.yaml", base_dir=str(Path(path).parent))
                    loads, message = True, ""
                except SpecError as exc:
                    loads, message = False, exc.format()
                except Exception as exc:  # anything but a SpecError is a loader bug
                    crashes.append((where, value, f"{type(exc).__name__}: {exc}"))
                    continue
                (mutated,) = [d.data for d in load_documents(text)]
                valid = schema_errors(mutated) == []
                if loads != valid and not (valid and _SEMANTIC.search(message)):
                    disagree.append((where, "deleted" if delete else value, loads, message))
    assert disagree == []
    assert crashes == []  # the loader never raises anything but a SpecError
