"""The ways to compute a derivative that choose-mode compares, on a flat view Rⁿ → Rᵐ.

Every candidate is a function ``(x, rest) -> array`` of the flat input x (the ``wrt``
inputs, flattened by FlatLayout) and ``rest`` (the other inputs, the constants, and for
``hvp`` the vector ``v``), so it can be lowered on ShapeDtypeStructs and jitted once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._builder import Problem
from adcli._cut import Split, find_cut
from adcli._decide import ORDER as ORDER
from adcli._errors import UsageError
from adcli._flat import FlatLayout

TARGETS = ("jacobian", "hessian", "hvp")


@dataclass(frozen=True)
class Candidate:
    """One strategy: its name, the function computing the derivative, and its pass count."""

    name: str
    fn: Callable[[Any, Any], Any]
    passes: str  # e.g. "100 JVPs", "1 VJP, then 100 JVPs of it"
    count: int  # passes over the function (the fallback prediction when FLOPs are unknown)


@dataclass
class FlatProblem:
    """A Problem seen as f: Rⁿ → Rᵐ of its ``wrt`` inputs; structs for lowering, samples to run."""

    fn: Callable[[Any, Any], jax.Array]
    x_struct: jax.ShapeDtypeStruct
    rest_struct: Any
    n: int
    m: int
    dtype: Any
    in_layout: FlatLayout
    out_layout: FlatLayout
    problem: Problem

    def describe_input(self, index: int) -> str:
        """A flat input index by name: ``x[3]``, ``params['w1'][0, 2]``."""
        return re.sub(r"^\['([^']*)'\]", r"\1", self.in_layout.describe(index))

    def sample(self, point: int = 0) -> tuple[jax.Array, Any]:
        """x and rest at a sample point of the spec (``rest['v']`` is a seeded unit vector)."""
        inputs = self.problem.sample_inputs(point)
        wrt = {k: inputs[k] for k in self.problem.spec.wrt}
        x = self.in_layout.flatten(wrt, self.dtype)
        rest: dict[str, Any] = {
            "inputs": {k: v for k, v in inputs.items() if k not in wrt},
            "constants": self.problem.sample_constants(),
        }
        if "v" in self.rest_struct:
            v = np.random.default_rng([self.problem.spec.check.seed, point, 7]).normal(size=self.n)
            rest["v"] = jnp.asarray(v / np.linalg.norm(v), self.dtype)
        return x, rest


def flatten_problem(problem: Problem, *, with_vector: bool = False) -> FlatProblem:
    """The spec's function as f(x, rest) -> y with x ∈ Rⁿ (its ``wrt`` inputs) and y ∈ Rᵐ."""
    wrt = problem.spec.wrt
    in_layout = FlatLayout({k: problem.input_structs[k] for k in wrt}, "")
    out_layout = FlatLayout(problem.output_struct, "out")
    reals = [jnp.finfo(leaf.dtype).dtype for leaf in in_layout.leaves]
    dtype = jnp.result_type(jnp.float32, *reals)

    def fn(x: jax.Array, rest: Any) -> jax.Array:
        inputs = {**rest["inputs"], **in_layout.unflatten(x)}
        return out_layout.flatten(problem.fn(**inputs, **rest["constants"]), dtype)

    rest_struct: dict[str, Any] = {
        "inputs": {k: s for k, s in problem.input_structs.items() if k not in wrt},
        "constants": dict(problem.constant_structs),
    }
    if with_vector:
        rest_struct["v"] = jax.ShapeDtypeStruct((in_layout.size,), dtype)
    return FlatProblem(
        fn,
        jax.ShapeDtypeStruct((in_layout.size,), dtype),
        rest_struct,
        in_layout.size,
        out_layout.size,
        dtype,
        in_layout,
        out_layout,
        problem,
    )


def make_candidates(flat: FlatProblem, target: str, *, cut: Split | None = None) -> list[Candidate]:
    """The candidates for ``target`` (jacobian: forward, reverse, and mixed if ``cut``)."""
    n, m, f = flat.n, flat.m, flat.fn
    if target == "jacobian":
        out = [
            Candidate("forward", jax.jacfwd(f), _count(n, "JVP"), n),
            Candidate("reverse", jax.jacrev(f), _count(m, "VJP"), m),
        ]
        if cut is not None:
            out.append(_mixed(cut))
        return out
    if target not in ("hessian", "hvp"):
        raise UsageError(f"--target: expected one of {', '.join(TARGETS)}, got {target!r}")
    if m != 1:
        raise UsageError(
            f"--target {target} needs a scalar function, but '{flat.problem.spec.name}' "
            f"has {m} outputs; use --target jacobian"
        )

    def s(x: jax.Array, rest: Any) -> jax.Array:
        return f(x, rest)[0]

    grad = jax.grad(s)
    dfwd = jax.jacfwd(s)  # the gradient by n JVPs
    jvps, vjps = _count(n, "JVP"), _count(n, "VJP")
    if target == "hessian":
        return [
            Candidate("fwd-over-rev", jax.jacfwd(grad), f"1 VJP, then {jvps} of it", n),
            Candidate("rev-over-rev", jax.jacrev(grad), f"1 VJP, then {vjps} of it", n),
            Candidate("rev-over-fwd", jax.jacrev(dfwd), f"{jvps}, then {vjps} of them", n * n),
            Candidate("fwd-over-fwd", jax.jacfwd(dfwd), f"{jvps}, then {jvps} of them", n * n),
        ]

    def jvp_v(x: jax.Array, rest: Any) -> jax.Array:
        return jax.jvp(lambda y: s(y, rest), (x,), (rest["v"],))[1]

    def fwd_rev(x: jax.Array, rest: Any) -> jax.Array:
        return jax.jvp(lambda y: grad(y, rest), (x,), (rest["v"],))[1]

    def rev_rev(x: jax.Array, rest: Any) -> jax.Array:
        return jax.grad(lambda y: jnp.vdot(grad(y, rest), rest["v"]))(x)

    return [
        Candidate("fwd-over-rev", fwd_rev, "1 VJP, then 1 JVP of it", 1),
        Candidate("rev-over-rev", rev_rev, "1 VJP, then 1 VJP of it", 1),
        Candidate("rev-over-fwd", jax.grad(jvp_v), "1 JVP, then 1 VJP of it", 1),
        Candidate("fwd-over-fwd", jax.jacfwd(jvp_v), f"1 JVP, then {jvps} of it", n),
    ]


def find_split(flat: FlatProblem) -> Split | None:
    """A cut narrower than min(n, m) / 2 (else mixed cannot beat both plain modes)."""
    limit = min(flat.n, flat.m) // 2 + 1
    if limit <= 1:
        return None
    return find_cut(flat.fn, flat.x_struct, flat.rest_struct, max_size=limit)


def _mixed(cut: Split) -> Candidate:
    h, g, k = cut.h, cut.g, cut.size

    def mixed(x: jax.Array, rest: Any) -> jax.Array:
        v, pullback = jax.vjp(lambda y: h(y, rest), x)
        jh = jax.vmap(pullback)(jnp.eye(k, dtype=v.dtype))[0]  # k VJPs: (k, n)
        jg = jax.jacfwd(lambda u: g(u, rest))(v)  # k JVPs: (m, k)
        return jg @ jh

    passes = f"{_count(k, 'VJP')} + {_count(k, 'JVP')} + one {k}-inner product"
    return Candidate("mixed", mixed, passes, 2 * k)


def _count(count: int, what: str) -> str:
    """``1 JVP``, ``3 JVPs``."""
    return f"{count} {what}" + ("" if count == 1 else "s")
