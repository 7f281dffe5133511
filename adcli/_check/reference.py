"""``reference:``: a kernel's values, JVPs and VJPs against a trusted implementation.

At each sample point the kernel, the reference in float64 and the plain reference in the
kernel's own precision are evaluated along the same random tangents and cotangents (never
all-ones), and judged by ``adcli._numerics.baseline`` (a tolerance of ``check.factor`` × the
plain implementation's own error, plus a rounding floor). When the values already disagree,
the kernel's derivatives are also judged against the float64 derivatives of its own forward
(``self-*``), which separates a wrong forward from a wrong backward. ``check.repeat`` runs the
VJP again and again (``adcli._check.repeat``). The check engine makes one ``ReferenceCheck``
per run (``reference_check``) and calls it at each point; docs/reference.md is the method.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from adcli._check.point import Point
from adcli._check.repeat import repeat_vjp
from adcli._numerics.baseline import Rule, Tensor, judge
from adcli._numerics.compare import Labels, Subject, skipped
from adcli._numerics.function import At, InputFunction, failure
from adcli._numerics.linear import Linear
from adcli._numerics.reference import Versions, versions
from adcli._problem.build import Problem
from adcli._results.check import CheckKind, Comparison
from adcli._results.common import Verdict, worst_verdict

# Below float32, rounding leaves finite differences nothing to resolve: the reference decides.
NO_FD = ("bfloat16", "float16")
_FD_KINDS = frozenset({CheckKind.FWD, CheckKind.REV, CheckKind.ADJOINT})


class _ReferenceFailed(Exception):
    """The reference (not the kernel) cannot be evaluated as a comparison needs."""


@dataclass(frozen=True)
class _Quantity:
    """One derivative of every version along the same rows: the kernel's, the float64
    reference's and the plain reference's error |plain − float64|."""

    kernel: np.ndarray
    truth: np.ndarray
    baseline: np.ndarray


def reference_check(problem: Problem, kernel: InputFunction) -> ReferenceCheck | None:
    """The reference (and repeat) checks of one run over ``problem``, or None if it asks none."""
    if problem.reference is None and problem.spec.check.repeat < 2:
        return None
    return ReferenceCheck(problem, kernel)


class ReferenceCheck:
    """The reference comparisons of one problem, point by point (see the module)."""

    def __init__(self, problem: Problem, kernel: InputFunction) -> None:
        self.problem, self.kernel = problem, kernel
        self.opts = problem.spec.check
        self.fd_skipped: dict[str, str] = {}  # input -> the dtype that kept FD out
        self.no_own_forward = False

    def replaces_fd(self, pt: Point) -> bool:
        """Whether the reference alone judges this input (a kernel in bfloat16 or float16)."""
        if self.problem.reference is None or pt.dtype not in NO_FD:
            return False
        self.fd_skipped[pt.name] = pt.dtype
        return True

    def check_point(self, point: int, inputs: Any, constants: Any) -> list[Comparison]:
        """Every reference (and repeat) comparison at sample point ``point``."""
        fn = self.kernel
        at = At(fn.layout.flatten(fn.input_value(inputs)), inputs, constants)
        rng = np.random.default_rng([self.opts.seed, point, zlib.crc32(b"reference")])
        tangents, cotangents = self._tangents(rng), self._cotangents(rng)
        out: list[Comparison] = []
        if self.problem.reference is not None:
            out += self._against_reference(point, at, tangents, cotangents)
        if self.opts.repeat >= 2:
            out += self._repeat(point, at, cotangents[:1])
        return out

    # -- the comparisons ----------------------------------------------------------------
    def _against_reference(
        self, point: int, at: At, tangents: np.ndarray, cotangents: np.ndarray
    ) -> list[Comparison]:
        v = self._versions(at)
        if v.truth is None:
            return [
                skipped(Subject(point, "-", CheckKind.REFERENCE_VALUE, "-"), str(v.why_no_truth))
            ]
        opts = self.opts
        rtol, atol = _by_dtype(opts.rtol, v.baseline_dtype), _by_dtype(opts.atol, v.baseline_dtype)
        rule = Rule(opts.factor, rtol, atol or 0.0, v.baseline_dtype, v.baseline_scale)
        ats = (at, v.truth_at(at), v.baseline_at(at))
        about = Subject(point, "-", CheckKind.REFERENCE_VALUE, "-")
        try:
            value = self._quantity(v, ats, lambda lin, a: lin.value(a))
        except _ReferenceFailed as exc:
            return [skipped(about, str(exc))]
        out = [judge(about, *_arrays(value), self._out_tensors(), rule, self._value_labels())]
        derivatives: dict[str, tuple[_Quantity, np.ndarray]] = {}
        for mode in ("fwd", "rev"):
            if mode not in opts.modes:
                continue
            found = self._derivative(point, mode, v, ats, tangents, cotangents, rule)
            out += found[0]
            if found[1] is not None:
                derivatives[mode] = (found[1], tangents if mode == "fwd" else cotangents)
        if out[0].verdict == "fail" and derivatives:
            out += self._own_forward(point, v, ats, derivatives, rule)
        return out

    def _derivative(
        self,
        point: int,
        mode: str,
        v: Versions,
        ats: tuple[At, At, At],
        tangents: np.ndarray,
        cotangents: np.ndarray,
        rule: Rule,
    ) -> tuple[list[Comparison], _Quantity | None]:
        """The JVP (``fwd``) or VJP (``rev``) comparisons of every input, and the arrays."""
        kind = CheckKind.REFERENCE_JVP if mode == "fwd" else CheckKind.REFERENCE_VJP
        names = self.kernel.names
        why = self.kernel.supports(mode, ats[0])
        try:
            if why is None:
                rows = tangents if mode == "fwd" else cotangents
                call = _jvps if mode == "fwd" else _vjps
                q = self._quantity(v, ats, lambda lin, a: call(lin, a, rows))
                return [self._judge(point, kind, name, q, rule) for name in names], q
        except _ReferenceFailed as exc:
            why = str(exc)
        return [skipped(Subject(point, name, kind, "directions"), str(why)) for name in names], None

    def _own_forward(
        self,
        point: int,
        v: Versions,
        ats: tuple[At, At, At],
        derivatives: dict[str, tuple[_Quantity, np.ndarray]],
        rule: Rule,
    ) -> list[Comparison]:
        """The kernel's derivatives against the float64 derivatives of its own forward (the
        value already disagrees with the reference), with the reference's tolerances."""
        if v.own_forward is None:
            self.no_own_forward = True
            return []
        out = []
        for mode, (q, rows) in derivatives.items():
            call = _jvps if mode == "fwd" else _vjps
            own = _Quantity(q.kernel, call(v.own_forward, ats[1], rows), q.baseline)
            kind = CheckKind.SELF_JVP if mode == "fwd" else CheckKind.SELF_VJP
            out += [self._judge(point, kind, name, own, rule) for name in self.kernel.names]
        return out

    def _judge(
        self, point: int, kind: CheckKind, name: str, q: _Quantity, rule: Rule
    ) -> Comparison:
        """One input's JVPs (its rows, every output) or VJPs (its columns, every cotangent)."""
        about = Subject(point, name, kind, "directions")
        if kind in (CheckKind.REFERENCE_JVP, CheckKind.SELF_JVP):
            k = self.opts.directions
            rows = slice(self.kernel.names.index(name) * k, (self.kernel.names.index(name) + 1) * k)
            parts = (q.kernel[rows], q.truth[rows], q.baseline[rows])
            return judge(about, *parts, self._out_tensors(), rule, self._jvp_labels(name))
        seg = self.kernel.layout.segments[name]
        parts = (q.kernel[:, seg], q.truth[:, seg], q.baseline[:, seg])
        return judge(about, *parts, self._in_tensors(name), rule, self._vjp_labels(name))

    def _repeat(self, point: int, at: At, cotangent: np.ndarray) -> list[Comparison]:
        names = self.kernel.names
        why = self.kernel.supports("rev", at) if "rev" in self.opts.modes else "rev is not checked"
        if why is not None:
            return [skipped(Subject(point, n, CheckKind.REPEAT, "directions"), why) for n in names]
        kernel = self._linear_kernel()
        segments = {n: self.kernel.layout.segments[n] for n in names}
        labels = {n: self._vjp_labels(n) for n in names}
        return repeat_vjp(point, kernel, at, cotangent, self.opts.repeat, segments, labels)

    # -- versions, rows, tensors and labels ----------------------------------------------
    def _versions(self, at: At) -> Versions:
        """The compiled versions, kept with the problem: checking it again reuses them."""
        key = ("reference-versions", self.kernel.names, self.problem.reference)
        found: Versions | None = self.problem.cache.get(key)
        if found is None:
            found = versions(self.kernel, self.problem.reference, at)
            self.problem.cache[key] = found
        return found

    def _linear_kernel(self) -> Linear:
        key = ("reference-kernel", self.kernel.names)
        found: Linear | None = self.problem.cache.get(key)
        if found is None:
            found = Linear(self.kernel.g)
            self.problem.cache[key] = found
        return found

    def _quantity(
        self, v: Versions, ats: tuple[At, At, At], run: Callable[[Linear, At], np.ndarray]
    ) -> _Quantity:
        """``run`` on every version: the kernel's failures propagate (the check cannot run),
        the reference's become ``_ReferenceFailed`` (its comparisons are skipped)."""
        kernel = run(v.kernel, ats[0])
        assert v.truth is not None
        try:
            truth = run(v.truth, ats[1])
            with np.errstate(invalid="ignore", over="ignore"):
                error = np.abs(run(v.baseline, ats[2]) - truth)
        except Exception as exc:  # the reference has no such mode, or fails on this point
            raise _ReferenceFailed(f"the reference: {failure(exc)}") from exc
        return _Quantity(kernel, truth, error)

    def _tangents(self, rng: np.random.Generator) -> np.ndarray:
        """``directions`` Gaussian tangents per input (zero elsewhere), in its own dtypes."""
        layout, k = self.kernel.layout, self.opts.directions
        rows = np.zeros((k * len(self.kernel.names), layout.size))
        for i, name in enumerate(self.kernel.names):
            seg = layout.segments[name]
            rows[i * k : (i + 1) * k, seg] = rng.standard_normal((k, seg.stop - seg.start))
        return layout.round_to_leaves(rows)

    def _cotangents(self, rng: np.random.Generator) -> np.ndarray:
        """``directions`` Gaussian cotangents (a scalar output too: never 1), in its dtypes."""
        out = self.kernel.out_layout
        return out.round_to_leaves(rng.standard_normal((self.opts.directions, out.size)))

    def _out_tensors(self) -> list[Tensor]:
        return [
            Tensor(leaf.path, slice(leaf.offset, leaf.offset + leaf.size), str(leaf.dtype))
            for leaf in self.kernel.out_layout.leaves
        ]

    def _in_tensors(self, name: str) -> list[Tensor]:
        seg = self.kernel.layout.segments[name]
        return [
            Tensor(
                leaf.path,
                slice(leaf.offset - seg.start, leaf.offset - seg.start + leaf.size),
                str(leaf.dtype),
            )
            for leaf in self.kernel.layout.leaves
            if seg.start <= leaf.offset < seg.stop
        ]

    def _value_labels(self) -> Labels:
        out = self.kernel.out_layout
        return Labels(lambda i: "value", lambda i: out.describe(i[1]))

    def _jvp_labels(self, name: str) -> Labels:
        out = self.kernel.out_layout
        return Labels(lambda i: f"{name}·v{i[0]}", lambda i: out.describe(i[1]))

    def _vjp_labels(self, name: str) -> Labels:
        layout, start = self.kernel.layout, self.kernel.layout.segments[name].start
        return Labels(lambda i: layout.describe(start + i[1]), lambda i: f"⟨u{i[0]}, ·⟩")

    # -- what the report says besides the comparisons --------------------------------------
    def notes(self, comparisons: list[Comparison]) -> list[str]:
        """Why FD was not used, both verdicts side by side, and a kernel more accurate than
        the plain implementation."""
        found = []
        for dtype in dict.fromkeys(self.fd_skipped.values()):
            names = ", ".join(n for n, d in self.fd_skipped.items() if d == dtype)
            found.append(
                f"{names}: FD not used: the kernel computes in {dtype}, whose rounding leaves "
                "finite differences nothing to resolve; the comparison with the reference is "
                "the verdict"
            )
        fd: list[Verdict] = [c.verdict for c in comparisons if c.kind in _FD_KINDS]
        ref: list[Verdict] = [
            c.verdict for c in comparisons if c.kind.is_reference and c.kind != CheckKind.REPEAT
        ]
        fd, ref = [v for v in fd if v != "skipped"], [v for v in ref if v != "skipped"]
        if fd and ref:
            found.append(
                f"verdicts: finite differences {worst_verdict(fd)}, reference {worst_verdict(ref)}"
            )
        if self.no_own_forward:
            found.append(
                "the kernel's forward cannot be evaluated in float64 (it cannot be promoted), so "
                "with a wrong value its derivatives are judged against the reference's only"
            )
        better = _more_accurate(comparisons)
        if better:
            found.append(better)
        return found


