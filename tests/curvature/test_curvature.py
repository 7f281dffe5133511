"""adcli curvature: Hutchinson intervals, Lanczos eigenvalues, the HVP check, the exact-Hessian
guard, and the CLI (CliRunner and one subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._errors import UsageError

SPECS = Path(__file__).resolve().parents[2] / "specs"
QUADRATIC = str(SPECS / "quadratic.yaml")


def _quadratic(n: int):
    """The quadratic spec at size n, its flat problem, and its Hessian A + Aᵀ."""
    from adcli._problem.build import build
    from adcli._problem.flat import flatten_problem
    from adcli._spec.select import select_specs

    specs, _ = select_specs(QUADRATIC, dims={"n": n})
    problem = build(specs[0])
    a = np.asarray(problem.sample_constants()["A"])
    return problem, flatten_problem(problem, with_vector=True), a + a.T


def _operator(n: int):
    from adcli._curvature.hvp import HvpOperator

    problem, flat, hess = _quadratic(n)
    inputs = problem.sample_inputs(0)
    x = flat.in_layout.flatten({"x": inputs["x"]}, flat.dtype)
    rest = {"inputs": {}, "constants": problem.sample_constants()}
    return HvpOperator(flat, "fwd-over-rev", x, rest, 16), hess


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


# --- Hutchinson ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quadratic_result():
    from adcli._curvature.engine import curvature
    from adcli._spec.select import select_specs

    spec = select_specs(QUADRATIC, dims={"n": 12})[0][0]
    return curvature(spec, trace=True, eigs=3, hvps=60, measure="none")


def test_hutchinson_interval_holds_the_exact_trace_of_a_quadratic(quadratic_result):
    r = quadratic_result
    _, _, hess = _quadratic(12)
    exact = float(np.trace(hess))  # tr(A + Aᵀ) = 2 tr A, by hand, not from adcli
    assert r.exact.formed and r.exact.trace == pytest.approx(exact, rel=1e-12)
    methods = [t.method for t in r.trace]
    assert methods == ["rademacher", "gaussian", "hutch++"]
    for t in r.trace:
        assert t.ci_low <= exact <= t.ci_high, t
        assert t.hvps == 60 and t.exact == pytest.approx(exact)
    fro2 = float(np.sum(hess**2))
    rad, gau = r.trace[0], r.trace[1]
    assert gau.theoretical_variance == pytest.approx(2 * fro2)
    assert rad.theoretical_variance == pytest.approx(2 * (fro2 - np.sum(np.diag(hess) ** 2)))
    # The sample variance estimates the theoretical one (60 samples: within a factor 2).
    assert 0.5 < rad.sample_variance / rad.theoretical_variance < 2
    assert 0.5 < gau.sample_variance / gau.theoretical_variance < 2


def test_hutchinson_coverage_over_seeds_is_near_nominal():
    from adcli._curvature.hutchinson import hutchinson

    op, hess = _operator(10)
    exact = float(np.trace(hess))
    for kind in ("rademacher", "gaussian"):
        covered = 0
        for seed in range(40):
            est = hutchinson(op.matmat, 10, kind=kind, max_hvps=40, rng=np.random.default_rng(seed))
            covered += est.ci_low <= exact <= est.ci_high
        assert covered >= 34, (kind, covered)  # ≥ 85% of 40 runs for a 95% interval


def test_rademacher_is_exact_on_a_diagonal_hessian():
    """Var(zᵀHz) = 2(‖H‖²_F − Σ Hᵢᵢ²) = 0 for a diagonal H: every sample is the trace."""
    from adcli._curvature.hutchinson import hutchinson

    h = np.diag(np.arange(1.0, 9.0))
    est = hutchinson(lambda v: v @ h, 8, max_hvps=5, rng=np.random.default_rng(0), hessian=h)
    assert est.estimate == pytest.approx(36.0, abs=1e-12)
    assert est.sample_variance < 1e-20 and est.theoretical_variance == 0.0


def test_rtol_stops_early_with_a_narrow_interval():
    from adcli._curvature.hutchinson import hutchinson

    h = np.diag(np.arange(1.0, 11.0))  # tr 55, Gaussian per-probe sd √(2·385) ≈ 28
    est = hutchinson(
        lambda v: v @ h, 10, kind="gaussian", max_hvps=4000, rtol=0.05,
        rng=np.random.default_rng(1),
    )  # fmt: skip
    assert est.stopped == "rtol" and 10 <= est.hvps < 4000
    assert est.half_width < 0.05 * abs(est.estimate)


def test_hutch_plus_plus_on_a_low_rank_matrix_beats_hutchinson():
    from adcli._curvature.hutchinson import hutch_plus_plus, hutchinson

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    h = (q * np.r_[np.geomspace(100, 1, 10), np.full(190, 1e-3)]) @ q.T
    exact = float(np.trace(h))
    pp = hutch_plus_plus(lambda v: v @ h, 200, hvps=60, rng=np.random.default_rng(1))
    hu = hutchinson(lambda v: v @ h, 200, max_hvps=60, rng=np.random.default_rng(1))
    assert pp.hvps == 60 and pp.ci_low <= exact <= pp.ci_high
    assert abs(pp.estimate - exact) < 1e-3 * exact
    assert pp.half_width < hu.half_width / 10


SADDLE = """\
name: saddle
function: {expr: "x[0] * x[1] + 0.5 * x[2]**2 - 0.5 * x[3]**2"}
inputs: {x: {shape: [4]}}
output: {shape: []}
"""


def test_rel_error_is_null_when_the_exact_trace_is_0(tmp_path: Path) -> None:
    """H has eigenvalues 1, 1, −1, −1: tr H = 0, ‖H‖²_F = 4, Σ Hᵢᵢ² = 2."""
    spec = _write(tmp_path, "saddle.yaml", SADDLE)
    args = ["curvature", spec, "--trace", "--measure", "none", "--hvps", "20"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    trace = json.loads(result.output)["specs"][0]["trace"]
    assert [t["exact"] for t in trace] == [0.0, 0.0, 0.0]
    assert [t["rel_error"] for t in trace] == [None, None, None]
    assert trace[0]["theoretical_variance"] == pytest.approx(2 * (4 - 2))
    assert trace[1]["theoretical_variance"] == pytest.approx(2 * 4)
    text = CliRunner().invoke(cli, [*args, "--no-color"])
    rows = [line for line in text.output.splitlines() if "Hutch" in line]
    assert len(rows) == 3 and all(row.split("│")[-3].strip() == "-" for row in rows), rows
    assert "e+2" not in text.output  # the 4e+298 of max(|exact|, 1e-300)


def test_theoretical_variance_is_never_negative() -> None:
    """A diagonal H: 2(‖H‖²_F − Σ Hᵢᵢ²) is 0, but cancels to −7e-15 for this one."""
    from adcli._curvature.hutchinson import theoretical_variance

    h = np.diag(np.linspace(0.1, 3.3, 4))
    assert 2 * (float(np.sum(h * h)) - float(np.sum(np.diag(h) ** 2))) < 0  # the cancellation
    assert theoretical_variance("rademacher", h) == 0.0
    assert theoretical_variance("gaussian", h) == pytest.approx(2 * np.sum(np.diag(h) ** 2))


def test_hutch_plus_plus_variance_at_rounding_level_is_0() -> None:
    """d ≤ the sketch: Q spans H, the deflated samples are rounding (var ~1e-60): shown 0."""
    from adcli._curvature.hutchinson import hutch_plus_plus

    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    h = a + a.T
    est = hutch_plus_plus(lambda v: v @ h, 5, hvps=30, rng=np.random.default_rng(1))
    assert est.estimate == pytest.approx(np.trace(h), abs=1e-12)
    assert est.sample_variance == 0.0


# --- Lanczos -------------------------------------------------------------------------------


def test_lanczos_matches_eigvalsh_and_the_residuals_bound_the_errors(quadratic_result):
    eigs = quadratic_result.eigs
    _, _, hess = _quadratic(12)
    ref = np.linalg.eigvalsh(hess)
    assert eigs.converged and eigs.k == 3
    top = [v for v in eigs.values if v.which == "top"]
    bottom = [v for v in eigs.values if v.which == "bottom"]
    for got, want in [*zip(top, ref[::-1][:3], strict=True), *zip(bottom, ref[:3], strict=True)]:
        assert got.value == pytest.approx(want, rel=1e-8)
        assert abs(got.value - want) <= got.residual + 1e-12 * abs(want)
        assert got.exact == pytest.approx(want, rel=1e-12)
    assert eigs.curvature == "indefinite"  # A + Aᵀ of a random A: both signs


def test_lanczos_on_a_larger_hvp_operator_with_a_step_budget():
    """d = 60, k = 4 from HVPs; compared with eigvalsh and (where it exists) scipy's eigsh."""
    from adcli._curvature.lanczos import lanczos, residuals

    op, hess = _operator(60)
    ref = np.linalg.eigvalsh(hess)
    run = lanczos(op.matvec, 60, 4, max_steps=60, tol=1e-10, rng=np.random.default_rng(3))
    assert run.converged and run.steps <= 60
    np.testing.assert_allclose(run.top, ref[::-1][:4], rtol=1e-8)
    np.testing.assert_allclose(run.bottom, ref[:4], rtol=1e-8)
    res = residuals(op.matmat, run.top, run.top_vectors)
    assert np.all(np.abs(run.top - ref[::-1][:4]) <= res + 1e-12 * np.abs(ref[-1]))
    # Interlacing: after any number of steps θ_top ≤ λmax and θ_bottom ≥ λmin.
    early = lanczos(op.matvec, 60, 1, max_steps=8, tol=0, rng=np.random.default_rng(3))
    assert not early.converged and early.steps == 8
    assert early.top[0] <= ref[-1] + 1e-12 and early.bottom[0] >= ref[0] - 1e-12


