"""The directions method on pytree inputs: a failure is localised to leaves, then counted
within each (never "localised to 4 coordinates" when hundreds are wrong), with the
constant-ratio pattern; and a float32 layer's 1% rule bug is not excused by float32 FD."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np

import adcli


@jax.custom_vjp
def _scaled(x: jax.Array) -> jax.Array:
    return x


def _scaled_fwd(x: jax.Array) -> tuple[jax.Array, None]:
    return x, None


def _scaled_bwd(_: None, g: jax.Array) -> tuple[jax.Array]:
    return (1.01 * g,)  # the planted bug: 1% too large


_scaled.defvjp(_scaled_fwd, _scaled_bwd)


def _mlp(params: dict, x: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ _scaled(params["hidden"]["w"]) + params["hidden"]["b"])
    return jnp.sum(jnp.tanh(h @ params["out"]["w"] + params["out"]["b"]) ** 2)


def _params(dtype: object = jnp.float64, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "hidden": {
            "w": jnp.asarray(rng.normal(size=(20, 30)) / 4, dtype),
            "b": jnp.asarray(rng.normal(size=30) / 10, dtype),
        },
        "out": {
            "w": jnp.asarray(rng.normal(size=(30, 4)) / 5, dtype),
            "b": jnp.asarray(rng.normal(size=4) / 10, dtype),
        },
    }


X = jnp.asarray(np.random.default_rng(1).normal(size=(6, 20)))


def test_a_wrong_leaf_is_named_and_counted_with_its_ratio() -> None:
    result = adcli.check_function(lambda p: _mlp(p, X), _params())
    (rev,) = [c for c in result.comparisons if c.kind == "rev"]
    assert rev.verdict == "fail" and rev.method == "directions"
    assert rev.reason == (
        "wrong in 1 of 4 leaves: 64 of 64 coordinates tested in p.hidden.w disagree (of its 600)"
    )
    assert rev.diagnosis == "constant ratio: AD = 1.01 × FD (a scale bug)"
    assert all(row.input_index.startswith("p.hidden.w[") for row in rev.worst)
    assert all(abs(row.ad / row.reference - 1.01) < 1e-6 for row in rev.worst)
    assert "p: rev: constant ratio: AD = 1.01 × FD (a scale bug)" in result.diagnoses
    # The forward rule is right (the custom VJP is not used by JVPs): no leaf is wrong.
    assert {c.kind: c.verdict for c in result.comparisons}["fwd"] == "skipped"


def test_a_small_leaf_is_tested_in_full() -> None:
    def f(p: dict) -> jax.Array:
        return jnp.sum(jnp.sin(_scaled(p["b"])) * jnp.cos(p["w"]).sum()) + jnp.sum(p["w"] ** 3)

    rng = np.random.default_rng(3)
    params = {"b": jnp.asarray(rng.normal(size=40)), "w": jnp.asarray(rng.normal(size=(15, 20)))}
    (rev,) = [c for c in adcli.check_function(f, params).comparisons if c.kind == "rev"]
    assert re.fullmatch(
        r"wrong in 1 of 2 leaves: all 40 coordinates of p\.b disagree", rev.reason or ""
    )


def test_float32_layer_with_a_1_percent_bug_is_caught_at_every_seed() -> None:
    x = X.astype(jnp.float32)
    caught = []
    for seed in range(5):
        result = adcli.check_function(_float32_loss, _params(jnp.float32, seed), x, wrt=0)
        caught.append(result.verdict == "fail")
        assert not any("own precision" in (c.reason or "") for c in result.comparisons)
    assert all(caught)


def _float32_loss(p: dict, x: jax.Array) -> jax.Array:
    return _mlp(p, x)


def test_float32_saturation_is_cleared_by_its_resolution() -> None:
    """tanh(8x) for x in [1.3, 1.6] is exactly 1 in float32 (AD: 0) but not in float64 (FD:
    6e-8): a difference no float32 evaluation can show, so not the rule's fault."""
    x = jnp.asarray(np.random.default_rng(0).uniform(1.3, 1.6, 6), jnp.float32)
    result = adcli.check_function(lambda x: jnp.sum(jnp.tanh(8 * x)), x)
    assert result.verdict == "pass"
    for comp in result.comparisons[:2]:
        assert comp.margin > 1  # it failed against the float64 version ...
        assert (comp.reason or "").startswith(
            "differs from FD of its float64 version by less than float32 resolves here"
        )
