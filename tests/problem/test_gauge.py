"""Gauge-dependent outputs (adcli._problem.gauge): eigen- and singular vectors compared in a
fixed gauge, with the check saying so."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcli
from adcli._problem.gauge import aligned, decompositions, vectors

RNG = np.random.default_rng(7)
A = RNG.standard_normal((4, 4))
S = A + A.T


def test_decompositions_are_found_inside_calls() -> None:
    assert decompositions(jax.make_jaxpr(jnp.linalg.eigh)(S)) == ["eigh"]
    svd = jax.make_jaxpr(lambda a: jnp.linalg.svd(a, full_matrices=False))(A)
    assert decompositions(svd) == ["svd"]
    assert decompositions(jax.make_jaxpr(jnp.linalg.eigvalsh)(S)) == []  # no vectors out
    assert decompositions(jax.make_jaxpr(jnp.linalg.svdvals)(A)) == []


def test_the_aligned_function_follows_its_references() -> None:
    """At the point it is f itself; with references of the other sign, each vector takes
    that sign (the gauge is the references', not the solver's)."""
    (v,) = vectors(jnp.linalg.eigh, S)
    w, u = aligned(jnp.linalg.eigh, [v])(S)
    np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    flipped = np.asarray(v) * np.array([1.0, -1.0, -1.0, 1.0])
    _, u2 = aligned(jnp.linalg.eigh, [flipped])(S)
    np.testing.assert_allclose(np.asarray(u2), flipped, atol=1e-12)
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(S), atol=1e-12)


@pytest.mark.parametrize(
    ("fn", "arg"),
    [
        (jnp.linalg.eigh, S),
        (lambda a: jnp.linalg.svd(a, full_matrices=False), A),
        (lambda a: jnp.linalg.eigh(a)[1][:, 0], S),
        (
            lambda a: jax.lax.linalg.eig(
                a, compute_left_eigenvectors=False, enable_eigvec_derivs=True
            ),
            A,
        ),
    ],
    ids=["eigh", "svd", "one eigenvector", "eig vectors"],
)
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_vectors_are_checked_in_a_fixed_gauge(fn: Any, arg: np.ndarray, x64: bool) -> None:
    with jax.enable_x64(x64):
        result = adcli.check_function(fn, arg)
    assert result.verdict == "pass", [c.reason for c in result.comparisons]
    assert {c.kind for c in result.comparisons} >= {"fwd", "rev", "adjoint"}
    assert any("fixed gauge" in n and "adjoint identity" in n for n in result.notes)


def test_eigenvalues_of_a_real_matrix_pass_in_float32() -> None:
    """The imaginary parts of real eigenvalues are identically 0 (FD block of zeros, AD
    float32 noise): held to the derivative's rounding, not to exactly 0."""
    upper = np.triu(RNG.standard_normal((4, 4))) + np.diag([1.0, 2.0, 3.0, 4.0])
    with jax.enable_x64(False):
        result = adcli.check_function(jnp.linalg.eigvals, upper)
    assert result.verdict == "pass", [c.reason for c in result.comparisons]


def test_a_wrong_rule_on_the_vectors_is_caught_in_the_fixed_gauge() -> None:
    """A rule downstream of eigh that is 50% off: still a failure in the fixed gauge."""

    @jax.custom_jvp
    def double(v: jax.Array) -> jax.Array:
        return 2 * v

    double.defjvp(lambda p, t: (double(p[0]), 3 * t[0]))
    result = adcli.check_function(lambda a: double(jnp.linalg.eigh(a)[1]), S, modes=["fwd"])
    assert result.verdict == "fail"
    assert any("fixed gauge" in n for n in result.notes)
