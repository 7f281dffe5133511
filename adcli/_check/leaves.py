"""An input's leaves (a model's layers and parameters) for the directions method.

A random direction v over a whole model sums ⟨g, v⟩ over thousands of terms of both signs:
the sum cancels to about √n of them, while rounding allowances grow with all n. A 1% error
in one layer's rule then moves the sum by less than the allowance at some seeds. Along the
AD gradient itself, restricted to one leaf (``aligned_directions``), every term ⟨gᵢ, vᵢ⟩ is
positive: nothing cancels, and a 1% error in that leaf moves the sum by 1%. The same
directions say which leaves are wrong.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np

from adcli._check.point import Point

MAX_BLOCKS = 32  # beyond this many leaves, neighbouring leaves share a block


@dataclass(frozen=True)
class Block:
    """A run of flat coordinates [lo, hi) of one input: one leaf, or neighbouring leaves."""

    label: str
    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo


def leaf_blocks(pt: Point) -> list[Block]:
    """This input's leaves as blocks (at most ``MAX_BLOCKS``; an array input is one)."""
    leaves = [
        leaf
        for leaf in pt.fn.layout.leaves
        if pt.segment.start <= leaf.offset < pt.segment.stop and leaf.size
    ]
    if len(leaves) <= 1:
        return [Block(pt.name, pt.segment.start, pt.segment.stop)]
    groups: list[list[int]] = [[i] for i in range(len(leaves))]
    while len(groups) > MAX_BLOCKS:  # merge the smallest neighbouring pair
        sizes = [sum(leaves[i].size for i in g) for g in groups]
        j = int(np.argmin([a + b for a, b in itertools.pairwise(sizes)]))
        groups[j : j + 2] = [groups[j] + groups[j + 1]]
    blocks = []
    for group in groups:
        first, last = leaves[group[0]], leaves[group[-1]]
        label = first.path if len(group) == 1 else f"{first.path} … {last.path}"
        blocks.append(Block(label, first.offset, last.offset + last.size))
    return blocks


def aligned_directions(
    pt: Point, grad: np.ndarray, blocks: list[Block]
) -> tuple[np.ndarray, list[Block]]:
    """For each block, the direction of the AD gradient ``grad`` (d,) restricted to it, in
    the scaled coordinates of the random directions (entries of RMS 1 times |x|) and rounded
    to the leaves' dtypes; blocks where the gradient is zero or not finite get none.

    Returns the directions (B, d) and the blocks they belong to.
    """
    rows, kept = [], []
    for block in blocks:
        part = grad[block.lo : block.hi] * pt.scale[block.lo : block.hi]
        rms = float(np.sqrt(np.mean(part**2))) if part.size else 0.0
        if not (np.all(np.isfinite(part)) and rms > 0):
            continue
        rows.append(part / rms * pt.scale[block.lo : block.hi])
        kept.append(block)
    out = np.zeros((len(rows), pt.fn.d))
    for row, block, v in zip(out, kept, rows, strict=True):
        row[block.lo : block.hi] = v
    return pt.fn.layout.round_to_leaves(out, copy=False), kept


SPOT = 8  # coordinates of each block checked one by one, every time
# A coordinate's FD step, as a fraction of the directions' (float64 references only). One
# bias of a ReLU network feeds dozens of units; at the directions' step (0.6% of |x|, or
# 0.006 for a bias at 0) some of them cross zero and bend the FD estimate by more than
# its error model allows. A step 64 times shorter rarely meets a kink, and a float64
# reference loses only 64 × 1e-16 to rounding.
SPOT_STEP = 1 / 64


def spot_coordinates(pt: Point, blocks: list[Block]) -> tuple[np.ndarray, list[Block], list[int]]:
    """A few seeded coordinates of each block as directions c·sᵢ·eᵢ (the scaled unit
    vectors, shortened by ``SPOT_STEP`` when FD is taken in float64).

    One coordinate moves few of a network's units, so its FD does not cross the ReLU kinks
    that a direction over a whole layer does; each is judged on the scale of its leaf's
    sampled coordinates, as in the ``full`` method. Returns the directions, the block of
    each and the coordinates.
    """
    owners, coords = [], []
    step = SPOT_STEP if pt.eps < 1e-12 else 1.0
    for block in blocks:
        rng = np.random.default_rng([pt.point, zlib.crc32(block.label.encode()), 5])
        picked = np.arange(block.lo, block.hi)
        if block.size > SPOT:
            picked = np.sort(rng.choice(picked, SPOT, replace=False))
        owners += [block] * len(picked)
        coords += [int(i) for i in picked]
    rows = np.zeros((len(coords), pt.fn.d))
    rows[np.arange(len(coords)), coords] = pt.scale[coords] * step
    return pt.fn.layout.round_to_leaves(rows, copy=False), owners, coords


@dataclass(frozen=True)
class Rows:
    """The directions a check of one input compares along: ``random`` Gaussian ones first,
    then one along the AD gradient per block (``aligned``), then single coordinates
    (``coords``, each in its block of ``coord_blocks``)."""

    random: int
    aligned: tuple[Block, ...] = ()
    coords: tuple[int, ...] = ()
    coord_blocks: tuple[Block, ...] = ()
    # The RMS a random direction's ⟨Jᵀu, v⟩ has over directions, ‖(Jᵀu)∘|x|‖, for each
    # cotangent u (from the AD gradient): a floor under the scale of the random rows, so
    # three directions that happen to be small do not make FD's error look large.
    expected: tuple[float, ...] = ()

    @property
    def directional(self) -> int:
        """How many rows are directions over many coordinates (random and aligned)."""
        return self.random + len(self.aligned)

    def name(self, pt: Point, k: int) -> str:
        """``x·v2`` for a random direction; ``params.w·g`` along the gradient in a leaf;
        ``params.w[3, 1]`` for a coordinate."""
        if k < self.random:
            return f"{pt.name}·v{k}"
        if k < self.directional:
            return f"{self.aligned[k - self.random].label}·g"
        return pt.fn.layout.describe(self.coords[k - self.directional])

    def block_of(self, k: int) -> Block | None:
        """The block a row belongs to (None for a random direction)."""
        if k < self.random:
            return None
        if k < self.directional:
            return self.aligned[k - self.random]
        return self.coord_blocks[k - self.directional]
