"""The safe formula language: values, derivatives through it, and one test per refusal."""

from __future__ import annotations

import importlib
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adcli._errors import SpecError
from adcli._spec import expr as _expr
from adcli._spec.expr import FUNCTIONS, parse_formula

jax.config.update("jax_enable_x64", True)

LECTURE = """\
v1 = log(w1)
v2 = w2 * v1
v3 = sqrt(v2)
v2 + v3"""


def formula(source: str, names=("x",), **kwargs):
    return parse_formula(source, names=set(names), file="spec.yaml", first_line=10, **kwargs)


def test_lecture_example_value_steps_and_lines():
    f = formula(LECTURE, names={"w1", "w2"})
    assert f.steps == (("v1", "log(w1)", 10), ("v2", "w2 * v1", 11), ("v3", "sqrt(v2)", 12))
    assert f.result_text == "v2 + v3"
    assert f.used_names == {"w1", "w2"}
    env = {"w1": jnp.float64(2.0), "w2": jnp.float64(3.0)}
    closed = 3 * math.log(2) + math.sqrt(3 * math.log(2))
    assert float(f(env)) == pytest.approx(closed, rel=1e-14)
    values = f.evaluate_steps(env)
    assert list(values) == ["v1", "v2", "v3", ""]
    assert float(values["v1"]) == pytest.approx(math.log(2), rel=1e-14)
    assert float(values["v2"]) == pytest.approx(3 * math.log(2), rel=1e-14)
    assert float(values["v3"]) == pytest.approx(math.sqrt(3 * math.log(2)), rel=1e-14)
    assert float(values[""]) == pytest.approx(closed, rel=1e-14)
    # dL/dw1 = (w2 / w1) (1 + 1 / (2 sqrt(w2 log w1)))
    grad = jax.grad(lambda w1: f({"w1": w1, "w2": 3.0}))(2.0)
    assert float(grad) == pytest.approx(1.5 * (1 + 0.5 / math.sqrt(3 * math.log(2))), rel=1e-12)


def test_comments_semicolons_blank_lines_and_indentation():
    f = formula("  # a comment\n  a = 2 * x; b = a + 1\n\n  b * a  # result", names={"x"})
    assert [step[:1] + step[2:] for step in f.steps] == [("a", 11), ("b", 11)]
    assert float(f({"x": 3.0})) == 42.0


def test_softplus_of_linear_map():
    f = formula("log1p(exp(a @ x))", names={"a", "x"})
    a, x = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, 0.1, -0.4])
    expected = np.log1p(np.exp(np.dot(np.asarray(a), np.asarray(x))))
    np.testing.assert_allclose(f({"a": a, "x": x}), expected, rtol=1e-14)


def test_quadratic_gradient_through_the_formula():
    f = formula("x @ A @ x - b @ x + c", names={"x", "A", "b", "c"})
    rng = np.random.default_rng(0)
    A, b, x = rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4)
    value = f({"x": x, "A": A, "b": b, "c": 1.5})
    np.testing.assert_allclose(value, x @ A @ x - b @ x + 1.5, rtol=1e-13)
    grad = jax.grad(lambda x: f({"x": x, "A": A, "b": b, "c": 1.5}))(jnp.asarray(x))
    np.testing.assert_allclose(grad, (A + A.T) @ x - b, rtol=1e-13)


def test_jit_vmap_and_grad_compose():
    f = formula("sum(sin(x) ** 2) + pi")
    jitted = jax.jit(lambda x: f({"x": x}))
    x = jnp.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(jitted(x), np.sum(np.sin(x) ** 2) + np.pi, rtol=1e-14)
    batch = jnp.stack([x, 2 * x])
    np.testing.assert_allclose(jax.vmap(jitted)(batch), [jitted(x), jitted(2 * x)], rtol=1e-14)
    np.testing.assert_allclose(jax.jit(jax.grad(jitted))(x), np.sin(2 * x), rtol=1e-13)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("jnp.sum(jnp.tanh(x))", np.sum(np.tanh([1.0, -2.0]))),
        ("jax.numpy.sum(x)", -1.0),
        ("sum(jax.nn.relu(x))", 1.0),
        ("jnp.linalg.norm(x)", math.sqrt(5.0)),
        ("jax.numpy.linalg.norm(x, ord=1)", 3.0),
        ("jax.scipy.special.logsumexp(x)", np.log(np.exp(1.0) + np.exp(-2.0))),
        ("jax.nn.logsumexp(x)", np.log(np.exp(1.0) + np.exp(-2.0))),
        ("sum(sigmoid(x))", 1 / (1 + np.exp(-1.0)) + 1 / (1 + np.exp(2.0))),
        ("jnp.pi * jax.numpy.e", math.pi * math.e),
    ],
)
def test_jax_spellings(source, expected):
    assert float(formula(source)({"x": jnp.array([1.0, -2.0])})) == pytest.approx(expected)