def _jvps(lin: Linear, at: At, rows: np.ndarray) -> np.ndarray:
    return lin.jvps(at, rows)


def _vjps(lin: Linear, at: At, rows: np.ndarray) -> np.ndarray:
    return lin.vjps(at, rows)


def _arrays(q: _Quantity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return q.kernel, q.truth, q.baseline


def _more_accurate(comparisons: list[Comparison]) -> str | None:
    """``the kernel is more accurate than the plain bfloat16 implementation: …`` for the
    tensors whose error stayed below the plain one's at every point."""
    worst: dict[tuple[str, str], tuple[float, str]] = {}
    names = {
        CheckKind.REFERENCE_VALUE: "value",
        CheckKind.REFERENCE_JVP: "JVP",
        CheckKind.REFERENCE_VJP: "VJP",
    }
    for c in comparisons:
        if c.kind not in names:
            continue
        for t in c.tolerances:
            key = (
                names[c.kind],
                t.tensor if c.kind != CheckKind.REFERENCE_JVP else f"{t.tensor} along {c.wrt}",
            )
            ratio = max(t.ratio, worst.get(key, (0.0, ""))[0])
            worst[key] = (ratio, t.baseline_dtype)
    better = [(k, r, d) for k, (r, d) in worst.items() if 0 < r < 1]
    if not better:
        return None
    dtype = better[0][2]
    parts = ", ".join(f"{what} of {tensor} ({r:.2g}× its error)" for (what, tensor), r, _ in better)
    return f"the kernel is more accurate than the plain {dtype} implementation: {parts}"


def _by_dtype(value: float | Mapping[str, float] | None, dtype: str) -> float | None:
    """A tolerance given as a number, or as a dict by dtype (``check_function``'s ``rtol``
    and ``atol``, as check_grads takes them): its entry for ``dtype``, else None."""
    if isinstance(value, Mapping):
        found = value.get(dtype)
        return None if found is None else float(found)
    return value
