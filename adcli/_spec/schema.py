"""``adcli schema``: a JSON Schema (draft 2020-12) for spec documents, built from the loader.

The enums and key lists come from the same constants ``adcli._spec.load`` validates against, so
the schema cannot drift from the loader on them. What a JSON Schema cannot say is left to
the loader (and listed in tests/test_schema.py): that a dim used in a shape is defined, that
``wrt``/``expect`` name inputs, that a name is not both input and constant, init ranges
(lo < hi, std > 0), that a ``value``/``file`` init broadcasts to its shape, that files exist,
and that spec names are unique in a file. Editors use it for completion
(``# yaml-language-server: $schema=adcli.schema.json``).
"""

from __future__ import annotations

import dataclasses
import json
import keyword
from typing import Any

from adcli._spec.load import CHECK_KEYS, TOP_KEYS
from adcli._spec.model import (
    CONSTANT_DTYPES,
    INPUT_DTYPES,
    KINK_POLICIES,
    MEMORY_FIGURES,
    MESH_AXIS_TYPES,
    METHODS,
    MODES,
    MemoryOptions,
)
from adcli._spec.shapes import DTYPE_ALIASES, INIT_KINDS, LEAF_KEYS
from adcli._spec.trees import PYTHON_INITS, PYTHON_KEYS

_IDENT = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$", "not": {"enum": keyword.kwlist}}
_NUMERIC = r"(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?"
_NUMBER = {
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": rf"^\s*[-+]?{_NUMERIC}\s*$"}]
}
_NONNEG = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": rf"^\s*\+?{_NUMERIC}\s*$"},
    ]
}


def _int(minimum: int) -> dict[str, Any]:
    """An int ≥ minimum, or a quoted one ("2"): the loader accepts both, as for numbers."""
    digits = r"^\s*\+?[0-9]+\s*$" if minimum >= 0 else r"^\s*[-+]?[0-9]+\s*$"
    return {
        "anyOf": [{"type": "integer", "minimum": minimum}, {"type": "string", "pattern": digits}]
    }


_PACKAGE = r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$"
_SIZE = r"^\s*(?:[0-9]+\s*[bB]?|(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*[kKmMgGtT][iI]?[bB])\s*$"


# A dim expression: atoms (names, ints) joined by + - * //, with unary signs and parentheses
# (their balance is left to the loader).
_ATOM = r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)"
_PRE, _POST, _OP = r"[\s(+-]*", r"[\s)]*", r"(?:[-+*]|//)"
_DIM_EXPR = rf"^{_PRE}{_ATOM}{_POST}(?:{_OP}{_PRE}{_ATOM}{_POST})*$"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, schema]}


def _dtypes(allowed: tuple[str, ...]) -> list[str]:
    return [*allowed, *(a for a, d in DTYPE_ALIASES.items() if d in allowed)]


def _leaf(kind: str) -> dict[str, Any]:
    keys = LEAF_KEYS["output" if kind == "output" else "input"]
    allowed = INPUT_DTYPES if kind == "input" else CONSTANT_DTYPES
    props: dict[str, Any] = {
        "shape": {"$ref": "#/$defs/shape"},
        "dtype": _nullable({"enum": _dtypes(allowed)}),
        "init": _nullable({"$ref": "#/$defs/init"}),
        "seed": _nullable(_int(0)),
        "sharding": _nullable({"$ref": "#/$defs/sharding"}),
    }
    return {
        "type": "object",
        "required": ["shape"],
        "properties": {k: props[k] for k in keys},
        "additionalProperties": False,
    }


