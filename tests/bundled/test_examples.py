"""The bundled specs, checked end to end with ``check_spec``.

- Every spec in ``examples/`` has a deliberate bug (examples/README.md): it must fail, and
  fail in the advertised way: which comparisons fail, pass or are skipped, the diagnosis
  lines, the AD/reference ratio of the failing elements, the localised coordinate.
- Every spec in ``specs/`` is a hard but correct case: it must pass (no false alarm).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adcli._results.check import Comparison, SpecResult
from adcli._spec.load import load_file
from adcli._spec.model import Spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPECS = ROOT / "specs"

FAIL, PASS, SKIP = "fail", "pass", "skipped"
FIRST_ORDER_CUSTOM_VJP = "the function uses jax.custom_vjp: forward mode is unavailable"


def _params(folder: Path) -> list:
    return [
        pytest.param(path.name, spec.name, id=spec.name)
        for path in sorted(folder.glob("*.yaml"))
        for spec in load_file(path)
    ]


@functools.cache
def _spec(folder: str, file: str, name: str) -> Spec:
    (spec,) = [s for s in load_file(ROOT / folder / file) if s.name == name]
    return spec


@functools.cache
def _result(folder: str, file: str, name: str) -> SpecResult:
    """Checked once per session: several tests read the same result (a spec that cannot be
    checked is an error result, as the CLI reports it)."""
    from adcli._check.run import check_specs

    (result,) = check_specs([_spec(folder, file, name)]).results
    return result


def _status(result: SpecResult) -> dict[tuple[str, str], set[str]]:
    """{(input, kind): the verdicts of that comparison at every point}."""
    status: dict[tuple[str, str], set[str]] = {}
    for c in result.comparisons:
        status.setdefault((c.wrt, c.kind), set()).add(c.verdict)
    return status


def _failing(result: SpecResult, wrt: str, kind: str) -> list[Comparison]:
    found = [c for c in result.comparisons if (c.wrt, c.kind) == (wrt, kind)]
    assert found, f"no {kind} comparison for {wrt}"
    return [c for c in found if c.verdict == FAIL]


@dataclass(frozen=True)
class Expected:
    """How an example must fail. Keys are (input, comparison kind); every point agrees."""

    verdicts: dict[tuple[str, str], str]
    # Lines that must appear, exactly, in SpecResult.diagnoses.
    diagnoses: tuple[str, ...]
    # (input, kind) -> AD ÷ reference of every failing element shown in ``worst``
    # (for expect-* kinds: formula ÷ reference).
    ratios: dict[tuple[str, str], float] = field(default_factory=dict)
    ratio_rtol: float = 1e-6
    # (input, kind) -> the pattern line of that comparison (Comparison.diagnosis).
    patterns: dict[tuple[str, str], str] = field(default_factory=dict)


def _first_order(fwd: str, rev: str, adjoint: str | None = PASS) -> dict:
    out = {("x", "fwd"): fwd, ("x", "rev"): rev}
    if adjoint is not None:
        out["x", "adjoint"] = adjoint
    return out


SECOND_ORDER = ("hvp:fwd-over-rev", "hvp:rev-over-rev", "hvp:fwd-over-fwd")

# Derived from examples/README.md and from running each example.
EXPECTED: dict[str, Expected] = {
    "linear_solve_wrong_vjp": Expected(
        verdicts={("A", "fwd"): SKIP, ("A", "rev"): FAIL, ("b", "fwd"): SKIP, ("b", "rev"): PASS},
        diagnoses=("A: reverse mode disagrees with FD: the custom VJP rule is suspect",),
    ),
    "linear_solve_wrong_vjp_loss": Expected(
        verdicts={
            ("A", "fwd"): SKIP,
            ("A", "rev"): FAIL,
            ("A", "expect-grad:ad"): FAIL,
            ("A", "expect-grad:fd"): PASS,
            ("b", "fwd"): SKIP,
            ("b", "rev"): PASS,
            ("b", "expect-grad:ad"): PASS,
            ("b", "expect-grad:fd"): PASS,
        },
        diagnoses=(
            "A: reverse mode disagrees with FD: the custom VJP rule is suspect",
            "A: the hand-derived grad agrees with FD but not with AD: the AD rule is suspect",
        ),
    ),
    "sin_wrong_jvp": Expected(
        verdicts=_first_order(FAIL, FAIL),
        diagnoses=("x: fwd, rev: constant ratio: AD = 2 × FD (a scale bug)",),
        ratios={("x", "fwd"): 2.0, ("x", "rev"): 2.0},
        patterns={("x", "fwd"): "constant ratio: AD = 2 × FD (a scale bug)"},
    ),
    "sin_wrong_jvp_only": Expected(
        verdicts=_first_order(FAIL, PASS, adjoint=FAIL),
        diagnoses=(
            "x: fwd wrong, rev right: the custom JVP rule is suspect",
            "x: fwd: constant ratio: AD = 2 × FD (a scale bug)",
            "x: adjoint: constant ratio: fwd = 2 × rev (a scale bug)",
        ),
        ratios={("x", "fwd"): 2.0, ("x", "adjoint"): 2.0},
        patterns={("x", "adjoint"): "constant ratio: fwd = 2 × rev (a scale bug)"},
    ),
    "least_squares_wrong_scale": Expected(
        verdicts=_first_order(SKIP, FAIL, adjoint=None),
        diagnoses=(
            "x: reverse mode disagrees with FD: the custom VJP rule is suspect",
            "x: rev: constant ratio: AD = 2 × FD (a scale bug)",
        ),
        ratios={("x", "rev"): 2.0},
        patterns={("x", "rev"): "constant ratio: AD = 2 × FD (a scale bug)"},
    ),
    "log_sigmoid_sign_flip": Expected(
        verdicts=_first_order(FAIL, FAIL),
        diagnoses=("x: fwd, rev: sign flip: AD = −FD",),
        ratios={("x", "fwd"): -1.0, ("x", "rev"): -1.0},
        patterns={("x", "fwd"): "sign flip: AD = −FD", ("x", "rev"): "sign flip: AD = −FD"},
    ),
    "softplus_one_coordinate": Expected(
        verdicts=_first_order(SKIP, FAIL, adjoint=None),
        diagnoses=("x: reverse mode disagrees with FD: the custom VJP rule is suspect",),
        # The localised element: the gradient is 10% too large there.
        ratios={("x", "rev"): 1.1},
    ),
    "cube_wrong_hessian": Expected(
        verdicts={
            **_first_order(PASS, PASS),
            **{("x", k): FAIL for k in SECOND_ORDER},
            ("x", "hessian-symmetry"): PASS,
            ("x", "expect-grad:ad"): PASS,
            ("x", "expect-grad:fd"): PASS,
            ("x", "expect-hessian:ad"): FAIL,
            ("x", "expect-hessian:fd"): PASS,
        },
        diagnoses=(
            "x: first derivatives right, only second derivatives wrong",
            "x: the hand-derived hessian agrees with FD but not with AD: the AD rule is suspect",
            "x: hvp:fwd-over-rev, hvp:rev-over-rev, hvp:fwd-over-fwd: constant ratio: "
            "AD = 0.5 × FD (a scale bug)",
        ),
        ratios={**{("x", k): 0.5 for k in SECOND_ORDER}, ("x", "expect-hessian:ad"): 2.0},
        patterns={("x", "expect-hessian:ad"): "constant ratio: the formula = 2 × AD (a scale bug)"},
    ),
    "softplus_wrong_region": Expected(
        verdicts=_first_order(SKIP, FAIL, adjoint=None),
        diagnoses=("x: reverse mode disagrees with FD: the custom VJP rule is suspect",),
    ),
    "symmetric_quadratic_wrong_grad": Expected(
        verdicts={
            **_first_order(PASS, PASS),
            ("x", "expect-grad:ad"): FAIL,
            ("x", "expect-grad:fd"): FAIL,
        },
        diagnoses=(
            "x: the hand-derived grad disagrees with both AD and FD: the formula is wrong",
            "x: expect-grad:ad: constant ratio: the formula = 0.5 × AD (a scale bug)",
            "x: expect-grad:fd: constant ratio: the formula = 0.5 × FD (a scale bug)",
        ),
        ratios={("x", "expect-grad:ad"): 0.5, ("x", "expect-grad:fd"): 0.5},
    ),
    "quadratic_wrong_hessian": Expected(
        verdicts={
            **_first_order(PASS, PASS),
            **{("x", k): PASS for k in SECOND_ORDER},
            ("x", "hessian-symmetry"): PASS,
            ("x", "expect-grad:ad"): PASS,
            ("x", "expect-grad:fd"): PASS,
            ("x", "expect-hessian:ad"): FAIL,
            ("x", "expect-hessian:fd"): FAIL,
        },
        diagnoses=(
            "x: the hand-derived hessian disagrees with both AD and FD: the formula is wrong",
        ),
    ),
    "exp2_float32_bug": Expected(
        verdicts=_first_order(SKIP, FAIL, adjoint=None),
        diagnoses=(
            "x: reverse mode disagrees with FD: the custom VJP rule is suspect",
            "x: rev: constant ratio: AD = 1.001 × FD (a scale bug)",
        ),
        # 0.69384 / ln 2; float32 finite differences are good to ~1e-4 relative.
        ratios={("x", "rev"): 0.69384 / math.log(2)},
        ratio_rtol=2e-4,
        patterns={("x", "rev"): "constant ratio: AD = 1.001 × FD (a scale bug)"},
    ),
    "sharded_missing_psum": Expected(
        verdicts={("x", "fwd"): SKIP, ("x", "rev"): FAIL, ("w", "fwd"): SKIP, ("w", "rev"): FAIL},
        diagnoses=(
            "x: rev: JAX's check_vma type check rejects it: a collective (psum) in a custom "
            "backward or a shard_map body is missing or over the wrong mesh axis",
            "w: rev: JAX's check_vma type check rejects it: a collective (psum) in a custom "
            "backward or a shard_map body is missing or over the wrong mesh axis",
        ),
    ),
    "sharded_psum_twice": Expected(
        verdicts={("x", "fwd"): SKIP, ("x", "rev"): PASS, ("w", "fwd"): SKIP, ("w", "rev"): FAIL},
        diagnoses=(
            "w: reverse mode disagrees with FD: the custom VJP rule is suspect",
            "w: rev: constant ratio: AD = 4 × FD (a scale bug)",
        ),
        ratios={("w", "rev"): 4.0},
        patterns={("w", "rev"): "constant ratio: AD = 4 × FD (a scale bug)"},
    ),
    "sharded_wrong_axis": Expected(
        verdicts={("x", "fwd"): SKIP, ("x", "rev"): FAIL, ("w", "fwd"): SKIP, ("w", "rev"): PASS},
        diagnoses=("x: reverse mode disagrees with FD: the custom VJP rule is suspect",),
    ),
}


def test_every_example_has_an_expectation() -> None:
    names = {p.values[1] for p in _params(EXAMPLES)}
    assert names == set(EXPECTED)


@pytest.mark.parametrize(("file", "name"), _params(EXAMPLES))
def test_example_fails(file: str, name: str) -> None:
    result = _result("examples", file, name)
    assert result.verdict == FAIL
    assert result.margin > 1
    assert result.error is None
    assert result.backend != "-"


@pytest.mark.parametrize(("file", "name"), _params(EXAMPLES))
def test_example_fails_in_the_advertised_comparisons(file: str, name: str) -> None:
    result, expected = _result("examples", file, name), EXPECTED[name]
    status = _status(result)
    assert {k: sorted(v) for k, v in status.items()} == {
        k: [v] for k, v in expected.verdicts.items()
    }
    points = {c.point for c in result.comparisons}
    assert points == set(range(result.points))


@pytest.mark.parametrize(("file", "name"), _params(EXAMPLES))
def test_example_diagnosis(file: str, name: str) -> None:
    result, expected = _result("examples", file, name), EXPECTED[name]
    for line in expected.diagnoses:
        assert line in result.diagnoses
    for (wrt, kind), pattern in expected.patterns.items():
        for comp in _failing(result, wrt, kind):
            assert comp.diagnosis == pattern


@pytest.mark.parametrize(("file", "name"), _params(EXAMPLES))
def test_example_failing_elements_have_the_advertised_ratio(file: str, name: str) -> None:
    result, expected = _result("examples", file, name), EXPECTED[name]
    for (wrt, kind), ratio in expected.ratios.items():
        failing = _failing(result, wrt, kind)
        assert failing
        for comp in failing:
            assert comp.worst
            for row in comp.worst:
                assert row.margin > 1
                assert row.ad / row.reference == pytest.approx(ratio, rel=expected.ratio_rtol)


def test_custom_vjp_examples_skip_forward_mode_with_the_reason() -> None:
    result = _result("examples", "wrong_scale.yaml", "least_squares_wrong_scale")
    skipped = [c for c in result.comparisons if c.verdict == SKIP]
    assert skipped and all(c.kind == "fwd" for c in skipped)
    for comp in skipped:
        assert "custom_vjp" in (comp.reason or "")
        assert comp.compared == 0
    assert any(FIRST_ORDER_CUSTOM_VJP in note for note in result.notes)


def test_one_coordinate_is_localised_to_x_4321() -> None:
    result = _result("examples", "one_coordinate.yaml", "softplus_one_coordinate")
    assert result.dims == {"n": 10000}
    assert result.method == "x: directions"
    failing = _failing(result, "x", "rev")
    assert len(failing) == result.points == 2
    for comp in failing:
        assert comp.method == "directions"
        assert comp.locations == ("x[4321]",)
        assert comp.reason == "localised by group testing to x[4321]"
        assert [row.input_index for row in comp.worst] == ["x[4321]"]


def test_wrong_region_fails_only_where_x_exceeds_one() -> None:
    # The buggy slope is 1 for x > 1 and σ(x) (right) elsewhere: a failing element has
    # AD = 1 and FD = σ(x) > σ(1), and some elements of each point pass.
    sigmoid_1 = 1 / (1 + math.exp(-1))
    result = _result("examples", "wrong_region.yaml", "softplus_wrong_region")
    for comp in _failing(result, "x", "rev"):
        assert 0 < comp.failed < comp.compared == 20
        for row in comp.worst:
            assert row.ad == pytest.approx(1.0, abs=1e-12)
            assert sigmoid_1 < row.reference < 1


def test_wrong_vjp_fails_for_A_only() -> None:
    result = _result("examples", "wrong_vjp.yaml", "linear_solve_wrong_vjp")
    for comp in _failing(result, "A", "rev"):
        assert all(row.input_index.startswith("A[") for row in comp.worst)
    assert not _failing(result, "b", "rev")


@pytest.mark.parametrize(("file", "name"), _params(SPECS))
def test_spec_passes(file: str, name: str) -> None:
    result = _result("specs", file, name)
    bad = [(c.point, c.wrt, c.kind, c.verdict, c.reason) for c in result.failures]
    assert bad == []
    assert result.verdict == PASS
    assert result.error is None
    assert 0 <= result.margin <= 1
    compared = [c for c in result.comparisons if c.verdict == PASS]
    assert compared, "nothing was compared"
    assert all(c.compared > 0 for c in compared)
    # Every differentiated input was checked against FD in at least one mode.
    fd_checked = {c.wrt for c in compared if c.kind in ("fwd", "rev")}
    assert fd_checked == set(result.dtypes)
