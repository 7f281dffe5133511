"""Screened FD in a full-Jacobian check: a correct function's coordinates are decided by
the screen alone (four evaluations per row and one at the point), a wrong one's row is
completed to the full model, and a 1e-7 relative error in float64 is still found."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adcli._check.function import check_function
from adcli._numerics import evaluate
from adcli._numerics.evaluate import Evaluator

D = 64  # above SCREEN_MIN_ROWS: the coordinates are screened (with SCREEN_MIN_WORK off)


@pytest.fixture(autouse=True)
def small_batches_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Screen however few numbers a batch holds: at D = 64 the screen would not pay for
    its compiles (``screen.SCREEN_MIN_WORK``), but its verdicts are what is tested here."""
    monkeypatch.setattr(evaluate, "SCREEN_MIN_WORK", 0)


@pytest.fixture
def stencils(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Each FD coordinate call's stencil and row count."""
    calls: list[tuple[str, int]] = []
    original = Evaluator.fd_coordinates

    def spy(self: Evaluator, at: Any, index: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        out = original(self, at, index, *args, **kwargs)
        calls.append((str(args[2]), len(index)))
        return out

    monkeypatch.setattr(Evaluator, "fd_coordinates", spy)
    yield calls


def _softplus(x: jax.Array, a: jax.Array) -> jax.Array:
    return jax.nn.softplus(a @ x)


def _wrong_at(k: int, delta: float) -> Any:
    """softplus(a·x) whose JVP rule scales coordinate k of the tangent by (1 + delta)."""

    @jax.custom_jvp
    def f(x: jax.Array, a: jax.Array) -> jax.Array:
        return _softplus(x, a)

    @f.defjvp
    def rule(primals: Any, tangents: Any) -> Any:
        x, a = primals
        tx, ta = tangents
        return jax.jvp(_softplus, (x, a), (tx.at[k].multiply(1 + delta), ta))

    return f


def _point() -> tuple[np.ndarray, np.ndarray]:
    """A point where each coordinate's third derivative is small beside its first (as in
    large inputs), so that the screen's O(h²) bound decides every one."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.5, 1.5, D), rng.standard_normal(D) / D


def test_a_correct_function_is_decided_by_the_screen(stencils: list) -> None:
    x, a = _point()
    result = check_function(_softplus, x, a, wrt=[0], method="full", modes=("fwd", "rev"))
    assert result.verdict == "pass"
    assert stencils == [("screen", D)]  # 4·D evaluations and one at the point: nothing more


def test_a_wrong_row_takes_the_full_model(stencils: list) -> None:
    x, a = _point()
    f = _wrong_at(5, 1e-3)
    result = check_function(f, x, a, wrt=[0], method="full", modes=("fwd", "rev"))
    assert result.verdict == "fail"
    assert stencils[0] == ("screen", D)
    assert stencils[1] == ("rest", 1)  # only row 5: the level's other four samples
    worst = {w.input_index for c in result.comparisons for w in c.worst if c.verdict == "fail"}
    assert worst == {"x[5]"}


def test_a_batch_too_small_to_pay_for_the_screen_takes_the_levels(
    stencils: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluate, "SCREEN_MIN_WORK", D * (D + 1) + 1)  # one number short
    x, a = _point()
    result = check_function(_softplus, x, a, wrt=[0], method="full", modes=("fwd", "rev"))
    assert result.verdict == "pass"
    assert stencils == [("level", D)]


@pytest.mark.parametrize("k", [0, 17, 63])
def test_a_1e_7_error_in_float64_is_found(k: int) -> None:
    x, a = _point()
    result = check_function(_wrong_at(k, 1e-7), x, a, wrt=[0], method="full", modes=("fwd", "rev"))
    assert result.verdict == "fail"


def test_a_1e_3_error_in_float32_is_found() -> None:
    x, a = _point()
    f = _wrong_at(3, 1e-3)
    result = check_function(
        f, jnp.asarray(x, jnp.float32), jnp.asarray(a, jnp.float32), wrt=[0], method="full"
    )
    assert result.verdict == "fail"
