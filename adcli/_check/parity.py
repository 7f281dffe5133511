"""``--parity``: a sharded spec's value, JVPs and VJPs against the same computation with every
input on one device.

The one-device run is the same function under a mesh with the same axis names, each of
size 1, on one device of this process: a ``shard_map`` inside the user's code runs
unchanged, and its collectives over size-1 axes are identities. The sharded and the
one-device results may legitimately differ only by the rounding of reductions done in
another order (partial sums per device, then a collective), so the allowance for each
element is that rounding's size:

    allowance = 16 · √N · ε · (|v| + RMS(v))

with v the one-device value, ε the machine epsilon of the least precise dtype the
function computes in, and N the number of entries of its inputs, constants and output (a
bound on the length of any reduction in it). A reordered sum of N terms rounds
differently by about √N·ε times the size of its terms; the RMS term keeps an element that
cancels to near zero from an allowance of nothing. A missing, doubled or misdirected
collective changes a result by O(1) of its size, far beyond this.

Directions are one per input leaf (zero elsewhere), so a JVP mismatch names its leaf; a
VJP mismatch names the element, and both name the shard (mesh coordinates and devices)
that holds it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._numerics.evaluate import Evaluator
from adcli._numerics.function import At, InputFunction
from adcli._problem.build import Problem
from adcli._problem.flat import FlatLayout
from adcli._problem.jaxpr import least_precise
from adcli._problem.one_device import one_device
from adcli._results.check import CheckKind, Comparison, Mismatch

SLACK = 16  # the allowance's constant factor (module docstring)
WORST = 5  # mismatches kept per comparison
LOCATIONS = 8  # shards named per comparison
Label = Callable[[int, int], tuple[str, str]]


def parity_comparisons(problem: Problem, evals: Evaluator, point: int) -> list[Comparison]:
    """The value, and each wrt input's JVPs and VJPs, sharded against one device, at
    sample point ``point``."""
    one = _one_device(problem)
    inputs, constants = problem.sample_inputs(point), problem.sample_constants()
    inputs1, constants1 = one.problem.sample_inputs(point), one.problem.sample_constants()
    fn, fn1 = evals.fn, one.evals.fn
    at, at1 = At(fn.point(inputs), inputs, constants), At(fn1.point(inputs1), inputs1, constants1)
    dtypes = {fn.input_dtype(name, inputs, constants) for name in fn.names}
    eps = float(jnp.finfo(least_precise(dtypes)).eps)
    judge = _Judge(problem, point, eps, (inputs, constants))
    out = [judge.value(one.problem, (inputs1, constants1), fn.out_layout)]
    rng = np.random.default_rng([problem.spec.check.seed, point, zlib.crc32(b"parity")])
    modes = [m for m in problem.spec.check.modes if fn.supports(m, at) is None]
    for name in fn.names:
        segment = fn.layout.segments[name]
        if "fwd" in modes and fn1.supports("fwd", at1) is None:
            dirs, leaves = _leaf_directions(fn.layout, segment, np.abs(np.asarray(at.x0)), rng)
            sharded, single = evals.jvp(at, dirs), one.evals.jvp(at1, dirs)
            out.append(judge.jvps(name, sharded, single, leaves, fn.out_layout))
        if "rev" in modes and fn1.supports("rev", at1) is None:
            count = 1 if fn.m == 1 else problem.spec.check.directions
            cots = np.ones((1, 1)) if fn.m == 1 else rng.standard_normal((count, fn.m))
            sharded = evals.vjp(at, cots)[:, segment]
            single = one.evals.vjp(at1, cots)[:, segment]
            out.append(judge.vjps(name, sharded, single, fn.layout, segment, fn.m))
    return out


def _one_device(problem: Problem) -> _OneDevice:
    """The spec's function, inputs and programs on one device (built once per problem)."""
    found = problem.cache.get("parity-one-device")
    if found is None:
        single = one_device(problem)
        found = _OneDevice(single, Evaluator(InputFunction(single, problem.spec.wrt)))
        problem.cache["parity-one-device"] = found
    assert isinstance(found, _OneDevice)
    return found


