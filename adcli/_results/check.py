"""What ``adcli check`` returns: compared elements, comparisons, a spec's result, the report.

Imports neither jax nor rich. ``adcli._results.json`` gives the stable JSON form documented
in docs/json.md (``schema_version`` changes only with an incompatible change).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from adcli._results.common import SpecHeader, Verdict, worst_verdict


class CheckKind(StrEnum):
    """What a Comparison compares (docs/json.md, "Kinds"); the value is the JSON string.

    ``text`` is the words the reports use; ``labels`` is (computed, reference) for messages
    such as "sign flip: AD = −FD".
    """

    FWD = "fwd"
    REV = "rev"
    ADJOINT = "adjoint"
    HVP_FWD_OVER_REV = "hvp:fwd-over-rev"
    HVP_REV_OVER_REV = "hvp:rev-over-rev"
    HVP_REV_OVER_FWD = "hvp:rev-over-fwd"  # curvature's --hvp-strategy only
    HVP_FWD_OVER_FWD = "hvp:fwd-over-fwd"
    HESSIAN_SYMMETRY = "hessian-symmetry"
    EXPECT_GRAD_AD = "expect-grad:ad"
    EXPECT_GRAD_FD = "expect-grad:fd"
    EXPECT_HESSIAN_AD = "expect-hessian:ad"
    EXPECT_HESSIAN_FD = "expect-hessian:fd"
    VALUE = "value"
    # Against a trusted reference implementation (``reference:``, docs/reference.md).
    REFERENCE_VALUE = "reference-value"
    REFERENCE_JVP = "reference-jvp"
    REFERENCE_VJP = "reference-vjp"
    # A kernel whose value disagrees: its derivatives against those of its own forward.
    SELF_JVP = "self-jvp"
    SELF_VJP = "self-vjp"
    REPEAT = "repeat"
    # --parity on a sharded spec (docs/sharding.md): the sharded program against the same
    # computation with every input on one device.
    PARITY_VALUE = "parity:value"
    PARITY_FWD = "parity:fwd"
    PARITY_REV = "parity:rev"

    @classmethod
    def hvp(cls, how: str) -> CheckKind:
        """The kind of a Hessian-vector product composed ``how`` (``fwd-over-rev``, ...)."""
        return cls(f"hvp:{how}")

    @classmethod
    def higher(cls, order: int, mode: str) -> CheckKind:
        """The kind of an order-k directional derivative (k >= 3) by ``mode``: ``d3:fwd``
        (k nested JVPs) or ``d3:rev`` (the gradient of k − 1 nested JVPs, or k nested
        gradients without forward mode)."""
        return cls(f"d{order}:{mode}")

    @classmethod
    def _missing_(cls, value: object) -> CheckKind | None:
        # Orders 3, 4, ... have no fixed list: ``d<k>:fwd``/``d<k>:rev`` are made on demand
        # (one member per value, so ``is`` and ``==`` work as for the others).
        match = _HIGHER.fullmatch(str(value))
        if match is None:
            return None
        member = str.__new__(cls, str(value))
        member._value_ = str(value)
        member._name_ = f"D{match[1]}_{match[2].upper()}"
        found = cls._value2member_map_.setdefault(str(value), member)
        return found if isinstance(found, CheckKind) else None

    @property
    def order(self) -> int:
        """The order of the derivative compared (1 for first-order kinds)."""
        match = _HIGHER.fullmatch(self.value)
        if match is not None:
            return int(match[1])
        return 2 if self.value.startswith(("hvp", "hessian", "expect-hessian")) else 1

    @property
    def text(self) -> str:
        """What is compared, in words: ``forward mode (JVP) vs FD``."""
        if self in _TEXT:
            return _TEXT[self]
        k, how = self.order, self.value.partition(":")[2]
        way = f"{k} nested JVPs" if how == "fwd" else "gradient of nested derivatives"
        return f"order-{k} directional derivative, {way}, vs FD of order {k - 1}"

    @property
    def labels(self) -> tuple[str, str]:
        """(computed, reference) as messages name them: ``("AD", "FD")``."""
        return _LABELS.get(self, ("AD", "FD"))

    @property
    def is_expect(self) -> bool:
        """A hand formula (``expect:``) against AD or FD: its computed value is the formula's."""
        return self in _EXPECT

    @property
    def is_reference(self) -> bool:
        """A kernel against a reference (``reference-*``, ``self-*``, ``repeat``)."""
        return self in _REFERENCE


