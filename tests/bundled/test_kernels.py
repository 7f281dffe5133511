"""The bundled kernels against their references (specs/kernels/, examples/kernels/), at 10 seeds.

- Every spec in ``specs/kernels/`` is a correct kernel: it passes at each of 10 seeds (no
  flake), with the tolerance breakdown of every reference comparison.
- Every spec in ``examples/kernels/`` has one planted bug: it fails at each of 10 seeds, in
  the advertised comparisons, with the advertised diagnosis.
- The planted bugs are what examples/kernels/buggy_kernels.py says (jax only, not adcli).

Each spec is built once and checked at seeds 0…9 with one point each (the programs compile
once).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from adcli._results.check import Comparison, SpecResult
from adcli._spec.load import load_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs" / "kernels"
EXAMPLES = ROOT / "examples" / "kernels"
SEEDS = range(10)
FAIL, PASS, SKIP = "fail", "pass", "skipped"
NO_JVP = "TypeError: can't apply forward-mode autodiff (jvp) to a custom_vjp function."


def _params(folder: Path) -> list:
    return [
        pytest.param(path.name, spec.name, id=spec.name)
        for path in sorted(folder.glob("*.yaml"))
        for spec in load_file(path)
    ]


@functools.cache
def _runs(folder: str, file: str, name: str) -> tuple[SpecResult, ...]:
    """The spec checked at seeds 0…9, one point each, on one built problem."""
    from adcli._check.engine import check_problem
    from adcli._problem.build import build

    (spec,) = [s for s in load_file(ROOT / folder / file) if s.name == name]
    spec = spec.replace(check=dataclasses.replace(spec.check, points=1))
    problem = build(spec)
    results = []
    for seed in SEEDS:
        problem.spec = spec.replace(check=dataclasses.replace(spec.check, seed=seed))
        results.append(check_problem(problem))
    return tuple(results)


def _spec_run(file: str, name: str) -> tuple[SpecResult, ...]:
    return _runs("specs/kernels", file, name)


def _example_run(file: str, name: str) -> tuple[SpecResult, ...]:
    return _runs("examples/kernels", file, name)


def _status(result: SpecResult) -> dict[tuple[str, str], str]:
    status: dict[tuple[str, str], set[str]] = {}
    for c in result.comparisons:
        status.setdefault((c.wrt, c.kind), set()).add(c.verdict)
    assert all(len(v) == 1 for v in status.values()), status
    return {k: v.pop() for k, v in status.items()}


def _one(result: SpecResult, wrt: str, kind: str) -> Comparison:
    (found,) = [c for c in result.comparisons if (c.wrt, c.kind) == (wrt, kind)]
    return found


# --- correct kernels -------------------------------------------------------------------


@pytest.mark.parametrize(("file", "name"), _params(SPECS))
def test_kernel_passes_at_ten_seeds(file: str, name: str) -> None:
    for result in _spec_run(file, name):
        bad = [(c.wrt, c.kind, c.verdict, c.reason) for c in result.failures]
        assert bad == [] and result.verdict == PASS, (result.seed, bad)
        assert 0 < result.margin <= 1
        kinds = {c.kind for c in result.comparisons if c.verdict == PASS}
        assert {"reference-value", "reference-vjp"} <= kinds
        for c in result.comparisons:
            if c.kind.startswith("reference-") and c.verdict == PASS:
                assert c.tolerances, c
                for t in c.tolerances:
                    assert t.factor == 2 and t.kernel_error <= t.tolerance
                    assert t.tolerance == pytest.approx(t.factor * t.baseline_error + t.floor)
                    assert t.set_by == ("baseline" if 2 * t.baseline_error >= t.floor else "floor")


BF16_KERNELS = ("attention_bf16", "pallas_rms_norm_bf16", "softmax_xent_bf16")


@pytest.mark.parametrize("name", BF16_KERNELS)
def test_a_bfloat16_kernel_is_judged_by_the_reference_alone(name: str) -> None:
    file = {"attention_bf16": "attention.yaml", "pallas_rms_norm_bf16": "pallas_rms_norm.yaml"}
    result = _spec_run(file.get(name, "softmax_xent.yaml"), name)[0]
    assert not [c for c in result.comparisons if c.kind in ("fwd", "rev", "adjoint")]
    assert set(result.dtypes.values()) == {"bfloat16"}
    assert result.method == ", ".join(f"{n}: reference" for n in result.dtypes)
    inputs = ", ".join(result.dtypes)
    assert (
        f"{inputs}: FD not used: the kernel computes in bfloat16, whose rounding leaves finite "
        "differences nothing to resolve; the comparison with the reference is the verdict"
    ) in result.notes
    # custom_vjp: no forward mode, said per input; the VJP is what is checked.
    for wrt in result.dtypes:
        jvp = _one(result, wrt, "reference-jvp")
        assert (jvp.verdict, jvp.reason) == (SKIP, NO_JVP)
    for c in result.comparisons:
        for t in c.tolerances:
            assert (t.dtype, t.baseline_dtype, t.baseline_scale) == ("bfloat16", "bfloat16", 1.0)


def test_attention_tolerance_breakdown_and_a_kernel_more_accurate_than_plain() -> None:
    result = _spec_run("attention.yaml", "attention_bf16")[0]
    for wrt in ("q", "k", "v"):
        (t,) = _one(result, wrt, "reference-vjp").tolerances
        assert t.tensor == wrt and t.set_by == "baseline"
        # float32 inside: below the plain bfloat16 implementation's own error.
        assert t.ratio < 1 and t.accuracy.startswith("more accurate than the plain bfloat16")
    (value,) = _one(result, "-", "reference-value").tolerances
    assert value.tensor == "out" and value.ratio < 1
    assert any(
        n.startswith(
            "the kernel is more accurate than the plain bfloat16 implementation: value of out"
        )
        for n in result.notes
    )


def test_float32_layer_norm_shows_both_verdicts() -> None:
    for result in _spec_run("layer_norm.yaml", "layer_norm_float32"):
        assert "verdicts: finite differences pass, reference pass" in result.notes
        assert {c.wrt for c in result.comparisons if c.kind == "rev" and c.verdict == PASS} == {
            "x",
            "gamma",
            "beta",
        }
        for c in result.comparisons:
            for t in c.tolerances:
                assert (t.dtype, t.baseline_dtype) == ("float32", "float32")


# --- planted bugs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """How an example fails: (input, kind) -> verdict at every seed, exact diagnosis lines,
    the start of others (whose numbers vary), and a pattern per (input, kind)."""

    verdicts: dict[tuple[str, str], str]
    diagnoses: tuple[str, ...] = ()
    starts: tuple[str, ...] = ()
    patterns: dict[tuple[str, str], str] = field(default_factory=dict)


def _vjps(**verdicts: str) -> dict[tuple[str, str], str]:
    """A custom_vjp kernel: value passes, each input's JVP is skipped, its VJP as given."""
    out = {("-", "reference-value"): PASS}
    for wrt, verdict in verdicts.items():
        out[wrt, "reference-jvp"] = SKIP
        out[wrt, "reference-vjp"] = verdict
    return out


