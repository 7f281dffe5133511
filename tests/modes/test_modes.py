"""choose-mode: clear-cut recommendations, the memory guard, ties, agreement, sweep and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._errors import UsageError
from adcli._modes.candidates import Candidate, find_split, make_candidates
from adcli._modes.decide import decide
from adcli._modes.engine import choose_mode
from adcli._numerics.timing import ties_with
from adcli._problem.build import build
from adcli._problem.flat import flatten_problem
from adcli._results.modes import CandidateResult, CandidateStatus
from adcli._spec.load import apply_overrides, load_file, load_text

MODES = Path(__file__).resolve().parents[2] / "specs" / "modes"


def linear(n: int, m: int, expr: str = "tanh(A @ x)"):
    text = f"""
name: map
function: {{expr: "{expr}"}}
inputs: {{x: {{shape: [n]}}}}
constants: {{A: {{shape: [m, n], init: {{normal: [0, 0.1]}}}}}}
dims: {{n: {n}, m: {m}}}
"""
    return load_text(text)[0]


def spec(name: str, **dims: int):
    return apply_overrides(load_file(MODES / f"{name}.yaml")[0], dims=dims)


# --- clear-cut recommendations ------------------------------------------------------------


def test_few_inputs_many_outputs_is_forward() -> None:
    result = choose_mode(linear(8, 600), time_budget=0.2)
    assert result.recommendation == "forward", result.reason
    assert result.reason.startswith("forward: 8 inputs < 600 outputs, 8 JVPs vs 600 VJPs")
    assert result.errors == ()
    assert result.exit_code == 0
    assert (result.backend, result.dtype) == ("cpu", "float64")


def test_many_inputs_few_outputs_is_reverse() -> None:
    result = choose_mode(linear(600, 8), time_budget=0.2)
    assert result.recommendation == "reverse", result.reason
    assert "600 inputs > 8 outputs" in result.reason


def test_bottleneck_is_mixed_and_names_the_cut() -> None:
    result = choose_mode(spec("bottleneck", n=300, m=300, k=4, h=100), time_budget=0.3)
    assert result.cut is not None
    assert result.cut.shape == (4,)
    assert result.cut.source is not None and "models.py:" in result.cut.source
    assert "(bottleneck)" in result.cut.source
    assert result.recommendation == "mixed", result.reason
    assert "through one intermediate of 4 entries (float64[4] from " in result.reason
    assert {c.name for c in result.candidates} == {"forward", "reverse", "mixed"}


def test_cut_inside_jitted_functions_is_found(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import jax, jax.numpy as jnp\n"
        "@jax.jit\n"
        "def enc(E, x):\n"
        "    return jnp.tanh(E @ x)\n"
        "@jax.jit\n"
        "def f(x, E, D):\n"
        "    return D @ enc(E, x)\n"
    )
    text = """
name: jitted
function: {python: m.py:f}
inputs: {x: {shape: [n]}}
constants: {E: {shape: [k, n]}, D: {shape: [m, k]}}
dims: {n: 40, m: 50, k: 3}
"""
    flat = flatten_problem(build(load_text(text, base_dir=str(tmp_path))[0]))
    split = find_split(flat)
    assert split is not None and split.shape == (3,)
    assert split.source is not None and split.source.endswith("m.py:4:20 (enc)")
    fwd, _, mixed = make_candidates(flat, "jacobian", cut=split)
    x, rest = flat.sample(0)
    assert jnp.allclose(mixed.fn(x, rest), fwd.fn(x, rest), rtol=1e-12, atol=1e-14)


def test_cut_in_a_formula_is_named_by_the_spec_line() -> None:
    text = """name: formula_bottleneck