_TEXT = {
    CheckKind.FWD: "forward mode (JVP) vs FD",
    CheckKind.REV: "reverse mode (VJP) vs FD",
    CheckKind.ADJOINT: "adjoint identity ⟨u, Jv⟩ (fwd) = ⟨Jᵀu, v⟩ (rev)",
    CheckKind.HVP_FWD_OVER_REV: "Hessian-vector product, fwd-over-rev, vs FD of the gradient",
    CheckKind.HVP_REV_OVER_REV: "Hessian-vector product, rev-over-rev, vs FD of the gradient",
    CheckKind.HVP_REV_OVER_FWD: "Hessian-vector product, rev-over-fwd, vs FD of the gradient",
    CheckKind.HVP_FWD_OVER_FWD: "vᵀHw, fwd-over-fwd, vs FD of the JVP",
    CheckKind.HESSIAN_SYMMETRY: "Hessian symmetry wᵀHv = vᵀHw",
    CheckKind.EXPECT_GRAD_AD: "expect.grad formula vs AD",
    CheckKind.EXPECT_GRAD_FD: "expect.grad formula vs FD",
    CheckKind.EXPECT_HESSIAN_AD: "expect.hessian formula vs AD",
    CheckKind.EXPECT_HESSIAN_FD: "expect.hessian formula vs FD",
    CheckKind.VALUE: "function value",
    CheckKind.REFERENCE_VALUE: "value vs the reference (float64)",
    CheckKind.REFERENCE_JVP: "JVP vs the reference's JVP (float64)",
    CheckKind.REFERENCE_VJP: "VJP vs the reference's VJP (float64)",
    CheckKind.SELF_JVP: "JVP vs the float64 JVP of the kernel's own forward",
    CheckKind.SELF_VJP: "VJP vs the float64 VJP of the kernel's own forward",
    CheckKind.REPEAT: "repeated VJP, bitwise",
    CheckKind.PARITY_VALUE: "sharded vs one device: function value",
    CheckKind.PARITY_FWD: "sharded vs one device: JVPs",
    CheckKind.PARITY_REV: "sharded vs one device: VJPs",
}
_HIGHER = re.compile(r"d([3-9]|[1-9][0-9]+):(fwd|rev)")
_EXPECT = frozenset(
    {
        CheckKind.EXPECT_GRAD_AD,
        CheckKind.EXPECT_GRAD_FD,
        CheckKind.EXPECT_HESSIAN_AD,
        CheckKind.EXPECT_HESSIAN_FD,
    }
)
_REFERENCE = frozenset(
    {
        CheckKind.REFERENCE_VALUE,
        CheckKind.REFERENCE_JVP,
        CheckKind.REFERENCE_VJP,
        CheckKind.SELF_JVP,
        CheckKind.SELF_VJP,
        CheckKind.REPEAT,
    }
)
_LABELS = {
    CheckKind.ADJOINT: ("fwd", "rev"),
    CheckKind.HESSIAN_SYMMETRY: ("wᵀHv", "vᵀHw"),
    CheckKind.EXPECT_GRAD_AD: ("the formula", "AD"),
    CheckKind.EXPECT_HESSIAN_AD: ("the formula", "AD"),
    CheckKind.EXPECT_GRAD_FD: ("the formula", "FD"),
    CheckKind.EXPECT_HESSIAN_FD: ("the formula", "FD"),
    CheckKind.REFERENCE_VALUE: ("the kernel", "the reference"),
    CheckKind.REFERENCE_JVP: ("the kernel", "the reference"),
    CheckKind.REFERENCE_VJP: ("the kernel", "the reference"),
    CheckKind.SELF_JVP: ("the kernel", "its own forward"),
    CheckKind.SELF_VJP: ("the kernel", "its own forward"),
    CheckKind.REPEAT: ("a later run", "the first run"),
    CheckKind.PARITY_VALUE: ("sharded", "one device"),
    CheckKind.PARITY_FWD: ("sharded", "one device"),
    CheckKind.PARITY_REV: ("sharded", "one device"),
}


@dataclass(frozen=True)
class Mismatch:
    """One compared element: where it is, both values and how far apart against the tolerance.

    ``input_index``/``output_index`` are readable locations such as ``x[3]`` or
    ``params['w1'][0, 2]``; for comparisons of directional derivatives they name the
    direction (``x·v2``) or the cotangent (``⟨u1, ·⟩``) instead.
    """

    input_index: str
    output_index: str
    ad: float
    reference: float
    step: float | None
    fd_error: float | None
    tolerance: float
    margin: float

    @property
    def abs_error(self) -> float:
        return abs(self.ad - self.reference)

    @property
    def rel_error(self) -> float:
        scale = max(abs(self.reference), abs(self.ad))
        return self.abs_error / scale if scale > 0 else 0.0


