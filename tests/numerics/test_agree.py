"""Do candidates agree (adcli._numerics.agree)? |a − b| ≤ rtol·(|b| + max|b|) per element;
the one that disagrees with the majority is the one named."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from adcli._numerics.agree import check_agreement

# A flat problem with n = 2 inputs and m = 3 outputs, for the names of elements.
FLAT = SimpleNamespace(
    n=2,
    m=3,
    describe_input=lambda k: f"x[{k}]",
    out_layout=SimpleNamespace(describe=lambda i: f"y[{i}]"),
)
J = np.arange(6.0).reshape(3, 2) + 1.0  # (m, n), max |J| = 6
ORDER = ["forward", "reverse", "mixed"]


def test_agreeing_candidates_give_no_status() -> None:
    # 1e-7·(|J| + 6) ≥ 7e-7 everywhere: a 5e-7 difference is rounding
    assert check_agreement({"forward": J, "reverse": J + 5e-7}, "float64", ORDER, FLAT) == ({}, [])
    assert check_agreement({"forward": J}, "float64", ORDER, FLAT) == ({}, [])


def test_the_odd_one_out_of_three_is_named_with_the_element() -> None:
    wrong = J.copy()
    wrong[2, 1] = 6.5  # ∂y[2]/∂x[1]
    statuses, errors = check_agreement(
        {"forward": wrong, "reverse": J, "mixed": J}, "float64", ORDER, FLAT
    )
    assert statuses == {"forward": "reverse at ∂y[2]/∂x[1]: 6.5 vs 6"}
    assert errors == [
        "forward and reverse disagree: at ∂y[2]/∂x[1] forward gives 6.5, reverse 6 "
        "(|Δ| = 0.5, rtol 1e-07); a derivative rule is wrong"
    ]


def test_two_candidates_tie_so_the_order_picks_the_reference() -> None:
    statuses, _ = check_agreement({"reverse": J + 1, "forward": J}, "float64", ORDER, FLAT)
    assert list(statuses) == ["reverse"]


def test_float32_allows_2e_3_and_nan_always_disagrees() -> None:
    scaled = {"forward": J, "reverse": J * (1 + 1e-3)}
    assert check_agreement(scaled, "float32", ORDER, FLAT)[1] == []
    assert len(check_agreement(scaled, "float64", ORDER, FLAT)[1]) == 1
    nan = J.copy()
    nan[0, 0] = np.nan
    statuses, _ = check_agreement({"forward": J, "reverse": nan}, "float32", ORDER, FLAT)
    assert statuses == {"reverse": "forward at ∂y[0]/∂x[0]: nan vs 1"}


def test_hessian_and_hvp_elements_are_named() -> None:
    flat = SimpleNamespace(n=2, m=1, describe_input=lambda k: f"x[{k}]")
    h = np.array([[2.0, 1.0], [1.0, 3.0]])
    wrong = h.copy()
    wrong[0, 1] = 1.5
    statuses, _ = check_agreement({"forward": h, "reverse": wrong}, "float64", ORDER, flat)
    assert statuses == {"reverse": "forward at ∂²/∂x[0]∂x[1]: 1.5 vs 1"}
    statuses, _ = check_agreement(
        {"forward": h[0], "reverse": np.array([2.0, 9.0])}, "float64", ORDER, flat
    )
    assert statuses == {"reverse": "forward at (Hv)[x[1]]: 9 vs 1"}
