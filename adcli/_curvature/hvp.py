"""Hessian-vector products for ``adcli curvature``: the strategy, the operator, its check,
and the dense Hessian when (and only when) it is small enough to form.

The strategy is the HVP composition ``choose-mode --target hvp`` recommends; every HVP
afterwards runs that composition, vmapped over a batch of vectors and jit-compiled once
(plus a batch-of-one program for Lanczos, which is sequential). The check compares a few
seeded HVPs with central differences of the float64 gradient, with the FD error bounds and
the tolerance rule of ``adcli check`` (``adcli._check.fd.gradient_fd``,
``adcli._numerics.compare``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._check.fd import gradient_fd
from adcli._check.point import cotangents_for, directions_for, fixed, make_point
from adcli._check.second_order import symmetry
from adcli._errors import TRACE_ERRORS, UsageError, first_line
from adcli._modes.candidates import make_candidates
from adcli._modes.engine import choose_mode
from adcli._numerics.compare import Labels, block_rms, compare
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.finite_diff import Estimate
from adcli._numerics.function import InputFunction
from adcli._problem.build import Problem
from adcli._problem.flat import FlatProblem
from adcli._problem.runtime import memory_needed
from adcli._results.check import Comparison
from adcli._results.common import worst_verdict
from adcli._results.curvature import ExactHessian, HvpCheck, HvpCheckRow, HvpStrategy
from adcli._units import format_size

STRATEGIES = ("fwd-over-rev", "rev-over-rev", "rev-over-fwd", "fwd-over-fwd")
MAX_BATCH = 32  # HVPs per vmapped call: more does not run faster on a CPU
EXACT_MAX_D = 4096  # --exact auto forms the Hessian only up to this d


class HvpOperator:
    """v ↦ H(x)v for the flat problem at x by one composition; counts the HVPs it computes."""

    def __init__(self, flat: FlatProblem, how: str, x: jax.Array, rest: Any, batch: int) -> None:
        cands = {c.name: c for c in make_candidates(flat, "hvp")}
        fn = cands[how].fn

        def one(v: jax.Array, x: jax.Array, rest: Any) -> jax.Array:
            hvp: jax.Array = fn(x, {**rest, "v": v})
            return hvp

        self.name = how
        self.d, self.dtype, self.x, self.rest = flat.n, flat.dtype, x, rest
        self.batch = max(1, batch)
        self._one = jax.jit(one)
        self._many = jax.jit(jax.vmap(one, in_axes=(0, None, None)))
        # vmap cannot batch some compositions that run fine one at a time (a custom_vjp whose
        # fwd calls the function itself, under fwd-over-rev): those map sequentially instead.
        self._mapped = jax.jit(lambda vs, x, rest: jax.lax.map(lambda v: one(v, x, rest), vs))
        self.batching = "vmap"
        self._compiled: Any = None
        self.count = 0

    def batch_memory(self) -> int | None:
        """Compiled memory of one batched call (arguments + outputs + temporaries)."""
        struct = jax.ShapeDtypeStruct((self.batch, self.d), self.dtype)
        try:
            self._compiled = self._many.lower(struct, self.x, self.rest).compile()
        except TRACE_ERRORS as exc:
            self._compiled = self._mapped.lower(struct, self.x, self.rest).compile()
            self.batching = f"lax.map, one HVP after another (vmap fails: {first_line(exc)})"
        return memory_needed(self._compiled)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        self.count += 1
        return np.asarray(self._one(jnp.asarray(v, self.dtype), self.x, self.rest), np.float64)

    def matmat(self, vectors: np.ndarray) -> np.ndarray:
        """H·v for each row v, in fixed-size batches (the last one padded)."""
        vectors = np.atleast_2d(vectors)
        n, out = vectors.shape[0], []
        for start in range(0, n, self.batch):
            part = vectors[start : start + self.batch]
            keep = part.shape[0]
            if keep < self.batch:
                part = np.concatenate([part, np.zeros((self.batch - keep, self.d))])
            if self._compiled is None:
                self.batch_memory()
            res = self._compiled(jnp.asarray(part, self.dtype), self.x, self.rest)
            out.append(np.asarray(res, np.float64)[:keep])
        self.count += n
        return np.concatenate(out) if out else np.zeros((0, self.d))


def pick_strategy(
    problem: Problem, forced: str | None, measure: str, budget: int
) -> tuple[HvpStrategy, int | None]:
    """The HVP composition (choose-mode's recommendation unless ``forced``) and the bytes one
    HVP needs; ``batch`` is filled in later."""
    start = time.perf_counter()
    if forced is not None:
        if forced not in STRATEGIES:
            raise UsageError(
                f"--hvp-strategy: expected one of {', '.join(STRATEGIES)}, got {forced!r}"
            )
        passes = {"fwd-over-fwd": "1 JVP, then d JVPs of it"}.get(forced, "2 passes")
        strategy = HvpStrategy(forced, passes, "forced by --hvp-strategy", "forced", 1, None)
        return strategy, None
    mode = choose_mode(
        problem, target="hvp", measure=measure, memory_budget=budget, time_budget=0.5
    )
    if mode.recommendation is None:
        raise UsageError(f"{problem.spec.name}: no HVP composition can run: {mode.reason}")
    chosen = next(c for c in mode.candidates if c.name == mode.recommendation)
    strategy = HvpStrategy(
        name=chosen.name,
        passes=chosen.passes,
        reason=mode.reason,
        measure=measure,
        batch=1,
        batch_memory_bytes=None,
        candidates=mode.candidates,
        seconds=time.perf_counter() - start,
    )
    return strategy, chosen.memory_bytes


def batch_size(per_hvp: int | None, budget: int, d: int) -> int:
    """HVPs per call: MAX_BATCH unless a quarter of the memory budget holds fewer."""
    per = per_hvp if per_hvp else 8 * 8 * d  # unknown: a few vectors of d floats
    return int(max(1, min(MAX_BATCH, (budget // 4) // max(per, 1))))


def check_hvps(
    problem: Problem,
    op: HvpOperator,
    inputs: dict[str, Any],
    constants: dict[str, Any],
    *,
    point: int,
    seed: int,
    count: int,
    hessian: np.ndarray | None,
) -> HvpCheck:
    """``count`` seeded HVPs by ``op`` against FD of the gradient, and their symmetry."""
    spec = problem.spec
    evals = Evaluator(InputFunction(problem, spec.wrt))
    pt = make_point(problem, evals, spec.wrt[0], point, inputs, constants, ("rev",), "directions")
    # One point over all wrt inputs (f: Rᵈ → R), with this command's seed.
    pt = dataclasses.replace(
        pt,
        segment=slice(0, evals.fn.d),
        name=", ".join(spec.wrt),
        rng=np.random.default_rng([seed, point, 0x48]),
    )
    u = cotangents_for(pt, 1)[0]
    dirs = directions_for(pt, count)
    hv = op.matmat(dirs)
    est = gradient_fd(pt, u, dirs, [hv])
    s = pt.scale[None, :]
    scale = np.broadcast_to(block_rms(est.value * s) / s, hv.shape)
    layout = evals.fn.layout
    comps = []
    for i in range(count):
        labels = Labels(fixed(f"H·w{i}"), lambda idx: str(layout.describe(idx[1])))
        row = slice(i, i + 1)
        about = pt.about(f"hvp:{op.name}")
        comps.append(compare(about, hv[row], est.take(row), scale[row], pt.tolerance, labels))
    rows = tuple(_row(i, c, hv[i], est.take(i), dirs[i], hessian) for i, c in enumerate(comps))
    symmetric: Comparison | None = symmetry(pt, dirs, hv) if count > 1 else None
    verdicts = [c.verdict for c in comps] + ([symmetric.verdict] if symmetric else [])
    return HvpCheck(
        verdict=worst_verdict(verdicts),
        rows=rows,
        symmetry=symmetric,
        comparisons=tuple(comps),
        rtol=pt.rtol,
        atol=pt.atol,
        compute_dtype=str(pt.dtype),
    )


def _row(
    i: int,
    comp: Comparison,
    hv: np.ndarray,
    est: Estimate,
    direction: np.ndarray,
    hessian: np.ndarray | None,
) -> HvpCheckRow:
    """The check of one HVP H·wᵢ, with its error against the dense Hessian when formed."""
    exact_err = None
    if hessian is not None:
        ref = hessian @ direction
        exact_err = float(np.linalg.norm(hv - ref)) / max(float(np.linalg.norm(ref)), 1e-300)
    return HvpCheckRow(
        direction=f"w{i}",
        verdict=comp.verdict,
        margin=comp.margin,
        max_abs_error=comp.max_abs_error,
        fd_error=float(np.max(np.where(est.trusted, est.error, 0.0))),
        hv_norm=float(np.linalg.norm(hv)),
        exact_rel_error=exact_err,
    )


def exact_hessian(
    flat: FlatProblem, x: jax.Array, rest: Any, *, policy: str, budget: int, k: int
) -> tuple[ExactHessian, np.ndarray | None]:
    """The dense Hessian by ``jax.hessian`` (fwd-over-rev on the identity), if allowed.

    ``policy``: ``never``; ``auto`` (d ≤ EXACT_MAX_D and it fits ``budget``); ``always``
    (raises UsageError when it does not fit). Needed bytes = the compiled program's
    arguments + outputs + temporaries + one host copy of the d² float64 entries.
    """
    d = flat.n
    if policy == "never":
        return ExactHessian(False, "--exact never"), None
    if policy == "auto" and d > EXACT_MAX_D:
        return ExactHessian(False, f"{d:,} > {EXACT_MAX_D:,} variables (--exact auto)"), None
    dense = 8 * d * d
    if 2 * dense > budget:  # the device result and its host copy alone do not fit
        return _over(policy, 2 * dense, budget, "its d² entries need")
    start = time.perf_counter()

    def scalar(y: jax.Array, r: Any) -> jax.Array:
        return flat.fn(y, r)[0]

    # jax.hessian is fwd-over-rev; a custom_vjp function may only allow rev-over-rev.
    failures = []
    for how, hess in (("jax.hessian", jax.hessian), ("jacrev of grad", _rev_over_rev)):
        try:
            compiled = jax.jit(hess(scalar)).lower(x, rest).compile()
            break
        except TRACE_ERRORS as exc:
            failures.append(f"{how}: {first_line(exc)}")
    else:
        why = "cannot be formed (" + "; ".join(failures) + ")"
        if policy == "always":
            raise UsageError(f"--exact always: the dense Hessian {why}")
        return ExactHessian(False, why), None
    need = (memory_needed(compiled) or dense) + dense
    if need > budget:
        return _over(policy, need, budget, "the Hessian program needs")
    h = np.asarray(compiled(x, rest), np.float64)
    fro = float(np.linalg.norm(h))
    asym = float(np.linalg.norm(h - h.T) / max(fro, 1e-300))
    h = (h + h.T) / 2
    eig = np.linalg.eigvalsh(h)
    return (
        ExactHessian(
            formed=True,
            reason=f"{d:,}×{d:,} by {how}: needs {format_size(need)} of {format_size(budget)}",
            bytes_needed=need,
            trace=float(np.trace(h)),
            frobenius=fro,
            diagonal_sq=float(np.sum(np.diag(h) ** 2)),
            asymmetry=asym,
            eigenvalues_top=tuple(float(v) for v in eig[::-1][:k]),
            eigenvalues_bottom=tuple(float(v) for v in eig[:k]),
            seconds=time.perf_counter() - start,
        ),
        h,
    )


def _over(policy: str, need: int, budget: int, what: str) -> tuple[ExactHessian, None]:
    msg = f"{what} {format_size(need)}, over the memory budget {format_size(budget)}"
    if policy == "always":
        raise UsageError(
            f"--exact always: the dense Hessian cannot be formed: {msg}; raise "
            "--memory-budget or use --exact auto"
        )
    return ExactHessian(False, msg, bytes_needed=need), None


def _rev_over_rev(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """The Hessian by reverse mode over the gradient (d VJPs of one VJP)."""
    return jax.jacrev(jax.grad(fn))
