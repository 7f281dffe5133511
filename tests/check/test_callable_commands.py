"""Every command on a function and its example arguments (not only on a spec), and every
reporter on every result it is given."""

from __future__ import annotations

import io
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rich.console import Console

import adcli
from adcli._report.console import render_text
from adcli._report.formats import formats, render
from adcli._results.reports import as_report

W = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3)) / 3)
X = jnp.asarray(np.random.default_rng(1).normal(size=(5, 6)))
LABELS = jnp.asarray([0, 2, 1, 1, 0])


def loss(w: jax.Array, x: jax.Array, labels: jax.Array) -> jax.Array:
    logits = jnp.tanh(x @ w)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))


def _results() -> dict[str, Any]:
    return {
        "check": adcli.check_function(loss, W, X, LABELS, wrt="w"),
        "modes": adcli.choose_mode(loss, W, X, LABELS, measure="none"),
        "memory": adcli.memory_report(loss, W, X, LABELS, wrt=0, policies=False),
        "curvature": adcli.curvature(loss, W, X, LABELS, wrt="w", trace=True, hvps=8),
        "explain": adcli.explain(lambda a, b: jnp.sum(jnp.sin(a * b)), jnp.ones(2), 2.0),
    }


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return _results()


def test_each_command_takes_a_function_and_its_arguments(results: dict[str, Any]) -> None:
    assert results["check"].verdict == "pass"
    modes = results["modes"]  # without wrt: the arguments holding floats (w and x)
    assert (modes.n, modes.m, modes.recommendation) == (18 + 30, 1, "reverse")
    memory = results["memory"]
    assert memory.exit_code == 0 and memory.results[0].residuals.bytes > 0
    curvature = results["curvature"]
    assert curvature.d == 18 and curvature.exit_code == 0 and curvature.trace
    explain = results["explain"]
    assert [row.node for row in explain.reverse.rows][-2:] == ["b", "a"]


@pytest.mark.parametrize("kind", ["check", "modes", "memory", "curvature", "explain"])
def test_every_reporter_takes_every_result(results: dict[str, Any], kind: str) -> None:
    result = results[kind]
    for fmt in formats(type(as_report(result))):
        console = Console(file=io.StringIO(), width=120)
        text = render(result, fmt, console)
        assert text or console.file.getvalue()  # type: ignore[attr-defined]
    if kind == "check":
        assert "PASS" in render_text(result) and "PASS" in render_text(as_report(result))


def test_a_function_needs_its_arguments_and_a_spec_takes_none() -> None:
    with pytest.raises(TypeError, match=r"choose_mode\(fn, \*args\): give the arguments"):
        adcli.choose_mode(loss)
    with pytest.raises(TypeError, match=r"memory_report\(\): example arguments are for a"):
        adcli.memory_report("specs/memory/mlp.yaml", W)
