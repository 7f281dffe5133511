"""Hand-derived derivatives (``expect:``) against AD (tightly) and against FD.

A formula that disagrees with both is wrong; one that agrees with FD but not with AD
points at the AD rule instead. Gradients are compared element by element with the AD
gradient; against FD, element by element in the ``full`` method or along the check's
random directions otherwise. Hessians are compared as products H·w with the HVPs and
with FD of the gradient (w = the unit vectors when the input is small enough).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from adcli._check.point import Point, directions_for, dot_scale
from adcli._check.second_order import gradient_fd, hessian_products
from adcli._numerics import finite_diff as fdiff
from adcli._numerics.compare import block_rms, compare
from adcli._problem.build import Problem
from adcli._problem.flat import FlatLayout
from adcli._results.check import CheckKind, Comparison

HESSIAN_FULL_MAX_D = 256


def check_expect(
    pt: Point, problem: Problem, first: dict[str, Any], count: int
) -> list[Comparison]:
    out: list[Comparison] = []
    if pt.name in problem.expect_grad:
        out += _grad(pt, problem, first)
    if pt.name in problem.expect_hessian:
        out += _hessian(pt, problem, count)
    return out


def _evaluate(pt: Point, problem: Problem, kind: str) -> np.ndarray:
    fn = getattr(problem, f"expect_{kind}")[pt.name]
    return np.asarray(problem.evaluate(f"expect-{kind}-{pt.name}", fn, pt.inputs, pt.constants))


def _grad(pt: Point, problem: Problem, first: dict[str, Any]) -> list[Comparison]:
    probe, cols = pt.probe, pt.columns
    own = FlatLayout(problem.input_structs[pt.name], pt.name)
    expected = np.asarray(own.flatten(_evaluate(pt, problem, "grad")))
    s = pt.scale[cols]
    names: dict[str, Any] = {
        "name_in": lambda i: probe.layout.describe(int(cols[i[-1]])),
        "name_out": lambda i: probe.out_layout.describe(0),
    }
    out: list[Comparison] = []
    ad_grad = None
    if pt.modes.get("rev", "off") is None:
        ad_grad = probe.vjp(pt.x0, np.ones((1, 1)), pt.inputs, pt.constants)[0][cols]
    elif pt.method == "full" and "fwd" in first.get("jac", {}):
        ad_grad = first["jac"]["fwd"][:, 0] / s
    if ad_grad is not None:
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.EXPECT_GRAD_AD,
                method=pt.method,
                ad=expected,
                reference=ad_grad,
                scale=block_rms(ad_grad * s) / s,
                rtol=pt.rtol,
                atol=pt.atol,
                **names,
            )
        )
    est = first["fd"]
    if pt.method == "full":
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.EXPECT_GRAD_FD,
                method="full",
                ad=expected,
                reference=est.value[:, 0] / s,
                scale=block_rms(est.value[:, 0]) / s,
                rtol=pt.rtol,
                atol=pt.atol,
                fd_error=est.error[:, 0] / s,
                trusted=est.trusted[:, 0],
                step=est.step[:, 0] * s,
                slope_jump=est.slope_jump[:, 0],
                **names,
            )
        )
    else:
        dirs = first["dirs"]
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.EXPECT_GRAD_FD,
                method="directions",
                ad=dirs[:, cols] @ expected,
                reference=est.value[:, 0],
                scale=dot_scale(pt, est.value[:, 0], np.abs(dirs[:, cols]) @ np.abs(expected)),
                rtol=pt.rtol,
                atol=pt.atol,
                fd_error=est.error[:, 0],
                trusted=est.trusted[:, 0],
                step=est.step[:, 0],
                slope_jump=est.slope_jump[:, 0],
                name_in=lambda i: f"{pt.name}·v{i[0]}",
                name_out=names["name_out"],
            )
        )
    return out


def _hessian(pt: Point, problem: Problem, count: int) -> list[Comparison]:
    probe, cols, d = pt.probe, pt.columns, pt.d
    if any(
        leaf.is_complex
        for leaf in probe.layout.leaves
        if pt.segment.start <= leaf.offset < pt.segment.stop
    ):
        return [
            Comparison(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.EXPECT_HESSIAN_AD,
                method=pt.method,
                verdict="skipped",
                reason="expect.hessian is not supported for complex inputs",
            )
        ]
    matrix = _evaluate(pt, problem, "hessian").reshape(d, d)
    full = d <= HESSIAN_FULL_MAX_D
    if full:  # the unit vectors of this input, scaled
        dirs = np.zeros((d, probe.d))
        dirs[np.arange(d), cols] = pt.scale[cols]
    else:
        dirs = directions_for(pt, count)
    expected = dirs[:, cols] @ matrix.T  # row k: H_expect · w_k
    u = np.ones(1)
    products = hessian_products(pt, u, dirs)
    arrays = {how: hv[:, cols] for how, hv in products.items() if isinstance(hv, np.ndarray)}
    unscale = pt.scale[cols][:, None] if full else np.ones((len(dirs), 1))
    s = pt.scale[cols][None, :]

    def name_in(i: tuple[int, ...]) -> str:
        return probe.layout.describe(int(cols[i[0]])) if full else f"{pt.name}·w{i[0]}"

    def name_out(i: tuple[int, ...]) -> str:
        return f"∂/∂{probe.layout.describe(int(cols[i[1]]))}"

    out: list[Comparison] = []
    method = "full" if full else "directions"
    for how, hv in arrays.items():
        out.append(
            compare(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.EXPECT_HESSIAN_AD,
                method=method,
                ad=expected / unscale,
                reference=hv / unscale,
                scale=block_rms(hv * s) / s / unscale,
                rtol=pt.rtol,
                atol=pt.atol,
                name_in=name_in,
                name_out=name_out,
            )
        )
        out[-1] = _tag(out[-1], how)
        break  # one composition is enough for the tight check; all are checked in order 2
    if pt.modes.get("rev", "off") is not None:
        out.append(
            Comparison(
                point=pt.point,
                wrt=pt.name,
                kind=CheckKind.EXPECT_HESSIAN_FD,
                method=method,
                verdict="skipped",
                reason="FD of the gradient needs reverse mode",
            )
        )
        return out
    candidate = np.full((len(dirs), probe.d), np.nan)  # NaN: no opinion outside this input
    candidate[:, cols] = expected
    whole = gradient_fd(pt, u, dirs, [candidate])
    est = fdiff.Estimate(*(np.asarray(a)[:, cols] for a in dataclasses.astuple(whole)))
    out.append(
        compare(
            point=pt.point,
            wrt=pt.name,
            kind=CheckKind.EXPECT_HESSIAN_FD,
            method=method,
            ad=expected / unscale,
            reference=est.value / unscale,
            scale=block_rms(est.value * s) / s / unscale,
            rtol=pt.rtol,
            atol=pt.atol,
            fd_error=est.error / unscale,
            trusted=est.trusted,
            step=est.step,
            slope_jump=est.slope_jump,
            name_in=name_in,
            name_out=name_out,
        )
    )
    return out


def _tag(comp: Comparison, how: str) -> Comparison:
    from dataclasses import replace

    return replace(comp, reason=comp.reason or f"AD Hessian by {how}")
