"""Hand-derived derivatives (``expect:``) against AD (tightly) and against FD.

A formula that disagrees with both is wrong; one that agrees with FD but not with AD
points at the AD rule instead. Gradients are compared element by element with the AD
gradient; against FD, element by element in the ``full`` method or along the check's
random directions otherwise. Hessians are compared as products H·w with the HVPs and
with FD of the gradient (w = the unit vectors when the input is small enough).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from adcli._check.fd import gradient_fd
from adcli._check.first_order import FirstOrderResult
from adcli._check.point import Point, directions_for, dot_scale, fixed
from adcli._check.second_order import hessian_products
from adcli._numerics.compare import Labels, block_rms, compare, skipped
from adcli._problem.build import Problem
from adcli._problem.flat import FlatLayout
from adcli._results.check import Comparison

HESSIAN_FULL_MAX_D = 256


def check_expect(
    pt: Point, problem: Problem, first: FirstOrderResult, count: int
) -> list[Comparison]:
    """The spec's ``expect`` formulas for this input against AD and FD."""
    out: list[Comparison] = []
    if pt.name in problem.expect_grad:
        out += _grad(pt, problem, first)
    if pt.name in problem.expect_hessian:
        out += _hessian(pt, problem, count)
    return out


def _evaluate(pt: Point, problem: Problem, kind: str) -> np.ndarray:
    fn = getattr(problem, f"expect_{kind}")[pt.name]
    return np.asarray(problem.evaluate(f"expect-{kind}-{pt.name}", fn, pt.inputs, pt.constants))


def _grad(pt: Point, problem: Problem, first: FirstOrderResult) -> list[Comparison]:
    cols = pt.columns
    own = FlatLayout(problem.input_structs[pt.name], pt.name)
    expected = np.asarray(own.flatten(_evaluate(pt, problem, "grad")))
    s = pt.scale[cols]
    layout = pt.fn.layout
    labels = Labels(
        lambda i: layout.describe(int(cols[i[-1]])), fixed(pt.fn.out_layout.describe(0))
    )
    out: list[Comparison] = []
    ad_grad = None
    if pt.method == "full" and "rev" in first.jacobians:  # the VJP already made (no compile)
        ad_grad = first.jacobians["rev"][:, 0] / s
    elif pt.modes.get("rev", "off") is None:
        ad_grad = pt.evals.vjp(pt.at, np.ones((1, 1)))[0][cols]
    elif pt.method == "full" and "fwd" in first.jacobians:
        ad_grad = first.jacobians["fwd"][:, 0] / s
    if ad_grad is not None:
        scale = block_rms(ad_grad * s) / s
        out.append(
            compare(pt.about("expect-grad:ad"), expected, ad_grad, scale, pt.tolerance, labels)
        )
    est = first.fd.take((slice(None), 0))
    if pt.method == "full":
        scale = block_rms(est.value) / s
        about = pt.about("expect-grad:fd", "full")
        out.append(compare(about, expected, est.per_unit(s), scale, pt.tolerance, labels))
        return out
    assert first.directions is not None  # the directions method drew them
    dirs = first.directions[:, cols]
    scale = dot_scale(pt, est.value, np.abs(dirs) @ np.abs(expected))
    rows = first.rows
    labels = Labels(
        (lambda i: rows.name(pt, i[0])) if rows else (lambda i: f"{pt.name}·v{i[0]}"),
        labels.output,
    )
    about = pt.about("expect-grad:fd", "directions")
    out.append(compare(about, dirs @ expected, est, scale, pt.tolerance, labels))
    return out


def _complex(pt: Point) -> bool:
    """Whether this input has a complex leaf."""
    return any(
        leaf.is_complex
        for leaf in pt.fn.layout.leaves
        if pt.segment.start <= leaf.offset < pt.segment.stop
    )


def _hessian(pt: Point, problem: Problem, count: int) -> list[Comparison]:
    if _complex(pt):
        reason = "expect.hessian is not supported for complex inputs"
        return [skipped(pt.about("expect-hessian:ad"), reason)]
    cols, d = pt.columns, pt.d
    matrix = _evaluate(pt, problem, "hessian").reshape(d, d)
    full = d <= HESSIAN_FULL_MAX_D
    if full:  # the unit vectors of this input, scaled
        dirs = np.zeros((d, pt.fn.d))
        dirs[np.arange(d), cols] = pt.scale[cols]
    else:
        dirs = directions_for(pt, count)
    expected = dirs[:, cols] @ matrix.T  # row k: H_expect · w_k
    u = np.ones(1)
    products = hessian_products(pt, u, dirs)
    arrays = {how: hv[:, cols] for how, hv in products.items() if isinstance(hv, np.ndarray)}
    unscale = pt.scale[cols][:, None] if full else np.ones((len(dirs), 1))
    s = pt.scale[cols][None, :]
    layout = pt.fn.layout
    labels = Labels(
        (lambda i: layout.describe(int(cols[i[0]]))) if full else (lambda i: f"{pt.name}·w{i[0]}"),
        lambda i: f"∂/∂{layout.describe(int(cols[i[1]]))}",
    )
    method = "full" if full else "directions"
    out: list[Comparison] = []
    for how, hv in arrays.items():
        scale = block_rms(hv * s) / s / unscale
        about = pt.about("expect-hessian:ad", method)
        comp = compare(about, expected / unscale, hv / unscale, scale, pt.tolerance, labels)
        out.append(dataclasses.replace(comp, reason=comp.reason or f"AD Hessian by {how}"))
        break  # one composition is enough for the tight check; all are checked in order 2
    if pt.modes.get("rev", "off") is not None:
        reason = "FD of the gradient needs reverse mode"
        out.append(skipped(pt.about("expect-hessian:fd", method), reason))
        return out
    candidate = np.full((len(dirs), pt.fn.d), np.nan)  # NaN: no opinion outside this input
    candidate[:, cols] = expected
    est = gradient_fd(pt, u, dirs, [candidate]).take((slice(None), cols))
    # Per unit of xᵢ along the scaled unit vectors; the step stays the relative one.
    reference = dataclasses.replace(est, value=est.value / unscale, error=est.error / unscale)
    scale = block_rms(est.value * s) / s / unscale
    about = pt.about("expect-hessian:fd", method)
    out.append(compare(about, expected / unscale, reference, scale, pt.tolerance, labels))
    return out
