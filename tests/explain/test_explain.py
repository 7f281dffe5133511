"""adcli explain: the lecture's forward and reverse tables for L(w1, w2), number by number.

L(w1, w2) = w2·log w1 + sqrt(w2·log w1) as v1 = log w1, v2 = w2·v1, v3 = √v2, L = v2 + v3.
Every tangent, adjoint and local partial is checked against the hand formulas of the
lecture, at the spec's sample point and at (w1, w2) = (2, 3).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

import adcli._explain.engine
from adcli._cli.main import cli
from adcli._errors import UsageError
from adcli._explain.engine import explain
from adcli._results.explain import ExplainResult
from adcli._results.json import to_json_data

ROOT = Path(__file__).resolve().parents[2]
LECTURE = ROOT / "specs" / "lecture_L.yaml"
GPT2 = ROOT / "specs" / "memory" / "gpt2_xl_block.yaml"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def lecture_tables(w1: float, w2: float, wrt: str = "w1") -> dict[str, dict[str, float]]:
    """The lecture's evaluation trace, by hand."""
    v1 = math.log(w1)
    v2 = w2 * v1
    v3 = math.sqrt(v2)
    L = v2 + v3
    dw1, dw2 = (1.0, 0.0) if wrt == "w1" else (0.0, 1.0)
    dv1 = dw1 / w1
    dv2 = dw2 * v1 + w2 * dv1
    dv3 = dv2 / (2 * math.sqrt(v2))
    dL = dv2 + dv3
    bL = 1.0
    bv3 = bL
    bv2 = bL + bv3 / (2 * math.sqrt(v2))
    bv1 = bv2 * w2
    bw2 = bv2 * v1
    bw1 = bv1 / w1
    return {
        "value": {"w1": w1, "w2": w2, "v1": v1, "v2": v2, "v3": v3, "L": L},
        "forward": {"w1": dw1, "w2": dw2, "v1": dv1, "v2": dv2, "v3": dv3, "L": dL},
        "reverse": {"L": bL, "v3": bv3, "v2": bv2, "v1": bv1, "w2": bw2, "w1": bw1},
        "partials": {
            ("v1", "w1"): 1 / w1,
            ("v2", "w2"): v1,
            ("v2", "v1"): w2,
            ("v3", "v2"): 1 / (2 * math.sqrt(v2)),
            ("L", "v2"): 1.0,
            ("L", "v3"): 1.0,
        },
    }


def check_lecture(r: ExplainResult, w1: float, w2: float, wrt: str = "w1") -> None:
    want = lecture_tables(w1, w2, wrt)
    assert r.forward is not None and r.reverse is not None
    for name, value in want["value"].items():
        assert r.node(name).value.scalar == pytest.approx(value, rel=1e-14, abs=1e-15)
    assert [row.node for row in r.forward.rows] == ["w1", "w2", "v1", "v2", "v3", "L"]
    assert [row.node for row in r.reverse.rows] == ["L", "v3", "v2", "v1", "w2", "w1"]
    for sweep, table in ((r.forward, want["forward"]), (r.reverse, want["reverse"])):
        for row in sweep.rows:
            assert row.value.scalar == pytest.approx(table[row.node], rel=1e-13, abs=1e-15), row
            # the printed rule, re-evaluated from the printed partials, gives the same number
            assert row.rule_value.scalar == pytest.approx(table[row.node], rel=1e-13, abs=1e-15)
            for of, wrt_node, partial in row.partials:
                assert partial == pytest.approx(want["partials"][(of, wrt_node)], rel=1e-14)
    partials = {(e.target, e.source): e.partial for e in r.edges}
    assert partials == pytest.approx(want["partials"], rel=1e-14)
    assert r.forward.max_error <= 1e-14 and r.reverse.max_error <= 1e-14
    assert r.grad_error <= 1e-14


