"""Kinds and statuses are typed: one enum each, whose value is the documented JSON string."""

from __future__ import annotations

import json

import pytest

from adcli._modes.decide import Decision, decide
from adcli._results.check import CheckKind, Comparison
from adcli._results.json import to_json_data
from adcli._results.modes import CandidateResult, CandidateStatus


def test_check_kind_is_its_string() -> None:
    kind = CheckKind.hvp("fwd-over-rev")
    assert kind is CheckKind.HVP_FWD_OVER_REV and kind == "hvp:fwd-over-rev"
    assert f"{kind}" == "hvp:fwd-over-rev" and json.dumps(kind) == '"hvp:fwd-over-rev"'
    with pytest.raises(ValueError, match="'hvp:sideways' is not a valid CheckKind"):
        CheckKind.hvp("sideways")


@pytest.mark.parametrize(
    ("kind", "text", "labels"),
    [
        ("fwd", "forward mode (JVP) vs FD", ("AD", "FD")),
        ("adjoint", "adjoint identity ⟨u, Jv⟩ (fwd) = ⟨Jᵀu, v⟩ (rev)", ("fwd", "rev")),
        ("hessian-symmetry", "Hessian symmetry wᵀHv = vᵀHw", ("wᵀHv", "vᵀHw")),
        ("expect-grad:ad", "expect.grad formula vs AD", ("the formula", "AD")),
        ("expect-hessian:fd", "expect.hessian formula vs FD", ("the formula", "FD")),
        ("value", "function value", ("AD", "FD")),
    ],
)
def test_each_kind_has_its_words_and_labels(kind: str, text: str, labels: tuple[str, str]) -> None:
    assert CheckKind(kind).text == text
    assert CheckKind(kind).labels == labels
    assert CheckKind(kind).is_expect == kind.startswith("expect-")


def test_every_kind_has_words() -> None:
    assert all(kind.text for kind in CheckKind)


def test_a_comparison_built_with_a_string_kind_gets_the_enum() -> None:
    comp = Comparison(point=0, wrt="x", kind="rev", method="full", verdict="pass")  # type: ignore[arg-type]
    assert comp.kind is CheckKind.REV and comp.kind.text == "reverse mode (VJP) vs FD"
    assert to_json_data(comp)["kind"] == "rev" and type(to_json_data(comp)["kind"]) is str
    with pytest.raises(ValueError, match="'sideways' is not a valid CheckKind"):
        Comparison(point=0, wrt="x", kind="sideways", method="full", verdict="pass")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "detail", "text"),
    [
        (CandidateStatus.OK, None, "ok"),
        (CandidateStatus.NOT_TIMED, "12× the best FLOPs", "not timed: 12× the best FLOPs"),
        (CandidateStatus.SKIPPED, "needs 95 GiB", "skipped: needs 95 GiB"),
        (CandidateStatus.DISAGREES, "reverse at x[3]", "disagrees with reverse at x[3]"),
        (CandidateStatus.ERROR, "TypeError: no JVP", "error: TypeError: no JVP"),
    ],
)  # fmt: skip
def test_a_candidate_status_and_its_detail_are_one_line_of_json(
    status: CandidateStatus, detail: str | None, text: str
) -> None:
    c = CandidateResult("reverse", "1 VJP", status=status, detail=detail)
    assert c.status_text == text
    data = to_json_data(c)
    assert data["status"] == text and "detail" not in data
    assert status.usable == (status in ("ok", "not timed"))


def test_decide_returns_a_decision_naming_what_could_not_run() -> None:
    fwd = CandidateResult("forward", "2 JVPs", predicted_flops=10.0)
    rev = CandidateResult("reverse", "5 VJPs", status=CandidateStatus.ERROR, detail="ValueError: x")
    d = decide([fwd, rev], target="jacobian", n=2, m=5)
    assert isinstance(d, Decision) and (d.recommendation, d.tied, d.predicted) == (
        "forward",
        (),
        "forward",
    )
    assert d.reason.endswith("; reverse cannot run (ValueError: x)")
    none = decide([rev], target="jacobian", n=2, m=5)
    assert none == Decision(None, "no candidate could run (reverse: error: ValueError: x)")


def test_higher_order_kinds_are_made_on_demand() -> None:
    """d3:fwd, d4:rev, ...: one member per value (``is`` works), with its order and words."""
    kind = CheckKind.higher(3, "fwd")
    assert kind is CheckKind("d3:fwd") and kind == "d3:fwd" and json.dumps(kind) == '"d3:fwd"'
    assert (kind.order, CheckKind("d12:rev").order, CheckKind.FWD.order) == (3, 12, 1)
    assert CheckKind("d4:rev").text == (
        "order-4 directional derivative, gradient of nested derivatives, vs FD of order 3"
    )
    assert to_json_data(Comparison(0, "x", kind, "directions", "pass"))["kind"] == "d3:fwd"
    for bad in ("d2:fwd", "d3:sideways", "d03:fwd"):
        with pytest.raises(ValueError, match="is not a valid CheckKind"):
            CheckKind(bad)
