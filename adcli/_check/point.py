"""One input at one point: the shared state of its checks.

``Point`` carries what every comparison of an input needs (flat point, scale, tolerances,
which modes work, the RNG of its directions), with the directions and cotangents drawn
from it and the labels of compared elements.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from adcli._check.dropin import resolve_tolerance
from adcli._numerics.compare import Labels, Subject, Tolerance, default_rtol, directional_scale
from adcli._numerics.evaluate import Evaluator
from adcli._numerics.function import At, InputFunction
from adcli._problem.build import Problem
from adcli._problem.gauge import GAUGE_KEY
from adcli._problem.promote import promote
from adcli._results.check import CheckKind

FULL_MAX_D = 256
FULL_MAX_DM = 1 << 16


@dataclass
class Point:
    """Everything the checks of one input at one point share.

    Vectors (``x0``, ``scale``, directions) span every wrt input; ``segment`` is where
    this one (``name``) sits in them.
    """

    evals: Evaluator
    name: str
    segment: slice
    point: int
    method: str
    x0: jax.Array
    scale: np.ndarray  # per coordinate: |x|, or 1 where x = 0
    inputs: dict[str, Any]
    constants: dict[str, Any]
    ref_inputs: dict[str, Any]
    ref_constants: dict[str, Any]
    rtol: float
    atol: float
    eps: float  # machine epsilon of the FD reference evaluation
    rng: np.random.Generator
    modes: dict[str, str | None]  # mode -> None if usable, else why not
    dtype: str = "float64"  # the least precise dtype f computes in
    use_ref: bool = True  # FD of the float64 reference (False: of f in its own precision)
    max_step: float | None = None  # the largest FD level step (``eps``), None: adcli's own
    kinks: str = "inconclusive"  # or "subgradient": see CheckOptions.kinks

    @property
    def columns(self) -> np.ndarray:
        """Indices of this input's coordinates in the flat vector."""
        return np.arange(self.segment.start, self.segment.stop)

    @property
    def d(self) -> int:
        size: int = self.segment.stop - self.segment.start
        return size

    @property
    def fn(self) -> InputFunction:
        """g: the function of the flat wrt inputs whose derivatives are checked."""
        return self.evals.fn

    @property
    def at(self) -> At:
        """Where AD evaluates g: the point with f's own inputs and constants."""
        return At(self.x0, self.inputs, self.constants)

    @property
    def ref_at(self) -> At:
        """Where the FD reference evaluates g (with float64 inputs when promoted)."""
        return At(self.x0, self.ref_inputs, self.ref_constants)

    @property
    def tolerance(self) -> Tolerance:
        """rtol, atol, the rounding of the dtype the derivatives are computed in, and the
        kink policy."""
        eps = float(jnp.finfo(self.dtype).eps)
        rounding: Literal["comparison", "element"] = (
            "element" if self.method == "directions" else "comparison"
        )
        return Tolerance(self.rtol, self.atol, eps, self.kinks, rounding)

    def about(self, kind: CheckKind | str, method: str | None = None) -> Subject:
        """The subject of a ``kind`` comparison of this input (by its method by default)."""
        return Subject(
            self.point, self.name, CheckKind(kind), self.method if method is None else method
        )