def test_positive_definite_point_gives_a_condition_number():
    from adcli._curvature.engine import curvature
    from adcli._spec.load import load_text

    spec = load_text(
        textwrap.dedent(
            """
            name: convex
            function: {expr: "sum(c * x ** 2) + sum(x) ** 2"}
            inputs: {x: {shape: [n], init: normal}}
            constants: {c: {shape: [n], init: {uniform: [1, 3]}, seed: 2}}
            dims: {n: 20}
            output: {shape: []}
            """
        )
    )[0]
    r = curvature(spec, eigs=2, measure="none")
    ref = np.linalg.eigvalsh(_convex_h(spec))
    assert r.eigs.curvature == "positive definite"
    assert r.eigs.condition_number == pytest.approx(ref[-1] / ref[0], rel=1e-8)


def _convex_h(spec) -> np.ndarray:
    from adcli._problem.build import build

    c = np.asarray(build(spec).sample_constants()["c"])
    return 2 * np.diag(c) + 2 * np.ones((len(c), len(c)))


def test_the_lanczos_run_records_an_invariant_krylov_space() -> None:
    from adcli._curvature.lanczos import lanczos

    h = np.diag([1.0, 2.0, 3.0, 4.0, 4.0, 4.0, 4.0])  # four distinct eigenvalues in d = 7
    run = lanczos(lambda v: h @ v, 7, 3, max_steps=7, tol=1e-10, rng=np.random.default_rng(0))
    assert run.invariant and run.steps == 4
    np.testing.assert_allclose(run.top, [4.0, 3.0, 2.0], atol=1e-12)
    full = lanczos(lambda v: v * np.arange(1.0, 8.0), 7, 3, max_steps=7, tol=0,
                   rng=np.random.default_rng(0))  # fmt: skip
    assert not full.invariant and full.steps == 7


