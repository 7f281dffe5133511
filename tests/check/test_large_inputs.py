"""The directions method at large d (10⁵–10⁶ parameters): what keeps it cheap without
changing what it computes. Programs compiled once and reused across points, FD offsets
evaluated in turn where a row's stencil would not fit the memory budget (same values),
and the K × d products of directions and VJPs computed once per set of directions.
No timing here: counts and known answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest

import adcli
from adcli._check.point import PAIRING_BLOCK, pairing
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.finite_diff import OFFSETS, Stencil
from adcli._numerics.function import At, InputFunction
from adcli._problem.build import build
from adcli._spec.load import load_text

TRACE = "/jax/core/compile/jaxpr_trace_duration"
COMPILE = "/jax/core/compile/backend_compile_duration"


@pytest.fixture
def jax_events() -> Iterator[Counter[str]]:
    """How many times each JAX duration event (tracing, compiling) fires in the test."""
    seen: Counter[str] = Counter()

    def listen(event: str, seconds: float, **kwargs: object) -> None:
        seen[event] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listen)


def _logistic(x: jax.Array, a: jax.Array) -> jax.Array:
    return jax.nn.softplus(a @ x)


def test_a_directions_check_at_1e5_compiles_three_programs_once(
    jax_events: Counter[str],
) -> None:
    d = 10**5
    rng = np.random.default_rng(0)
    a = rng.standard_normal(d) / np.sqrt(d)
    first = adcli.check_function(_logistic, rng.standard_normal(d), a, wrt=[0])
    assert first.verdict == "pass" and first.method == "x: directions"
    jax_events.clear()  # the first check ran op by op; the same function again compiles
    again = adcli.check_function(_logistic, rng.standard_normal(d), a, wrt=[0])
    assert again.verdict == "pass"
    # FD along the directions, the JVPs and the VJP: one program each, traced once
    assert (jax_events[TRACE], jax_events[COMPILE]) == (3, 3)
    jax_events.clear()
    for seed in (1, 2):  # new points, new directions: the same programs, nothing traced
        x = rng.standard_normal(d)
        assert adcli.check_function(_logistic, x, a, wrt=[0], seed=seed).verdict == "pass"
    assert (jax_events[TRACE], jax_events[COMPILE]) == (0, 0)


SPEC = """
name: cubic
function: {expr: "sum(x ** 3) + w * x[0]"}
dims: {n: 3}
inputs:
  x: {shape: [n]}
  w: {shape: []}
check: {points: 1, seed: 0, method: directions}
"""


def _evaluator(in_turn: bool, eager: bool = False) -> tuple[Evaluator, At]:
    problem = build(load_text(SPEC)[0])
    fn = InputFunction(problem, ("x", "w"))
    inputs = {"x": jnp.asarray([1.0, -2.0, 3.0]), "w": jnp.asarray(2.0)}
    evals = Evaluator(fn)
    evals.offsets_in_turn, evals.eager = in_turn, eager
    return evals, At(fn.layout.flatten(fn.input_value(inputs)), inputs, {})


@pytest.mark.parametrize("eager", [False, True])
@pytest.mark.parametrize(
    ("stencil", "samples"), [("level", len(OFFSETS)), ("screen", 5), ("rest", 4)]
)
def test_offsets_in_turn_sample_the_same_stencil(
    eager: bool, stencil: Stencil, samples: int
) -> None:
    rows = np.random.default_rng(1).standard_normal((3, 4))
    batched, at = _evaluator(in_turn=False)
    in_turn, _ = _evaluator(in_turn=True, eager=eager)
    want = batched.fd_directions(at, rows, 0.1, stencil, ref=False)
    got = in_turn.fd_directions(at, rows, 0.1, stencil, ref=False)
    assert got.shape == want.shape == (samples, 3, 1)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def test_offsets_go_in_turn_only_when_a_row_stencil_exceeds_the_budget() -> None:
    small = Evaluator(InputFunction(build(load_text(SPEC)[0]), ("x", "w")))
    assert small.chunk == 4096 and not small.offsets_in_turn
    big = SPEC.replace("n: 3", "n: 100000").replace("x ** 3", "x ** 2")
    large = Evaluator(InputFunction(build(load_text(big)[0]), ("x", "w")))
    assert large.chunk < len(OFFSETS) and large.offsets_in_turn


def test_pairing_is_the_products_of_directions_and_vjps() -> None:
    rng = np.random.default_rng(2)
    d = 2 * PAIRING_BLOCK + 5  # three blocks, the last one short
    dirs, vjps = rng.standard_normal((4, d)), rng.standard_normal((2, d))
    found = pairing(dirs, vjps)
    assert found.dots.shape == found.sizes.shape == (4, 2)
    np.testing.assert_allclose(found.dots, dirs @ vjps.T, rtol=1e-12)
    np.testing.assert_allclose(found.sizes, np.abs(dirs) @ np.abs(vjps).T, rtol=1e-12)