def test_lecture_tables_at_2_3() -> None:
    r = explain(LECTURE, at={"w1": 2, "w2": 3})
    check_lecture(r, 2.0, 3.0)
    # Rounded as a lecture prints them: L(2, 3) = 3.52147, dL/dw1 = 2.0201, dL/dw2 = 0.933485.
    assert round(r.node("L").value.scalar, 5) == 3.52147
    assert round(r.reverse.rows[-1].value.scalar, 4) == 2.0201
    assert round(r.reverse.rows[-2].value.scalar, 6) == 0.933485


def test_lecture_tables_at_the_sample_point_and_wrt_w2() -> None:
    r = explain(LECTURE, wrt="w2", point=1, seed=4)
    w1, w2 = r.node("w1").value.scalar, r.node("w2").value.scalar
    assert 1.5 <= w1 <= 3.0 and (w1, w2) != (2.0, 3.0)
    check_lecture(r, w1, w2, wrt="w2")
    # the adjoints of the inputs are the gradient, equal to jax.grad of the formula
    grad = jax.grad(lambda a, b: b * jnp.log(a) + jnp.sqrt(b * jnp.log(a)), (0, 1))(w1, w2)
    assert r.reverse.rows[-1].value.scalar == pytest.approx(float(grad[0]), rel=1e-15)
    assert r.reverse.rows[-2].value.scalar == pytest.approx(float(grad[1]), rel=1e-15)


def test_lecture_rules_and_storage() -> None:
    r = explain(LECTURE, at={"w1": 2, "w2": 3})
    assert [n.operation for n in r.shown] == [
        "input",
        "input",
        "log(w1)",
        "w2 · v1",
        "sqrt(v2)",
        "v2 + v3",
    ]
    assert [n.step for n in r.shown[2:]] == ["log(w1)", "w2 * v1", "sqrt(v2)", None]
    assert [nfc(row.rule) for row in r.forward.rows] == [
        "ẇ1 = 1",
        "ẇ2 = 0",
        "v̇1 = ẇ1/w1",
        "v̇2 = ẇ2·v1 + w2·v̇1",
        "v̇3 = v̇2/(2√v2)",
        "L̇ = v̇2 + v̇3",
    ]
    assert [nfc(row.rule) for row in r.reverse.rows] == [
        "L̄ = 1",
        "v̄3 = L̄",
        "v̄2 = L̄ + v̄3/(2√v2)",
        "v̄1 = v̄2·w2",
        "w̄2 = v̄2·v1",
        "w̄1 = v̄1/w1",
    ]
    # Reverse mode keeps v1 (for w̄2 = v̄2·v1) and 1/(2√v2) (a factor of sqrt's rule) and
    # reads w1, w2; v2, v3 and L are never needed again.
    s = r.storage
    assert (s.count, s.bytes, s.nodes_stored, s.nodes_recomputable) == (2, 16, 1, 3)
    kinds = sorted((i.kind, i.label) for i in s.items)
    assert kinds == [
        ("argument", "w1"),
        ("argument", "w2"),
        ("derived", "output of div (v3's rule)"),
        ("node", "v1"),
    ]


@pytest.mark.parametrize("name", ["mlp", "one_hidden_layer"])
def test_storage_is_what_jax_saves(name: str) -> None:
    """Per-node scopes change nothing: the residuals are those of the function itself."""
    from adcli._memory.residuals import residuals
    from adcli._problem.build import build
    from adcli._spec.select import select_specs

    (spec,) = select_specs(ROOT / "specs" / "mlp.yaml", only=[name])[0]
    problem = build(spec)
    want = residuals(problem.fn, problem.input_structs, problem.constant_structs)
    got = explain(spec).storage
    assert (got.count, got.bytes, got.argument_bytes) == (
        want.count,
        want.bytes,
        want.argument_bytes,
    )
    # each tanh layer keeps its value (read by the next layer's rule) and 1 − tanh² (its own
    # rule's factor); mlp also keeps W2ᵀ for the first layer's adjoint
    nodes = {i.label for i in got.items if i.kind == "node"}
    tanh = {"tanh@29", "tanh@30"} if name == "mlp" else {"H"}
    assert nodes == tanh | ({"transpose@30"} if name == "mlp" else set())
    factors = {i.label for i in got.items if i.kind == "derived" and "output of sub" in i.label}
    assert factors == {f"output of sub ({t}'s rule)" for t in tanh}