def test_repeated_eigenvalues_are_found_once_and_the_report_says_so(tmp_path: Path) -> None:
    """H = diag(2, 2, 2, 4): two distinct eigenvalues, so Lanczos stops after 2 steps."""
    spec = _write(
        tmp_path,
        "rep.yaml",
        "name: rep\nfunction: {expr: 'sum(x**2) + x[3]**2'}\n"
        "inputs: {x: {shape: [4]}}\noutput: {shape: []}\n",
    )
    args = ["curvature", spec, "--eigs", "2", "--measure", "none", "--check-directions", "1"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    eigs = json.loads(result.output)["specs"][0]["eigs"]
    assert eigs["invariant"] is True and eigs["steps"] == 2
    assert eigs["k"] == 2  # each list holds min(K, steps) values
    values = {(v["which"], v["rank"]): v for v in eigs["values"]}
    assert values["top", 1]["value"] == pytest.approx(4) and values["top", 2]["value"] == (
        pytest.approx(2)
    )
    assert values["top", 2]["exact"] == pytest.approx(2)  # eigvalsh: 4, 2, 2, 2
    assert values["bottom", 2]["value"] == pytest.approx(4)  # the lists share values
    assert values["bottom", 2]["exact"] == pytest.approx(2)
    assert "2 distinct eigenvalues" in eigs["note"] and "share values" in eigs["note"]
    text = CliRunner().invoke(cli, [*args, "--no-color"])
    flat = " ".join(text.output.split())
    assert "note: the Krylov space became invariant after 2 of d = 4 steps" in flat


# --- the HVP check and the exact-Hessian guard ---------------------------------------------

WRONG = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp


    @jax.custom_jvp
    def cos_wrong(x):
        return jnp.cos(x)


    @cos_wrong.defjvp
    def _cos_wrong_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return jnp.cos(x), jnp.sin(x) * t  # wrong sign: d cos = −sin


    @jax.custom_jvp
    def sin_(x):
        return jnp.sin(x)


    @sin_.defjvp
    def _sin_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return jnp.sin(x), cos_wrong(x) * t  # first derivative right, its derivative wrong


    def loss(x):
        return jnp.sum(sin_(x)) + 0.5 * jnp.sum(x ** 2)
    """
)
WRONG_SPEC = """\
name: wrong_second
function: {python: "wrong_model.py:loss"}
inputs: {x: {shape: [n], init: normal}}
dims: {n: 6}
output: {shape: []}
"""


def test_hvp_check_catches_a_wrong_second_derivative(tmp_path):
    (tmp_path / "wrong_model.py").write_text(WRONG)
    (tmp_path / "wrong.yaml").write_text(WRONG_SPEC)
    result = CliRunner().invoke(
        cli, ["curvature", str(tmp_path / "wrong.yaml"), "--trace", "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)["specs"][0]
    assert data["trusted"] is False and data["check"]["verdict"] == "fail"
    assert all(row["verdict"] == "fail" for row in data["check"]["rows"])
    # Its gradient is right: the first-order check would pass; only Hw is wrong.
    text = CliRunner().invoke(cli, ["curvature", str(tmp_path / "wrong.yaml"), "--no-color"])
    assert text.exit_code == 1 and "UNTRUSTED" in text.output


RECURSIVE_FWD = textwrap.dedent(
    """\
    import jax
    import jax.numpy as jnp


    @jax.custom_vjp
    def softplus_sum(x):
        return jnp.sum(jax.nn.softplus(x))


    def _fwd(x):
        return softplus_sum(x), x  # the fwd calls the function itself, as many rules do


    def _bwd(x, g):
        return (g * jax.nn.sigmoid(x),)


    softplus_sum.defvjp(_fwd, _bwd)
    """
)


def test_a_custom_vjp_that_cannot_be_vmapped_still_gets_its_curvature(tmp_path):
    # jax.vmap of fwd-over-rev, and jax.hessian, raise "can't apply forward-mode autodiff
    # (jvp) to a custom_vjp function" here, while one jitted fwd-over-rev HVP runs fine.
    from adcli._curvature.engine import curvature

    (tmp_path / "m.py").write_text(RECURSIVE_FWD)
    spec = tmp_path / "sp.yaml"
    spec.write_text(
        "name: sp\nfunction: {python: m.py:softplus_sum}\n"
        "inputs: {x: {shape: [6], init: normal}}\noutput: {shape: []}\n"
    )
    r = curvature(
        spec, trace=True, eigs=2, hvp_strategy="fwd-over-rev", probes="rademacher", hutchpp=False
    )
    assert r.strategy.batching.startswith("lax.map") and "custom_vjp" in r.strategy.batching
    assert r.exact.formed and "by jacrev of grad" in r.exact.reason
    assert r.check.verdict == "pass" and r.exit_code == 0
    # softplus'' = σ(1 − σ) > 0 on the diagonal only: Rademacher probes are exact.
    (est,) = r.trace
    assert est.estimate == pytest.approx(r.exact.trace, rel=1e-12)
    assert r.eigs is not None and r.eigs.curvature.startswith("positive definite")
    top = r.eigs.values[0]
    assert top.which == "top" and top.value == pytest.approx(r.exact.eigenvalues_top[0], rel=1e-10)
    out = CliRunner().invoke(cli, ["curvature", str(spec), "--no-color"])
    assert out.exit_code == 0, out.output
    assert "batched by lax.map" in out.output and "Traceback" not in out.output


def test_exact_hessian_is_not_formed_above_the_threshold(tmp_path):
    from adcli._curvature.engine import curvature
    from adcli._spec.load import load_text

    text = """\
        name: big
        function: {expr: "sum(cos(x))"}
        inputs: {x: {shape: [n], init: normal}}
        dims: {n: 5000}
        output: {shape: []}
    """
    spec = load_text(textwrap.dedent(text))[0]
    r = curvature(spec, check_directions=1, measure="none")
    assert not r.exact.formed and "5,000 > 4,096" in r.exact.reason
    assert r.hvps == 1  # the one checked direction: nothing formed H column by column
    # --exact always with a budget too small for d² entries: exit 2 with the size needed.
    with pytest.raises(UsageError, match=r"entries need 381 MiB, over the memory budget"):
        curvature(spec, exact="always", memory_budget=10**8)


def test_exact_always_over_budget_is_exit_2_on_the_cli():
    result = CliRunner().invoke(
        cli,
        ["curvature", QUADRATIC, "--dim", "n=300", "--exact", "always", "--memory-budget", "1MB"],
    )
    assert result.exit_code == 2
    assert "--exact always" in result.output and "1.37 MiB" in result.output


def test_vector_output_is_a_usage_error_naming_the_spec():
    result = CliRunner().invoke(cli, ["curvature", str(SPECS / "sin_AX.yaml"), "--spec", "sin_AX"])
    assert result.exit_code == 2
    assert "sin_AX" in result.output and "scalar function" in result.output
    assert "20 entries" in result.output


WHILE_MODEL = """\
import jax
import jax.numpy as jnp


def while_loss(x):
    _, y = jax.lax.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, jnp.sin(s[1])), (0, x))
    return jnp.sum(y**2)


