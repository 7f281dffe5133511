"""The Python API: adcli.check on paths/Specs/callables, assert_grads, the public names."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcli
from adcli import CheckReport, SpecResult

ROOT = Path(__file__).resolve().parents[2]


@jax.custom_vjp
def sin_wrong_vjp(x: jax.Array) -> jax.Array:
    return jnp.sin(x)


def _fwd(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.sin(x), x


sin_wrong_vjp.defvjp(_fwd, lambda x, g: (2.0 * jnp.cos(x) * g,))  # the bug: a factor 2


@jax.custom_vjp
def sin_right_vjp(x: jax.Array) -> jax.Array:
    return jnp.sin(x)


sin_right_vjp.defvjp(_fwd, lambda x, g: (jnp.cos(x) * g,))


def test_assert_grads_catches_a_wrong_custom_vjp_with_adcli_report() -> None:
    with pytest.raises(AssertionError) as info:
        adcli.assert_grads(sin_wrong_vjp, (np.linspace(0.1, 1.0, 4),), order=1)
    message = str(info.value)
    assert "FAIL" in message and "sin_wrong_vjp" in message
    assert "reverse mode (VJP) vs FD" in message
    assert "input" in message and "AD" in message and "reference" in message and "margin" in message
    assert "x[" in message  # the element
    assert "custom VJP rule is suspect" in message  # the diagnosis
    assert "AD = 2 × FD" in message


def test_assert_grads_passes_a_right_custom_vjp_and_skips_its_forward_mode() -> None:
    adcli.assert_grads(sin_right_vjp, (np.linspace(0.1, 1.0, 4),))  # fwd skipped, no TypeError
    result = adcli.check(sin_right_vjp, np.linspace(0.1, 1.0, 4))
    assert isinstance(result, SpecResult)
    kinds = {c.kind: c.verdict for c in result.comparisons}
    assert kinds["fwd"] == "skipped" and kinds["rev"] == "pass"
    # jax's own check_grads raises TypeError here, in its default modes:
    from jax.test_util import check_grads

    with pytest.raises(TypeError):
        check_grads(sin_right_vjp, (jnp.linspace(0.1, 1.0, 4),), order=1)


def test_assert_grads_has_check_grads_call_shape() -> None:
    def f(x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.sum(jnp.tanh(x) * y**2)

    args = (np.linspace(-1, 1, 3), np.linspace(0.5, 2, 3))
    adcli.assert_grads(f, args, 2, modes=["rev"], atol=None, rtol=None, eps=1e-4)
    adcli.assert_grads(f, args, order=1, modes=("fwd", "rev"))
    adcli.assert_grads(f, args, order=3)  # any order, as check_grads
    with pytest.raises(adcli.UsageError, match="order must be an int >= 1, got 0"):
        adcli.assert_grads(f, args, order=0)


def test_assert_grads_second_order_catches_a_wrong_hessian() -> None:
    @jax.custom_jvp
    def g(x: jax.Array) -> jax.Array:
        return jnp.sum(x**3)

    @g.defjvp
    def _g_jvp(
        primals: tuple[jax.Array], tangents: tuple[jax.Array]
    ) -> tuple[jax.Array, jax.Array]:
        (x,), (t,) = primals, tangents
        return g(x), jnp.sum(
            3 * jax.lax.stop_gradient(x) ** 2 * t
        )  # first order right, second wrong

    x = (np.linspace(0.5, 1.5, 3),)
    adcli.assert_grads(g, x, order=1)
    with pytest.raises(AssertionError, match="Hessian"):
        adcli.assert_grads(g, x, order=2)


def test_check_returns_the_cli_result_objects() -> None:
    report = adcli.check(ROOT / "specs" / "quadratic.yaml", points=1, seed=3)
    assert isinstance(report, CheckReport)
    assert [(r.name, r.verdict, r.seed, r.points) for r in report.results] == [
        ("quadratic", "pass", 3, 1)
    ]
    (spec,) = adcli.load_file(ROOT / "specs" / "quadratic.yaml")
    assert adcli.check(spec, points=1).results[0].verdict == "pass"
    failing = adcli.check(
        str(ROOT / "examples" / "wrong_vjp.yaml"), only="linear_solve_wrong_vjp", points=1
    )
    assert failing.exit_code == 1 and failing.results[0].verdict == "fail"


def test_check_rejects_what_it_cannot_use() -> None:
    with pytest.raises(TypeError, match="did you mean 'points'"):
        adcli.check("specs/quadratic.yaml", point=1)
    with pytest.raises(TypeError, match="give the arguments"):
        adcli.check(jnp.sin)
    with pytest.raises(TypeError, match="did you mean 'order'"):
        adcli.check(jnp.sin, np.ones(2), ordr=2)
    with pytest.raises(TypeError, match="example arguments are for a callable"):
        adcli.check("specs/quadratic.yaml", np.ones(2))
    with pytest.raises(adcli.SpecError, match="no such file"):
        adcli.check("no/such/spec.yaml")


def test_public_names_are_callable() -> None:
    for name in (
        "check",
        "assert_grads",
        "load_config",
        "check_function",
        "choose_mode",
        "choose_mode_report",
        "memory_report",
    ):
        assert callable(getattr(adcli, name)), name


def test_dir_lists_only_the_public_api() -> None:
    names = dir(adcli)
    assert not {"Any", "TYPE_CHECKING", "annotations"} & set(names)
    assert {"check", "check_function", "assert_grads", "SpecError"} <= set(names)
    assert sorted(adcli.__all__) == names