@dataclass(frozen=True)
class TensorTolerance:
    """How a reference comparison set the tolerance of one compared tensor (docs/reference.md).

    Errors are against the reference evaluated in float64. The *baseline* is the error of
    the plain reference run in ``baseline_dtype`` (times ``baseline_scale``: 1, or 2⁻²⁹
    when a float64 kernel's baseline is estimated from a float32 run). Each element passes
    when its error is within ``factor`` × ``baseline_error`` + its rounding floor (the unit
    roundoff of ``dtype`` times the element, or ``check.rtol`` times it, plus ``check.atol``);
    ``floor`` and ``tolerance`` are those of the worst element, and ``set_by`` says which
    of the two terms is larger there.
    """

    tensor: str  # what was compared: an output (``out``, ``out[1]``) or an input's VJP (``q``)
    dtype: str  # the dtype the kernel gives it in
    kernel_error: float  # max |kernel − reference in float64|
    baseline_error: float  # max |plain reference in baseline_dtype − reference in float64|
    factor: float
    floor: float
    tolerance: float
    set_by: Literal["baseline", "floor"]
    baseline_dtype: str
    baseline_scale: float = 1.0

    @property
    def ratio(self) -> float:
        """kernel_error ÷ baseline_error (inf when only the baseline is exact, 0 when both are)."""
        if self.baseline_error > 0:
            return self.kernel_error / self.baseline_error
        return math.inf if self.kernel_error > 0 else 0.0

    @property
    def accuracy(self) -> str:
        """The kernel's error in words, against the plain implementation's."""
        plain = f"the plain {self.baseline_dtype} implementation"
        if self.ratio == 0:
            return f"exact, as is {plain}"
        if self.ratio == math.inf:
            return f"{plain} is exact here"
        if self.ratio < 1:
            return f"more accurate than {plain} ({times(self.ratio)}× its error)"
        return f"{times(self.ratio)}× the error of {plain}"


def times(ratio: float) -> str:
    """A ratio for words: two significant digits, whole numbers from 100 to 10⁵ (``390``)."""
    return f"{ratio:.0f}" if 100 <= ratio < 1e5 else f"{ratio:.2g}"


@dataclass(frozen=True)
class Comparison:
    """One check at one point for one input: e.g. reverse mode against finite differences.

    ``kind`` says what is compared (a CheckKind: ``fwd`` is JVP vs FD, ...).
    ``margin`` is the largest |AD − reference| ÷ tolerance over the compared elements
    (≤ 1 passes); ``worst`` holds the worst elements, largest margin first. A comparison
    against a reference implementation says in ``tolerances`` how each compared tensor's
    tolerance was set.
    """

    point: int
    wrt: str
    kind: CheckKind
    method: str
    verdict: Verdict
    margin: float = 0.0
    compared: int = 0
    failed: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    step: float | None = None
    worst: tuple[Mismatch, ...] = ()
    reason: str | None = None
    diagnosis: str | None = None
    locations: tuple[str, ...] = ()
    tolerances: tuple[TensorTolerance, ...] = ()

    def __post_init__(self) -> None:
        # A kind given as its string (``kind="fwd"``) becomes the CheckKind it names, so a
        # Comparison built by hand renders like one built by the engine.
        if not isinstance(self.kind, CheckKind):
            object.__setattr__(self, "kind", CheckKind(self.kind))


@dataclass(frozen=True)
class SpecResult(SpecHeader):
    """Every comparison for one spec, with its verdict and the context to reproduce it."""

    name: str
    file: str | None
    line: int | None
    verdict: Verdict
    seed: int
    points: int
    dims: dict[str, int]
    backend: str
    dtypes: dict[str, str]
    method: str
    comparisons: tuple[Comparison, ...] = ()
    notes: tuple[str, ...] = ()
    diagnoses: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    # XLA programs compiled (or read from the persistent cache) while checking, of them
    # read from the cache, and the seconds they took: like ``seconds``, they depend on the
    # process (programs an earlier spec compiled are reused), not on the spec alone.
    compiles: int = 0
    compiles_cached: int = 0
    compile_seconds: float = 0.0

    @property
    def margin(self) -> float:
        """The worst margin of any comparison that was made (0 if none)."""
        margins = [c.margin for c in self.comparisons if c.verdict != "skipped"]
        # A NaN margin (an AD value that is not a number) counts as infinitely bad.
        return max((math.inf if m != m else m for m in margins), default=0.0)

    @property
    def failures(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.verdict in ("fail", "inconclusive"))


@dataclass(frozen=True)
class CheckReport:
    """The result of ``adcli check`` over one or more spec files."""

    results: tuple[SpecResult, ...]
    seconds: float = 0.0
    allow_inconclusive: bool = False
    errors: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        if self.errors:
            return "error"
        return worst_verdict(tuple(r.verdict for r in self.results))

    @property
    def exit_code(self) -> int:
        """0 all pass, 1 any failure (or inconclusive unless allowed), 2 a spec could not run."""
        if self.errors or any(r.verdict == "error" for r in self.results):
            return 2
        verdicts = {r.verdict for r in self.results}
        if "fail" in verdicts:
            return 1
        if "inconclusive" in verdicts and not self.allow_inconclusive:
            return 1
        return 0