def _tree(kind: str) -> dict[str, Any]:
    """A leaf, a value from code, a mapping of subtrees (any key but ``shape``) or a list of
    subtrees (a sequence with a mapping or a sequence in it; else it is a shape)."""
    subtree = {"$ref": f"#/$defs/{kind}_tree"}
    return {
        "oneOf": [
            {"$ref": "#/$defs/shape"},  # the shorthand x: [n, 3]
            {"$ref": f"#/$defs/{kind}_leaf"},
            {"$ref": "#/$defs/python_tree"},
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"not": {"enum": ["shape"]}},
                "additionalProperties": subtree,
                # {init: {normal: ...}} is a leaf that lost its shape, not a subtree
                "not": {
                    "required": ["init"],
                    "properties": {
                        "init": {"type": "object", "propertyNames": {"enum": list(INIT_KINDS)}}
                    },
                },
            },
            # Items that are all subtrees (sequences or mappings) are never a shape.
            {"type": "array", "minItems": 1, "items": subtree},
        ]
    }


def _python_tree() -> dict[str, Any]:
    """``{python: REF, init: ..., dtype: ..., seed: ...}``: an argument from the user's code."""
    inits = _init()
    kinds = [k for k in inits["anyOf"][0]["enum"] if k in PYTHON_INITS]
    props = inits["anyOf"][1]["properties"]
    init = {
        "anyOf": [
            {"enum": kinds},
            {**inits["anyOf"][1], "properties": {k: props[k] for k in PYTHON_INITS if k in props}},
        ]
    }
    schema = {
        "python": _formula(bare=False)["properties"]["python"],
        "init": _nullable(init),
        "dtype": _nullable({"enum": _dtypes(INPUT_DTYPES)}),
        "seed": _nullable(_int(0)),
        "item": _nullable({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    }
    assert tuple(schema) == PYTHON_KEYS, "the schema must know every {python: ...} key"
    return {
        "type": "object",
        "required": ["python"],
        "properties": schema,
        "additionalProperties": False,
    }


def _formula(bare: bool) -> dict[str, Any]:
    expr = {
        "anyOf": [{"type": "string", "pattern": r"\S"}, {"type": "number"}],
        "description": "a formula in adcli's formula language (docs/spec.md)",
    }
    python = {
        "type": "string",
        "pattern": r"^(?:.+\.py|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$",
        "description": "file.py:function (relative to the spec) or package.module:function",
    }
    mapping = {
        "type": "object",
        "properties": {"expr": expr, "python": python},
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }
    return {"anyOf": [expr, mapping]} if bare else mapping


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of one spec document (a YAML file may hold several, split by ``---``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://adcli.dev/schema/spec.json",
        "title": "adcli spec",
        "description": "One adcli spec document (docs/spec.md).",
        "type": "object",
        "required": ["name", "function", "inputs"],
        "properties": _top_properties(),
        "additionalProperties": False,
        "$defs": _definitions(),
    }


def _top_properties() -> dict[str, Any]:
    """The schema of each top-level key, in the loader's order."""
    expect_block = _nullable(
        {"type": "object", "additionalProperties": {"$ref": "#/$defs/expect_formula"}}
    )
    props: dict[str, Any] = {
        "name": {"type": "string", "pattern": r"^[^\n]*\S[^\n]*$"},
        "description": {"type": ["string", "null"]},
        "function": _formula(bare=False),
        "inputs": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _IDENT,
            "additionalProperties": {"$ref": "#/$defs/input_tree"},
        },
        "constants": _nullable(
            {
                "type": "object",
                "propertyNames": _IDENT,
                "additionalProperties": {"$ref": "#/$defs/constant_tree"},
            }
        ),
        "dims": _nullable({"$ref": "#/$defs/dims"}),
        "output": _nullable({"$ref": "#/$defs/output"}),
        "check": _nullable(_closed({k: _nullable(v) for k, v in _check_properties().items()})),
        "expect": _nullable(_closed({"grad": expect_block, "hessian": expect_block})),
        "memory": _nullable(_closed(_memory_properties())),
        "dtype": _nullable({"enum": _dtypes(INPUT_DTYPES)}),
        "requires": _nullable({"type": "array", "items": {"type": "string", "pattern": _PACKAGE}}),
        "reference": _nullable(_formula(bare=False)),
        "mesh": _nullable(
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": _IDENT,
                "additionalProperties": _int(1),
                "description": "device mesh: axis names and sizes (docs/sharding.md)",
            }
        ),
        "mesh_axis_types": _nullable({"enum": list(MESH_AXIS_TYPES)}),
    }
    assert list(props) == list(TOP_KEYS), "the schema must know every top-level key"
    return props


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with these optional keys and no others."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _check_properties() -> dict[str, Any]:
    props: dict[str, Any] = {
        "wrt": {"type": "array", "items": _IDENT, "minItems": 1, "uniqueItems": True},
        "order": _int(1),
        "modes": {
            "type": "array",
            "items": {"enum": list(MODES)},
            "minItems": 1,
            "uniqueItems": True,
        },
        "points": _int(1),
        "method": {"enum": list(METHODS)},
        "directions": _int(1),
        "rtol": _NONNEG,
        "atol": _NONNEG,
        "seed": _int(0),
        "dims": _nullable({"$ref": "#/$defs/dims"}),
        "factor": _NONNEG,
        "repeat": _int(1),
        "parity": {"type": "boolean"},
        "eps": {"type": "number", "exclusiveMinimum": 0},
        "kinks": {"enum": list(KINK_POLICIES)},
    }
    assert set(props) == set(CHECK_KEYS), "the schema must know every check: key"
    return props