def test_a_wrong_rule_is_caught() -> None:
    """The rule-by-rule re-evaluation is a real check: wrong partials give a large error."""
    from adcli._explain import sweeps

    real = sweeps.local_partials

    def wrong(graph, values):
        return {key: 2 * p for key, p in real(graph, values).items()}

    try:
        sweeps_module = adcli._explain.engine
        sweeps_module.local_partials = wrong
        r = explain(LECTURE, at={"w1": 2, "w2": 3})
    finally:
        adcli._explain.engine.local_partials = real
    assert r.forward.max_error > 0.1 and r.reverse.max_error > 0.1


def test_arrays_named_by_formula_steps_and_checked() -> None:
    r = explain(ROOT / "specs" / "mlp.yaml", spec="one_hidden_layer", wrt="b1")
    names = [n.name for n in r.shown if n.kind == "op"]
    assert names == [
        "H.1",
        "H.2",
        "H.3",
        "H.4",
        "H",
        "out.1",
        "out.2",
        "out.3",
        "out.4",
        "out.5",
        "out",
    ]
    assert r.node("H").operation == "tanh(H.4)" and r.node("H").step.startswith("tanh(")
    assert r.forward.max_error < 1e-13 and r.reverse.max_error < 1e-13 and r.grad_error < 1e-15
    # forward seed e₀ on b1: L̇ is ∂L/∂b1[0], which the reverse sweep gives for all of b1
    b1_bar = r.reverse.rows[[row.node for row in r.reverse.rows].index("b1")].value
    assert r.forward.rows[-1].value.scalar == pytest.approx(b1_bar.entries[0], rel=1e-12)
    data = json.loads(json.dumps(to_json_data(r)))
    assert data["forward"]["rows"][0]["value"]["entries"][:2] == [0.0, 0.0]  # W1's tangent


def test_python_spec_named_by_primitive_and_line() -> None:
    r = explain(ROOT / "specs" / "mlp.yaml", spec="mlp")
    ops = [n for n in r.shown if n.kind == "op"]
    assert ops[-1].name == "out" and ops[-1].outputs == ("out",)
    assert all("@" in n.name for n in ops[:-1]), [n.name for n in ops]
    assert any(n.name.startswith("tanh@") and n.source for n in ops)
    assert r.grad_error < 1e-15 and r.reverse.max_error < 1e-13


def test_vector_output_reverse_gives_a_jacobian_row() -> None:
    """F(X) = sin(AX): with seeds e₀, Ḟ = ∂F/∂X₀₀ and X̄ = ∂F₀₀/∂X, by hand."""
    r = explain(ROOT / "specs" / "sin_AX.yaml", spec="sin_AX")
    assert r.cotangent == "e₀" and r.direction == "e₀"
    X = np.reshape(r.node("X").value.entries, r.node("X").shape)
    A = np.reshape(r.node("A").value.entries, r.node("A").shape)
    C = np.cos(A @ X)
    F_dot = np.zeros_like(C)
    F_dot[:, 0] = C[:, 0] * A[:, 0]
    X_bar = np.zeros_like(X)
    X_bar[:, 0] = C[0, 0] * A[0, :]
    np.testing.assert_allclose(r.forward.rows[-1].value.entries, F_dot.ravel(), rtol=1e-13)
    np.testing.assert_allclose(r.reverse.rows[-1].value.entries, X_bar.ravel(), rtol=1e-13)
    assert r.reverse.rows[-1].node == "X" and r.grad_error < 1e-15


