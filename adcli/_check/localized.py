"""Where a failing directional check is wrong: the faulty coordinates by group testing
(``adcli._numerics.localize``), then AD against FD element by element at each of them
(for a vector output's VJP, the faulty outputs too)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from adcli._check.fd import coordinates_fd, directions_fd
from adcli._check.point import Point, coordinate_labels, dot_scale, fixed
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import Labels, Namer, block_rms, compare, directional_scale
from adcli._numerics.localize import localize, range_masks
from adcli._problem.flat import FlatLayout
from adcli._results.check import Comparison, Mismatch


def localized(
    pt: Point, comp: Comparison, mode: str, dirs: np.ndarray, cots: np.ndarray, ad: np.ndarray
) -> Comparison:
    """Find the faulty coordinates by group testing and report them element by element.

    ``ad`` holds the JVPs along ``dirs`` (``fwd``) or the VJPs of ``cots`` (``rev``).
    """
    layout = pt.fn.layout
    k = int(comp.worst[0].input_index.rpartition("v")[2]) if comp.worst else 0
    test = _subset_test(pt, mode, dirs[k], cots, ad)
    start = pt.segment.start
    found = [(lo + start, hi + start) for lo, hi in localize(test, pt.d)]
    singles = [lo for lo, hi in found if hi - lo == 1]
    names = [
        layout.describe(lo)
        if hi - lo == 1
        else f"{layout.describe(lo)} … {layout.describe(hi - 1)}"
        for lo, hi in found
    ]
    worst = list(comp.worst)
    if singles:
        worst = _element_rows(pt, mode, np.asarray(singles), ad) or worst
    text = ", ".join(names) if names else "no single coordinate (the errors only show together)"
    return dataclasses.replace(
        comp,
        locations=tuple(names),
        worst=tuple(worst),
        reason=f"localised by group testing to {text}",
    )


def _subset_test(pt: Point, mode: str, base: np.ndarray, cots: np.ndarray, ad: np.ndarray) -> Any:
    """The group test: for coordinate ranges (relative to this input), the margin of AD
    against FD along ``base`` restricted to each range."""
    evals, start = pt.evals, pt.segment.start
    j = int(np.argmax(np.abs(cots @ np.ones(pt.fn.m)))) if mode == "rev" else 0

    def test(ranges: np.ndarray) -> np.ndarray:
        sub = range_masks(ranges + start, pt.fn.d) * base
        if mode == "fwd":
            sub_ad = evals.jvp(pt.at, sub)
            # Refine only where FD itself is unsure: a subset that fails at a trusted step
            # has answered the question (the full check already confirmed the failure).
            return _row_margins(sub_ad, directions_fd(pt, sub), pt)
        sub_est = directions_fd(pt, sub)
        ref = sub_est.value @ cots[j]
        tol = (
            2 * (np.where(sub_est.trusted, sub_est.error, 0) @ np.abs(cots[j]))
            + pt.rtol * (np.abs(ref) + dot_scale(pt, ref, np.abs(sub) @ np.abs(ad[j])))
            + pt.atol
        )
        margins: np.ndarray = np.abs(sub @ ad[j] - ref) / np.maximum(tol, 1e-300)
        return margins

    return test


def _row_margins(ad: np.ndarray, est: fdiff.Estimate, pt: Point) -> np.ndarray:
    tol = (
        2 * np.where(est.trusted, est.error, 0)
        + pt.rtol * (np.abs(est.value) + directional_scale(est.value))
        + pt.atol
    )
    margins: np.ndarray = np.max(
        np.where(est.trusted, np.abs(ad - est.value) / np.maximum(tol, 1e-300), 0), axis=1
    )
    return margins


def _element_rows(pt: Point, mode: str, coords: np.ndarray, ad: np.ndarray) -> list[Mismatch]:
    """Element-level AD vs FD for the localised coordinates (∂ output / ∂ coordinate)."""
    fn = pt.fn
    s = pt.scale[coords][:, None]
    est = coordinates_fd(pt, coords, lambda e: np.asarray(~e.trusted.all(axis=1)))
    if mode == "fwd":
        units = np.zeros((len(coords), fn.d))
        units[np.arange(len(coords)), coords] = 1.0
        col = pt.evals.jvp(pt.at, units)  # (c, m)
    elif fn.m == 1:
        col = ad[0][coords][:, None]
    else:
        return _reverse_rows(pt, coords, est)
    per_unit = est.per_unit(s)
    labels = coordinate_labels(pt, coords)
    comp = compare(
        pt.about(mode, "full"), col, per_unit, block_rms(per_unit.value), pt.tolerance, labels
    )
    return list(comp.worst)


def _reverse_rows(pt: Point, coords: np.ndarray, est: fdiff.Estimate) -> list[Mismatch]:
    """For a vector output, which outputs' VJP entries are wrong at each faulty coordinate.

    A VJP gives a whole row of Jᵀ per cotangent, so the outputs are found by group testing
    too: cotangents restricted to halves of the outputs, against FD of the coordinate's
    column contracted with the same cotangent.
    """
    fn, evals, rows = pt.fn, pt.evals, []
    for k, coord in enumerate(coords):
        s = pt.scale[coord]
        fd, err = est.value[k] / s, np.where(est.trusted[k], est.error[k], np.inf) / s
        scale = float(block_rms(fd, axis=None))
        test = _output_test(pt, int(coord), fd, err, scale)
        outputs = [lo for lo, hi in localize(test, fn.m) if hi - lo == 1]
        if not outputs:
            continue
        ad = evals.vjp(pt.at, np.eye(fn.m)[outputs])[:, coord]
        reference = fdiff.Estimate(
            fd[outputs][None, :],
            err[outputs][None, :],
            np.isfinite(err[outputs])[None, :],
            np.full((1, len(outputs)), est.step[k].min() * s),
            np.zeros((1, len(outputs))),
        )
        labels = Labels(fixed(fn.layout.describe(int(coord))), _among(fn.out_layout, outputs))
        comp = compare(pt.about("rev", "full"), ad[None, :], reference, scale, pt.tolerance, labels)
        rows += list(comp.worst)
    return sorted(rows, key=lambda m: -(m.margin if m.margin == m.margin else np.inf))[:5]


def _among(layout: FlatLayout, outputs: list[int]) -> Namer:
    """Name a compared element by the output it came from (``outputs`` maps column → output)."""
    return lambda i: layout.describe(outputs[i[1]])


def _output_test(pt: Point, coord: int, fd: np.ndarray, err: np.ndarray, scale: float) -> Any:
    """The group test over outputs at one coordinate: VJPs of cotangents restricted to
    output ranges against FD of the coordinate's column contracted with them."""

    def test(ranges: np.ndarray) -> Any:
        masks = range_masks(ranges, pt.fn.m)
        ad = pt.evals.vjp(pt.at, masks)[:, coord]
        tol = 2 * masks @ err + pt.rtol * (np.abs(masks @ fd) + scale) + pt.atol
        return np.abs(ad - masks @ fd) / np.maximum(tol, 1e-300)

    return test