@dataclass
class _OneDevice:
    problem: Problem
    evals: Evaluator


def _entries(problem: Problem) -> int:
    trees = (problem.input_structs, problem.constant_structs, problem.output_struct)
    return sum(math.prod(s.shape) for s in jax.tree_util.tree_leaves(trees)) or 1


def _leaf_directions(
    layout: FlatLayout, segment: slice, scale: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """One Gaussian direction per leaf of the input at ``segment`` (zero elsewhere),
    scaled by |x| (1 where x = 0) and rounded to the leaves' dtypes; and the leaves' names."""
    scale = np.where(scale > 0, scale, 1.0)
    leaves = [leaf for leaf in layout.leaves if segment.start <= leaf.offset < segment.stop]
    dirs = np.zeros((len(leaves), layout.size))
    for row, leaf in enumerate(leaves):
        part = slice(leaf.offset, leaf.offset + leaf.size)
        dirs[row, part] = rng.standard_normal(leaf.size) * scale[part]
    return layout.round_to_leaves(dirs), [leaf.path for leaf in leaves]


class _Judge:
    """Compares sharded with one-device arrays and names the shards of mismatches."""

    def __init__(self, problem: Problem, point: int, eps: float, args: tuple[Any, Any]) -> None:
        self.problem, self.point, self.eps, self.args = problem, point, eps, args
        self.entries = _entries(problem)
        assert problem.mesh is not None
        self.plan = problem.mesh
        wrt = {n: problem.input_structs[n] for n in problem.spec.wrt}
        self.in_structs = jax.tree_util.tree_leaves(wrt)
        self._out_shardings: list[Any] | None = None

    # -- the three comparisons --------------------------------------------------------------
    def value(self, one: Problem, args1: tuple[Any, Any], out: FlatLayout) -> Comparison:
        sharded = self.problem.evaluate("f", self.problem.fn, *self.args)
        single = one.evaluate("f", one.fn, *args1)
        a = np.asarray(out.flatten(sharded))[None, :]
        b = np.asarray(out.flatten(single))[None, :]
        kind = CheckKind.PARITY_VALUE
        return self._compare("-", kind, a, b, lambda r, c: ("-", self._out(out, c)))

    def jvps(
        self, name: str, a: np.ndarray, b: np.ndarray, leaves: list[str], out: FlatLayout
    ) -> Comparison:
        kind = CheckKind.PARITY_FWD
        return self._compare(name, kind, a, b, lambda r, c: (f"{leaves[r]}·v", self._out(out, c)))

    def vjps(
        self, name: str, a: np.ndarray, b: np.ndarray, layout: FlatLayout, segment: slice, m: int
    ) -> Comparison:
        def label(r: int, c: int) -> tuple[str, str]:
            return self._in(layout, segment.start + c), "out" if m == 1 else f"⟨u{r}, ·⟩"

        return self._compare(name, CheckKind.PARITY_REV, a, b, label)

    def _compare(
        self, wrt: str, kind: CheckKind, a: np.ndarray, b: np.ndarray, label: Label
    ) -> Comparison:
        finite = np.isfinite(b)
        rms = float(np.sqrt(np.mean(np.square(b[finite])))) if finite.any() else 0.0
        allowance = SLACK * math.sqrt(self.entries) * self.eps * (np.abs(b) + rms)
        diff = np.abs(a - b)
        with np.errstate(divide="ignore", invalid="ignore"):
            margins = np.where(diff == 0, 0.0, diff / allowance)
        margins = np.where(np.isnan(margins), np.inf, margins)  # NaN on one side only
        order = np.argsort(-margins, axis=None)
        failed = int(np.sum(margins > 1))
        worst_at = np.unravel_index(order[0], margins.shape) if margins.size else None
        worst = []
        for flat in order[: WORST if failed else 0]:
            r, c = (int(i) for i in np.unravel_index(flat, margins.shape))
            if margins[r, c] <= 1:
                break
            where, what = label(r, c)
            allowed, margin = float(allowance[r, c]), float(margins[r, c])
            worst.append(
                Mismatch(where, what, float(a[r, c]), float(b[r, c]), None, None, allowed, margin)
            )
        reason = None
        if worst_at is not None:
            r, c = worst_at
            reason = (
                f"max |sharded − one device| = {float(diff[r, c]):.3g} where the allowance is "
                f"{float(allowance[r, c]):.3g} ({SLACK}·√N·ε·(|v| + RMS), N = {self.entries}, "
                f"ε = {self.eps:.3g}: reduction-order rounding)"
            )
        return Comparison(
            point=self.point,
            wrt=wrt,
            kind=kind,
            method="parity",
            verdict="fail" if failed else "pass",
            margin=float(margins.max()) if margins.size else 0.0,
            compared=int(margins.size),
            failed=failed,
            max_abs_error=float(np.max(diff)) if diff.size else 0.0,
            max_rel_error=float(np.max(diff / np.maximum(np.abs(b), 1e-300))) if diff.size else 0.0,
            worst=tuple(worst),
            reason=reason,
            diagnosis=_DIAGNOSIS if failed else None,
            locations=self._locations(margins, label) if failed else (),
        )

    def _locations(self, margins: np.ndarray, label: Label) -> tuple[str, ...]:
        """The distinct shards where elements fail, most failing first."""
        found: dict[str, int] = {}
        for r, c in zip(*np.nonzero(margins > 1), strict=True):
            where, what = label(int(r), int(c))
            text = where if "shard" in where or "replicated" in where else what
            shard = text[text.find("(") + 1 : text.rfind(")")] if "(" in text else text
            found[shard] = found.get(shard, 0) + 1
        ranked = sorted(found, key=lambda k: -found[k])
        return tuple(ranked[:LOCATIONS])

    # -- element names with their shards ------------------------------------------------------
    def _in(self, layout: FlatLayout, index: int) -> str:
        position, local = _leaf_index(layout, index)
        struct = self.in_structs[position]
        shard = self.plan.shard_of(getattr(struct, "sharding", None), tuple(struct.shape), local)
        return f"{layout.describe(index)} ({shard})"

    def _out(self, layout: FlatLayout, index: int) -> str:
        position, local = _leaf_index(layout, index)
        sharding = self._output_shardings()[position]
        shape = layout.leaves[position].shape
        return f"{layout.describe(index)} ({self.plan.shard_of(sharding, shape, local)})"

    def _output_shardings(self) -> list[Any]:
        """Where the sharded program leaves each output leaf (the partitioner's choice)."""
        if self._out_shardings is None:
            inputs, constants = self.args
            fn = self.problem.fn
            compiled = jax.jit(lambda i, c: fn(**i, **c)).lower(inputs, constants).compile()
            self._out_shardings = jax.tree_util.tree_leaves(compiled.output_shardings)
        return self._out_shardings


_DIAGNOSIS = (
    "the sharded program differs from one device beyond reduction-order rounding: a "
    "collective missing, counted twice or over the wrong axis?"
)


def _leaf_index(layout: FlatLayout, index: int) -> tuple[int, tuple[int, ...]]:
    """(position of the leaf holding flat ``index``, the element's index in that leaf)."""
    for position, leaf in enumerate(layout.leaves):
        if leaf.offset <= index < leaf.offset + leaf.size:
            local = index - leaf.offset
            if leaf.is_complex:
                local %= leaf.size // 2
            where = np.unravel_index(local, leaf.shape) if leaf.shape else ()
            return position, tuple(int(i) for i in where)
    raise IndexError(index)