def _fd(**verdicts: str) -> dict[tuple[str, str], str]:
    """A float32 custom_vjp kernel, also checked by FD: fwd skipped, rev as given."""
    out = {}
    for wrt, verdict in verdicts.items():
        out[wrt, "fwd"] = SKIP
        out[wrt, "rev"] = verdict
    return out


IGNORED = (
    "the VJP does not change with the cotangent: the backward ignores its incoming gradient "
    "(an all-ones cotangent, as in grad(f(x).sum()), would not show this)"
)
PRECISION = (
    "precision: several times the error of the plain bfloat16 implementation, yet within a few "
    "units of bfloat16 rounding: the right formula computed too imprecisely (an accumulation or "
    "intermediate kept in bfloat16?)"
)
NONDETERMINISTIC = (
    "nondeterministic: repeated runs of the backward differ bitwise (an unordered or atomic "
    "accumulation, a race?)"
)
RULE_WRONG = "the value agrees with the reference but the VJP does not ("

EXPECTED = {
    "softmax_xent_ignores_cotangent": Expected(
        _vjps(logits=FAIL),
        diagnoses=(f"logits: reference-vjp: {IGNORED}",),
        starts=(f"logits: {RULE_WRONG}",),
        patterns={("logits", "reference-vjp"): IGNORED},
    ),
    "attention_dq_unscaled": Expected(
        _vjps(q=FAIL, k=PASS, v=PASS),
        diagnoses=(
            "q: reference-vjp: constant ratio: the kernel = 4 × the reference (a scale bug)",
        ),
        starts=(f"q: {RULE_WRONG}",),
    ),
    "attention_dv_bf16_accumulation": Expected(
        _vjps(q=PASS, k=PASS, v=FAIL),
        diagnoses=(f"v: reference-vjp: {PRECISION}",),
        starts=(f"v: {RULE_WRONG}",),
        patterns={("v", "reference-vjp"): PRECISION},
    ),
    "layer_norm_dgamma_dropped": Expected(
        {**_vjps(x=PASS, gamma=FAIL, beta=PASS), **_fd(x=PASS, gamma=FAIL, beta=PASS)},
        diagnoses=("gamma: reverse mode disagrees with FD: the custom VJP rule is suspect",),
        starts=(f"gamma: {RULE_WRONG}",),
    ),
    "layer_norm_unordered": Expected(
        {
            ("-", "reference-value"): PASS,
            **{(w, "reference-vjp"): PASS for w in ("x", "gamma", "beta")},
            **{(w, "rev"): PASS for w in ("x", "gamma", "beta")},
            ("x", "repeat"): PASS,
            ("gamma", "repeat"): PASS,
            ("beta", "repeat"): FAIL,
        },
        diagnoses=(f"beta: repeat: {NONDETERMINISTIC}",),
        patterns={("beta", "repeat"): NONDETERMINISTIC},
    ),
    "masked_softmax_nan": Expected(
        {**_vjps(x=FAIL), **_fd(x=FAIL)},
        starts=("x: the value agrees with the reference but the VJP is not finite at x[1, 0], ",),
    ),
    "pallas_rms_norm_dropped_term": Expected(
        _vjps(x=FAIL, w=PASS),
        starts=(f"x: {RULE_WRONG}",),
    ),
}