@jax.custom_vjp
def cube(x):
    return x**3


cube.defvjp(lambda x: (x**3, x), lambda x, g: (3 * x**2 * g,))


def cvjp_loss(x):
    return jnp.sum(cube(x))
"""


@pytest.mark.parametrize("exact", ["auto", "never"])
def test_reverse_mode_that_cannot_trace_is_exit_2(tmp_path: Path, exact: str) -> None:
    (tmp_path / "m.py").write_text(WHILE_MODEL)
    spec = _write(
        tmp_path,
        "w.yaml",
        "name: while\nfunction: {python: m.py:while_loss}\n"
        "inputs: {x: {shape: [3]}}\noutput: {shape: []}\n",
    )
    result = CliRunner().invoke(cli, ["curvature", spec, "--measure", "none", "--exact", exact])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "while (" in result.output and "needs the reverse-mode gradient" in result.output
    assert "ValueError: Reverse-mode differentiation does not work for lax.while_loop" in (
        result.output.replace("\n", " ")
    )


@pytest.mark.parametrize("strategy", ["rev-over-fwd", "fwd-over-fwd"])
def test_a_forced_strategy_that_cannot_trace_is_exit_2(tmp_path: Path, strategy: str) -> None:
    (tmp_path / "m.py").write_text(WHILE_MODEL)
    spec = _write(
        tmp_path,
        "c.yaml",
        "name: cvjp\nfunction: {python: m.py:cvjp_loss}\n"
        "inputs: {x: {shape: [4]}}\noutput: {shape: []}\n",
    )
    result = CliRunner().invoke(cli, ["curvature", spec, "--hvp-strategy", strategy])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert f"--hvp-strategy {strategy} cannot run on this function: NotImplementedError" in text


# --- the CLI -------------------------------------------------------------------------------


def test_cli_text_report_on_a_two_input_spec():
    result = CliRunner().invoke(
        cli,
        ["curvature", str(SPECS / "sin_AX.yaml"), "--spec", "sum_sin_AX", "--trace", "--eigs",
         "2", "--no-color", "--measure", "none"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("HVP strategy", "HVP check", "Hutchinson, rademacher", "Hutch++", "f: R^27 → R"):
        assert text in out
    assert "eigenvalues (Lanczos" in out and "exact (eigvalsh)" in out


def test_cli_json_and_output_file(tmp_path):
    target = tmp_path / "c.json"
    result = CliRunner().invoke(
        cli,
        ["curvature", QUADRATIC, "--dim", "n=8", "--trace", "--probes", "gaussian", "--hvps",
         "20", "--no-hutchpp", "--eigs", "2", "--format", "json", "-o", str(target),
         "--measure", "none"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert json.loads(target.read_text()) == data
    spec = data["specs"][0]
    assert spec["d"] == 8 and spec["trusted"] is True and spec["strategy"]["name"]
    (est,) = spec["trace"]
    assert est["method"] == "gaussian" and est["hvps"] == 20 and est["covers_exact"] is True
    assert len(spec["eigs"]["values"]) == 4 and spec["exact"]["formed"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--confidence", "1.5"], "--confidence"),
        (["--dim", "nn=3"], "did you mean"),
        (["--probes", "uniform"], "--probes"),
        (["--hvp-strategy", "sideways"], "--hvp-strategy"),
    ],
)
def test_bad_usage_is_exit_2(args, message):
    result = CliRunner().invoke(cli, ["curvature", QUADRATIC, *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_subprocess_run():
    proc = subprocess.run(
        [sys.executable, "-m", "adcli", "curvature", QUADRATIC, "--dim", "n=6", "--eigs", "1",
         "--measure", "none", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    ev = data["specs"][0]["eigs"]["values"]
    assert [v["which"] for v in ev] == ["top", "bottom"]
    assert all(v["error"] <= v["residual"] + 1e-10 for v in ev)


def test_a_point_outside_the_domain_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "nan.yaml"
    spec.write_text(
        "name: nan_at_point\n"
        "function: {expr: sum(log(x - 10))}\n"
        "inputs: {x: {shape: [n], init: normal}}\n"
        "dims: {n: 5}\n"
        "output: {shape: []}\n"
    )
    result = CliRunner().invoke(cli, ["curvature", str(spec), "--trace"])
    assert result.exit_code == 2, result.output
    assert "f(x) = nan at point 0 (seed 0): the point is outside the function's domain" in (
        result.output
    )


def test_a_folder_skips_vector_specs_and_runs_the_rest(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", SADDLE)
    _write(
        tmp_path,
        "b.yaml",
        "name: vec\nfunction: {expr: sin(x)}\ninputs: {x: {shape: [3]}}\noutput: {shape: [3]}\n",
    )
    args = ["curvature", str(tmp_path), "--measure", "none", "--check-directions", "1"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [s["name"] for s in data["specs"]] == ["saddle"]
    (skip,) = data["skipped"]
    assert skip["name"] == "vec" and skip["line"] == 1 and skip["file"].endswith("b.yaml")
    assert "scalar function" in skip["reason"] and "3 entries" in skip["reason"]
    text = CliRunner().invoke(cli, [*args, "--no-color"])
    assert text.exit_code == 0 and "skipped: vec (" in text.output
    assert "1 spec(s), 1 skipped" in text.output
    # Only vector specs selected (two of them): nothing to run is still a usage error.
    only_vec = CliRunner().invoke(cli, [*args, "--spec", "vec"])
    assert only_vec.exit_code == 2 and "scalar function" in only_vec.output
    (tmp_path / "a.yaml").write_text((tmp_path / "b.yaml").read_text().replace("vec", "vec2"))
    both = CliRunner().invoke(cli, args)
    assert both.exit_code == 2 and "none of the 2 selected specs" in both.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"memory_budget": -1}, "--memory-budget: expected a positive size"),
        ({"memory_budget": 0}, "--memory-budget: expected a positive size"),
        ({"eigs": 2, "lanczos_steps": 0}, "--lanczos-steps: expected ≥ 1, got 0"),
        ({"eigs": 2, "eig_tol": 0.0}, "--eig-tol: expected a positive number"),
    ],
)
def test_the_python_api_rejects_what_the_cli_rejects(option: dict, message: str) -> None:
    from adcli._curvature.engine import curvature

    with pytest.raises(UsageError, match=message):
        curvature(QUADRATIC, measure="none", **option)


# --- low-precision functions: each judged at its own dtype's rounding ---------------------


def test_float32_hutch_plus_plus_interval_allows_for_rounding():
    """A rank-1 float32 Hessian: Hutch++ is exact up to float32 rounding, and says so."""
    result = CliRunner().invoke(
        cli,
        ["curvature", str(SPECS / "float32.yaml"), "--spec", "logistic_float32", "--trace",
         "--eigs", "1", "--format", "json", "--measure", "none"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = json.loads(result.output)["specs"][0]
    pp = spec["trace"][-1]
    assert pp["method"] == "hutch++" and pp["covers_exact"] is True
    assert pp["rel_error"] < 1e-5  # float32 rounding, not sampling error
    assert spec["eigs"]["curvature"] == "undetermined"  # PSD and singular: not "indefinite"


def test_a_float16_function_is_judged_at_float16_rounding(tmp_path: Path) -> None:
    """The flat vector is float32, but the function computes in float16: the report says
    float16 and every interval allows for float16 rounding (Hutch++ missed the exact trace
    by 1.5e-5 relative with a float32 allowance)."""
    spec = tmp_path / "half.yaml"
    spec.write_text(
        "name: half\nfunction: {expr: sum(exp(x))}\n"
        "inputs: {x: {shape: [4], dtype: float16}}\noutput: {shape: []}\n"
    )
    args = ["curvature", str(spec), "--trace", "--eigs", "2", "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--measure", "none"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["specs"][0]
    assert data["dtype"] == "float16" and data["check"]["compute_dtype"] == "float16"
    assert all(t["covers_exact"] for t in data["trace"]), data["trace"]
    assert all(e["error"] <= e["residual"] for e in data["eigs"]["values"])


def test_a_bfloat16_function_gets_a_report(tmp_path: Path) -> None:
    """numpy's finfo does not know bfloat16: this was a traceback. H = 2I, tr H = 6."""
    spec = _write(
        tmp_path,
        "bf.yaml",
        """\
        name: bf
        function: {expr: sum(x**2)}
        inputs: {x: {shape: [3], dtype: bfloat16}}
        output: {shape: []}
        """,
    )
    args = ["curvature", spec, "--trace", "--eigs", "1", "--format", "json", "--measure", "none"]
    result = CliRunner().invoke(cli, [*args, "--probes", "rademacher"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["specs"][0]
    assert data["dtype"] == "bfloat16" and data["exact"]["trace"] == pytest.approx(6.0)
    rad, pp = data["trace"]  # zᵀ(2I)z = 2d for every ±1 probe; Hutch++ is exact for d ≤ 3
    assert rad["method"] == "rademacher" and rad["estimate"] == pytest.approx(6.0)
    assert rad["covers_exact"] and pp["covers_exact"]
    # bfloat16 HVPs: 2 ± a few of its ε = 2⁻⁷.
    assert [v["value"] for v in data["eigs"]["values"]] == pytest.approx([2.0, 2.0], rel=2e-2)