def test_transpose_slicing_and_indexing():
    A = jnp.arange(6.0).reshape(2, 3)
    x = jnp.arange(4.0)
    cases = {
        "A.T": A.T,
        "A[:, 0]": A[:, 0],
        "A[1, 1:]": A[1, 1:],
        "x[1:]": x[1:],
        "x[::-1]": x[::-1],
        "x[None]": x[None],
        "A[..., 0]": A[..., 0],
        "x[-1]": x[-1],
        "reshape(x, (n, 2))": x.reshape(2, 2),
        "stack((x, 2 * x), axis=1)": jnp.stack((x, 2 * x), axis=1),
        "concatenate([x, x])": jnp.concatenate([x, x]),
        "eye(n) + 1": jnp.eye(2) + 1,
    }
    env = {"A": A, "x": x, "n": 2}
    for source, expected in cases.items():
        np.testing.assert_array_equal(formula(source, names=env)(env), expected, err_msg=source)


def test_where_einsum_slogdet_and_tuple_result():
    x = jnp.array([-1.0, 2.0, -3.0, 4.0])
    np.testing.assert_array_equal(formula("where(x > 0, x, 0)")({"x": x}), [0, 2, 0, 4])
    A = jnp.array([[2.0, 1.0], [1.0, 3.0]])
    v = jnp.array([1.0, -1.0])
    env = {"A": A, "v": v}
    np.testing.assert_allclose(formula("einsum('ij,j->i', A, v)", names=env)(env), A @ v)
    np.testing.assert_allclose(formula("jnp.einsum('ii', A)", names=env)(env), 5.0)
    assert float(formula("slogdet(A)[1]", names=env)(env)) == pytest.approx(math.log(5.0))
    both = formula("s = slogdet(A)\ns[0] * exp(s[1]), A @ v", names=env)(env)
    assert isinstance(both, tuple)
    assert float(both[0]) == pytest.approx(5.0)
    np.testing.assert_allclose(both[1], A @ v)


def test_numbers_stay_weak_so_float32_stays_float32():
    x = jnp.ones(3, dtype=jnp.float32)
    assert formula("2.5 * x + pi - 1 / 3")({"x": x}).dtype == jnp.float32
    assert formula("x ** 2 + (x > 0)")({"x": x}).dtype == jnp.float32


def test_names_shadow_constants_and_calls_still_reach_functions():
    f = formula("e * norm(norm)", names={"e", "norm"})
    assert f.used_names == {"e", "norm"}
    assert float(f({"e": 2.0, "norm": jnp.array([3.0, 4.0])})) == 10.0
    assert float(formula("e")({})) == math.e


def test_every_spelling_resolves_in_the_installed_jax():
    modules = {key: importlib.import_module(path) for key, path in _expr._MODULES.items()}
    for name, homes in _expr._HOMES.items():
        for home in homes:
            assert callable(getattr(modules[home], name)), f"{_expr._SPELLING[home]}.{name}"


def test_functions_are_sorted_and_documented():
    assert list(FUNCTIONS) == sorted(FUNCTIONS)
    words = set(re.findall(r"\w+", _expr.__doc__ or ""))
    assert set(FUNCTIONS) <= words, set(FUNCTIONS) - words
    assert {"sqrt", "sigmoid", "logsumexp", "slogdet", "einsum", "norm"} <= set(FUNCTIONS)


