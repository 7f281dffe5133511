"""The checker's numbers: what it must pass (no false alarms) and what it must catch."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

from adcli._check.engine import check_spec
from adcli._check.function import check_function
from adcli._cli.main import cli
from adcli._spec.load import load_text

jax.config.update("jax_enable_x64", True)


def scaled_gradient(f, factor, index=None, where=None):
    """``f`` with a custom VJP whose gradient is multiplied by ``factor`` (a derivative bug).

    ``index``: only that coordinate is wrong; ``where``: only where the predicate holds.
    """

    @jax.custom_vjp
    def g(x):
        return f(x)

    def fwd(x):
        return f(x), x

    def bwd(x, ct):
        (true,) = jax.vjp(f, x)[1](ct)
        wrong = true * factor
        if index is not None:
            return (true.at[index].set(wrong[index]),)
        if where is not None:
            return (jnp.where(where(x), wrong, true),)
        return (wrong,)

    g.defvjp(fwd, bwd)
    return g


def softplus_sum(x):
    return jnp.sum(jax.nn.softplus(x))


def kinds(result, verdict):
    return {c.kind for c in result.comparisons if c.verdict == verdict}


# --- lecture formulas as oracles -------------------------------------------------------


QUADRATIC = """
name: quadratic
function: {{expr: "x @ A @ x - b @ x + c"}}
inputs: {{x: {{shape: [n]}}}}
constants:
  A: {{shape: [n, n], seed: 1}}
  b: {{shape: [n], seed: 2}}
  c: {{shape: [], init: {{value: 3.0}}}}
dims: {{n: 7}}
output: {{shape: []}}
check: {{order: 2}}
expect:
  grad: {{x: "{grad}"}}
  hessian: {{x: "{hessian}"}}
"""


def test_quadratic_gradient_and_hessian_match_the_lecture_formulas():
    text = QUADRATIC.format(grad="(A + A.T) @ x - b", hessian="A + A.T")
    result = check_spec(load_text(text)[0])
    assert result.verdict == "pass", result
    assert {"expect-grad:fd", "expect-grad:ad", "expect-hessian:fd", "expect-hessian:ad"} <= (
        kinds(result, "pass")
    )
    # The hand formula agrees with FD far inside the tolerance, not just barely.
    fd_margins = [c.margin for c in result.comparisons if c.kind == "expect-grad:fd"]
    assert max(fd_margins) < 0.1


@pytest.mark.parametrize(
    ("grad", "hessian", "failing"),
    [
        ("2 * A @ x - b", "A + A.T", {"expect-grad:ad", "expect-grad:fd"}),  # assumes symmetric A
        ("(A + A.T) @ x - b", "2 * A", {"expect-hessian:ad", "expect-hessian:fd"}),
    ],
)
def test_wrong_hand_formulas_are_caught_against_ad_and_fd(grad, hessian, failing):
    result = check_spec(load_text(QUADRATIC.format(grad=grad, hessian=hessian))[0])
    assert result.verdict == "fail"
    assert failing <= kinds(result, "fail")
    assert {"fwd", "rev"} <= kinds(result, "pass")
    assert any("the formula is wrong" in d for d in result.diagnoses)


def test_lecture_graph_intermediates_give_the_closed_form_gradient():
    text = """
name: L
function:
  expr: |
    v1 = log(w1)
    v2 = w2 * v1
    v3 = sqrt(v2)
    v2 + v3
inputs: {w1: {shape: [], init: {uniform: [1.5, 3]}}, w2: {shape: [], init: positive}}
output: {shape: []}
expect:
  grad:
    w1: "(w2 / w1) * (1 + 1 / (2 * sqrt(w2 * log(w1))))"
    w2: "log(w1) * (1 + 1 / (2 * sqrt(w2 * log(w1))))"