function: {expr: "D @ tanh(E @ x)"}
inputs: {x: {shape: [n]}}
constants: {E: {shape: [k, n]}, D: {shape: [m, k]}}
dims: {n: 30, m: 40, k: 2}
"""
    result = choose_mode(load_text(text, file="bn.yaml")[0], measure="none")
    assert result.cut is not None and result.cut.source == "bn.yaml:2 (function.expr)"
    assert result.recommendation == "mixed"


def test_no_cut_without_a_narrow_intermediate() -> None:
    flat = flatten_problem(build(linear(20, 30)))
    assert find_split(flat) is None


def test_mixed_candidate_computes_the_jacobian() -> None:
    flat = flatten_problem(build(spec("bottleneck", n=12, m=10, k=3, h=6)))
    split = find_split(flat)
    assert split is not None and split.shape == (3,)
    fwd, _, mixed = make_candidates(flat, "jacobian", cut=split)
    x, rest = flat.sample(0)
    assert jnp.allclose(mixed.fn(x, rest), fwd.fn(x, rest), rtol=1e-12, atol=1e-14)


def test_scalar_hessian_uses_inner_reverse() -> None:
    result = choose_mode(spec("loss", n=120, N=50), target="hessian", time_budget=0.3)
    assert result.recommendation in ("fwd-over-rev", "rev-over-rev"), result.reason
    assert "inner reverse" in result.reason
    assert result.errors == ()
    names = [c.name for c in result.candidates]
    assert names == ["fwd-over-rev", "rev-over-rev", "rev-over-fwd", "fwd-over-fwd"]


def test_hvp_candidates_agree() -> None:
    result = choose_mode(spec("loss", n=40, N=20), target="hvp", measure="all", time_budget=0.1)
    assert result.errors == ()
    assert all(c.timed for c in result.candidates)
    assert result.recommendation in ("fwd-over-rev", "rev-over-rev", "rev-over-fwd")


def test_hessian_of_a_vector_map_is_refused() -> None:
    with pytest.raises(UsageError, match=r"--target hessian needs a scalar function.*6 outputs"):
        choose_mode(linear(4, 6), target="hessian")


# --- memory guard ---------------------------------------------------------------------------


def test_memory_guard_skips_without_running() -> None:
    probe = choose_mode(linear(4, 400), measure="none")
    assert all(c.status == "ok" and not c.samples for c in probe.candidates)  # compiled only
    assert probe.recommendation == "forward" and probe.reason.endswith("predicted, not measured")
    need = {c.name: c.memory_bytes for c in probe.candidates}
    assert need["reverse"] > need["forward"]  # the 400×400 cotangent basis
    budget = (need["reverse"] + need["forward"]) // 2
    result = choose_mode(linear(4, 400), memory_budget=budget, measure="all", time_budget=0.1)
    reverse = next(c for c in result.candidates if c.name == "reverse")
    assert reverse.status == "skipped" and reverse.status_text.startswith("skipped: needs ")
    assert reverse.median_seconds is None and reverse.samples == ()
    assert result.recommendation == "forward"


def test_memory_guard_can_skip_everything() -> None:
    result = choose_mode(linear(4, 40), memory_budget=100)
    assert all(c.status_text.startswith("skipped: needs") for c in result.candidates)
    assert result.recommendation is None and result.exit_code == 1
    assert "no candidate could run" in result.reason


# --- the decision rule, on injected timings -------------------------------------------------


def cand(name: str, flops: float, samples: list[float], memory: int = 1000) -> CandidateResult:
    median = sorted(samples)[len(samples) // 2]
    return CandidateResult(
        name, "-", predicted_flops=flops, memory_bytes=memory,
        median_seconds=median, spread=0.0, samples=tuple(samples),
    )  # fmt: skip


def test_within_noise_is_a_tie_decided_by_the_prediction() -> None:
    fwd = cand("forward", 2e6, [1.00, 1.10, 0.95, 1.20, 1.02, 0.90, 1.15])
    rev = cand("reverse", 1e6, [1.05, 1.00, 1.10, 1.00, 1.10, 1.00, 1.00])
    d = decide([fwd, rev], target="jacobian", n=10, m=10)
    assert d.tied == ("forward", "reverse")
    assert d.recommendation == "reverse" == d.predicted  # slower by noise, predicted cheaper
    assert "measured a tie with forward" in d.reason


def test_a_clear_gap_is_a_winner_even_against_the_prediction() -> None:
    fwd = cand("forward", 2e6, [1.0, 1.02, 0.98, 1.01, 0.99])
    rev = cand("reverse", 1e6, [1.5, 1.52, 1.49, 1.51, 1.50])
    d = decide([fwd, rev], target="jacobian", n=10, m=10)
    assert (d.recommendation, d.tied, d.predicted) == ("forward", (), "reverse")
    assert d.reason.endswith("measured 1.5× faster than reverse")


def test_tie_band_is_bounded() -> None:
    steady = [1.0] * 9
    assert ties_with(steady, [1.04] * 9)[0]  # below MIN_GAP: always a tie
    assert not ties_with(steady, [1.06] * 9)[0]  # no noise: 6% is a real difference
    noisy = [1.0, 2.0, 0.5, 1.0, 1.9, 0.6, 1.0, 2.1, 0.55]  # paired ratios, median 1
    assert ties_with(steady, [x * 1.2 for x in noisy])[0]  # 1.2× within wide noise: a tie
    tie, ratio, band = ties_with(steady, [x * 1.35 for x in noisy])
    assert not tie and band == pytest.approx(1.3) and ratio == pytest.approx(1.35)


def test_untimed_candidates_fall_back_to_the_prediction() -> None:
    a = CandidateResult("forward", "-", predicted_flops=5.0)
    b = CandidateResult("reverse", "-", predicted_flops=50.0)
    skipped = CandidateResult("mixed", "-", status=CandidateStatus.SKIPPED, detail="needs 9 GiB")
    d = decide([a, b, skipped], target="jacobian", n=2, m=20)
    assert d.recommendation == "forward" and d.reason.endswith("predicted, not measured")


# --- agreement --------------------------------------------------------------------------------


def test_a_wrong_candidate_is_an_error_in_the_report() -> None:
    problem = build(linear(5, 7))
    flat = flatten_problem(problem)
    good = make_candidates(flat, "jacobian")

    def wrong(x, rest):
        return jax.jacfwd(flat.fn)(x, rest).at[2, 3].multiply(-1.0)

    result = choose_mode(
        problem, candidates=[*good, Candidate("wrong", wrong, "-", 5)], measure="all",
        time_budget=0.05,
    )  # fmt: skip
    bad = next(c for c in result.candidates if c.name == "wrong")
    assert bad.status == "disagrees"
    assert bad.status_text.startswith("disagrees with reverse at ∂out[2]/∂x[3]")
    assert len(result.errors) == 1 and "wrong and reverse disagree" in result.errors[0]
    assert result.exit_code == 1
    assert result.recommendation in ("forward", "reverse")


# --- CLI: sweep, JSON, plot -----------------------------------------------------------------


def test_sweep_json_marks_the_crossover() -> None:
    runner = CliRunner()
    # n = 300 keeps both ends far from a tie on a loaded 2-core machine (ratios ≈ 0.07 and ≈ 6);
    # at n = 30 both sides are dispatch-bound and the m = 1 ratio was measured at 0.8–1.02.
    args = ["choose-mode", str(MODES / "linear_map.yaml"), "--dim", "n=300"]
    args += ["--sweep", "m=1,2000", "--format", "json", "--time-budget", "0.1"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema_version"] == 1 and data["exit_code"] == 0
    (sweep,) = data["sweeps"]
    assert sweep["dim"] == "m" and [p["value"] for p in sweep["points"]] == [1, 2000]
    low, high = sweep["points"]
    assert low["ratio"] < 1 < high["ratio"]  # reverse faster at m=1, forward at m=2000
    assert high["crossover"] and sweep["crossover"].startswith("between m=1")
    assert [p["recommendation"] for p in sweep["points"]] == ["reverse", "forward"]


def test_cli_text_report_and_json_file(tmp_path: Path) -> None:
    out = tmp_path / "mode.json"
    args = ["choose-mode", str(MODES / "linear_map.yaml"), "--dim", "m=300", "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, "--time-budget", "0.1"])
    assert result.exit_code == 0, result.output
    assert "→ forward" in result.output and "backend cpu" in result.output
    data = json.loads(out.read_text())
    (mode,) = data["results"]
    assert mode["recommendation"] == "forward"
    assert {c["name"] for c in mode["candidates"]} == {"forward", "reverse"}


def test_cli_errors_are_messages_not_tracebacks() -> None:
    runner = CliRunner()
    path = str(MODES / "linear_map.yaml")
    result = runner.invoke(cli, ["choose-mode", path, "--target", "hessian"])
    assert result.exit_code == 2 and "needs a scalar function" in result.output
    result = runner.invoke(cli, ["choose-mode", path, "--memory-budget", "lots"])
    assert result.exit_code == 2 and "expected a size such as 8GB" in result.output
    result = runner.invoke(cli, ["choose-mode", path, "--plot", "x.png"])
    assert result.exit_code == 2 and "--plot draws a sweep" in result.output
    result = runner.invoke(cli, ["choose-mode", path, "--sweep", "q=1,2"])
    assert result.exit_code == 2 and "no selected spec has a dim 'q'" in result.output


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    args = ["choose-mode", str(MODES / "linear_map.yaml"), "--sweep", "m=1,2", "--plot", "f.png"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "pip install 'adcli[plot]'" in result.output


def test_plot_writes_a_figure(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "modes.svg"
    args = ["choose-mode", str(MODES / "linear_map.yaml"), "--dim", "n=10", "--sweep", "m=2,40"]
    result = CliRunner().invoke(cli, [*args, "--plot", str(target), "--time-budget", "0.05"])
    assert result.exit_code == 0, result.output
    assert target.read_text().lstrip().startswith("<?xml")


def test_a_mode_that_cannot_run_is_named_in_the_reason(tmp_path: Path) -> None:
    # Reverse mode cannot trace a while_loop: the counting argument (3 inputs > 1 output)
    # favours reverse, so the reason must say why forward was chosen.
    (tmp_path / "w.py").write_text(
        "import jax, jax.numpy as jnp\n"
        "def f(x):\n"
        "    body = lambda c: (c[0] + 1, jnp.sin(c[1]))\n"
        "    return jnp.sum(jax.lax.while_loop(lambda c: c[0] < 3, body, (0, x))[1] ** 2)\n"
    )
    text = "name: wl\nfunction: {python: w.py:f}\ninputs: {x: {shape: [3]}}\n"
    result = choose_mode(load_text(text, base_dir=str(tmp_path))[0], measure="none")
    assert result.recommendation == "forward"
    assert result.reason.startswith("forward: 3 inputs > 1 output, 3 JVPs vs 1 VJP")
    assert "reverse cannot run (ValueError: Reverse-mode differentiation does not work" in (
        result.reason
    )


def test_a_folder_with_vector_specs_skips_them_for_a_hessian() -> None:
    args = ["choose-mode", str(MODES), "--target", "hessian", "--measure", "none"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["name"] for r in data["results"]] == ["loss"]
    assert sorted(s.split(":")[0] for s in data["skipped"]) == [
        "bottleneck", "linear_map", "mlp_map"
    ]  # fmt: skip
    assert all("needs a scalar function, but its output has" in s for s in data["skipped"])
    alone = CliRunner().invoke(cli, ["choose-mode", str(MODES / "linear_map.yaml"), *args[2:]])
    assert alone.exit_code == 2 and "needs a scalar function" in alone.output


def test_one_pass_is_singular_in_the_words() -> None:
    result = choose_mode(linear(1, 1), measure="none")
    assert result.reason.startswith("reverse: 1 input = 1 output, 1 JVP vs 1 VJP")
    assert {c.name: c.passes for c in result.candidates} == {"forward": "1 JVP", "reverse": "1 VJP"}
