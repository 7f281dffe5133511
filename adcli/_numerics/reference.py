"""The versions of a function a reference comparison evaluates, as flat functions of the wrt inputs.

* ``kernel``: the function under test, as it runs;
* ``truth``: the reference in float64 (inputs cast, and its jaxpr promoted when it casts
  inside: ``InputFunction.use_promoted_reference``);
* ``baseline``: the plain reference in the kernel's own precision. When that precision is
  float64 already (nothing more precise to measure against), the reference runs on float32
  inputs instead and its error is scaled by 2⁻²⁹ (float64's rounding over float32's): to
  first order, rounding errors scale with the unit roundoff;
* ``own_forward``: the kernel itself in float64 with its custom rules inlined (the derivative
  of the forward it actually computes), when its jaxpr can be promoted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._numerics.function import At, InputFunction, failure
from adcli._numerics.linear import Linear
from adcli._problem import host
from adcli._problem.build import Problem
from adcli._problem.jaxpr import float_dtypes, least_precise
from adcli._problem.promote import promote, promote_function

_DEMOTED = {
    np.dtype(np.float64): np.dtype(np.float32),
    np.dtype(np.complex128): np.dtype(np.complex64),
}


@dataclass
class Versions:
    """The compiled versions of one problem's function and reference (see the module)."""

    kernel: Linear
    baseline: Linear
    baseline_dtype: str  # the precision the plain reference ran in
    baseline_scale: float  # 1, or 2⁻²⁹ for a float64 baseline measured in float32
    demoted: bool
    truth: Linear | None  # None: the reference cannot be evaluated in float64
    why_no_truth: str | None
    own_forward: Linear | None  # None: the kernel's jaxpr cannot be promoted

    def truth_at(self, at: At) -> At:
        """Where the float64 reference runs: the same point, inputs and constants in float64."""
        return At(at.x0, promote(at.inputs), promote(at.constants))

    def baseline_at(self, at: At) -> At:
        """Where the plain reference runs: as given, or in float32 when demoted."""
        if not self.demoted:
            return at
        return At(at.x0, demote(at.inputs), demote(at.constants))


def demote(tree: Any) -> Any:
    """float64 leaves as float32 (complex128 as complex64); other leaves unchanged."""

    def leaf(a: Any) -> Any:
        dtype = _DEMOTED.get(np.dtype(a.dtype))
        return a if dtype is None else host.cast(a, dtype)

    return jax.tree_util.tree_map(leaf, tree)


def versions(kernel: InputFunction, reference: Any, at: At) -> Versions:
    """Build every version of ``kernel``'s problem and its ``reference`` callable at ``at``."""
    problem = kernel.problem
    output = jax.eval_shape(
        lambda i, c: reference(**i, **c), problem.input_structs, problem.constant_structs
    )
    ref_problem: Problem = dataclasses.replace(
        problem, fn=reference, reference=None, output_struct=output, _compiled={}, cache={}
    )
    plain = InputFunction(ref_problem, kernel.names)
    truth, why = None, None
    try:
        if plain.use_promoted_reference(at):
            truth = Linear(plain.g_ref)
        else:
            why = (
                "the reference does not run wholly in float64, even on float64 inputs (it casts "
                "to a lower precision inside, through loops or conditionals adcli cannot promote)"
            )
    except Exception as exc:  # user code that refuses float64 inputs
        why = f"the reference fails on float64 inputs: {failure(exc)}"
    precision = _precision(plain, at)
    demoted = precision == "float64"
    return Versions(
        kernel=Linear(kernel.g),
        baseline=Linear(_demoted_g(plain) if demoted else plain.g),
        baseline_dtype="float32" if demoted else precision,
        baseline_scale=float(np.finfo(np.float64).eps / np.finfo(np.float32).eps)
        if demoted
        else 1.0,
        demoted=demoted,
        truth=truth,
        why_no_truth=why,
        own_forward=_own_forward(kernel, at),
    )


def _own_forward(kernel: InputFunction, at: At) -> Linear | None:
    """The kernel's jaxpr evaluated in float64 with its custom rules inlined: AD of it is
    the derivative of the forward the kernel computes (None if it cannot be promoted)."""
    try:
        return Linear(promote_function(kernel.g, at.x0, at.inputs, at.constants))
    except Exception:  # NotPromotable (loops, Pallas), or user code that refuses float64
        return None


def _precision(plain: InputFunction, at: At) -> str:
    """The least precise floating dtype the plain reference computes in at ``at``."""
    jaxpr = jax.make_jaxpr(plain.g)(at.x0, at.inputs, at.constants)
    return str(least_precise(float_dtypes(jaxpr.jaxpr)))


def _demoted_g(plain: InputFunction) -> Any:
    """The plain reference of float32 wrt inputs (float64 out): the baseline of a float64
    function, measured one precision down."""
    dtypes = {leaf.path: _DEMOTED.get(leaf.dtype, leaf.dtype) for leaf in plain.layout.leaves}

    def g(x: jax.Array, inputs: Any, constants: Any) -> jax.Array:
        values = plain.layout.unflatten(x, dtypes)
        out = plain.problem.call({**inputs, **values}, constants)
        return plain.out_layout.flatten(out, jnp.float64)

    return g