def test_every_kernel_example_has_an_expectation() -> None:
    assert {p.values[1] for p in _params(EXAMPLES)} == set(EXPECTED)


@pytest.mark.parametrize(("file", "name"), _params(EXAMPLES))
def test_planted_bug_fails_at_ten_seeds_as_advertised(file: str, name: str) -> None:
    expected = EXPECTED[name]
    for result in _example_run(file, name):
        assert result.verdict == FAIL and result.margin > 1, result.seed
        assert _status(result) == expected.verdicts, result.seed
        for line in expected.diagnoses:
            assert line in result.diagnoses, (result.seed, result.diagnoses)
        for start in expected.starts:
            assert any(d.startswith(start) for d in result.diagnoses), (result.seed, start)
        for (wrt, kind), pattern in expected.patterns.items():
            assert _one(result, wrt, kind).diagnosis == pattern


def test_missing_scale_in_dq_is_a_ratio_of_sqrt_d() -> None:
    for result in _example_run("attention.yaml", "attention_dq_unscaled"):
        comp = _one(result, "q", "reference-vjp")
        for row in comp.worst:
            assert row.ad / row.reference == pytest.approx(4.0, rel=0.05)  # √16, in bfloat16
        (t,) = comp.tolerances
        assert t.ratio > 50 and t.set_by == "baseline"


def test_bf16_accumulation_is_several_times_the_baseline() -> None:
    ratios = []
    for result in _example_run("attention.yaml", "attention_dv_bf16_accumulation"):
        (t,) = _one(result, "v", "reference-vjp").tolerances
        assert t.kernel_error > t.tolerance
        assert t.accuracy.endswith("× the error of the plain bfloat16 implementation")
        ratios.append(t.ratio)
        # Small in absolute terms: a few units of bfloat16 rounding, not a wrong formula.
        assert t.kernel_error < 0.2
    assert min(ratios) > 2.5 and max(ratios) > 6


def test_nan_leak_names_the_padded_row() -> None:
    for result in _example_run("masked_softmax.yaml", "masked_softmax_nan"):
        comp = _one(result, "x", "reference-vjp")
        assert comp.reason is not None
        assert comp.reason.startswith("the kernel's VJP is nan at x[1, 0] → ⟨u0, ·⟩")
        assert all(loc.startswith("x[1, ") for loc in comp.locations)
        assert comp.tolerances[0].kernel_error == math.inf


def test_repeat_names_the_spread() -> None:
    result = _example_run("layer_norm.yaml", "layer_norm_unordered")[0]
    comp = _one(result, "beta", "repeat")
    assert comp.reason is not None
    assert comp.reason.startswith("7 of 7 later runs differ bitwise from the first, at ")
    assert comp.margin == math.inf and 0 < comp.max_abs_error < 1e-4
    assert comp.worst[0].output_index.startswith("run ")


# --- the bugs themselves (jax only) ----------------------------------------------------


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_all_ones_cotangent_hides_the_ignored_cotangent() -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    buggy = _import(EXAMPLES / "buggy_kernels.py", "adcli_test_buggy_kernels")
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(0, 3, (4, 16)), jnp.bfloat16)
    labels = jnp.asarray([1, 5, 0, 15])

    def grad(f, u):
        return jax.vjp(lambda x: f(x, labels), logits)[1](u)[0]

    ones = jnp.ones(4, jnp.bfloat16)
    u = jnp.asarray(rng.standard_normal(4), jnp.bfloat16)
    right, wrong = buggy.kernels.softmax_xent, buggy.softmax_xent_ignores_cotangent
    np.testing.assert_array_equal(grad(wrong, ones), grad(right, ones))  # grad(f(x).sum())
    assert not np.allclose(grad(wrong, u), grad(right, u), atol=0.1)
    # The bugs are in the backward only: each forward is the correct kernel's, bit for bit.
    np.testing.assert_array_equal(wrong(logits, labels), right(logits, labels))