def test_pytree_outputs_and_seeds() -> None:
    """With cotangent ones the inputs' adjoints are the gradient of the sum of the outputs."""
    path = ROOT / "specs" / "pytree_dict_output.yaml"
    r = explain(path, spec="dict_output", cotangent="ones", direction="random", seed=3)
    assert len(r.outputs) > 1 and r.cotangent == "ones" and r.direction == "random (seed 3)"
    from adcli._problem.build import build
    from adcli._spec.select import select_specs

    (spec,) = select_specs(path, only=["dict_output"])[0]
    problem = build(spec)
    inputs = problem.sample_inputs(0, 3)
    constants = problem.sample_constants(3)

    def total(i):
        return sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(problem.call(i, constants)))

    grad = jax.tree_util.tree_leaves(jax.grad(total)(inputs))
    rows = {row.node: row.value for row in r.reverse.rows}
    for name, g in zip([n.name for n in r.nodes if n.kind == "input"], grad, strict=True):
        got = rows[name].scalar if rows[name].scalar is not None else rows[name].entries
        np.testing.assert_allclose(got, np.ravel(g), rtol=1e-13)
    assert r.forward.max_error < 1e-13 and r.reverse.max_error < 1e-13


def test_custom_vjp_has_no_forward_sweep_but_a_reverse_one() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "explain",
            str(ROOT / "specs" / "linear_solve.yaml"),
            "--spec",
            "linear_solve_loss",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["specs"][0]
    assert data["forward"] is None and "forward sweep not available" in data["notes"][0]
    assert data["reverse"]["max_error"] < 1e-13 and data["grad_error"] < 1e-15


def test_large_graph_is_summarised_fast_and_allocates_nothing() -> None:
    r = explain(GPT2)  # GPT-2 XL block at batch 32 × 1024 tokens: structure only
    assert r.summarised and r.values_omitted and r.forward is None
    assert r.summary.equations > 40 and r.storage.bytes > 1 << 30
    assert all(n.value is None for n in r.nodes)
    small = explain(GPT2, check_dims=True, all_nodes=True)
    default = explain(GPT2, check_dims=True)
    assert len(small.shown) > len(default.shown)  # casts and checkpoint names folded by default
    assert all(n.primitive not in ("convert_element_type", "name") for n in default.shown)


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="did you mean 'w1'"):
        explain(LECTURE, wrt="w11")
    with pytest.raises(UsageError, match="broadcasts to shape"):
        explain(LECTURE, at={"w1": "[1, 2]"})
    with pytest.raises(UsageError, match="no such input or constant"):
        explain(LECTURE, at={"w3": 1})
    with pytest.raises(UsageError, match="several specs"):
        explain(ROOT / "specs" / "mlp.yaml")


def test_cli_formats() -> None:
    runner = CliRunner()
    args = ["explain", str(LECTURE), "--at", "w1=2", "--at", "w2=3", "--no-color"]
    text = runner.invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert nfc("v̄2 = L̄ + v̄3/(2√v2)") in text.output and "2.0201" in text.output
    md = runner.invoke(cli, [*args, "--format", "markdown"])
    assert md.exit_code == 0 and nfc("| v2 | v̇2 = ẇ2·v1 + w2·v̇1 | 1.5 |") in md.output
    js = runner.invoke(cli, [*args, "--format", "json"])
    data = json.loads(js.output)["specs"][0]
    assert data["reverse"]["rows"][-1]["value"]["value"] == pytest.approx(2.0201012595319114)
    dot = runner.invoke(cli, [*args, "--format", "dot"])
    assert dot.output.startswith('digraph "lecture_L" {') and dot.output.rstrip().endswith("}")
    assert dot.output.count(" -> ") == 6 and dot.output.count("[label=") == 6 + 6
    if shutil.which("dot"):  # optional: graphviz itself accepts it
        subprocess.run(
            ["dot", "-Tsvg"], input=dot.output, text=True, check=True, capture_output=True
        )


