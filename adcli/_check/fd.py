"""The FD references of one input at one point, each screened first and refined
(``adcli._numerics.refine``) only where the screen cannot decide it, or it is untrusted or
disagrees with the AD values it will be compared with: g along directions and along
coordinates, the gradient along directions (for HVPs and ``expect`` Hessians) and the JVP
along directions (for forward-over-forward)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from adcli._check.point import Pairing, Point, dot_scale, pairing
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import directional_scale
from adcli._numerics.refine import failing_rows, fd_estimate, tight

NeedsMore = Callable[[fdiff.Estimate], np.ndarray]


def screening(pt: Point, rows: np.ndarray, decided: NeedsMore | None) -> NeedsMore | None:
    """``decided`` where FD over ``rows`` is worth screening at this point's size
    (``Evaluator.screens``), else None: every row takes the full levels."""
    return decided if decided is not None and pt.evals.screens(len(rows)) else None


def directions_fd(
    pt: Point,
    dirs: np.ndarray,
    jvps: np.ndarray | None = None,
    vjps: np.ndarray | None = None,
    cots: np.ndarray | None = None,
    pairs: Pairing | None = None,
) -> fdiff.Estimate:
    """FD of g along each direction (K, m), refined where it is untrusted or disagrees
    with ``jvps`` (K, m) or with ``vjps`` (J, d) contracted with ``cots`` (J, m)
    (``pairs``: their :class:`Pairing` with ``dirs``, when the caller has it)."""

    def sample(rows: np.ndarray, h: float, stencil: fdiff.Stencil) -> np.ndarray:
        picked = dirs if len(rows) == len(dirs) else dirs[rows]  # all rows: no K × d copy
        return pt.evals.fd_directions(pt.ref_at, picked, h, stencil, ref=pt.use_ref)

    if vjps is not None and cots is not None and pairs is None:
        pairs = pairing(dirs, vjps)

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        candidates = [jvps] if jvps is not None else []
        more = failing_rows(e, candidates, directional_scale(e.value), pt.rtol, pt.atol)
        if pairs is not None and cots is not None:
            ref = e.value @ cots.T
            tol = (
                2 * (np.where(e.trusted, e.error, 0) @ np.abs(cots).T)
                + pt.rtol * (np.abs(ref) + dot_scale(pt, ref, pairs.sizes))
                + pt.atol
            )
            more |= (np.abs(pairs.dots - ref) > tol).any(axis=1)
        return more

    return fd_estimate(
        sample,
        len(dirs),
        pt.eps,
        needs_more,
        pt.max_step,
        screening(pt, dirs, directional_decided(pt, needs_more)),
    )


def directional_decided(pt: Point, needs_more: NeedsMore) -> NeedsMore:
    """Rows a screened estimate of directional derivatives decides: none of
    ``needs_more``'s reasons, every bound within ``tight``'s share of the tolerance."""

    def decided(e: fdiff.Estimate) -> np.ndarray:
        base = pt.rtol * (np.abs(e.value) + directional_scale(e.value)) + pt.atol
        found: np.ndarray = ~needs_more(e) & tight(e, base)
        return found

    return decided


def coordinates_fd(
    pt: Point, coords: np.ndarray, needs_more: NeedsMore, decided: NeedsMore | None = None
) -> fdiff.Estimate:
    """FD of g along each coordinate in ``coords``, stepped by its scale: (C, m), screened
    first when ``decided`` says which rows a screened estimate decides."""

    def sample(rows: np.ndarray, h: float, stencil: fdiff.Stencil) -> np.ndarray:
        at = pt.ref_at
        return pt.evals.fd_coordinates(at, coords[rows], pt.scale, h, stencil, ref=pt.use_ref)

    return fd_estimate(
        sample, len(coords), pt.eps, needs_more, pt.max_step, screening(pt, coords, decided)
    )


def gradient_fd(pt: Point, u: np.ndarray, dirs: np.ndarray, hv: list[np.ndarray]) -> fdiff.Estimate:
    """FD of ∇φ along each row of ``dirs``: (K, d), refined where it disagrees with ``hv``."""

    def sample(rows: np.ndarray, h: float, stencil: fdiff.Stencil) -> np.ndarray:
        return pt.evals.fd_gradient(pt.ref_at, u, dirs[rows], h, stencil)

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        tol = 2 * np.where(e.trusted, e.error, 0) + pt.rtol * (
            np.abs(e.value) + directional_scale(e.value)
        )
        bad = ~e.trusted
        for ad in hv:
            bad = bad | (np.abs(ad - e.value) > tol + pt.atol)
        return np.asarray(bad.any(axis=1))

    return fd_estimate(
        sample,
        len(dirs),
        pt.eps,
        needs_more,
        pt.max_step,
        screening(pt, dirs, directional_decided(pt, needs_more)),
    )


def second_fwd_fd(pt: Point, u: np.ndarray, pairs: np.ndarray, ad: np.ndarray) -> fdiff.Estimate:
    """FD of ⟨u, J·v⟩ along w for each pair (v, w): (K, 1), refined where it disagrees
    with ``ad`` (vᵀHw by forward-over-forward)."""

    def sample(rows: np.ndarray, h: float, stencil: fdiff.Stencil) -> np.ndarray:
        return pt.evals.fd_second_fwd(pt.ref_at, u, pairs[rows], h, stencil)

    def needs_more(e: fdiff.Estimate) -> np.ndarray:
        tol = 2 * np.where(e.trusted, e.error, 0) + pt.rtol * 2 * np.abs(e.value) + pt.atol
        more: np.ndarray = (~e.trusted | (np.abs(ad - e.value) > tol)).any(axis=1)
        return more

    def decided(e: fdiff.Estimate) -> np.ndarray:
        found: np.ndarray = ~needs_more(e) & tight(e, pt.rtol * 2 * np.abs(e.value) + pt.atol)
        return found

    return fd_estimate(
        sample, len(pairs), pt.eps, needs_more, pt.max_step, screening(pt, pairs, decided)
    )
