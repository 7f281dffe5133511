"""Where a failing directional check is wrong: first which leaves (a model's layers and
parameters), then, within each, how many coordinates.

Leaves come from the directions along the AD gradient in each leaf (``adcli._check.leaves``)
that failed, or else from restricting the worst random direction to each leaf. Within a
failing leaf a seeded sample of coordinates is checked element by element, which counts the
wrong ones ("438 of 565 tested"); where none of the sample is wrong (an error confined to a
few coordinates) group testing (``adcli._numerics.localize``) finds them.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from adcli._check.fd import coordinates_fd, directions_fd
from adcli._check.leaves import Block, Rows, leaf_blocks
from adcli._check.point import Point, coordinate_labels, dot_scale, fixed
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import (
    Labels,
    Namer,
    block_rms,
    compare,
    directional_scale,
    margins,
    ratio_pattern,
)
from adcli._numerics.localize import localize, range_masks
from adcli._problem.flat import FlatLayout
from adcli._results.check import Comparison, Mismatch

if TYPE_CHECKING:
    from adcli._check.first_order import Terms

SAMPLE = 64  # coordinates checked one by one in each failing leaf
LEAVES_EXAMINED = 4  # failing leaves examined coordinate by coordinate, worst first


@dataclass(frozen=True)
class _Found:
    """What the coordinate checks found in one leaf."""

    block: Block
    tested: int
    wrong: np.ndarray  # the wrong coordinates among those tested (flat indices)
    rows: tuple[Mismatch, ...]
    clear: tuple[np.ndarray, np.ndarray, np.ndarray]  # (ad, ref, tol) of clear failures
    group: tuple[str, ...] = ()  # coordinates (or ranges) found by group testing


def localized(
    pt: Point,
    comp: Comparison,
    mode: str,
    rows: Rows,
    dirs: np.ndarray,
    cots: np.ndarray,
    ad: np.ndarray,
    terms: Terms,
) -> Comparison:
    """The failing comparison with its leaves, wrong coordinates and their pattern.

    ``ad`` holds the JVPs along ``dirs`` (``fwd``) or the VJPs of ``cots`` (``rev``).
    """
    m = margins(terms.ad, terms.reference, terms.scale, pt.tolerance)
    decided = np.where(m.trusted | m.ad_bad, m.margin, 0.0)
    row_margin = np.max(decided.reshape(len(decided), -1), axis=1)
    worst_random = int(np.argmax(row_margin[: rows.random])) if rows.random else 0
    blocks = leaf_blocks(pt)
    failing = _failing_blocks(pt, mode, rows, row_margin, blocks, dirs[worst_random], cots, ad)
    if not failing:
        return dataclasses.replace(
            comp, reason="no single leaf: the errors only show in the whole input together"
        )
    found = []
    for block, k in failing[:LEAVES_EXAMINED]:
        found.append(_examine(pt, mode, block, dirs[k], cots, ad))
    return _summarise(pt, comp, found, len(failing), len(blocks))


def _failing_blocks(
    pt: Point,
    mode: str,
    rows: Rows,
    row_margin: np.ndarray,
    blocks: list[Block],
    base: np.ndarray,
    cots: np.ndarray,
    ad: np.ndarray,
) -> list[tuple[Block, int]]:
    """The failing leaves, worst first, each with the row to group-test it along: its own
    direction along the gradient when that failed, else the worst random direction."""
    worst = int(np.argmax(row_margin[: rows.random])) if rows.random else 0
    hits: dict[Block, tuple[float, int]] = {}
    for k in range(rows.random, len(row_margin)):
        block = rows.block_of(k)
        if row_margin[k] > 1 and block is not None:
            # Group-test along the leaf's own gradient direction when it failed.
            row = k if k < rows.directional else hits.get(block, (0.0, worst))[1]
            margin = max(float(row_margin[k]), hits.get(block, (0.0, 0))[0])
            hits[block] = (margin, row)
    if hits:
        return [(b, k) for b, (_, k) in sorted(hits.items(), key=lambda h: -h[1][0])]
    if len(blocks) == 1:
        return [(blocks[0], worst)]
    ranges = np.asarray([[b.lo, b.hi] for b in blocks]) - pt.segment.start
    found = _subset_test(pt, mode, base, cots, ad)(ranges)
    order = np.argsort(-found)
    return [(blocks[i], worst) for i in order if found[i] > 1]


def _examine(
    pt: Point, mode: str, block: Block, base: np.ndarray, cots: np.ndarray, ad: np.ndarray
) -> _Found:
    """Check a seeded sample of the leaf's coordinates one by one; where none of them is
    wrong, find the few that are by group testing along ``base``."""
    size = block.size
    rng = np.random.default_rng([pt.point, zlib.crc32(block.label.encode())])
    coords = np.arange(block.lo, block.hi)
    if size > SAMPLE:
        coords = np.sort(rng.choice(coords, SAMPLE, replace=False))
    comp, mg = _coordinates(pt, mode, coords, cots, ad)
    bad = mg.failed.reshape(len(coords), -1).any(axis=1)
    clear = mg.failed & ~mg.ad_bad
    found = _Found(
        block, len(coords), coords[bad], comp.worst, (mg.ad[clear], mg.ref[clear], mg.tol[clear])
    )
    if bad.mean() >= 0.25:
        return found
    start = block.lo
    test = _subset_test(pt, mode, base, cots, ad, start=start)
    hits = [(lo + start, hi + start) for lo, hi in localize(test, size)]
    layout = pt.fn.layout
    names = tuple(
        layout.describe(lo)
        if hi - lo == 1
        else f"{layout.describe(lo)} … {layout.describe(hi - 1)}"
        for lo, hi in hits
    )
    singles = np.asarray([lo for lo, hi in hits if hi - lo == 1], dtype=np.int64)
    rows = found.rows
    if singles.size and not set(found.wrong) - set(singles):
        rows = tuple(_element_rows(pt, mode, singles, ad)) or rows
    return dataclasses.replace(found, rows=rows, group=names or ("",))


def _summarise(
    pt: Point, comp: Comparison, found: list[_Found], failing: int, leaves: int
) -> Comparison:
    """The comparison with what the leaves showed: reason, locations, worst rows, pattern."""
    parts, locations, rows = [], [], []
    layout = pt.fn.layout
    for f in found:
        counted = _counted(f)
        if f.group:
            text = ", ".join(f.group) if f.group != ("",) else "no single coordinate"
            text = f"localised by group testing to {text}"
            if f.group == ("",):
                text += " (the errors only show together)"
            only_those = {layout.describe(int(i)) for i in f.wrong} <= set(f.group)
            parts.append(text if only_those else f"{text}; {counted}")
            locations += [g for g in f.group if g]
        else:
            parts.append(counted)
            locations += [layout.describe(int(i)) for i in f.wrong]
        rows += list(f.rows)
    reason = "; ".join(parts)
    if leaves > 1:
        more = f", the {len(found)} worst examined" if failing > len(found) else ""
        reason = f"wrong in {failing} of {leaves} leaves{more}: {reason}"
    rows.sort(key=lambda r: -(r.margin if r.margin == r.margin else np.inf))
    ad, ref, tol = (np.concatenate([f.clear[i] for f in found]) for i in range(3))
    pattern = ratio_pattern(ad, ref, tol, comp.kind.labels) if ad.size else None
    return dataclasses.replace(
        comp,
        locations=tuple(dict.fromkeys(locations))[:8],
        worst=tuple(rows[:5]) or comp.worst,
        reason=reason,
        diagnosis=pattern or comp.diagnosis,
    )


def _counted(f: _Found) -> str:
    """``5 of 64 coordinates tested in params.w disagree (of its 4096)``."""
    wrong, label = len(f.wrong), f.block.label
    if f.tested == f.block.size:
        what = f"all {f.tested}" if wrong == f.tested and wrong > 1 else f"{wrong} of {f.tested}"
        return f"{what} coordinates of {label} disagree"
    return f"{wrong} of {f.tested} coordinates tested in {label} disagree (of its {f.block.size})"


def _coordinates(
    pt: Point, mode: str, coords: np.ndarray, cots: np.ndarray, ad: np.ndarray
) -> tuple[Comparison, Any]:
    """AD against FD at each coordinate: ∂out/∂xᵢ by JVPs (``fwd``); for ``rev`` the VJP's
    entry (Jᵀu)ᵢ against ⟨u, FD along eᵢ⟩ (the cotangent with the largest sum)."""
    s = pt.scale[coords][:, None]
    est = coordinates_fd(pt, coords, lambda e: np.asarray(~e.trusted.all(axis=1))).per_unit(s)
    labels = coordinate_labels(pt, coords)
    if mode == "fwd":
        units = np.zeros((len(coords), pt.fn.d))
        units[np.arange(len(coords)), coords] = 1.0
        col = pt.evals.jvp(pt.at, units)  # (C, m)
        reference: fdiff.Estimate = est
    else:
        j = int(np.argmax(np.abs(cots @ np.ones(pt.fn.m)))) if pt.fn.m > 1 else 0
        u = cots[j] if pt.fn.m > 1 else np.ones(1)
        col = ad[j][coords][:, None]
        trusted = np.asarray(est.trusted.all(axis=1, keepdims=True))
        reference = fdiff.Estimate(
            est.value @ u[:, None],
            np.where(est.trusted, est.error, 0.0) @ np.abs(u)[:, None],
            trusted,
            np.min(est.step, axis=1, keepdims=True),
            np.zeros((len(coords), 1)),
        )
        if pt.fn.m > 1:
            labels = Labels(labels.input, fixed(f"⟨u{j}, ·⟩"))
    scale = block_rms(reference.value)
    about = pt.about(mode, "full")
    return (
        compare(about, col, reference, scale, pt.tolerance, labels),
        margins(col, reference, scale, pt.tolerance),
    )


def _subset_test(
    pt: Point,
    mode: str,
    base: np.ndarray,
    cots: np.ndarray,
    ad: np.ndarray,
    *,
    start: int | None = None,
) -> Any:
    """The group test: for coordinate ranges (relative to ``start``, by default this
    input's first coordinate), the margin of AD against FD along ``base`` restricted to
    each range."""
    evals = pt.evals
    start = pt.segment.start if start is None else start
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
        found: np.ndarray = np.abs(sub @ ad[j] - ref) / np.maximum(tol, 1e-300)
        return found

    return test


def _row_margins(ad: np.ndarray, est: fdiff.Estimate, pt: Point) -> np.ndarray:
    tol = (
        2 * np.where(est.trusted, est.error, 0)
        + pt.rtol * (np.abs(est.value) + directional_scale(est.value))
        + pt.atol
    )
    found: np.ndarray = np.max(
        np.where(est.trusted, np.abs(ad - est.value) / np.maximum(tol, 1e-300), 0), axis=1
    )
    return found


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