def test_cli_bad_usage_exits_2() -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["explain", str(LECTURE), "--wrt", "w3"])
    assert bad.exit_code == 2 and "no such input" in bad.output
    assert "Traceback" not in bad.output
    at = runner.invoke(cli, ["explain", str(LECTURE), "--at", "w1"])
    assert at.exit_code == 2 and "NAME=VALUE" in at.output


def test_cli_large_graph_stays_a_screenful(tmp_path: Path) -> None:
    out = tmp_path / "gpt2.json"
    result = CliRunner().invoke(cli, ["explain", str(GPT2), "--no-color", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) < 60
    assert json.loads(out.read_text())["specs"][0]["summarised"] is True


def test_subprocess() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adcli",
            "explain",
            str(LECTURE),
            "--at",
            "w1=2",
            "--at",
            "w2=3",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["specs"][0]["forward"]["rows"]
    assert [row["value"]["value"] for row in rows][-1] == pytest.approx(2.0201012595319114)


def test_result_is_frozen() -> None:
    r = explain(LECTURE, at={"w1": 2, "w2": 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "x"  # type: ignore[misc]


# --- a cast output, formula part names, --output-name, point, while/cond ------------------

CAST_MODULE = """
import jax
import jax.numpy as jnp
from jax import lax


def cast_out(x):
    return jnp.sum(jnp.sin(x)).astype(jnp.float32)


def while_f(x):
    def cond(s):
        return s[0] < 3

    def body(s):
        return (s[0] + 1, s[1] * x)

    return lax.while_loop(cond, body, (0, x))[1]


def cond_f(x):
    return lax.cond(x > 0, lambda z: z**2, lambda z: -z**3, x)
"""

CAST_SPECS = """\
name: castout
function: {python: m.py:cast_out}
inputs:
  x: {shape: [3], init: {value: [0.1, 0.2, 0.3]}}
---
name: half2
function:
  expr: |
    u = sin(x) * x
    sum(u)
inputs:
  x: {shape: [3], dtype: float16, init: {value: [0.5, 1.0, -0.25]}}
---
name: plain
function: {expr: "sum(-x * 2.0)"}
inputs:
  x: {shape: [2], init: {value: [1.0, 2.0]}}
---
name: whilel
function: {python: m.py:while_f}
inputs:
  x: {shape: [], init: {value: 1.5}}
---
name: condf
function: {python: m.py:cond_f}
inputs:
  x: {shape: [], init: {value: 1.5}}
"""


@pytest.fixture
def cast_file(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text(CAST_MODULE)
    path = tmp_path / "c.yaml"
    path.write_text(CAST_SPECS)
    return path


@pytest.mark.parametrize("name", ["castout", "half2"])
def test_a_cast_output_stays_the_output_node(cast_file: Path, name: str) -> None:
    r = explain(cast_file, spec=name)
    out = next(n for n in r.nodes if n.name == "out")
    assert not out.hidden and out.primitive == "convert_element_type" and out.outputs == ("out",)
    assert r.reverse is not None and r.forward is not None
    first = r.reverse.rows[0]
    assert (first.node, nfc(first.rule), first.value.scalar) == ("out", "adj(out) = 1", 1.0)
    assert r.reverse.rows[1].value.scalar == 1.0  # the cast's partial is 1
    assert r.reverse.max_error == 0.0
    # hand formulas: out = Σ sin xᵢ (castout) or Σ xᵢ sin xᵢ (half2), ẋ = e₀, x̄ = ∇out
    x = np.array([0.1, 0.2, 0.3]) if name == "castout" else np.array([0.5, 1.0, -0.25])
    grad = np.cos(x) if name == "castout" else np.sin(x) + x * np.cos(x)
    tol = 1e-12 if name == "castout" else 2e-3  # float16
    assert r.forward.rows[-1].node == "out"
    out_tol = 1e-7 if name == "castout" else tol  # ṫ(out) is float32 there
    assert r.forward.rows[-1].value.scalar == pytest.approx(grad[0], abs=out_tol)
    assert r.forward.max_error <= 1e-7  # rounding of the float32/16 cast only
    assert np.allclose(r.reverse.rows[-1].value.entries, grad, atol=tol)
    text = CliRunner().invoke(cli, ["explain", str(cast_file), "--spec", name, "--no-color"])
    assert text.exit_code == 0, text.output
    tree = text.output.split("graph, from the output back to the inputs\n")[1]
    assert tree.splitlines()[1].startswith("└── out = float")  # the tree is not empty


def test_formula_without_steps_names_parts_of_out(cast_file: Path) -> None:
    r = explain(cast_file, spec="plain")
    ops = [n.name for n in r.nodes if n.kind == "op" and not n.hidden]
    assert ops[-1] == "out" and ops[:-1] == [f"out.{k}" for k in range(1, len(ops))]
    assert not any("@" in n.name for n in r.nodes)
    assert r.reverse is not None and np.allclose(r.reverse.rows[-1].value.entries, [-2.0, -2.0])
    logistic = explain(ROOT / "specs" / "estimate" / "logistic.yaml", check_dims=True)
    assert not any("@" in n.name for n in logistic.nodes)


@pytest.mark.parametrize("name", ["v2", "w1", "L"])
def test_output_name_that_is_taken_is_a_usage_error(name: str) -> None:
    if name == "L":  # the output's own default name is fine
        assert explain(LECTURE, output_name="L").outputs == ("L",)
        return
    result = CliRunner().invoke(cli, ["explain", str(LECTURE), "--output-name", name])
    assert result.exit_code == 2
    assert f"--output-name {name}: '{name}' is already a node of lecture_L" in result.output


def test_output_name_clash_with_a_generated_name(cast_file: Path) -> None:
    sin = next(n.name for n in explain(cast_file, spec="castout").nodes if n.primitive == "sin")
    with pytest.raises(UsageError, match=f"--output-name {sin}: '{sin}' is already a node"):
        explain(cast_file, spec="castout", output_name=sin)


def test_empty_output_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["explain", str(LECTURE), "--output-name", ""])
    assert result.exit_code == 2 and "--output-name: expected a name" in result.output


def test_negative_point_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--point: expected a sample point ≥ 0, got -1"):
        explain(LECTURE, point=-1)


def test_while_loop_rule_once_and_no_storage(cast_file: Path) -> None:
    r = explain(cast_file, spec="whilel")
    assert r.reverse is None and r.storage is None
    assert r.forward is not None
    assert nfc(r.forward.rows[-1].rule) == nfc("ṫ(out) = ∂out/∂x·ẋ")
    assert r.forward.rows[-1].value.scalar == pytest.approx(4 * 1.5**3)  # d/dx x⁴
    assert any(n.startswith("reverse sweep not available") for n in r.notes)
    text = CliRunner().invoke(cli, ["explain", str(cast_file), "--spec", "whilel", "--no-color"])
    assert text.exit_code == 0
    assert "what the reverse sweep stored: nothing — the reverse sweep failed" in text.output
    assert " B in " not in text.output
    md = CliRunner().invoke(
        cli, ["explain", str(cast_file), "--spec", "whilel", "--format", "markdown"]
    )
    assert "The reverse sweep failed, so nothing is stored (ValueError" in md.output


def test_cond_predicate_storage_names_its_int32_form(cast_file: Path) -> None:
    r = explain(cast_file, spec="condf")
    assert r.storage is not None
    gt = next(n for n in r.nodes if n.primitive == "gt")
    item = next(i for i in r.storage.items if i.node == gt.name)
    assert gt.dtype == "bool" and item.dtype == "int32"
    assert item.label == f"int32({gt.name})"  # the stored array, not the bool node itself
    assert r.reverse is not None and r.reverse.rows[-1].value.scalar == pytest.approx(3.0)
