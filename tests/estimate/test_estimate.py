"""adcli estimate: counted costs, errors against closed forms and theory, the CLI.

Costs are counted by host callbacks placed inside the function (``jax.debug.callback`` runs
once per evaluated row, also under vmap), never by the formula the report prints.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner

import adcli._estimate.cost
import adcli._estimate.engine
import adcli._estimate.sweep
from adcli._cli.main import cli
from adcli._errors import UsageError
from adcli._estimate import estimators as est
from adcli._estimate.engine import estimate, estimate_function
from adcli._estimate.errors import agreement
from adcli._estimate.sweep import estimate_sweep, growth_exponent, run_estimate
from adcli._results.json import to_json_data
from adcli._spec.load import load_file

ROOT = Path(__file__).resolve().parents[2]
ROSENBROCK = ROOT / "specs" / "estimate" / "rosenbrock.yaml"
FAST = {"time_budget": 0.0, "min_rounds": 1}  # one timing round: these tests check numbers


# --- counting ----------------------------------------------------------------------------


class Counter:
    """A quadratic whose evaluations, JVPs and VJPs are counted by host callbacks."""

    def __init__(self, d: int) -> None:
        rng = np.random.default_rng(0)
        self.A = jnp.asarray(rng.normal(size=(d, d)))
        self.b = jnp.asarray(rng.normal(size=d))
        self.counts = {"eval": 0, "jvp": 0, "vjp": 0}

        def bump(kind):
            def callback(*_):
                self.counts[kind] += 1

            return callback

        @jax.custom_jvp
        def tap_fwd(x):
            jax.debug.callback(bump("eval"), x)
            return x

        @tap_fwd.defjvp
        def _(primals, tangents):
            (x,), (t,) = primals, tangents
            jax.debug.callback(bump("eval"), x)
            jax.debug.callback(bump("jvp"), t)  # once per tangent row, also under vmap
            return x, t

        @jax.custom_vjp
        def tap_rev(x):
            jax.debug.callback(bump("eval"), x)
            return x

        def fwd(x):
            jax.debug.callback(bump("eval"), x)
            return x, None

        def bwd(_, ct):
            jax.debug.callback(bump("vjp"), ct)  # once per cotangent pulled back
            return (ct,)

        tap_rev.defvjp(fwd, bwd)
        self.tap_fwd, self.tap_rev = tap_fwd, tap_rev

    def q(self, x):
        return x @ self.A @ x - self.b @ x

    def f(self, x):  # evaluations and JVPs counted
        return self.q(self.tap_fwd(x))

    def f_rev(self, x):  # evaluations and VJPs counted
        return self.q(self.tap_rev(x))

    def run(self, fn, *args):
        self.counts = dict.fromkeys(self.counts, 0)
        out = jax.block_until_ready(jax.jit(fn)(*args))
        return out, dict(self.counts)


@pytest.mark.parametrize("batch", [1, 3])  # one point at a time; chunks with a remainder
def test_costs_are_counted_by_callbacks(batch) -> None:
    d, k = 7, 5
    c = Counter(d)
    x = jnp.linspace(-1.0, 1.0, d)
    key = jax.random.key(0)
    counted, rows = {}, {}
    for name, program in (
        ("forward-diff", lambda x: est.forward_differences(c.f, x, batch)),
        ("central-diff", lambda x: est.central_differences(c.f, x, batch)),
        ("zero-order", lambda x: est.zero_order(c.f, x, key, k, "sphere", batch)),
        ("forward-ad", lambda x: est.forward_ad(c.f, x, batch)),
        ("reverse-ad", lambda x: est.reverse_ad(c.f_rev, x)),
    ):
        (_, rows[name]), counted[name] = c.run(program, x)
    assert counted == {
        "forward-diff": {"eval": d + 1, "jvp": 0, "vjp": 0},  # f(x) is evaluated once
        "central-diff": {"eval": 2 * d, "jvp": 0, "vjp": 0},
        "zero-order": {"eval": 2 * k, "jvp": 0, "vjp": 0},
        # the primal runs once per chunk of tangents; the JVPs are what is counted
        "forward-ad": {"eval": math.ceil(d / batch), "jvp": d, "vjp": 0},
        "reverse-ad": {"eval": 1, "jvp": 0, "vjp": 1},
    }
    # what the engine reports: the rows its programs returned (the same programs)
    passes = {m: int(r.size) for m, r in rows.items()}
    assert passes == {
        "forward-diff": d + 1,
        "central-diff": 2 * d,
        "zero-order": 2 * k,
        "forward-ad": d,
        "reverse-ad": 1,
    }
    r = estimate_function(lambda y, _: c.q(y), x, k=k, seeds=1, sequential=batch == 1, **FAST)
    assert {m.name: m.passes for m in r.methods} == passes
    assert [m.unit for m in r.methods] == ["evals", "evals", "evals", "JVPs", "VJPs"]
    assert r.batch == (1 if batch == 1 else d)


# --- numbers -----------------------------------------------------------------------------


def _quadratic(d: int, scale: float = 1.0):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(d, d))
    b = rng.normal(size=d)
    x = scale * rng.normal(size=d)

    def f(y, aux):
        return y @ aux[0] @ y - aux[1] @ y

    return f, jnp.asarray(x), (jnp.asarray(A), jnp.asarray(b)), (A + A.T) @ x - b, A


def test_quadratic_against_the_closed_form() -> None:
    f, x, aux, grad, _ = _quadratic(9)
    for name, g in (
        ("reverse-ad", est.reverse_ad(lambda y: f(y, aux), x)[0]),
        ("forward-ad", est.forward_ad(lambda y: f(y, aux), x, 4)[0]),
    ):
        assert np.linalg.norm(np.asarray(g) - grad) <= 1e-12 * np.linalg.norm(grad), name
    g_c = np.asarray(est.central_differences(lambda y: f(y, aux), x, 4)[0])
    # no truncation error for a quadratic: rounding alone, ε·|terms|/h ≈ 1e-11
    assert np.linalg.norm(g_c - grad) <= 1e-9 * np.linalg.norm(grad)
    r = estimate_function(f, x, aux, seeds=1, **FAST)
    central = r.method("central-diff")
    assert central.rel_error < 1e-9
    assert central.rel_error < 20 * central.predicted_rel_error  # rounding, as predicted
    assert r.method("forward-ad").rel_error < 1e-12 and r.errors == () and r.exit_code == 0


def test_forward_differences_err_by_h_times_the_second_derivative() -> None:
    # Near 0, |f| is tiny, so rounding (2ε|f|/h) is negligible and the error is exactly the
    # truncation term: (f(x + heᵢ) − f(x))/h − gᵢ = h·Aᵢᵢ for f = xᵀAx − bᵀx.
    f, x, aux, grad, A = _quadratic(8, scale=1e-3)
    g, _ = est.forward_differences(lambda y: f(y, aux), x, 3)
    h = np.asarray(est.fd_steps(x, 0.5))
    # what is left is rounding of the bᵀx term: ε·|bᵀx|/h ≈ 1e-11, against h·Aᵢᵢ ≈ 1e-8
    np.testing.assert_allclose(np.asarray(g) - grad, h * np.diag(A), rtol=0, atol=5e-11)
    r = estimate_function(f, x, aux, seeds=1, **FAST)
    fwd = r.method("forward-diff")
    assert fwd.predicted_rel_error == pytest.approx(fwd.rel_error, rel=0.5)
    assert 1e-9 < fwd.rel_error < 1e-6


def test_methods_predicted_too_slow_are_skipped_not_run(monkeypatch) -> None:
    # T is pinned at 1 ms: 2d = 2000 evaluations (2 s) are over a 1.5 s cap, d + 1 = 1001
    # (1 s) and one VJP are not, so central differences is skipped and forward ones run.
    monkeypatch.setattr(adcli._estimate.cost, "quick_eval_seconds", lambda *a: 1e-3)
    f, x, aux, _, _ = _quadratic(1000)
    r = estimate_function(f, x, aux, k=400, seeds=1, max_seconds=1.5, **FAST)
    statuses = {m.name: m.status for m in r.methods}
    assert statuses["central-diff"].startswith("skipped: 2d evaluations = 2,000 × 1·T")
    assert "forward-ad" in statuses and statuses["forward-ad"].startswith("skipped: d JVPs")
    assert statuses["forward-diff"] == statuses["zero-order"] == statuses["reverse-ad"] == "ok"
    assert r.method("central-diff").passes == 0 and r.method("forward-diff").passes == 1001


def test_a_function_too_slow_to_time_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(adcli._estimate.cost, "quick_eval_seconds", lambda *a: 30.0)
    f, x, aux, _, _ = _quadratic(3)
    with pytest.raises(UsageError, match=r"one evaluation of f takes 30 s.*--dim"):
        estimate_function(f, x, aux, **FAST)


@pytest.mark.parametrize("kind", est.DIRECTIONS)
def test_zero_order_is_unbiased_with_the_predicted_variance(kind) -> None:
    d, runs = 5, 4000
    f, x, aux, grad, _ = _quadratic(d)
    keys = jax.random.split(jax.random.key(3), runs)
    one = jax.jit(jax.vmap(lambda key: est.zero_order(lambda y: f(y, aux), x, key, 1, kind, 1)[0]))
    G = np.asarray(one(keys))  # runs single-direction estimates
    mean, se = G.mean(0), G.std(0, ddof=1) / math.sqrt(runs)
    assert np.all(np.abs(mean - grad) < 4.5 * se)  # unbiased, within its standard error
    mse = np.mean(np.sum((G - grad) ** 2, axis=1)) / np.sum(grad**2)
    assert mse == pytest.approx(est.zero_order_rms(d, 1, kind) ** 2, rel=0.12)
    assert est.zero_order_rms(d, 1, kind) ** 2 == pytest.approx(
        d - 1 if kind == "sphere" else d + 1
    )


def test_zero_order_error_grows_like_sqrt_d_at_fixed_k() -> None:
    sweep = estimate_sweep(ROSENBROCK, "n", [10, 60, 360], k=8, seeds=4, **FAST)
    assert sweep.k == 8 and [p.d for p in sweep.points] == [10, 60, 360]
    assert all(r.method("zero-order").passes == 16 for r in sweep.results)  # fixed cost
    assert 0.35 < sweep.error_exponent < 0.65
    for p in sweep.points:
        assert p.errors["zero-order"] == pytest.approx(p.predicted_zero_order_error, rel=0.35)
    assert [r.method("central-diff").passes for r in sweep.results] == [20, 120, 720]


def test_growth_exponent() -> None:
    assert growth_exponent([10, 100, 1000], [1.0, 100.0, 1e4]) == pytest.approx(2.0)
    assert growth_exponent([10, 100], [3.0, None]) is None
    assert growth_exponent([10], [1.0]) is None


def test_a_forward_reverse_disagreement_is_caught(monkeypatch) -> None:
    assert agreement(np.ones(3), np.ones(3), math.sqrt(3), np.float64) == []
    (message,) = agreement(np.array([1.0, 2.0, 3.5]), np.ones(3) * [1, 2, 3], 3.7, np.float64)
    assert "disagree" in message and "flat index 2" in message
    real = est.forward_ad
    monkeypatch.setattr(
        est, "forward_ad", lambda f, x, b: (lambda g, r: (g * 1.001, r))(*real(f, x, b))
    )
    f, x, aux, _, _ = _quadratic(4)
    r = estimate_function(f, x, aux, seeds=1, **FAST)
    assert r.exit_code == 1 and "forward AD and reverse AD disagree" in r.errors[0]


def test_custom_vjp_reports_forward_ad_as_an_error_row() -> None:
    spec = load_file(ROOT / "specs" / "linear_solve.yaml")[0]  # x = A⁻¹b, a custom_vjp
    r = estimate(spec, seeds=1, **FAST)
    fwd = r.method("forward-ad")
    assert fwd.status.startswith("error: TypeError") and fwd.passes == 0
    assert r.method("central-diff").rel_error < 1e-8 and r.exit_code == 0
    assert r.scalarized and r.m == 4  # a vector output: the gradient of ⟨u, f⟩


def test_spec_against_its_hand_gradient() -> None:
    r = estimate(ROSENBROCK, dims={"n": 6}, seed=2, **FAST)
    assert (r.d, r.m, r.scalarized, r.dims) == (6, 1, False, {"n": 6})
    assert r.method("central-diff").rel_error < 1e-8
    assert r.method("forward-diff").rel_error < 1e-5
    assert r.method("zero-order").passes == 12  # k = d by default: the cost of central FD
    data = to_json_data(r)
    json.dumps(data, allow_nan=False)
    assert data["exit_code"] == 0 and data["methods"][1]["passes"] == 12


def test_bad_options() -> None:
    with pytest.raises(UsageError, match="--k: expected a positive"):
        run_estimate(ROSENBROCK, k=0)
    with pytest.raises(UsageError, match="--directions: expected one of sphere, gaussian"):
        run_estimate(ROSENBROCK, directions="uniform")
    with pytest.raises(UsageError, match="--sweep: expected NAME=V1"):
        run_estimate(ROSENBROCK, sweep="n=ten")
    with pytest.raises(UsageError, match="no selected spec has a dim 'm'"):
        run_estimate(ROSENBROCK, sweep="m=10,20")
    with pytest.raises(UsageError, match="scalar function"):
        estimate_function(lambda x, _: x, jnp.ones(3))


# --- CLI ---------------------------------------------------------------------------------


def test_cli_text_and_json(tmp_path) -> None:
    runner = CliRunner()
    args = ["estimate", str(ROSENBROCK), "--dim", "n=5", "--time-budget", "0", "--rounds", "1"]
    result = runner.invoke(cli, [*args, "--no-color"])
    assert result.exit_code == 0, result.output
    for text in ("central-diff", "10 evals", "1 VJP ", "5 JVPs", "÷ T", "d = 5"):
        assert text in result.output
    out = tmp_path / "e.json"
    result = runner.invoke(cli, [*args, "--format", "json", "-o", str(out), "--k", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == json.loads(out.read_text())
    (spec,) = data["results"]
    passes = {m["name"]: m["passes"] for m in spec["methods"]}
    assert passes == {
        "forward-diff": 6,
        "central-diff": 10,
        "zero-order": 6,
        "forward-ad": 5,
        "reverse-ad": 1,
    }


def test_cli_sweep_and_plot(tmp_path) -> None:
    pytest.importorskip("matplotlib")  # the optional adcli[plot] extra
    plot = tmp_path / "est.svg"
    result = CliRunner().invoke(
        cli,
        [
            "estimate",
            str(ROSENBROCK),
            "--sweep",
            "n=4,8",
            "--plot",
            str(plot),
            "--time-budget",
            "0",
            "--rounds",
            "1",
            "--seeds",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "growth" in result.output and "<svg" in plot.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["specs/mds.yaml", "--sweep", "n=10,20"], "does not broadcast"),
        (["specs/mds.yaml", "--sweep", "n=0"], "--sweep: expected NAME=V1"),
        (["specs/mds.yaml", "--sweep", "q=3"], "no selected spec has a dim 'q'"),
        (["specs/mds.yaml", "--k", "0"], "--k: expected a positive number"),
        (["specs/mds.yaml", "--plot", "x.png"], "--plot draws a sweep"),
        (["specs/mds.yaml", "--sweep", "n=6", "--plot", "x.txt"], "expected a .png or .svg"),
        (["specs/mds.yaml", "--memory-budget", "lots"], "--memory-budget"),
        (["specs/mds.yaml", "--spec", "mdss"], "did you mean 'mds'"),
    ],
)
def test_cli_usage_errors(args, message, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["estimate", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "adcli", "estimate", "specs/mds.yaml", "--format", "json",
         "--time-budget", "0", "--rounds", "1", "--seeds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (mds,) = json.loads(proc.stdout)["results"]
    assert mds["d"] == 12 and mds["methods"][1]["passes"] == 24


def test_a_wrong_vjp_rule_is_flagged_by_central_differences() -> None:
    # examples/wrong_vjp.yaml's custom VJP returns a wrong cotangent: reverse AD, the
    # reference, is off by ~10%, far beyond central differences' predicted 1e-10.
    specs = load_file(ROOT / "examples" / "wrong_vjp.yaml")
    r = estimate(specs[0], seeds=1, **FAST)
    assert r.method("central-diff").rel_error > 0.01
    assert any("disagree with reverse AD" in n for n in r.notes)
    good = estimate(load_file(ROOT / "specs" / "mds.yaml")[0], seeds=1, **FAST)
    assert not any("disagree" in n for n in good.notes)


def test_a_point_outside_the_domain_is_refused_not_estimated() -> None:
    # log(x - 10) at x ~ N(0, 1): f is nan, yet JAX's rule still gives 1/(x - 10).
    def f(y, aux):
        return jnp.sum(jnp.log(y - 10.0))

    with pytest.raises(UsageError, match=r"f\(x\) = nan: the point is outside the function's"):
        estimate_function(f, jnp.zeros(3), None, **FAST)

    # f finite, but sqrt's gradient at 0 is infinite
    def g(y, aux):
        return jnp.sum(jnp.sqrt(y))

    with pytest.raises(UsageError, match=r"the gradient is not finite \(1 of 3 entries"):
        estimate_function(g, jnp.asarray([0.0, 1.0, 2.0]), None, **FAST)


def test_a_step_that_leaves_the_domain_is_a_note_not_a_crash() -> None:
    def f(y, aux):  # sqrt at 1e-14: a step of h ~ 6e-6 goes below 0
        return jnp.sum(jnp.sqrt(y))

    r = estimate_function(f, jnp.asarray([1e-14, 1.0, 2.0]), None, seeds=3, **FAST)
    assert math.isnan(r.method("central-diff").rel_error)
    assert any("central differences are not finite" in n for n in r.notes)
    assert r.exit_code == 0 and r.method("forward-ad").rel_error < 1e-15


# --- low-precision functions ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_a_half_precision_function_gets_its_own_epsilon(dtype) -> None:
    # x is float32 (as a float16 spec's flat vector is), but f rounds it to float16 inside:
    # steps, ε and the predictions must be float16's, or x + h rounds back to x.
    x = jnp.asarray([0.5, 1.0, -1.5], jnp.float32)  # exact in float16 and bfloat16

    def f(y, aux):
        return jnp.sum(y.astype(dtype) ** 2).astype(jnp.float32)

    r = estimate_function(f, x, None, seeds=1, **FAST)
    name = jnp.dtype(dtype).name
    assert r.dtype == name and r.grad_norm == pytest.approx(2 * math.sqrt(3.5))
    e = float(jnp.finfo(dtype).eps)
    # closed form of the central-diff prediction ε|f|/hᵢ with hᵢ = ∛ε·max(1, |xᵢ|) in dtype
    xs = np.asarray(x, np.float64)
    xc, raw = jnp.asarray(xs, dtype), jnp.asarray(e ** (1 / 3) * np.maximum(1.0, np.abs(xs)), dtype)
    h = np.asarray((xc + raw) - xc, np.float64)  # rounded in dtype: (x + h) − x = h
    predicted = np.linalg.norm(e * 3.5 / h) / (2 * math.sqrt(3.5))
    central = r.method("central-diff")
    assert central.predicted_rel_error == pytest.approx(predicted, rel=1e-6)
    for method in ("forward-diff", "central-diff"):
        m = r.method(method)
        assert m.rel_error <= m.predicted_rel_error, (method, m)
    assert not any("disagree with reverse AD" in n for n in r.notes)
    assert any(f"f computes in {name}" in n for n in r.notes)
    assert r.exit_code == 0


def test_a_float16_spec_reports_float16(tmp_path) -> None:
    spec = tmp_path / "h.yaml"
    spec.write_text(
        "name: f16\nfunction: {expr: 'sum(x ** 2)'}\n"
        "inputs:\n  x: {shape: [3], dtype: float16, init: normal}\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "estimate",
            str(spec),
            "--seeds",
            "1",
            "--time-budget",
            "0",
            "--rounds",
            "1",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    (r,) = json.loads(result.output)["results"]
    assert r["dtype"] == "float16"
    rows = {m["name"]: m for m in r["methods"]}
    assert rows["central-diff"]["rel_error"] <= rows["central-diff"]["predicted_rel_error"]
    assert not any("disagree" in n for n in r["notes"])


# --- one spec that cannot be estimated among several --------------------------------------

TWO = """\
name: good
function: {expr: "sum(x ** 2)"}
inputs:
  x: {shape: [3], init: {value: [1.0, 2.0, 3.0]}}