"""
    result = check_spec(load_text(text)[0])
    assert result.verdict == "pass"
    assert {c.wrt for c in result.comparisons} == {"w1", "w2"}


# --- bugs that must be caught ------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "error"), [(jnp.float64, 1e-6), (jnp.float32, 1e-3)])
def test_small_relative_errors_are_caught(dtype, error):
    x = jnp.asarray(np.random.default_rng(0).normal(size=50), dtype)
    result = check_function(scaled_gradient(softplus_sum, 1 + error), x)
    assert result.verdict == "fail"
    rev = next(c for c in result.comparisons if c.kind == "rev")
    assert rev.verdict == "fail"
    assert rev.max_rel_error == pytest.approx(error, rel=0.2)


def test_error_in_one_coordinate_of_ten_thousand_is_found_and_located():
    x = jnp.asarray(np.random.default_rng(1).normal(size=10_000))
    result = check_function(scaled_gradient(softplus_sum, 1.1, index=4321), x)
    rev = next(c for c in result.comparisons if c.kind == "rev")
    assert rev.verdict == "fail"
    assert rev.method == "directions"
    assert rev.locations == ("x[4321]",)
    assert rev.worst[0].input_index == "x[4321]"
    assert rev.worst[0].ad == pytest.approx(1.1 * rev.worst[0].reference, rel=1e-6)


def test_error_only_in_one_region_of_the_domain():
    wrong_above_one = scaled_gradient(softplus_sum, 1.5, where=lambda x: x > 1)
    inside = check_function(wrong_above_one, jnp.linspace(-2.0, 0.5, 8))
    outside = check_function(wrong_above_one, jnp.linspace(-2.0, 2.0, 8))
    assert inside.verdict == "pass"
    assert outside.verdict == "fail"
    rev = next(c for c in outside.comparisons if c.kind == "rev")
    assert {m.input_index for m in rev.worst} <= {f"x[{i}]" for i in range(6, 8)}


def test_error_only_in_the_jvp_rule_is_caught_in_forward_mode():
    @jax.custom_jvp
    def f(x):
        return jnp.sum(jnp.sin(x))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), jnp.sum(3 * jnp.cos(x) * t)

    result = check_function(f, jnp.linspace(0.1, 1.0, 5))
    assert "fwd" in kinds(result, "fail")
    fwd = next(c for c in result.comparisons if c.kind == "fwd")
    assert fwd.diagnosis == "constant ratio: AD = 3 × FD (a scale bug)"


def test_sign_flip_is_named():
    result = check_function(scaled_gradient(softplus_sum, -1.0), jnp.linspace(-1.0, 1.0, 6))
    assert any("sign flip: AD = −FD" in d for d in result.diagnoses)
    assert any("custom VJP rule is suspect" in d for d in result.diagnoses)


def test_error_only_in_second_derivatives():
    @jax.custom_jvp
    def square(x):
        return x * x

    @square.defjvp
    def square_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return x * x, 2 * x * t

    @jax.custom_jvp
    def cube_third(x):  # d/dx = x², computed through `square`
        return x**3 / 3

    @cube_third.defjvp
    def cube_third_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return x**3 / 3, square(x) * t * 1.0

    @square.defjvp
    def _wrong(primals, tangents):
        (x,), (t,) = primals, tangents
        return x * x, 3 * x * t

    f = lambda x: jnp.sum(cube_third(x))  # noqa: E731
    result = check_function(f, jnp.linspace(0.5, 1.5, 5), order=2)
    assert {"fwd", "rev"} <= kinds(result, "pass")
    assert any(k.startswith("hvp") for k in kinds(result, "fail"))
    assert any("only second derivatives wrong" in d for d in result.diagnoses)


def test_missing_transpose_is_named():
    a = jnp.asarray(np.random.default_rng(2).normal(size=(4, 4)))

    def f(w):
        return jnp.sum(jnp.tanh(w @ a))

    @jax.custom_vjp
    def g(w):
        return f(w)

    g.defvjp(lambda w: (f(w), w), lambda w, ct: (jax.grad(f)(w).T * ct,))
    result = check_function(g, jnp.asarray(np.random.default_rng(3).normal(size=(4, 4))))
    rev = next(c for c in result.comparisons if c.kind == "rev")
    assert rev.verdict == "fail"
    assert "transpose" in (rev.diagnosis or "")


def test_nan_in_a_derivative_fails_and_says_where():
    result = check_function(lambda x: jnp.sum(jnp.sqrt(x)), jnp.array([1.0, 0.0, 4.0]))
    failing = [c for c in result.comparisons if c.verdict == "fail"]
    assert failing
    assert any("x[1]" in (c.reason or "") and "inf" in (c.reason or "") for c in failing)


def test_function_not_finite_at_the_point_is_not_judged():
    """At a point the caller chose, a value that is not finite is not the rule's fault:
    nothing is judged (a skipped ``value`` comparison says why), and nothing fails."""
    result = check_function(lambda x: jnp.sum(jnp.log(x)), jnp.array([1.0, -1.0]))
    (value,) = result.comparisons
    assert (value.kind, value.verdict, result.verdict) == ("value", "skipped", "skipped")
    assert value.reason == (
        "not judged: f is not finite at the point (out = nan): there is no derivative "
        "to compare with finite differences"
    )


# --- hard cases that must pass ------------------------------------------------------------


def mlp_loss(params, x):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"]) ** 2)


def test_correct_float32_models_never_raise_false_alarms():
    verdicts = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        params = {
            "w1": jnp.asarray(rng.normal(size=(6, 8)) / 3, jnp.float32),
            "b1": jnp.asarray(rng.normal(size=8), jnp.float32),
            "w2": jnp.asarray(rng.normal(size=(8, 2)), jnp.float32),
        }
        x = jnp.asarray(rng.normal(size=(5, 6)), jnp.float32)
        verdicts.append(check_function(mlp_loss, params, x, seed=seed).verdict)
    assert verdicts == ["pass"] * 20


def test_inputs_of_very_different_scales_and_a_log_near_its_singularity():
    x = jnp.array([1e-4, 1.0, 1e4, 3e-2, 2e2])
    assert check_function(lambda x: jnp.sum(jnp.log(x) * x**0.5), x).verdict == "pass"
    near = jnp.array([1e-6, 2e-6, 5e-7])
    assert check_function(lambda x: jnp.sum(jnp.log(x)), near).verdict == "pass"


def test_large_constant_offset():
    x = jnp.asarray(np.random.default_rng(4).normal(size=30))
    assert check_function(lambda x: 1e8 + jnp.sum(jnp.tanh(x)), x).verdict == "pass"


def test_relu_network_at_random_points_passes():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        w = jnp.asarray(rng.normal(size=(40, 30)))
        x = jnp.asarray(rng.normal(size=40))
        result = check_function(
            lambda x, w: jnp.sum(jax.nn.relu(x @ w) ** 2) + jnp.sum(jnp.abs(x)), x, w, wrt=[0]
        )
        assert result.verdict == "pass", [c.reason for c in result.comparisons]


def test_a_kink_exactly_at_the_point_is_inconclusive_not_a_failure():
    result = check_function(lambda x: jnp.sum(jax.nn.relu(x)), jnp.array([0.0, 1.0, -2.0]))
    assert result.verdict == "inconclusive"
    reasons = " ".join(c.reason or "" for c in result.comparisons)
    assert "left and right slopes differ" in reasons and "x[0]" in reasons


def test_pytree_inputs_and_dict_outputs():
    def f(p):
        return {"loss": jnp.sum(p["a"] ** 2) * p["b"], "vec": jnp.sin(p["a"]) * p["b"]}

    params = {"a": jnp.arange(1.0, 4.0), "b": jnp.array(0.7)}
    result = check_function(f, params)
    assert result.verdict == "pass"
    assert {"fwd", "rev", "adjoint"} <= kinds(result, "pass")


def test_matrix_valued_and_tuple_outputs():
    a = jnp.asarray(np.random.default_rng(5).normal(size=(3, 4)))
    x = jnp.asarray(np.random.default_rng(6).normal(size=(4, 2)))
    assert check_function(lambda x: jnp.sin(a @ x), x).verdict == "pass"
    assert check_function(lambda x: (jnp.sum(x), jnp.cos(x)), x).verdict == "pass"


def test_complex_inputs_are_checked_as_real_and_imaginary_parts():
    z = jnp.array([1.0 + 2.0j, 0.5 - 1.0j, -0.3 + 0.1j])
    result = check_function(lambda z: jnp.sum(jnp.abs(z) ** 2 + jnp.real(z**3)), z)
    assert result.verdict == "pass"
    result = check_function(lambda z: z * z * jnp.conj(z), z)
    assert result.verdict == "pass"


def test_custom_vjp_forward_mode_is_skipped_with_the_reason_not_a_crash():
    result = check_function(scaled_gradient(softplus_sum, 1.0), jnp.linspace(-1.0, 1.0, 5))
    assert result.verdict == "pass"
    fwd = next(c for c in result.comparisons if c.kind == "fwd")
    assert fwd.verdict == "skipped"
    assert "custom_vjp" in fwd.reason


@pytest.mark.slow
def test_a_million_inputs_checked_by_random_directions():
    x = jnp.asarray(np.random.default_rng(7).normal(size=1_000_000))
    result = check_function(lambda x: jnp.sum(jax.nn.softplus(x) * jnp.cos(x)), x)
    assert result.verdict == "pass"
    assert result.method == "x: directions"


def test_same_seed_same_numbers():
    x = jnp.asarray(np.random.default_rng(8).normal(size=300))
    a = check_function(lambda x: jnp.sum(jnp.tanh(x) ** 2), x, seed=3)
    b = check_function(lambda x: jnp.sum(jnp.tanh(x) ** 2), x, seed=3)
    assert [c.margin for c in a.comparisons] == [c.margin for c in b.comparisons]


def test_stop_gradient_is_mentioned_when_it_explains_a_failure():
    result = check_function(lambda x: jnp.sum(x * jax.lax.stop_gradient(x)), jnp.arange(1.0, 4.0))
    assert result.verdict == "fail"
    assert any("stop_gradient" in note for note in result.notes)


def test_missing_transpose_is_named_in_the_directions_method_too():
    a = jnp.asarray(np.random.default_rng(9).normal(size=(20, 20)) / 5)

    def f(w):
        return jnp.sum(jnp.tanh(w @ a))

    @jax.custom_vjp
    def g(w):
        return f(w)

    g.defvjp(lambda w: (f(w), w), lambda w, ct: (jax.grad(f)(w).T * ct,))
    w = jnp.asarray(np.random.default_rng(10).normal(size=(20, 20)))
    result = check_function(g, w)
    rev = next(c for c in result.comparisons if c.kind == "rev")
    assert (rev.method, rev.verdict) == ("directions", "fail")
    assert "transpose" in (rev.diagnosis or "")


def test_reverse_mode_error_in_one_entry_of_a_vector_map_names_input_and_output():
    d, m = 2000, 50
    rng = np.random.default_rng(11)
    a = jnp.asarray(rng.standard_normal((m, d)) / np.sqrt(d))

    def f(x):
        return jnp.tanh(a @ x)

    @jax.custom_vjp
    def g(x):
        return f(x)

    def bwd(x, u):  # the entry ∂out[7]/∂x[1234] of Jᵀ is doubled
        (grad,) = jax.vjp(f, x)[1](u)
        return (grad.at[1234].add(u[7] * jax.jacrev(f)(x)[7, 1234]),)

    g.defvjp(lambda x: (f(x), x), bwd)
    result = check_function(g, jnp.asarray(rng.standard_normal(d)))
    rev = next(c for c in result.comparisons if c.kind == "rev")
    assert rev.locations == ("x[1234]",)
    worst = rev.worst[0]
    assert (worst.input_index, worst.output_index) == ("x[1234]", "out[7]")
    assert worst.ad == pytest.approx(2 * worst.reference, rel=1e-6)


# --- spec inputs: empty arrays, mixed precision -------------------------------------------


def test_empty_spec_input_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "z.yaml"
    spec.write_text("name: z0\nfunction:\n  expr: sum(x**2)\ninputs:\n  x: [0]\n")
    out = CliRunner().invoke(cli, ["check", str(spec)])
    assert out.exit_code == 2, out.output
    assert "z.yaml:5: inputs.x.shape: x has no entries (shape (0,)): nothing to" in out.output
    assert "concatenate" not in out.output


def test_empty_spec_input_beside_another_is_skipped(tmp_path: Path) -> None:
    spec = tmp_path / "z.yaml"
    spec.write_text(
        "name: z2\nfunction:\n  expr: sum(x**2) + sum(y**3)\ninputs:\n  x: [0]\n  y: [3]\n"
    )
    assert CliRunner().invoke(cli, ["check", str(spec)]).exit_code == 0


def test_mixed_precision_dtypes_are_per_input(tmp_path: Path) -> None:
    spec = tmp_path / "h.yaml"
    spec.write_text(
        "name: h\nfunction:\n  expr: sum(tanh(x)*w)\ninputs:\n"
        "  x: {shape: [4], dtype: float16}\n  w: {shape: [4], dtype: bfloat16}\n"
    )
    out = CliRunner().invoke(cli, ["check", str(spec), "--format", "json"])
    assert out.exit_code == 0, out.output
    (result,) = json.loads(out.output)["specs"]
    assert result["dtypes"] == {"x": "float16", "w": "bfloat16"}