def _memory_properties() -> dict[str, Any]:
    props: dict[str, Any] = {
        "budget": _nullable(
            {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": _SIZE}]}
        ),
        "figure": _nullable({"enum": list(MEMORY_FIGURES)}),
        "layers": _nullable(_int(1)),
    }
    assert set(props) == {f.name for f in dataclasses.fields(MemoryOptions)}
    return props


def _init() -> dict[str, Any]:
    init_args = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
    init_object = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {
            "normal": init_args,
            "uniform": init_args,
            "positive": init_args,
            "randint": {**init_args, "items": {"type": "integer"}},
            "value": {"$ref": "#/$defs/value"},
            "file": {"type": "string", "pattern": r"\.npy$"},
        },
        "additionalProperties": False,
    }
    return {
        "anyOf": [
            {"enum": [k for k in INIT_KINDS if k not in ("value", "file")]},
            init_object,
        ]
    }


def _definitions() -> dict[str, Any]:
    """The shared pieces (``$defs``) the properties refer to."""
    shape_item = {
        "anyOf": [
            {"type": "integer", "minimum": 0},
            {
                "type": "string",
                "description": "a dim expression: names, ints, + - * // ( )",
                "pattern": _DIM_EXPR,
            },
        ]
    }
    nested = {
        "anyOf": [
            _NUMBER,
            {"type": "boolean"},
            {"type": "array", "items": {"$ref": "#/$defs/value"}},
        ]
    }
    output = {
        "oneOf": [
            {"$ref": "#/$defs/output_leaf"},
            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/output"}},
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"not": {"enum": ["shape"]}},
                "additionalProperties": {"$ref": "#/$defs/output"},
            },
        ]
    }
    return {
        "dims": {"type": "object", "propertyNames": _IDENT, "additionalProperties": _int(1)},
        "shape": {"type": "array", "items": shape_item},
        "init": _init(),
        "value": nested,
        "input_leaf": _leaf("input"),
        "constant_leaf": _leaf("constant"),
        "input_tree": _tree("input"),
        "constant_tree": _tree("constant"),
        "python_tree": _python_tree(),
        "output_leaf": _leaf("output"),
        "output": output,
        "expect_formula": _formula(bare=True),
        "sharding": {
            "type": "array",
            "description": "a PartitionSpec: per dimension a mesh axis, a list of axes or null",
            "items": {
                "anyOf": [
                    {"type": "null"},
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            },
        },
    }


def render() -> str:
    """The schema as indented JSON text."""
    return json.dumps(spec_schema(), indent=2) + "\n"