# -- refusals: each names the file line and the offending token -----------------------------


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("x.__class__", 10, r"'__class__' is not allowed: attribute access is limited to \.T"),
        ("__import__('os')", 10, r"'__import__' is not allowed: names with '__' are reserved"),
        ("y = 1\nlambda: y", 11, r"'lambda' is not allowed"),
        ("[i for i in x]", 10, r"'\[i for i in x\]' is not allowed: comprehensions"),
        ("open('f')", 10, r"unknown function 'open'"),
        ("sqr(x)", 10, r"unknown function 'sqr' \(did you mean 'sqrt'\?\)"),
        ('"abc"', 10, r'string "abc" is not allowed: strings appear only as einsum'),
        ("f'{x}'", 10, r"string f'\{x\}' is not allowed"),
        ("x.shape", 10, r"'shape' is not allowed: attribute access.*use its dims"),
        ("x.sum()", 10, r"'x\.sum' is not allowed: attribute access.*write sum\(\.\.\.\)"),
        ("np.sin(x)", 10, r"'np\.sin' is not allowed"),
        ("jnp.sigmoid(x)", 10, r"'jnp\.sigmoid' is not available: sigmoid is in jax\.nn"),
        ("a = 1\nexp = 1\nexp", 11, r"'exp' is a function name: it cannot be assigned"),
        ("x = 1\nx", 10, r"'x' is an input, constant or dim: it cannot be assigned"),
        ("pi = 3\npi", 10, r"'pi' is a built-in name"),
        ("a = 1\na = 2\na", 11, r"'a' is already assigned on line 10"),
        ("a = b + 1\nb = 2\na", 10, r"'b' is used before it is assigned \(on line 11\)"),
        ("a = x\nb = a", 11, r"the last line assigns 'b'.*add a last line 'b'"),
        ("a = x\na\nb = a\nb", 11, r"'a' is unused: only the last line"),
        ("a = x\nb = a\nc = (b +\nc", 12, r"invalid syntax in 'c = \(b \+'"),
        ("", 10, r"the formula is empty"),
        ("# only a comment\n", 10, r"the formula is empty"),
        ("x += 1\nx", 10, r"augmented assignment 'x \+= 1' is not allowed"),
        ("a, b = x\na", 10, r"'a, b = x': assign to one plain name only"),
        ("import os\nx", 10, r"'import' is not allowed"),
        ("y", 10, r"unknown name 'y'"),
        ("xs + 1", 10, r"unknown name 'xs' \(did you mean 'x'\?\)"),
        ("exp", 10, r"'exp' is a function: call it"),
        ("sum(x, dtype=float)", 10, r"keyword 'dtype=' is not allowed"),
        ("sum(*x)", 10, r"'\*x': starred arguments are not allowed"),
        ("sum(**x)", 10, r"'\*\*x' is not allowed"),
        ("max(x, 0)", 10, r"max reduces over an axis.*write maximum\(a, b\)"),
        ("0 < x < 1", 10, r"one comparison only"),
        ("x and x", 10, r"'and' is not allowed \(use logical_and"),
        ("x if x > 0 else 0", 10, r"is not allowed \(use where"),
        ("x & x", 10, r"'&' is not allowed"),
        ("x is x", 10, r"'is' is not allowed"),
        ("None", 10, r"'None' is allowed only inside \[ \]"),
        ("x[[0, 1]]", 10, r"lists are allowed only as call arguments"),
        ("einsum('ij; j', x)", 10, r"is not an einsum subscript"),
        ("(y := 1)", 10, r"'y := 1' is not allowed in a formula"),
    ],
)
def test_refusals_name_line_and_token(source, line, message):
    with pytest.raises(SpecError, match=message) as info:
        formula(source, field="expect.grad.x")
    assert info.value.line == line
    assert info.value.file == "spec.yaml"
    assert info.value.field == "expect.grad.x"


def test_syntax_error_on_third_line_points_at_file_line():
    with pytest.raises(SpecError, match=r"spec\.yaml:22: function\.expr: invalid syntax") as info:
        parse_formula("a = x\nb = a\nc = b +* 2\nc", names={"x"}, file="spec.yaml", first_line=20)
    assert info.value.line == 22


def test_without_first_line_lines_count_from_one():
    with pytest.raises(SpecError, match=r"<spec>:2: function\.expr: unknown name 'q'"):
        parse_formula("a = 1\nq", names=())


def test_evaluation_errors_name_the_step_and_its_line():
    f = formula("a = x + 1\nb = a @ y\nb", names={"x", "y"})
    with pytest.raises(SpecError, match=r"spec\.yaml:11: .*cannot evaluate 'a @ y': TypeError"):
        f({"x": jnp.ones(3), "y": jnp.ones(4)})
    with pytest.raises(SpecError, match=r"integer power 9\*\*387420489 is too large"):
        formula("9 ** 9 ** 9")({})


def test_missing_env_value_is_a_caller_error():
    with pytest.raises(KeyError, match="formula needs values for"):
        formula("x + 1")({})
