"""adcli memory: residuals counted by hand, recompute overheads, schedules, the CI guard.

Every figure here is computed on abstract shapes (nothing allocated) except where noted.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._memory.policies import Policy, evaluate_policy
from adcli._memory.programs import analyse, make_program, program_args
from adcli._memory.residuals import (
    _fallback_residuals,
    _raw_residuals,
    block_function,
    residuals,
    summarize,
)
from adcli._memory.schedules import Block, pick, revolve_dp, revolve_extra_steps, stack_schedules
from adcli._problem.build import build
from adcli._spec.load import apply_overrides, load_file
from adcli._units import parse_size

ROOT = Path(__file__).resolve().parents[2]
MEMORY_SPECS = ROOT / "specs" / "memory"


def _mlp(L: int, N: int = 8, h: int = 16):
    (spec,) = load_file(MEMORY_SPECS / "mlp.yaml")
    return build(apply_overrides(spec, dims={"L": L, "N": N, "h": h}))


# --- sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8GB", 8 * 10**9),
        ("8 GB", 8 * 10**9),
        ("1.5 GB", 1_500_000_000),
        ("512MiB", 512 * 2**20),
        ("2gib", 2 * 2**30),
        ("100", 100),
        ("10 kB", 10_000),
        (4096, 4096),
    ],
)
def test_parse_size(text, expected) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("8 gigs", r"unknown unit 'gigs' in '8 gigs'"),
        ("GB", r"expected a size such as 8GB"),
        ("-1GB", r"expected a size such as 8GB"),
        ("1.5.2GB", r"expected a size such as 8GB"),
        ("1.5", r"a number of bytes must be whole"),
        ("", r"expected a size"),
        (-3, r"cannot be negative"),
        (True, r"expected a size"),
    ],
)
def test_parse_size_rejects(text, match) -> None:
    with pytest.raises(ValueError, match=match):
        parse_size(text)


# --- residuals ------------------------------------------------------------------------


def test_mlp_residual_bytes_equal_the_hand_count() -> None:
    # Per layer the scan keeps three [N, h] float32 arrays: the layer input h, t = tanh(.)
    # and 1 - t (tanh' = (1 - t)(1 + t)); the stacked weights W are an argument, apart.
    L, N, h = 5, 8, 16
    problem = _mlp(L, N, h)
    s = residuals(problem.fn, problem.input_structs, problem.constant_structs)
    assert s.bytes == 3 * L * N * h * 4
    assert s.count == 3 and all(r.shape == (L, N, h) for r in s.residuals)
    assert {a.name for a in s.arguments} == {"inputs['params']['W']"}
    assert s.argument_bytes == L * h * h * 4
    assert s.groups[0].label.startswith("scan @ ") and "models.py:" in s.groups[0].label


def test_residual_origins_and_source_lines() -> None:
    import jax.ad_checkpoint

    def f(x, w, scale):
        y = jnp.tanh(x @ w)  # keeps tanh and 1 - tanh (this line)
        return jax.ad_checkpoint.checkpoint_name(jnp.sin(y), "sined") @ w * scale

    line = f.__code__.co_firstlineno + 1
    s = residuals(
        f,
        {
            "x": jax.ShapeDtypeStruct((4, 3), jnp.float32),
            "w": jax.ShapeDtypeStruct((3, 3), jnp.float32),
        },
        {"scale": jax.ShapeDtypeStruct((3,), jnp.float32)},
    )
    by_kind = {(r.origin, r.primitive or r.name) for r in s.residuals}
    assert {("operation", "tanh"), ("named", "sined")} <= by_kind
    tanh = next(r for r in s.residuals if r.primitive == "tanh")
    assert tanh.source.endswith(f"test_memory.py:{line}") and tanh.function.endswith("f")
    assert tanh.bytes == 4 * 3 * 4 and tanh.dtype == "float32"
    assert sorted(a.name for a in s.arguments) == ["inputs['w']", "inputs['x']"]
    # a constant read by the backward pass is an argument, not a stored residual
    c = residuals(
        lambda x, w: jnp.tanh(x @ w),
        {"x": jax.ShapeDtypeStruct((4, 3), jnp.float32)},
        {"w": jax.ShapeDtypeStruct((3, 3), jnp.float32)},
    )
    assert [a.name for a in c.arguments] == ["constants['w']"]
    assert c.bytes == 4 * 3 * 4 * 2  # tanh and 1 - tanh
    assert s.bytes == sum(r.bytes for r in s.residuals)


def test_private_saved_residuals_and_its_fallback_agree() -> None:
    problem = _mlp(3)
    f = block_function(problem.fn)
    raw, method = _raw_residuals(f, problem.input_structs, problem.constant_structs)
    assert method == "jax._src.ad_checkpoint.saved_residuals"
    fallback = _fallback_residuals(f, problem.input_structs, problem.constant_structs)
    assert sorted(a.shape for a, _ in raw) == sorted(a.shape for a, _ in fallback)
    s = summarize(fallback, "fallback")
    assert s.bytes == sum(int(jnp.prod(jnp.array(a.shape))) * 4 for a, _ in raw)


def test_private_import_failure_uses_the_fallback(monkeypatch) -> None:
    import jax._src.ad_checkpoint as private

    monkeypatch.delattr(private, "saved_residuals")
    problem = _mlp(2)
    s = residuals(problem.fn, problem.input_structs, problem.constant_structs)
    assert "fallback" in s.method and s.count == 4  # W and the three stacked arrays


def test_nothing_saveable_leaves_only_the_block_inputs() -> None:
    problem = _mlp(4)
    f = jax.checkpoint(block_function(problem.fn), policy=jax.checkpoint_policies.nothing_saveable)
    raw, method = _raw_residuals(f, problem.input_structs, problem.constant_structs)
    s = summarize(raw, method)
    assert s.bytes == 0 and s.count == 0
    assert {a.name for a in s.arguments} <= {
        "inputs['params']['W']",
        "inputs['params']['b']",
        "inputs['x']",
    }
    assert "inputs['x']" in {a.name for a in s.arguments}


# --- compiled programs and policies ---------------------------------------------------


def _vjp_analysis(problem):
    f = block_function(problem.fn)
    args = program_args(
        "vjp", problem.input_structs, problem.constant_structs, problem.output_struct
    )
    return analyse(make_program("vjp", f), args)


def test_full_recompute_of_the_mlp_costs_a_third_more() -> None:
    problem = _mlp(4, N=32, h=64)
    plain = _vjp_analysis(problem)
    policy = Policy("nothing_saveable", "", jax.checkpoint_policies.nothing_saveable)
    result = evaluate_policy(
        policy,
        problem.fn,
        problem.input_structs,
        problem.constant_structs,
        problem.output_struct,
        plain,
    )
    assert result.residual_bytes == 0
    assert 25.0 <= result.extra_flops_pct <= 40.0


def test_scan_flops_are_multiplied_by_the_trip_count() -> None:
    # Lowered cost analysis counts a loop body once; adcli multiplies by the trip count, so
    # the forward FLOPs grow linearly with the number of layers.
    flops = {}
    for L in (2, 4):
        p = _mlp(L, N=32, h=64)
        args = program_args("forward", p.input_structs, p.constant_structs, p.output_struct)
        flops[L] = analyse(make_program("forward", block_function(p.fn)), args, compile=False).flops
    assert flops[4] == pytest.approx(2 * flops[2], rel=0.01)
    assert flops[2] >= 2 * (2 * 32 * 64 * 64)  # two layers of a [32,64]x[64,64] matmul


def test_forward_mode_memory_is_independent_of_depth_reverse_grows_linearly() -> None:
    temps = {"vjp": {}, "jvp": {}}
    for L in (2, 4, 8):
        p = _mlp(L, N=32, h=64)
        for kind in temps:
            args = program_args(kind, p.input_structs, p.constant_structs, p.output_struct)
            stats = analyse(make_program(kind, block_function(p.fn)), args).memory
            temps[kind][L] = stats.temp_size_in_bytes
    jvp, vjp = temps["jvp"], temps["vjp"]
    assert jvp[2] == jvp[4] == jvp[8]
    per_layer = (vjp[8] - vjp[4]) / 4
    assert per_layer >= 3 * 32 * 64 * 4  # at least the three stored arrays per layer
    assert vjp[4] - vjp[2] == pytest.approx(2 * per_layer, rel=0.05)


def test_backend_stripping_an_unrolled_checkpoint_is_detected() -> None:
    if jax.default_backend() != "cpu":
        pytest.skip("the stripping is XLA:CPU behaviour")

    def chain(x, W):
        for i in range(W.shape[0]):
            x = jnp.tanh(x @ W[i])
        return x

    problem = build_like(chain, x=(16, 32), W=(4, 32, 32))
    plain = _vjp_analysis(problem)
    policy = Policy("nothing_saveable", "", jax.checkpoint_policies.nothing_saveable)
    r = evaluate_policy(policy, problem.fn, problem.input_structs, {}, problem.output_struct, plain)
    assert r.barriers_lowered >= 1 and r.barriers_compiled == 0
    assert r.dots_lowered > plain.dots_lowered and r.dots_compiled <= plain.dots_compiled
    assert r.stripped and r.extra_flops_pct > 20


class build_like:
    def __init__(self, fn, **shapes):
        self.fn = fn
        self.input_structs = {k: jax.ShapeDtypeStruct(v, jnp.float32) for k, v in shapes.items()}
        self.constant_structs = {}
        self.output_struct = jax.eval_shape(fn, **self.input_structs)


# --- schedules ------------------------------------------------------------------------


def test_revolve_closed_form_equals_the_dynamic_programme() -> None:
    for steps in range(1, 40):
        for slots in range(1, 8):
            assert revolve_extra_steps(steps, slots) == revolve_dp(steps, slots), (steps, slots)


@pytest.mark.parametrize(
    ("steps", "slots", "extra"),
    [
        (10, 1, 45),  # one slot: re-run from the start before each step, L(L-1)/2
        (10, 2, 20),
        (10, 3, 15),  # L = β(3, 2) = 10 exactly: t = r·L − β(4, 1) = 20 − 5
        (48, 47, 47),  # a slot per step boundary: L − 1
        (48, 7, 99),
        (1, 1, 0),
    ],
)
def test_revolve_counts(steps, slots, extra) -> None:
    assert revolve_extra_steps(steps, slots) == extra


def test_schedules_and_budget_pick() -> None:
    block = Block(activation_bytes=1000, carry_bytes=100, forward_flops=1.0, step_flops=3.0)
    out = stack_schedules(block, 16, [("nothing_saveable", 0, 33.3)], budget=2500)
    by_name = {s.name: s for s in out}
    assert by_name["no checkpointing"].memory_bytes == 16_000
    assert by_name["nothing_saveable per block"].memory_bytes == 16 * 100 + 900
    assert by_name["√L segments (4 × 4 layers)"].memory_bytes == 4 * 100 + 4 * 1000
    # the most slots that fit 2500 B: (2500 − 1000) // 100 = 15 = L − 1
    assert by_name["Revolve, 15 checkpoints"].extra_flops_pct == pytest.approx(100 / 3 * 15 / 16)
    best, _ = pick(out, 2500, 16_000)
    assert best.name == "Revolve, 15 checkpoints" and best.fits
    assert pick(out, 500, 16_000) is None  # nothing fits


# --- the command ----------------------------------------------------------------------


def _spec_file(tmp_path: Path, budget: str) -> Path:
    path = tmp_path / "guard.yaml"
    path.write_text(
        "name: guarded\n"
        "function: {expr: sum(tanh(x) ** 2)}\n"
        "inputs: {x: {shape: [n]}}\n"
        "dims: {n: 1000}\n"
        f"memory: {{budget: {budget}, figure: residuals}}\n"
    )
    return path


@pytest.mark.parametrize(("budget", "code"), [("1kB", 1), ("1MB", 0)])
def test_budget_guard_exit_codes(tmp_path, budget, code) -> None:
    result = CliRunner().invoke(
        cli, ["memory", str(_spec_file(tmp_path, budget)), "--no-policies", "--format", "json"]
    )
    assert result.exit_code == code, result.output
    data = json.loads(result.output)
    guard = data["specs"][0]["guard"]
    # tanh(x) and 1 − tanh² ... float64[1000] arrays: well above 1 kB, well below 1 MB
    assert guard["exceeded"] == (code == 1) and 8_000 <= guard["value"] <= 40_000


def test_text_report_and_bad_options(tmp_path) -> None:
    path = str(_spec_file(tmp_path, "1MB"))
    runner = CliRunner()
    result = runner.invoke(cli, ["memory", path, "--no-color"])
    assert result.exit_code == 0, result.output
    assert "1. residuals" in result.output and "nothing_saveable" in result.output
    assert "within budget" in result.output
    bad = runner.invoke(cli, ["memory", path, "--budget", "8 gigs"])
    assert bad.exit_code == 2 and "unknown unit 'gigs'" in bad.output
    zero = runner.invoke(cli, ["memory", path, "--budget", "0"])
    assert zero.exit_code == 2 and "expected a positive size, got '0'" in zero.output
    layers = runner.invoke(cli, ["memory", path, "--layers", "4", "--no-policies"])
    assert layers.exit_code == 2 and "no input has that shape" in layers.output
    assert "Traceback" not in layers.output


def test_layers_budget_recommendation_on_the_mlp() -> None:
    from adcli._memory.engine import memory_report

    budget = 160 * 2**10
    report = memory_report(
        [MEMORY_SPECS / "mlp.yaml"], dims={"L": 2, "N": 16, "h": 32}, layers=12, budget=budget
    )
    (r,) = report.results
    assert r.carry == ("x",) and r.carry_bytes == 16 * 32 * 4
    assert any(p.pareto for p in r.policies)
    assert r.recommendation is not None and r.recommendation.fits
    chosen = next(s for s in r.schedules if s.name == r.recommendation.choice)
    assert chosen.memory_bytes <= budget
    cheaper = [s for s in r.schedules if s.fits and s.extra_flops_pct < chosen.extra_flops_pct]
    assert not cheaper
    assert r.schedules[0].memory_bytes == 12 * (r.residuals.bytes + r.carry_bytes)


def test_transformer_tags_give_a_names_policy() -> None:
    from adcli._memory.policies import available_policies
    from adcli._memory.programs import tagged_names

    (spec,) = load_file(MEMORY_SPECS / "transformer.yaml")
    problem = build(spec)
    names = tagged_names(problem.fn, problem.input_structs, problem.constant_structs)
    assert names == ("qkv", "attn_probs", "attn_out", "mlp_hidden")
    policies = [p.name for p in available_policies(names, ())]
    assert "save_only_these_names(qkv, attn_probs, attn_out, mlp_hidden)" in policies
    assert not any("offload" in p for p in policies)
    assert any("offload" in p.name for p in available_policies(names, ("device", "pinned_host")))


def test_gpt2_xl_block_is_analysed_without_allocating_it() -> None:
    (spec,) = load_file(MEMORY_SPECS / "gpt2_xl_block.yaml")
    problem = build(spec)
    s = residuals(problem.fn, problem.input_structs, problem.constant_structs)
    # batch 32 × seq 1024: the two [32, 25, 1024, 1024] bf16 attention arrays alone are 3.1 GiB
    assert s.bytes > 6 * 2**30
    assert s.groups[0].shape == (32, 25, 1024, 1024) and s.groups[0].dtype == "bfloat16"


def test_measure_runs_the_vjp_and_reports_its_method(tmp_path) -> None:
    path = str(_spec_file(tmp_path, "1MB"))
    result = CliRunner().invoke(
        cli, ["memory", path, "--measure", "--no-policies", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)["specs"][0]["measurement"]
    assert m["runs"] == 5 and 0 < m["run_seconds_min"] <= m["run_seconds_median"]
    assert m["peak_bytes"] is not None and m["memory_method"]


def test_memory_section_is_loaded() -> None:
    from adcli._spec.load import load_text
    from adcli._spec.model import MemoryOptions

    text = (
        "name: s\nfunction: {expr: sum(x ** 2)}\ninputs: {x: [3]}\n"
        "memory: {budget: 1.5 GB, figure: compiled-peak, layers: 48}\n"
    )
    (spec,) = load_text(text, file="t.yaml")
    assert spec.memory == MemoryOptions(budget=1_500_000_000, figure="compiled-peak", layers=48)
    (plain,) = load_text("name: s\nfunction: {expr: sum(x)}\ninputs: {x: [3]}\n")
    assert plain.memory is None