def dot_scale(pt: Point, values: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Scale of dot products ⟨a, b⟩ (rows = directions), for their tolerance.

    The RMS over directions (as for any directional derivative), plus the rounding a dot
    product of this many terms can carry: about √d·ε·Σ|aᵢbᵢ| (``terms``), expressed in
    units of rtol. Σ|aᵢbᵢ| alone would be far too generous: with 10⁴ terms it hid a 10%
    error in one small coordinate.
    """
    eps = float(jnp.finfo(pt.dtype).eps)
    rounding = 10 * np.sqrt(max(pt.d, 1)) * eps / max(pt.rtol, eps) * terms
    scale: np.ndarray = directional_scale(values) + rounding
    return scale


@dataclass(frozen=True)
class Pairing:
    """⟨Jᵀu, v⟩ and Σᵢ|(Jᵀu)ᵢ·vᵢ| for every direction v (K rows) and VJP Jᵀu (J rows):
    (K, J) each. Each is a pass over K·d numbers (at d = 10⁶, more than a JVP costs), so
    it is computed once per set of directions and shared by the FD refinement, the rev
    comparison and the adjoint identity."""

    dots: np.ndarray
    sizes: np.ndarray


# Columns per block of ``pairing``: |v| and |Jᵀu| are taken a block at a time (a few MB
# that stay in cache), never as whole K × d copies.
PAIRING_BLOCK = 1 << 15


def pairing(dirs: np.ndarray, vjps: np.ndarray) -> Pairing:
    """The :class:`Pairing` of directions ``dirs`` (K, d) and VJPs ``vjps`` (J, d).

    By ``einsum``'s own loop rather than BLAS: for these few long rows a BLAS call cost a
    fixed ~8 ms on a busy 2-core machine (its threads waiting for a core), 10× the work."""
    sizes = np.zeros((dirs.shape[0], vjps.shape[0]))
    for lo in range(0, dirs.shape[1], PAIRING_BLOCK):
        cols = slice(lo, lo + PAIRING_BLOCK)
        sizes += np.einsum("kd,jd->kj", np.abs(dirs[:, cols]), np.abs(vjps[:, cols]))
    return Pairing(np.einsum("kd,jd->kj", dirs, vjps), sizes)


def choose_method(requested: str, d: int, m: int) -> str:
    if requested != "auto":
        return requested
    return "full" if d <= FULL_MAX_D and d * m <= FULL_MAX_DM else "directions"


def make_point(
    problem: Problem,
    evals: Evaluator,
    name: str,
    point: int,
    inputs: dict[str, Any],
    constants: dict[str, Any],
    modes: tuple[str, ...],
    method: str,
) -> Point:
    fn = evals.fn
    x0 = fn.point(inputs)
    at = At(x0, inputs, constants)
    segment = fn.layout.segments[name]
    # This input's own way through f sets its rounding allowance (and the reported dtype):
    # with a float16 x and a bfloat16 w, x's derivatives are float16-accurate.
    dtype = fn.input_dtype(name, inputs, constants)
    refs = fn.gauge_vectors(inputs, constants)
    if refs is not None:  # eigen/singular vectors: compared in the gauge of this point
        inputs = {**inputs, GAUGE_KEY: refs}
    at = At(x0, inputs, constants)
    promoted = fn.use_promoted_reference(at)
    eps = float(np.finfo(np.float64).eps) if promoted else float(jnp.finfo(dtype).eps)
    scale = np.abs(np.asarray(x0, np.float64))
    # A coordinate's scale sets its FD step: 1 where it is 0 or not finite (a step scaled
    # by an infinite coordinate would make every perturbed value inf or NaN).
    scale[~((scale > 0) & np.isfinite(scale))] = 1.0
    opts = problem.spec.check
    complex_input = any(
        leaf.is_complex for leaf in fn.layout.leaves if segment.start <= leaf.offset < segment.stop
    )
    seed_key = [opts.seed, point, zlib.crc32(name.encode())]
    support = {mode: fn.supports(mode, at) for mode in modes}
    return Point(
        evals=evals,
        name=name,
        segment=segment,
        point=point,
        method=choose_method(method, segment.stop - segment.start, fn.m),
        x0=x0,
        scale=scale,
        inputs=inputs,
        constants=constants,
        ref_inputs=promote(inputs) if promoted else inputs,
        ref_constants=promote(constants) if promoted else constants,
        rtol=resolve_tolerance(opts.rtol, dtype, default_rtol(dtype), complex_input),
        atol=resolve_tolerance(opts.atol, dtype, 0.0, complex_input),
        eps=eps,
        rng=np.random.default_rng(seed_key),
        modes=support,
        dtype=dtype,
        max_step=opts.eps,
        kinks=opts.kinks,
    )


def directions_for(pt: Point, count: int) -> np.ndarray:
    """Gaussian directions in this input's coordinates (zero elsewhere), scaled
    elementwise by |x| and rounded to the input's own dtypes."""
    drawn = pt.rng.standard_normal((count, pt.d))
    drawn *= pt.scale[pt.segment]
    if pt.d == pt.fn.d:  # the only input: no zeros around it (at d = 10⁶, 8 MB a row)
        return pt.fn.layout.round_to_leaves(drawn, copy=False)
    z = np.zeros((count, pt.fn.d))
    z[:, pt.segment] = drawn
    return pt.fn.layout.round_to_leaves(z, copy=False)


def cotangents_for(pt: Point, count: int) -> np.ndarray:
    """Gaussian cotangents (count, m), exact in f's flat dtype (so that AD and the FD
    reference contract with the very same vector)."""
    if pt.fn.m == 1:
        return np.ones((1, 1))
    drawn = pt.rng.standard_normal((count, pt.fn.m))
    return drawn.astype(pt.fn.dtype).astype(np.float64)


def coordinate_labels(pt: Point, coords: np.ndarray) -> Labels:
    """Elements (coordinate k of ``coords``, output j) named ``x[i]`` and ``out[j]``."""
    layout, out_layout = pt.fn.layout, pt.fn.out_layout
    return Labels(lambda i: layout.describe(int(coords[i[0]])), lambda i: out_layout.describe(i[1]))


def direction_labels(pt: Point, tag: str = "v") -> Labels:
    """Elements (direction k, output j) named ``x·v{k}`` and ``out[j]``."""
    out_layout = pt.fn.out_layout
    return Labels(lambda i: f"{pt.name}·{tag}{i[0]}", lambda i: out_layout.describe(i[1]))


def fixed(text: str) -> Callable[[tuple[int, ...]], str]:
    """A label that names every element the same."""
    return lambda i: text