---
name: bad
function: {expr: "sum(log(x - 10))"}
inputs:
  x: {shape: [3], init: normal}
"""
CLI_FAST = ["--seeds", "1", "--time-budget", "0", "--rounds", "1", "--no-color"]


def test_a_spec_outside_its_domain_is_an_error_entry_and_the_others_run(tmp_path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    runner = CliRunner()
    result = runner.invoke(cli, ["estimate", str(path), *CLI_FAST])
    assert result.exit_code == 2, result.output
    assert "central-diff" in result.output and "d = 3" in result.output  # good ran
    assert f"ERROR {path}:6: bad: f(x) = nan" in result.output.replace("\n", "")
    out = tmp_path / "two.json"
    result = runner.invoke(
        cli, ["estimate", str(path), *CLI_FAST, "--format", "json", "-o", str(out)]
    )
    assert result.exit_code == 2, result.output
    data = json.loads(out.read_text())
    assert data == json.loads(result.output) and data["exit_code"] == 2
    (good,) = data["results"]
    assert good["name"] == "good" and good["grad_norm"] == pytest.approx(2 * math.sqrt(14))
    (error,) = data["errors"]
    assert error.startswith(f"{path}:6: bad: f(x) = nan: the point is outside")


def test_reverse_failing_or_a_cost_guard_is_that_specs_error(tmp_path, monkeypatch) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(TWO.replace("log(x - 10)", "x ** 3"))
    real = est.reverse_ad

    def reverse(f, x):  # as jax.vjp of a lax.while_loop fails
        raise TypeError("Reverse-mode differentiation does not work for lax.while_loop")

    monkeypatch.setattr(est, "reverse_ad", reverse)
    report = run_estimate(path, only=["bad"], seeds=1, **FAST)
    assert report.exit_code == 2 and not report.results
    (error,) = report.errors
    assert "bad: reverse mode fails, so there is no reference: TypeError" in error
    monkeypatch.setattr(est, "reverse_ad", real)
    monkeypatch.setattr(adcli._estimate.cost, "quick_eval_seconds", lambda *a: 30.0)
    report = run_estimate(path, seeds=1, **FAST)
    assert report.exit_code == 2 and len(report.errors) == 2
    assert all("over --max-seconds 60" in e for e in report.errors)


# --- d = 0 --------------------------------------------------------------------------------


def test_no_inputs_is_said_before_k() -> None:
    with pytest.raises(UsageError, match="f: the function has no real inputs to differentiate"):
        estimate_function(lambda x, _: jnp.sum(x) + 1.0, jnp.zeros(0), **FAST)


# --- estimate_function's x ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "f", "d", "norm"),
    [
        # 0-d: one variable; d/dx x³ = 3x² = 12 at 2
        (jnp.array(2.0), lambda y, _: y**3, 1, 12.0),
        # complex: the gradient over (Re, Im) of Σ|x|² is 2(Re x, Im x), norm 2‖x‖ = 2√7
        (jnp.array([1 + 1j, 2 - 1j]), lambda y, _: jnp.sum(jnp.abs(y) ** 2), 4, 2 * math.sqrt(7)),
        # int and list: floats; ∇Σx² = 2x
        (jnp.arange(3), lambda y, _: jnp.sum(y**2), 3, 2 * math.sqrt(5)),
        ([1.0, 2.0], lambda y, _: jnp.sum(y**2), 2, 2 * math.sqrt(5)),
        # 2-d: flattened
        (jnp.ones((2, 3)), lambda y, _: jnp.sum(y[0] * y[1]), 6, math.sqrt(6)),
    ],
    ids=["0-d", "complex", "int", "list", "2-d"],
)
def test_estimate_function_takes_any_array_x(x, f, d, norm) -> None:
    r = estimate_function(f, x, None, seeds=1, **FAST)
    assert r.d == d and r.dtype == "float64"
    assert r.grad_norm == pytest.approx(norm, rel=1e-12)
    assert all(m.status == "ok" for m in r.methods), r.methods
    assert r.method("central-diff").rel_error < 1e-8
    assert r.method("forward-ad").rel_error < 1e-14 and r.exit_code == 0


def test_estimate_function_rejects_what_is_not_a_real_problem() -> None:
    with pytest.raises(UsageError, match="x must be an array of numbers"):
        estimate_function(lambda y, _: jnp.sum(y), ["a", "b"], **FAST)
    with pytest.raises(UsageError, match="needs a real scalar function, got complex"):
        estimate_function(lambda y, _: jnp.sum(y) * 1j, jnp.ones(2), **FAST)


# --- sweeps -------------------------------------------------------------------------------


def test_a_sweep_says_which_specs_it_skips_and_when_d_does_not_grow(tmp_path) -> None:
    path = tmp_path / "sw.yaml"
    path.write_text(
        "name: withn\nfunction: {expr: 'sum(sin(x) ** 2)'}\n"
        "inputs:\n  x: {shape: [n], init: normal}\ndims: {n: 4}\n---\n"
        "name: without\nfunction: {expr: 'x ** 3'}\n"
        "inputs:\n  x: {shape: [], init: {value: 2.0}}\n"
    )
    report = run_estimate(path, sweep="n=2,4", seeds=1, **FAST)
    assert [s.name for s in report.sweeps] == ["withn"] and report.exit_code == 0
    assert report.notes == (f"skipped without ({path}:7): it has no dim 'n' to sweep",)
    runner = CliRunner()
    result = runner.invoke(cli, ["estimate", str(path), "--sweep", "n=2,4", *CLI_FAST])
    assert result.exit_code == 0, result.output
    assert "skipped without" in result.output
    growth = next(line for line in result.output.splitlines() if line.startswith("growth"))
    assert growth.split()[-1] == "d^0.5"
    # N changes the number of examples, not d: no d^0.5 claim
    result = runner.invoke(
        cli,
        [
            "estimate",
            str(ROOT / "specs/estimate/logistic.yaml"),
            "--sweep",
            "N=4,8",
            "--dim",
            "n=3",
            *CLI_FAST,
        ],
    )
    assert result.exit_code == 0, result.output
    growth = next(line for line in result.output.splitlines() if line.startswith("growth"))
    assert "d^" not in growth
