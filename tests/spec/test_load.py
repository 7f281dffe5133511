"""Loading specs: good files become the expected dataclasses, and every mistake is a
SpecError naming file, line and field, with the message pinned here."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from adcli._errors import SpecError, UsageError
from adcli._spec.load import apply_overrides, find_spec_files, load_file, load_text
from adcli._spec.model import ArraySpec, CheckOptions, Expect, Formula, Init, Spec, Where

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOOD, BAD = FIXTURES / "good", FIXTURES / "bad"
# The start of a one-input formula spec; a test appends the input and what follows.
_EXPR = "name: t\nfunction:\n  expr: sum(x**2)\ninputs:\n"


def _one(text: str, tmp_path: Path | None = None) -> Spec:
    specs = load_text(text, file="t.yaml", base_dir=str(tmp_path or "."))
    assert len(specs) == 1
    return specs[0]


def _error(text: str, tmp_path: Path | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_text(text, file="t.yaml", base_dir=str(tmp_path or "."))
    return info.value


# --- good specs -----------------------------------------------------------------------


def test_logistic_example_in_full() -> None:
    path = str(GOOD / "logistic.yaml")
    (spec,) = load_file(path)

    def at(line: int) -> Where:
        return Where(path, line)

    expected = Spec(
        name="logistic",
        description="ln(1 + exp(<a, x>))",
        function=Formula(expr="log1p(exp(a @ x))", where=at(4), expr_line=4),
        inputs={"x": ArraySpec(shape=("n",), dtype="float64", init=Init("normal"), where=at(7))},
        constants={
            "a": ArraySpec(
                shape=("n",), init=Init("normal", params=(0.0, 1.0)), seed=3, where=at(9)
            )
        },
        dims={"n": 100},
        output=ArraySpec(shape=(), dtype=None, where=at(11)),
        check=CheckOptions(
            wrt=("x",),
            order=1,
            modes=("fwd", "rev"),
            points=2,
            method="auto",
            directions=3,
            rtol=1e-6,
            atol=1e-9,
            seed=0,
        ),
        expect=Expect(
            grad={"x": Formula(expr="sigmoid(a @ x) * a", where=at(23), expr_line=23)},
            hessian={
                "x": Formula(
                    expr="sigmoid(a @ x) * (1 - sigmoid(a @ x)) * outer(a, a)",
                    where=at(24),
                    expr_line=24,
                )
            },
        ),
        where=at(1),
        base_dir=str(GOOD),
        field_lines=spec.field_lines,
    )
    assert spec == expected
    assert spec.field_lines["output"] == 11
    assert spec.field_lines["output.shape"] == 11
    assert spec.field_lines["inputs.x"] == 7
    assert spec.field_lines["function.expr"] == 4
    assert spec.field_lines["check.rtol"] == 19
    assert spec.field_lines["expect.hessian.x"] == 24
    assert spec.line_of("inputs.x.init") == 7
    assert spec.wrt == ("x",)


def test_reference_factor_and_repeat() -> None:
    path = str(GOOD / "reference.yaml")
    (spec,) = load_file(path)
    assert spec.reference == Formula(expr="log1p(exp(x))", where=Where(path, 4), expr_line=4)
    assert (spec.check.factor, spec.check.repeat) == (3.0, 2)
    assert spec.field_lines["reference"] == 4
    (plain,) = load_file(GOOD / "logistic.yaml")
    assert plain.reference is None and (plain.check.factor, plain.check.repeat) == (2.0, 1)


def test_multi_document_file() -> None:
    specs = load_file(GOOD / "multi.yaml")  # a PathLike works; trailing --- is skipped
    assert [s.name for s in specs] == ["quadratic", "stretch"]
    quadratic, stretch = specs
    assert quadratic.where.line == 2 and stretch.where.line == 17
    # a block scalar: the formula's first line is the line after `expr: |`
    assert quadratic.function.expr == "y = A @ x\n0.5 * x @ y\n"
    assert (quadratic.function.where.line, quadratic.function.expr_line) == (4, 5)
    assert quadratic.inputs == {
        "x": ArraySpec(shape=("n",), where=Where(str(specs[0].where.file), 8))
    }
    assert quadratic.constants["A"].init == Init("value", value=((2, 0), (0, 3)))
    assert quadratic.check == CheckOptions(order=2, modes=("rev",), rtol=1e-6, atol=0.0)
    assert quadratic.expect.grad["x"].expr == "A @ x"
    assert quadratic.wrt == ("x",)
    assert stretch.inputs["x"] == ArraySpec(
        shape=("n",),
        dtype="float32",  # the alias f32
        init=Init("uniform", params=(-1.0, 1.0)),
        seed=7,
        where=Where(stretch.where.file, 22),
    )
    assert stretch.output == ArraySpec(
        shape=("2*n + 1",), dtype="float32", where=Where(stretch.where.file, 23)
    )
    assert stretch.check.method == "directions" and stretch.check.directions == 5


def test_pytree_inputs_tuple_and_dict_outputs() -> None:
    mlp, stats = load_file(GOOD / "pytree.yaml")
    assert mlp.function == Formula(python="models.py:mlp", where=Where(mlp.where.file, 2))
    params = mlp.inputs["params"]
    assert isinstance(params, dict) and set(params) == {"w1", "b1", "out"}
    assert params["w1"].shape == ("features", "hidden")
    assert params["b1"].init == Init("zeros")
    assert params["out"]["b"].init == Init("value", value=0.5)
    assert mlp.constants["labels"].dtype == "int32"
    assert mlp.constants["labels"].init == Init("ones")
    assert isinstance(mlp.output, tuple) and len(mlp.output) == 2
    assert mlp.output[0] == ArraySpec(shape=(), dtype=None, where=Where(mlp.where.file, 15))
    assert mlp.output[1].dtype == "float64"
    assert mlp.base_dir == str(GOOD)
    assert stats.function.python == "models.py:stats"
    assert stats.inputs["x"].init == Init("positive")
    assert set(stats.output) == {"mean", "parts"}
    assert stats.output["parts"]["tail"].shape == ("n - n // 2",)
    assert stats.field_lines["output.parts.head"] == 27


def test_numeric_strings_and_yaml12_floats() -> None:
    base = "name: s\nfunction: {expr: x}\ninputs: {x: []}\n"
    assert _one(base + 'check: {rtol: "1e-6", atol: 1e-9}').check.rtol == 1e-6
    assert _one(base + "check: {rtol: 1e-6, atol: '2.5E-3'}").check.atol == 2.5e-3
    assert _one(base + "check: {rtol: 1, atol: 0}").check == CheckOptions(rtol=1.0, atol=0.0)
    assert _one(base + "check: {rtol: null}").check.rtol is None
    init = _one(
        "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [2], init: {value: [1e-3, '2']}}}"
    )
    assert init.inputs["x"].init.value == (1e-3, 2.0)


@pytest.mark.parametrize(
    ("function", "expr", "line"),
    [
        ("function: {expr: x * 2}", "x * 2", 2),
        ('function:\n  expr: "x * 2"', "x * 2", 3),
        ("function:\n  expr:\n    x * 2", "x * 2", 4),
        ("function:\n  expr: >\n    x *\n    2", "x * 2\n", 4),
        ("function:\n  expr: |-\n    y = x\n    y * 2", "y = x\ny * 2", 4),
        ("function: {expr: 2}", "2", 2),
    ],
)
def test_expr_line(function: str, expr: str, line: int) -> None:
    spec = _one(f"name: s\n{function}\ninputs: {{x: []}}\n")
    assert (spec.function.expr, spec.function.expr_line) == (expr, line)


def test_shorthand_shape_and_defaults() -> None:
    spec = _one("name: s\nfunction: {expr: x}\ninputs:\n  x: [n, 3]\ndims: {n: 2}\n")
    assert spec.inputs["x"] == ArraySpec(shape=("n", 3), where=Where("t.yaml", 4))
    assert spec.constants == {} and spec.output is None and spec.check == CheckOptions()
    assert spec.expect == Expect() and spec.description == ""


def test_dtype_aliases() -> None:
    text = "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], dtype: %s}}\n"
    for alias, dtype in [("double", "float64"), ("bf16", "bfloat16"), ("c128", "complex128")]:
        assert _one(text % alias).inputs["x"].dtype == dtype
    const = "name: s\nfunction: {expr: x}\ninputs: {x: []}\nconstants: {i: {shape: [], dtype: %s}}"
    assert _one(const % "i32").constants["i"].dtype == "int32"
    assert _one(const % "bool").constants["i"].dtype == "bool"


def test_value_and_file_inits(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(2, 3))
    np.save(tmp_path / "row.npy", np.arange(3.0))
    text = (
        "name: s\nfunction: {expr: x}\ndims: {n: 3}\ninputs:\n"
        "  x: {shape: [2, n], init: {file: x.npy}}\n"
        "  r: {shape: [2, n], init: {file: row.npy}}\n"
        "  v: {shape: [2, n], init: {value: [[1, 2, 3]]}}\n"
        "  s: {shape: [2, n], init: {value: 7}}\n"
        "  c: {shape: [2], dtype: complex64, init: {value: ['1+2j', 0]}}\n"
    )
    spec = _one(text, tmp_path)
    assert spec.inputs["x"].init == Init("file", path=str(tmp_path / "x.npy"))
    assert os.path.isabs(spec.inputs["r"].init.path or "")
    assert spec.inputs["v"].init.value == ((1, 2, 3),)
    assert spec.inputs["s"].init.value == 7
    assert spec.inputs["c"].init.value == (1 + 2j, 0)

    error = _error(text.replace("[2, n], init: {file: x", "[3, n], init: {file: x"), tmp_path)
    assert (error.line, error.field) == (5, "inputs.x.init.file")
    assert error.problem == "the init file has shape [2, 3], which does not broadcast to [3, 3]"
    (tmp_path / "bad.npy").write_text("not numpy")
    error = _error(text.replace("file: x.npy", "file: bad.npy"), tmp_path)
    assert error.problem.startswith("cannot read 'bad.npy' as a .npy array")


def test_yaml_merge_keys() -> None:
    text = (
        "name: s\nfunction: {expr: x}\n"
        "inputs:\n  x: &leaf {shape: [3], dtype: float32}\n  y: {<<: *leaf, dtype: float64}\n"
    )
    spec = _one(text)
    assert spec.inputs["y"].dtype == "float64" and spec.inputs["y"].shape == (3,)


def test_empty_text_and_empty_documents() -> None:
    assert load_text("") == []
    assert load_text("---\n---\n") == []
    assert [
        s.name for s in load_text("---\nname: a\nfunction: {expr: x}\ninputs: {x: []}\n---")
    ] == ["a"]


def test_a_mapping_of_leaves_is_a_pytree_input_of_a_python_function() -> None:
    text = "name: p\nfunction: {python: mod.ule:f}\ninputs:\n  p: {w: [3], b: {shape: []}}\n"
    (spec,) = load_text(text)
    assert set(spec.inputs["p"]) == {"w", "b"}  # type: ignore[arg-type]


def test_numeric_strings_are_accepted_for_ints() -> None:
    text = _EXPR + '  x: {shape: [3], seed: "4"}\ncheck: {points: "2", seed: " 3", rtol: "1e-6"}\n'
    (spec,) = load_text(text)
    assert (spec.check.points, spec.check.seed, spec.check.rtol) == (2, 3, 1e-6)
    assert spec.inputs["x"].seed == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "message"),
    [('"2.5"', "expected an int >= 1, got 2.5"), ('"two"', "expected an int >= 1, got a string"),
     ('"0"', "expected an int >= 1, got 0")],
)  # fmt: skip
def test_non_integer_strings_are_refused_for_ints(value: str, message: str) -> None:
    with pytest.raises(SpecError, match=f"check.points: {message}"):
        load_text(_EXPR + f"  x: [3]\ncheck: {{points: {value}}}\n")


# --- bad specs: one fixture per mistake ------------------------------------------------

BAD_CASES = [
    # (fixture, line, field, message regex)
    ("unknown_top_key", 3, "input", r"unknown key 'input' \(did you mean 'inputs'\?\)"),
    ("bad_dtype", 4, "inputs.x.dtype", r"unknown dtype 'flaot64' \(did you mean 'float64'\?\)"),
    ("unknown_dim", 8, "inputs.w.shape[0]", r"unknown dim 'bach' \(did you mean 'batch'\?\)"),
    ("both_expr_and_python", 2, "function", r"give either 'expr' or 'python', not both"),
    ("missing_name", 2, "name", r"missing required key 'name'"),
    ("missing_inputs", 1, "inputs", r"missing required key 'inputs'"),
    ("duplicate_key", 6, "inputs.x", r"duplicate key 'x' \(first given at line 4"),
    ("bad_yaml_syntax", 3, None, r"invalid YAML: .*flow mapping that starts at line 2"),
    ("tab_indent", 4, None, r"invalid YAML: .*\(indent with spaces; YAML does not allow tabs\)"),
    ("unsafe_tag", 2, "function.expr", r"unsupported YAML tag !!python/object:os.system"),
    (
        "bad_shape_type",
        6,
        "inputs.x.shape",
        r"expected a list of ints or dim names, got a string \(write \[n, 3\]\)",
    ),
    ("bad_dim_expr", 5, "inputs.x.shape[0]", r"'/' in 'n/2' is not integer division"),
    ("negative_size", 5, "inputs.x.shape[0]", r"'n - 5' is -2 with n=3; a size cannot be"),
    ("bad_dim_value", 4, "dims.n", r"expected an int >= 1, got 2.5"),
    ("wrt_not_input", 7, "check.wrt[1]", r"'weight' is not an input \(did you mean 'weights'\?"),
    ("wrt_constant", 7, "check.wrt[0]", r"'a' is a constant, not an input"),
    ("wrt_is_string", 5, "check.wrt", r"expected a list, got a string \(write \[x\]\)"),
    ("bad_init", 4, "inputs.x.init", r"unknown init 'normla' \(did you mean 'normal'\?\)"),
    ("unknown_init_kind", 6, "inputs.x.init", r"expected one init kind, got 2 keys"),
    ("bad_uniform_range", 4, "inputs.x.init.uniform", r"expected lo < hi, got \[1, -1\]"),
    ("duplicate_spec_name", 6, "name", r"duplicate spec name 'square' \(first used at line 1"),
    ("bad_mode", 6, "check.modes[1]", r"'reverse' is not a mode \(did you mean 'rev'\?"),
    ("bad_order", 6, "check.order", r"expected an int >= 1, got 0"),
    ("bad_method", 6, "check.method", r"unknown method 'ful' \(did you mean 'full'\?\)"),
    ("bad_points", 6, "check.points", r"expected an int >= 1, got 0"),
    ("bad_rtol", 6, "check.rtol", r"expected a number, got a string"),
    ("negative_atol", 6, "check.atol", r"expected a number >= 0, got -1e-09"),
    ("unknown_check_key", 7, "check.direction", r"unknown key 'direction' \(did you mean"),
    ("python_file_missing", 3, "function.python", r"no such file 'no_such_models.py'"),
    ("bad_python_ref", 3, "function.python", r"expected 'file.py:function' or 'package.mod"),
    ("function_string", 2, "function", r"expected a mapping, got a string \(write function:"),
    (
        "value_shape_mismatch",
        7,
        "inputs.x.init.value",
        r"the init value has shape \[3\], which does not broadcast to \[4\]",
    ),
    ("ragged_value", 7, "inputs.x.init.value", r"ragged value"),
    ("init_file_missing", 4, "inputs.x.init.file", r"no such file 'missing.npy'"),
    ("integer_input", 5, "inputs.i.dtype", r"an input cannot be int32.*\(put it under constants"),
    ("bad_input_name", 4, "inputs.my-x", r"'my-x' is not a valid input name"),
    ("input_and_constant", 7, "constants.a", r"'a' is both an input and a constant"),
    ("expect_not_input", 10, "expect.grad.xx", r"'xx' is not an input \(did you mean 'x'\?\)"),
    ("missing_shape", 4, "inputs.x", r"missing required key 'shape'"),
    ("unknown_leaf_key", 4, "inputs.x.dtyp", r"unknown key 'dtyp' \(did you mean 'dtype'\?\)"),
    ("empty_inputs", 3, "inputs", r"a spec needs at least one input"),
    ("output_init", 5, "output.init", r"unknown key 'init' \(an output takes only shape and"),
    ("output_list_of_sizes", 6, "output[0]", r"expected an output such as {shape: \[n\]}, got"),
    ("not_a_mapping", 1, None, r"a spec must be a mapping .* got a list"),
    ("empty", None, None, r"no spec in this file \(it is empty\)"),
    ("memory_bad_budget", 6, "memory.budget", r"unknown unit 'gigs' in '8 gigs' \(units: B, kB"),
    ("memory_bad_number", 5, "memory.budget", r"expected a size such as 8GB, 512MiB or 1.5 GB"),
    ("memory_unknown_figure", 7, "memory.figure", r"unknown figure 'residual' \(did you mean 're"),
    ("memory_unknown_key", 6, "memory.bugdet", r"unknown key 'bugdet' \(did you mean 'budget'\?"),
    ("reference_string", 5, "reference", r"expected a mapping, got a string \(write reference:"),
    (
        "factor_without_reference",
        6,
        "check.factor",
        r"check.factor applies to a comparison with a reference \(add reference:",
    ),
    ("bad_repeat", 6, "check.repeat", r"expected an int >= 1, got 0"),
    ("negative_factor", 7, "check.factor", r"expected a number >= 0, got -1"),
]


def test_every_bad_fixture_is_in_the_table() -> None:
    assert {p.stem for p in BAD.glob("*.yaml")} == {case[0] for case in BAD_CASES}


@pytest.mark.parametrize(("fixture", "line", "field", "match"), BAD_CASES, ids=lambda c: str(c))
def test_bad_fixture(fixture: str, line: int | None, field: str | None, match: str) -> None:
    path = os.path.relpath(BAD / f"{fixture}.yaml")
    with pytest.raises(SpecError, match=match) as info:
        load_file(path)
    error = info.value
    assert (error.file, error.line, error.field) == (path, line, field)
    assert str(error).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_missing_file_and_directory() -> None:
    with pytest.raises(SpecError, match="no such file") as info:
        load_file("nope/missing.yaml")
    assert info.value.file == "nope/missing.yaml" and info.value.line is None
    with pytest.raises(SpecError, match="is a directory"):
        load_file(GOOD)


def test_in_memory_errors_say_spec() -> None:
    with pytest.raises(SpecError, match=r"^<spec>:3: input: unknown key 'input'"):
        load_text("name: s\nfunction: {expr: x}\ninput: {x: []}\n")


@pytest.mark.parametrize(
    ("text", "line", "field", "match"),
    [
        ("name: 3\nfunction: {expr: x}\ninputs: {x: []}", 1, "name", "expected a name, got an int"),
        (
            "name: ''\nfunction: {expr: x}\ninputs: {x: []}",
            1,
            "name",
            "expected a name, got nothing",
        ),
        ("name: s\nfunction: {}\ninputs: {x: []}", 2, "function", "expected a mapping with 'expr'"),
        ("name: s\nfunction:\ninputs: {x: []}", 2, "function", "expected a mapping with 'expr'"),
        ("name: s\nfunction: {expr: ' '}\ninputs: {x: []}", 2, "function.expr", "formula is empty"),
        ("name: s\nfunction: {python: mod.ule:f}\ninputs: {x: []}", 2, "function.python", None),
        (
            "name: s\nfunction: {python: 'my-mod:f'}\ninputs: {x: []}",
            2,
            "function.python",
            "neither a .py file nor a module name",
        ),
        (
            "name: s\nfunction: {python: 'm.py:1f'}\ninputs: {x: []}",
            2,
            "function.python",
            "'1f' is not a Python attribute name",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ndims: {1: 3}",
            4,
            "dims",
            r"a mapping key must be a string, got the int 1 \(quote it: '1'\)",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ndims: {class: 3}",
            4,
            "dims.class",
            "'class' is not a valid dim name",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], init: value}}",
            3,
            "inputs.x.init",
            r"init value needs an argument \(write init: {value: ...}\)",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], init: 0.5}}",
            3,
            "inputs.x.init",
            r"got a float \(for fixed data write init: {value: 0.5}\)",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], init: {zeros: 1}}}",
            3,
            "inputs.x.init.zeros",
            r"init zeros takes no argument",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], init: {normal: [0, 0]}}}",
            3,
            "inputs.x.init.normal[1]",
            r"std must be > 0",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], init: {positive: [0, 1]}}}",
            3,
            "inputs.x.init.positive[0]",
            r"positive needs lo > 0",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], init: {normal: 1}}}",
            3,
            "inputs.x.init.normal",
            r"expected two numbers \[mean, std\], got an int",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], seed: -1}}",
            3,
            "inputs.x.seed",
            r"expected an int >= 0, got -1",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: {shape: [], dtype: 64}}",
            3,
            "inputs.x.dtype",
            r"expected a dtype name such as float64, got an int",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {modes: []}",
            4,
            "check.modes",
            r"expected a non-empty list of modes, got an empty list",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {modes: [fwd, fwd]}",
            4,
            "check.modes[1]",
            r"'fwd' is listed twice",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {order: true}",
            4,
            "check.order",
            r"expected an int >= 1, got True",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {eps: 0}",
            4,
            "check.eps",
            r"expected a finite number > 0, got 0 \(the largest FD step",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {eps: .inf}",
            4,
            "check.eps",
            r"expected a finite number > 0, got inf",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\ncheck: {kinks: subgradients}",
            4,
            "check.kinks",
            r"unknown kinks policy 'subgradients' \(did you mean 'subgradient'\?\)",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\noutput: []",
            4,
            "output",
            r"an empty list declares an empty tuple \(for a scalar write {shape: \[\]}\)",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\noutput: 3",
            4,
            "output",
            r"expected an output such as {shape: \[n\]}, got an int$",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: []}\n"
            "expect: {grad: {x: {expr: x, python: a.py:f}}}",
            4,
            "expect.grad.x",
            "give either 'expr' or 'python', not both",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs:\n  x: []\n  p: {a: {b: {shape: [m]}}}",
            5,
            "inputs.p.a.b.shape[0]",
            r"unknown dim 'm' \(define it under dims:",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs:\n  x: &a [*a]",
            4,
            "inputs.x[0]",
            "a YAML alias refers to itself",
        ),
        (
            "name: s\nfunction: {expr: x}\ninputs: {x: !!binary aGk=}",
            3,
            "inputs.x",
            "unsupported YAML tag !!binary",
        ),
    ],
)
def test_more_mistakes(text: str, line: int, field: str, match: str | None) -> None:
    if match is None:  # a module reference is valid; the module is not imported at load
        assert _one(text).function.python == "mod.ule:f"
        return
    error = _error(text)
    assert (error.line, error.field) == (line, field), str(error)
    assert re.search(match, str(error)), str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_EXPR + "  x: {shap: [n]}\ndims: {n: 3}\n",
         r"t.yaml:5: inputs.x.shap: unknown key 'shap' \(did you mean 'shape'\?\)"),
        (_EXPR + "  x: {a: [3], sed: 1}\n",
         r"t.yaml:5: inputs.x.sed: unknown key 'sed' \(did you mean 'seed'\?\)"),
        (_EXPR + "  x:\n    a: {shape: [3]}\n",
         r"t.yaml:5: inputs.x: a mapping without 'shape' is a pytree, and pytree arguments "
         r"are for python: functions only \(give it a shape"),
        (_EXPR + "  x: [3]\noutput: {shpe: []}\n",
         r"t.yaml:6: output.shpe: unknown key 'shpe' \(did you mean 'shape'\?\)"),
        (_EXPR + "  x: [3]\noutput: {shpe: [3]}\n",
         r"t.yaml:6: output.shpe: unknown key 'shpe' \(did you mean 'shape'\?\)"),
        (_EXPR + "  x: [3]\noutput: {a: {shape: []}, dtyp: float64}\n",
         r"t.yaml:6: output.dtyp: unknown key 'dtyp' \(did you mean 'dtype'\?\)"),
    ],
)  # fmt: skip
def test_key_typos_and_pytrees_under_expr_are_spec_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_text(text, file="t.yaml")


# --- files and overrides -------------------------------------------------------------


def test_find_spec_files(tmp_path: Path) -> None:
    for name in ["b.yaml", "a.yml", "sub/c.yaml", "sub/notes.txt", ".hidden/x.yaml", ".h.yaml"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    top = str(tmp_path)
    assert find_spec_files([top]) == [
        os.path.join(top, "a.yml"),
        os.path.join(top, "b.yaml"),
        os.path.join(top, "sub", "c.yaml"),
    ]
    notes = os.path.join(top, "sub", "notes.txt")
    assert find_spec_files([notes, notes, top])[:2] == [notes, os.path.join(top, "a.yml")]
    with pytest.raises(SpecError, match="no such file or directory") as info:
        find_spec_files([os.path.join(top, "missing")])
    assert info.value.file == os.path.join(top, "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"no \*.yaml or \*.yml spec files in this directory"):
        find_spec_files([os.path.join(top, "empty")])


def test_apply_overrides() -> None:
    (spec,) = load_text(
        "name: s\nfunction: {expr: x}\ndims: {n: 4, batch: 2}\n"
        "inputs:\n  x: {shape: [n - 2]}\n  v: {shape: [batch], init: {value: [1, 2]}}\n"
    )
    assert apply_overrides(spec) is spec
    new = apply_overrides(spec, dims={"n": 10}, points=5, seed=3)
    assert new.dims == {"n": 10, "batch": 2} and spec.dims["n"] == 4
    assert (new.check.points, new.check.seed) == (5, 3)
    assert new.check.order == spec.check.order
    with pytest.raises(
        UsageError, match=r"has no dim 'bach' \(did you mean 'batch'\?\); its dims: n, batch"
    ):
        apply_overrides(spec, dims={"bach": 3})
    with pytest.raises(UsageError, match=r"--dim n: expected an int >= 1, got 0"):
        apply_overrides(spec, dims={"n": 0})
    with pytest.raises(UsageError, match=r"with --dim n=1: .*'n - 2' is -1 with n=1"):
        apply_overrides(spec, dims={"n": 1})
    with pytest.raises(
        UsageError,
        match=r"with --dim batch=3: .*init value has shape \[2\], which does not broadcast to",
    ):
        apply_overrides(spec, dims={"batch": 3})
    with pytest.raises(UsageError, match=r"--points: expected an int >= 1, got 0"):
        apply_overrides(spec, points=0)
    with pytest.raises(UsageError, match=r"--seed: expected an int >= 0, got -1"):
        apply_overrides(spec, seed=-1)
