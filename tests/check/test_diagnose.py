"""What a spec's failures mean (adcli._check.diagnose), from synthetic comparisons: which
rule is suspect, which notes explain a result, which patterns repeat."""

from __future__ import annotations

from adcli._check.diagnose import diagnose, relevant_notes
from adcli._results.check import Comparison
from adcli._results.common import Verdict


def c(
    kind: str, verdict: Verdict, wrt: str = "x", point: int = 0, diagnosis: str | None = None
) -> Comparison:
    return Comparison(
        point=point, wrt=wrt, kind=kind, method="directions", verdict=verdict, diagnosis=diagnosis
    )


def test_rev_wrong_fwd_right_blames_the_reverse_rule() -> None:
    found = diagnose([c("fwd", "pass"), c("rev", "fail")], [])
    assert found == ["x: rev wrong, fwd right: a reverse-mode rule is suspect"]
    notes = ["x: the function uses jax.custom_vjp: forward mode is unavailable"]
    assert diagnose([c("fwd", "pass"), c("rev", "fail")], notes) == [
        "x: rev wrong, fwd right: the custom VJP rule is suspect"
    ]


def test_fwd_wrong_rev_right_blames_the_forward_rule() -> None:
    notes = ["x: the function uses jax.custom_jvp: the JVP rule is checked"]
    assert diagnose([c("fwd", "fail"), c("rev", "pass")], notes) == [
        "x: fwd wrong, rev right: the custom JVP rule is suspect"
    ]


def test_only_second_derivatives_wrong() -> None:
    found = diagnose([c("fwd", "pass"), c("rev", "pass"), c("hvp:fwd-over-rev", "fail")], [])
    assert found == ["x: first derivatives right, only second derivatives wrong"]


def test_hand_formulas_against_ad_and_fd() -> None:
    both = diagnose([c("expect-grad:ad", "fail"), c("expect-grad:fd", "fail")], [])
    assert both == ["x: the hand-derived grad disagrees with both AD and FD: the formula is wrong"]
    ad_only = diagnose([c("expect-hessian:ad", "fail"), c("expect-hessian:fd", "pass")], [])
    assert ad_only == [
        "x: the hand-derived hessian agrees with FD but not with AD: the AD rule is suspect"
    ]


def test_a_failure_at_some_points_only_is_a_region_of_the_domain() -> None:
    found = diagnose([c("rev", "pass", point=0), c("rev", "fail", point=1)], [])
    assert found == [
        "x: fails at point(s) [1] only: the error depends on where the function is "
        "evaluated (a region of the domain)"
    ]


def test_a_repeated_ratio_pattern_is_said_once_per_input() -> None:
    scale = "constant ratio: AD = 2 × FD (a scale bug)"
    comparisons = [
        c("fwd", "fail", diagnosis=scale),
        c("rev", "fail", diagnosis=scale),
        c("rev", "fail", point=1, diagnosis=scale),
        c("rev", "fail", wrt="y", diagnosis="sign flip: AD = −FD"),
    ]
    assert diagnose(comparisons, []) == [
        f"x: fwd, rev: {scale}",
        "y: rev: sign flip: AD = −FD",
    ]


def test_notes_are_kept_only_where_they_explain_a_result() -> None:
    notes = [
        "x: the function uses stop_gradient (perhaps inside a library function)",
        "y: the function uses stop_gradient (perhaps inside a library function)",
        "z: the function uses jax.custom_vjp: forward mode is unavailable",
        "z: the function uses jax.custom_vjp: forward mode is unavailable",
        "w: computed in float64 (promoted)",
    ]
    comparisons = [c("rev", "fail", wrt="x"), c("rev", "pass", wrt="y"), c("fwd", "skipped", "z")]
    assert relevant_notes(notes, comparisons) == [notes[0], notes[2], notes[4]]
