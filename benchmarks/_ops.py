"""adcli's op database for ``op_suite.py``: JAX functions with derivative rules, where to
check them (a seeded point inside the domain, and special values), and, for scalar
elementwise ones, an mpmath counterpart that decides a disagreement.

Written for adcli (no test code copied from JAX). Points are float64 NumPy arrays, cast
to the case's dtype by the runner; ``Op.complex`` ops take complex dtypes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
from jax import lax

Point = Callable[[np.random.Generator], tuple[np.ndarray, ...]]
INF, NAN = np.inf, np.nan


@dataclass(frozen=True)
class Op:
    """One function: how to call it, where, to which order, and its mpmath counterpart."""

    name: str
    family: str
    fn: Callable[..., Any]
    point: Point
    special: tuple[tuple[str, tuple[np.ndarray, ...]], ...] = ()
    orders: tuple[int, ...] = (1, 2, 3)
    modes: tuple[str, ...] = ("fwd", "rev")
    complex: bool = False
    mp: Callable[..., Any] | None = None  # mpmath version (elementwise, scalar arguments)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _u(
    lo: float, hi: float, shape: Sequence[int] = (3,)
) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(lo, hi, shape)


def _special_unary(
    values: dict[str, float], ok: float
) -> tuple[tuple[str, tuple[np.ndarray, ...]], ...]:
    """Named points [value, ok, ok + 0.5]: the special value beside ordinary ones."""
    return tuple((name, (np.array([v, ok, ok + 0.25]),)) for name, v in values.items())


NONFINITE = {"nan": NAN, "+inf": INF, "-inf": -INF}


def unary(
    name: str,
    fn: Callable[..., Any],
    lo: float,
    hi: float,
    special: dict[str, float] | None = None,
    mp: Callable[..., Any] | None = None,
    family: str = "elementwise",
    orders: tuple[int, ...] = (1, 2, 3),
    ok: float | None = None,
    **kw: Any,
) -> Op:
    """An elementwise function of one array, seeded in [lo, hi]."""
    gen = _u(lo, hi)
    mid = ok if ok is not None else (lo + hi) / 2
    values = {**NONFINITE, **(special or {})}
    return Op(
        name, family, fn, lambda rng: (gen(rng),), _special_unary(values, mid), orders, mp=mp, **kw
    )


def binary(
    name: str,
    fn: Callable[..., Any],
    first: tuple[float, float],
    second: tuple[float, float],
    special: dict[str, tuple[float, float]] | None = None,
    mp: Callable[..., Any] | None = None,
    family: str = "binary",
    orders: tuple[int, ...] = (1, 2, 3),
) -> Op:
    """An elementwise function of two arrays, seeded in two ranges."""
    g1, g2 = _u(*first), _u(*second)
    ok1, ok2 = (first[0] + first[1]) / 2, (second[0] + second[1]) / 2
    points = [("nan", (NAN, ok2)), *((special or {}).items())]
    named = tuple(
        (n, (np.array([a, ok1, ok1 + 0.25]), np.array([b, ok2, ok2 + 0.25])))
        for n, (a, b) in points
    )
    return Op(name, family, fn, lambda rng: (g1(rng), g2(rng)), named, orders, mp=mp)


def array_op(
    name: str,
    fn: Callable[..., Any],
    point: Point,
    family: str,
    orders: tuple[int, ...] = (1, 2),
    special: tuple[tuple[str, tuple[np.ndarray, ...]], ...] = (),
    **kw: Any,
) -> Op:
    def as_tuple(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        made = point(rng)
        return made if isinstance(made, tuple) else (made,)

    return Op(name, family, fn, as_tuple, special, orders, **kw)


def _mat(n: int = 3, m: int | None = None) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal((n, m or n))


def _spd(n: int = 3) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        a = rng.standard_normal((n, n))
        out: np.ndarray = a @ a.T + n * np.eye(n)
        return out

    return make


def _sym(n: int = 3) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        a = rng.standard_normal((n, n))
        out: np.ndarray = a + a.T
        return out

    return make


RANK1 = np.outer([1.0, -2.0, 0.5], [0.3, 1.0, -1.5])
SINGULAR = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
REPEATED = np.diag([2.0, 2.0, 5.0])


def _mp() -> Any:
    try:
        import mpmath
    except ImportError:  # evidence is optional: a benchmark-only dependency
        return None
    return mpmath


def _m(expr: str) -> Callable[..., Any] | None:
    """An mpmath function from an expression in ``mp`` and the arguments ``x``, ``y``."""
    mp = _mp()
    if mp is None:
        return None
    code = compile(expr, expr, "eval")
    return lambda *a: eval(code, {"mp": mp, "x": a[0], "y": a[1] if len(a) > 1 else None})


def _elementwise() -> list[Op]:
    kinks = {"kink 0": 0.0}
    return [
        unary("jnp.sin", jnp.sin, -3, 3, {"0": 0.0, "pi": np.pi}, _m("mp.sin(x)")),
        unary("jnp.cos", jnp.cos, -3, 3, {"0": 0.0, "pi": np.pi}, _m("mp.cos(x)")),
        unary("jnp.tan", jnp.tan, -1.2, 1.2, {"0": 0.0}, _m("mp.tan(x)")),
        unary("jnp.arcsin", jnp.arcsin, -0.9, 0.9, {"0": 0.0}, _m("mp.asin(x)")),
        unary("jnp.arccos", jnp.arccos, -0.9, 0.9, {"0": 0.0}, _m("mp.acos(x)")),
        unary("jnp.arctan", jnp.arctan, -3, 3, {"0": 0.0}, _m("mp.atan(x)")),
        unary("jnp.sinh", jnp.sinh, -3, 3, {"0": 0.0}, _m("mp.sinh(x)")),
        unary("jnp.cosh", jnp.cosh, -3, 3, {"0": 0.0}, _m("mp.cosh(x)")),
        unary("jnp.tanh", jnp.tanh, -3, 3, {"0": 0.0, "large": 9.0}, _m("mp.tanh(x)")),
        unary("jnp.arcsinh", jnp.arcsinh, -3, 3, {"0": 0.0}, _m("mp.asinh(x)")),
        unary("jnp.arccosh", jnp.arccosh, 1.2, 4, {}, _m("mp.acosh(x)")),
        unary("jnp.arctanh", jnp.arctanh, -0.9, 0.9, {"0": 0.0}, _m("mp.atanh(x)")),
        unary("jnp.exp", jnp.exp, -3, 3, {"0": 0.0}, _m("mp.exp(x)")),
        unary("jnp.exp2", jnp.exp2, -3, 3, {"0": 0.0}, _m("mp.power(2, x)")),
        unary("jnp.expm1", jnp.expm1, -3, 3, {"0": 0.0}, _m("mp.expm1(x)")),
        unary("jnp.log", jnp.log, 0.1, 4, {"1": 1.0}, _m("mp.log(x)")),
        unary("jnp.log2", jnp.log2, 0.1, 4, {}, _m("mp.log(x, 2)")),
        unary("jnp.log10", jnp.log10, 0.1, 4, {}, _m("mp.log10(x)")),
        unary("jnp.log1p", jnp.log1p, -0.9, 3, {"0": 0.0}, _m("mp.log1p(x)")),
        unary("jnp.sqrt", jnp.sqrt, 0.1, 4, {}, _m("mp.sqrt(x)")),
        unary("jnp.cbrt", jnp.cbrt, 0.1, 4, {}, _m("mp.cbrt(x)")),
        unary("jnp.square", jnp.square, -3, 3, {"0": 0.0}, _m("x**2")),
        unary("jnp.reciprocal", jnp.reciprocal, 0.2, 3, {}, _m("1/x")),
        unary("jnp.abs", jnp.abs, -3, 3, kinks, None, ok=1.5),
        unary("jnp.sinc", jnp.sinc, -3, 3, {"0": 0.0}, _m("mp.sincpi(x)")),
        unary("jnp.deg2rad", jnp.deg2rad, -90, 90, {}, _m("x*mp.pi/180")),
        unary("jnp.logaddexp(x, 1)", lambda x: jnp.logaddexp(x, 1.0), -3, 3, {}, None),
        unary("jnp.clip", lambda x: jnp.clip(x, -1.0, 1.0), -3, 3, {"kink 1": 1.0}, None, ok=0.3),
        unary("jnp.round (zero)", jnp.round, -3, 3, {}, None, orders=(1,), ok=0.3),
        unary("jnp.floor (zero)", jnp.floor, -3, 3, {}, None, orders=(1,), ok=0.3),
        unary("lax.logistic", lax.logistic, -4, 4, {"0": 0.0}, _m("1/(1+mp.exp(-x))")),
        unary("lax.rsqrt", lax.rsqrt, 0.2, 4, {}, _m("1/mp.sqrt(x)")),
        unary("lax.integer_pow 3", lambda x: lax.integer_pow(x, 3), -2, 2, {"0": 0.0}, _m("x**3")),
        unary("lax.erf_inv", lax.erf_inv, -0.9, 0.9, {"0": 0.0}, _m("mp.erfinv(x)")),
        unary("lax.lgamma", lax.lgamma, 0.3, 5, {}, _m("mp.loggamma(x)")),
        unary("lax.digamma", lax.digamma, 0.3, 5, {}, _m("mp.digamma(x)")),
        unary(
            "lax.bessel_i0e",
            lax.bessel_i0e,
            -4,
            4,
            {"0": 0.0},
            _m("mp.besseli(0,x)*mp.exp(-abs(x))"),
        ),
        unary(
            "lax.bessel_i1e",
            lax.bessel_i1e,
            -4,
            4,
            {},
            _m("mp.besseli(1,x)*mp.exp(-abs(x))"),
            ok=1.0,
        ),
        unary("jnp.tanh (complex)", jnp.tanh, -3, 3, {}, None, complex=True),
        unary("jnp.exp (complex)", jnp.exp, -2, 2, {}, None, complex=True),
        unary("jnp.log (complex)", jnp.log, 0.2, 3, {}, None, complex=True),
        unary("jnp.sqrt (complex)", jnp.sqrt, 0.2, 3, {}, None, complex=True),
        unary("jnp.sin (complex)", jnp.sin, -2, 2, {}, None, complex=True),
        unary("jnp.abs (complex)", jnp.abs, 0.2, 3, {}, None, complex=True),
    ]


def _binary() -> list[Op]:
    return [
        binary("jnp.add", jnp.add, (-3, 3), (-3, 3), {}, _m("x+y")),
        binary("jnp.multiply", jnp.multiply, (-3, 3), (-3, 3), {}, _m("x*y")),
        binary("jnp.divide", jnp.divide, (-3, 3), (0.5, 3), {}, _m("x/y")),
        binary("jnp.power", jnp.power, (0.3, 3), (-2, 2), {"x=1": (1.0, 1.5)}, _m("mp.power(x,y)")),
        binary("jnp.arctan2", jnp.arctan2, (-3, 3), (0.3, 3), {}, _m("mp.atan2(x,y)")),
        binary("jnp.hypot", jnp.hypot, (0.3, 3), (0.3, 3), {}, _m("mp.hypot(x,y)")),
        binary(
            "jnp.logaddexp", jnp.logaddexp, (-3, 3), (-3, 3), {}, _m("mp.log(mp.exp(x)+mp.exp(y))")
        ),
        binary("jnp.maximum", jnp.maximum, (-3, 3), (-3, 3), {"tie": (1.0, 1.0)}, None),
        binary("jnp.minimum", jnp.minimum, (-3, 3), (-3, 3), {"tie": (1.0, 1.0)}, None),
        binary(
            "jnp.remainder",
            jnp.remainder,
            (-5, 5),
            (0.5, 3),
            {"near jump": (2.0, 0.999)},
            None,
            orders=(1,),
        ),
        binary("jnp.fmod", jnp.fmod, (-5, 5), (0.5, 3), {}, None, orders=(1,)),
        binary("jnp.copysign", jnp.copysign, (0.3, 3), (-3, 3), {}, None, orders=(1,)),
        binary("jsp.xlogy", jsp.xlogy, (0.2, 3), (0.2, 3), {"x=0": (0.0, 1.0)}, _m("x*mp.log(y)")),
        binary(
            "jsp.xlog1py",
            jsp.xlog1py,
            (0.2, 3),
            (-0.5, 3),
            {"y<-1": (1.0, -2.0)},
            _m("x*mp.log1p(y)"),
        ),
        binary(
            "jsp.betaln",
            jsp.betaln,
            (0.5, 4),
            (0.5, 4),
            {},
            _m("mp.log(mp.beta(x,y))"),
            orders=(1, 2),
        ),
        binary(
            "jsp.gammainc",
            jsp.gammainc,
            (0.5, 4),
            (0.2, 4),
            {},
            _m("mp.gammainc(x,0,y,regularized=True)"),
            orders=(1,),
        ),
        binary(
            "jsp.gammaincc",
            jsp.gammaincc,
            (0.5, 4),
            (0.2, 4),
            {},
            _m("mp.gammainc(x,y,mp.inf,regularized=True)"),
            orders=(1,),
        ),
        binary("jsp.owens_t", jsp.owens_t, (-3, 3), (-3, 3), {}, None, orders=(1,)),
        binary("jsp.kl_div", jsp.kl_div, (0.2, 3), (0.2, 3), {}, _m("x*mp.log(x/y)-x+y")),
        binary("jsp.rel_entr", jsp.rel_entr, (0.2, 3), (0.2, 3), {}, _m("x*mp.log(x/y)")),
    ]


def _special() -> list[Op]:
    return [
        unary("jsp.erf", jsp.erf, -3, 3, {"0": 0.0, "10": 10.0}, _m("mp.erf(x)"), family="special"),
        unary("jsp.erfc", jsp.erfc, -3, 3, {"0": 0.0}, _m("mp.erfc(x)"), family="special"),
        unary(
            "jsp.erfinv", jsp.erfinv, -0.9, 0.9, {"0": 0.0}, _m("mp.erfinv(x)"), family="special"
        ),
        unary(
            "jsp.erfcx",
            jsp.erfcx,
            -1,
            3,
            {},
            _m("mp.exp(x**2)*mp.erfc(x)"),
            family="special",
            orders=(1, 2),
        ),
        unary("jsp.gammaln", jsp.gammaln, 0.3, 5, {}, _m("mp.loggamma(x)"), family="special"),
        unary("jsp.digamma", jsp.digamma, 0.3, 5, {}, _m("mp.digamma(x)"), family="special"),
        unary("jsp.gamma", jsp.gamma, 0.3, 4, {}, _m("mp.gamma(x)"), family="special"),
        unary("jsp.i0", jsp.i0, -3, 3, {"0": 0.0}, _m("mp.besseli(0,x)"), family="special"),
        unary(
            "jsp.i0e",
            jsp.i0e,
            -3,
            3,
            {"0": 0.0},
            _m("mp.besseli(0,x)*mp.exp(-abs(x))"),
            family="special",
        ),
        unary("jsp.i1", jsp.i1, -3, 3, {"0": 0.0}, _m("mp.besseli(1,x)"), family="special"),
        unary(
            "jsp.i1e",
            jsp.i1e,
            -3,
            3,
            {},
            _m("mp.besseli(1,x)*mp.exp(-abs(x))"),
            family="special",
            ok=1.0,
        ),
        unary("jsp.ndtr", jsp.ndtr, -3, 3, {"0": 0.0}, _m("mp.ncdf(x)"), family="special"),
        unary(
            "jsp.ndtri",
            jsp.ndtri,
            0.05,
            0.95,
            {"0.5": 0.5},
            _m("mp.sqrt(2)*mp.erfinv(2*x-1)"),
            family="special",
        ),
        unary("jsp.log_ndtr", jsp.log_ndtr, -5, 3, {}, _m("mp.log(mp.ncdf(x))"), family="special"),
        unary("jsp.logit", jsp.logit, 0.05, 0.95, {}, _m("mp.log(x/(1-x))"), family="special"),
        unary("jsp.expit", jsp.expit, -4, 4, {"0": 0.0}, _m("1/(1+mp.exp(-x))"), family="special"),
        unary("jsp.entr", jsp.entr, 0.1, 3, {}, _m("-x*mp.log(x)"), family="special"),
        unary(
            "jsp.spence",
            jsp.spence,
            0.2,
            3,
            {},
            _m("mp.polylog(2, 1-x)"),
            family="special",
            orders=(1, 2),
        ),
        unary("jsp.expi", jsp.expi, 0.2, 3, {}, _m("mp.ei(x)"), family="special"),
        unary("jsp.exp1", jsp.exp1, 0.2, 3, {}, _m("mp.e1(x)"), family="special"),
        unary(
            "jsp.zeta(2.5, q)",
            lambda q: jsp.zeta(2.5, q),
            0.5,
            3,
            {},
            _m("mp.zeta(2.5, x)"),
            family="special",
            orders=(1, 2),
        ),
        unary("jsp.dawsn", jsp.dawsn, -3, 3, {"0": 0.0}, None, family="special", orders=(1, 2)),
        unary(
            "jsp.polygamma(1, x)",
            lambda x: jsp.polygamma(1, x),
            0.3,
            5,
            {},
            _m("mp.polygamma(1,x)"),
            family="special",
            orders=(1, 2),
        ),
        unary(
            "jsp.multigammaln(x, 2)",
            lambda x: jsp.multigammaln(x, 2),
            1.0,
            5,
            {},
            None,
            family="special",
            orders=(1, 2),
        ),
        unary(
            "jsp.log_softmax",
            lambda x: jsp.log_softmax(x),
            -3,
            3,
            {},
            None,
            family="special",
            orders=(1, 2),
        ),
    ]


def _nn() -> list[Op]:
    nn = jax.nn
    kink = {"kink 0": 0.0}
    return [
        unary("nn.relu", nn.relu, -3, 3, kink, None, family="nn", ok=1.0),
        unary(
            "nn.relu6", nn.relu6, -3, 8, {"kink 0": 0.0, "kink 6": 6.0}, None, family="nn", ok=1.0
        ),
        unary("nn.sigmoid", nn.sigmoid, -4, 4, {"0": 0.0}, _m("1/(1+mp.exp(-x))"), family="nn"),
        unary(
            "nn.softplus", nn.softplus, -4, 4, {"0": 0.0}, _m("mp.log1p(mp.exp(x))"), family="nn"
        ),
        unary("nn.soft_sign", nn.soft_sign, -3, 3, {}, None, family="nn", ok=1.0),
        unary("nn.silu", nn.silu, -4, 4, {"0": 0.0}, _m("x/(1+mp.exp(-x))"), family="nn"),
        unary(
            "nn.log_sigmoid", nn.log_sigmoid, -4, 4, {}, _m("-mp.log1p(mp.exp(-x))"), family="nn"
        ),
        unary("nn.leaky_relu", nn.leaky_relu, -3, 3, kink, None, family="nn", ok=1.0),
        unary("nn.hard_tanh", nn.hard_tanh, -3, 3, {"kink 1": 1.0}, None, family="nn", ok=0.3),
        unary("nn.elu", nn.elu, -3, 3, kink, None, family="nn", ok=1.0),
        unary("nn.celu", nn.celu, -3, 3, kink, None, family="nn", ok=1.0),
        unary("nn.selu", nn.selu, -3, 3, kink, None, family="nn", ok=1.0),
        unary("nn.gelu (tanh)", nn.gelu, -3, 3, {"0": 0.0}, None, family="nn"),
        unary(
            "nn.gelu (erf)",
            lambda x: nn.gelu(x, approximate=False),
            -3,
            3,
            {"0": 0.0},
            _m("x*mp.ncdf(x)"),
            family="nn",
        ),
        unary(
            "nn.mish", nn.mish, -3, 3, {"0": 0.0}, _m("x*mp.tanh(mp.log1p(mp.exp(x)))"), family="nn"
        ),
        unary(
            "nn.squareplus",
            nn.squareplus,
            -3,
            3,
            {"0": 0.0},
            _m("(x+mp.sqrt(x**2+4))/2"),
            family="nn",
        ),
        unary("nn.sparse_plus", nn.sparse_plus, -3, 3, {"kink 1": 1.0}, None, family="nn", ok=0.3),
        unary(
            "nn.hard_sigmoid", nn.hard_sigmoid, -5, 5, {"kink 3": 3.0}, None, family="nn", ok=0.3
        ),
        unary("nn.hard_silu", nn.hard_silu, -5, 5, {"kink 3": 3.0}, None, family="nn", ok=0.3),
        unary("nn.log1mexp", nn.log1mexp, 0.1, 3, {}, _m("mp.log(1-mp.exp(-x))"), family="nn"),
        array_op(
            "nn.softmax", nn.softmax, lambda rng: (rng.uniform(-3, 3, (4,)),), "nn", (1, 2, 3)
        ),
        array_op(
            "nn.log_softmax",
            nn.log_softmax,
            lambda rng: (rng.uniform(-3, 3, (4,)),),
            "nn",
            (1, 2, 3),
        ),
        array_op(
            "nn.logsumexp", nn.logsumexp, lambda rng: (rng.uniform(-3, 3, (4,)),), "nn", (1, 2, 3)
        ),
        array_op(
            "nn.standardize", nn.standardize, lambda rng: (rng.uniform(-3, 3, (4,)),), "nn", (1, 2)
        ),
        array_op("nn.glu", nn.glu, lambda rng: (rng.uniform(-3, 3, (4,)),), "nn", (1, 2)),
        array_op(
            "nn.logmeanexp", nn.logmeanexp, lambda rng: (rng.uniform(-3, 3, (4,)),), "nn", (1, 2)
        ),
    ]


def _reductions() -> list[Op]:
    v = lambda rng: (rng.uniform(-2, 2, (5,)),)  # noqa: E731
    m = lambda rng: (rng.uniform(-2, 2, (3, 4)),)  # noqa: E731
    pos = lambda rng: (rng.uniform(0.5, 2, (5,)),)  # noqa: E731
    ties = (("tie", (np.array([1.0, 1.0, -0.5, 0.3, 0.9]),)),)
    return [
        array_op("jnp.sum", lambda x: jnp.sum(x, axis=1), m, "reduction", (1, 2, 3)),
        array_op(
            "jnp.prod",
            jnp.prod,
            v,
            "reduction",
            (1, 2, 3),
            (("zero", (np.array([0.0, 1.0, 2.0, -1.0, 0.5]),)),),
        ),
        array_op("jnp.mean", lambda x: jnp.mean(x, axis=0), m, "reduction"),
        array_op("jnp.var", jnp.var, v, "reduction", (1, 2, 3)),
        array_op("jnp.std", jnp.std, v, "reduction", (1, 2)),
        array_op("jnp.max", jnp.max, v, "reduction", (1, 2), ties),
        array_op("jnp.min", jnp.min, v, "reduction", (1, 2)),
        array_op("jnp.sort", jnp.sort, v, "reduction", (1, 2)),
        array_op("jnp.median", jnp.median, v, "reduction", (1,)),
        array_op("jnp.cumsum", jnp.cumsum, v, "reduction", (1, 2)),
        array_op("jnp.cumprod", jnp.cumprod, pos, "reduction", (1, 2, 3)),
        array_op(
            "jnp.linalg.norm",
            jnp.linalg.norm,
            v,
            "reduction",
            (1, 2, 3),
            (("zero", (np.zeros(5),)),),
        ),
        array_op("jnp.linalg.norm ord=1", lambda x: jnp.linalg.norm(x, 1), v, "reduction", (1,)),
        array_op(
            "jnp.linalg.norm ord=inf", lambda x: jnp.linalg.norm(x, np.inf), v, "reduction", (1,)
        ),
        array_op(
            "jnp.polyval",
            lambda c, x: jnp.polyval(c, x),
            lambda rng: (rng.standard_normal(4), rng.uniform(-1, 1, (3,))),
            "reduction",
            (1, 2, 3),
        ),
        array_op(
            "jnp.interp",
            lambda x: jnp.interp(x, jnp.linspace(-2, 2, 7), jnp.sin(jnp.linspace(-2, 2, 7))),
            v,
            "reduction",
            (1,),
        ),
        array_op("lax.cummax", lambda x: lax.cummax(x), v, "reduction", (1,)),
        array_op("lax.cumlogsumexp", lambda x: lax.cumlogsumexp(x), v, "reduction", (1, 2)),
        array_op(
            "lax.reduce_window max",
            lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (2,), (1,), "VALID"),
            v,
            "reduction",
            (1,),
        ),
        array_op("lax.top_k", lambda x: lax.top_k(x, 2)[0], v, "reduction", (1, 2)),
    ]


def _shapes() -> list[Op]:
    m = lambda rng: (rng.standard_normal((3, 4)),)  # noqa: E731
    return [
        array_op("jnp.transpose", jnp.transpose, m, "shape", (1,)),
        array_op("jnp.reshape", lambda x: jnp.reshape(x, (2, 6)), m, "shape", (1,)),
        array_op(
            "jnp.concatenate",
            lambda x, y: jnp.concatenate([x, y]),
            lambda rng: (rng.standard_normal(3), rng.standard_normal(2)),
            "shape",
            (1,),
        ),
        array_op(
            "jnp.split (empty part)",
            lambda x: jnp.split(x, [0, 2]),
            lambda rng: (rng.standard_normal(5),),
            "shape",
            (1,),
        ),
        array_op(
            "jnp.tile",
            lambda x: jnp.tile(x, 2),
            lambda rng: (rng.standard_normal(3),),
            "shape",
            (1,),
        ),
        array_op(
            "jnp.repeat",
            lambda x: jnp.repeat(x, 2),
            lambda rng: (rng.standard_normal(3),),
            "shape",
            (1,),
        ),
        array_op(
            "jnp.pad", lambda x: jnp.pad(x, 2), lambda rng: (rng.standard_normal(3),), "shape", (1,)
        ),
        array_op(
            "x[1:1] (empty output)",
            lambda x: x[1:1],
            lambda rng: (rng.standard_normal(3),),
            "shape",
            (1,),
        ),
        array_op(
            "jnp.take",
            lambda x: jnp.take(x, jnp.array([2, 0, 2])),
            lambda rng: (rng.standard_normal(4),),
            "shape",
            (1, 2),
        ),
        array_op(
            "jnp.roll",
            lambda x: jnp.roll(x, 1),
            lambda rng: (rng.standard_normal(4),),
            "shape",
            (1,),
        ),
        array_op("jnp.flip", jnp.flip, m, "shape", (1,)),
        array_op("jnp.tril", jnp.tril, m, "shape", (1,)),
        array_op(
            "jnp.where",
            lambda x: jnp.where(x > 0, x**2, -x),
            lambda rng: (rng.uniform(-2, 2, (4,)),),
            "shape",
            (1, 2),
        ),
        array_op(
            "lax.dynamic_slice",
            lambda x: lax.dynamic_slice(x, (1,), (2,)),
            lambda rng: (rng.standard_normal(4),),
            "shape",
            (1,),
        ),
        array_op(
            "lax.dynamic_update_slice",
            lambda x, y: lax.dynamic_update_slice(x, y, (1,)),
            lambda rng: (rng.standard_normal(4), rng.standard_normal(2)),
            "shape",
            (1,),
        ),
        array_op(
            "zero-size argument",
            lambda x: jnp.sum(x**2),
            lambda rng: (np.zeros((0, 3)),),
            "shape",
            (1,),
        ),
    ]


def _products() -> list[Op]:
    return [
        array_op(
            "jnp.dot",
            jnp.dot,
            lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal(4)),
            "product",
            (1, 2),
        ),
        array_op(
            "jnp.matmul",
            jnp.matmul,
            lambda rng: (rng.standard_normal((2, 3)), rng.standard_normal((3, 2))),
            "product",
            (1, 2),
        ),
        array_op(
            "jnp.einsum",
            lambda a, b: jnp.einsum("ij,jk->ik", a, b),
            lambda rng: (rng.standard_normal((2, 3)), rng.standard_normal((3, 2))),
            "product",
            (1, 2),
        ),
        array_op(
            "jnp.outer",
            jnp.outer,
            lambda rng: (rng.standard_normal(3), rng.standard_normal(2)),
            "product",
            (1,),
        ),
        array_op(
            "jnp.kron",
            jnp.kron,
            lambda rng: (rng.standard_normal((2, 2)), rng.standard_normal((2, 2))),
            "product",
            (1,),
        ),
        array_op(
            "jnp.cross",
            jnp.cross,
            lambda rng: (rng.standard_normal(3), rng.standard_normal(3)),
            "product",
            (1, 2),
        ),
        array_op(
            "jnp.convolve",
            jnp.convolve,
            lambda rng: (rng.standard_normal(5), rng.standard_normal(3)),
            "product",
            (1, 2),
        ),
        array_op(
            "jnp.trace", jnp.trace, lambda rng: (rng.standard_normal((3, 3)),), "product", (1,)
        ),
        array_op(
            "lax.conv",
            lambda x, k: lax.conv(x, k, (1, 1), "SAME"),
            lambda rng: (rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 2, 2))),
            "product",
            (1, 2),
        ),
    ]


def _linalg() -> list[Op]:
    la = jnp.linalg
    sq = _mat()
    sing = (("singular", (SINGULAR,)), ("rank 1", (RANK1,)))
    return [
        array_op("la.det", la.det, sq, "linalg", (1, 2, 3), sing),
        array_op("la.slogdet", lambda a: la.slogdet(a)[1], sq, "linalg", (1, 2)),
        array_op(
            "la.inv",
            la.inv,
            lambda rng: (_spd()(rng),),
            "linalg",
            (1, 2),
            (("singular", (SINGULAR,)),),
        ),
        array_op(
            "la.solve",
            la.solve,
            lambda rng: (_spd()(rng), rng.standard_normal(3)),
            "linalg",
            (1, 2),
        ),
        array_op("la.pinv", la.pinv, lambda rng: (rng.standard_normal((3, 2)),), "linalg", (1,)),
        array_op("la.cholesky", la.cholesky, lambda rng: (_spd()(rng),), "linalg", (1, 2)),
        array_op("la.qr", lambda a: la.qr(a), sq, "linalg", (1,)),
        array_op("la.svd", lambda a: la.svd(a, full_matrices=False), sq, "linalg", (1,)),
        array_op("la.svdvals", la.svdvals, sq, "linalg", (1, 2)),
        array_op(
            "la.eigh",
            la.eigh,
            lambda rng: (_sym()(rng),),
            "linalg",
            (1,),
            (("repeated", (REPEATED,)),),
        ),
        array_op(
            "la.eigvalsh",
            la.eigvalsh,
            lambda rng: (_sym()(rng),),
            "linalg",
            (1, 2),
            (("repeated", (REPEATED,)),),
        ),
        array_op("la.eigvals", la.eigvals, sq, "linalg", (1,)),
        array_op(
            "lax.linalg.eig (vectors)",
            lambda a: lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True),
            sq,
            "linalg",
            (1,),
        ),
        array_op("la.matrix_power 3", lambda a: la.matrix_power(a, 3), sq, "linalg", (1, 2)),
        array_op("la.norm fro", lambda a: la.norm(a), sq, "linalg", (1, 2)),
        array_op("la.norm ord=2", lambda a: la.norm(a, 2), sq, "linalg", (1,)),
        array_op(
            "la.multi_dot",
            lambda a, b: la.multi_dot([a, b, a]),
            lambda rng: (sq(rng), sq(rng)),
            "linalg",
            (1, 2),
        ),
        array_op(
            "la.lstsq",
            lambda a, b: la.lstsq(a, b)[0],
            lambda rng: (rng.standard_normal((4, 2)), rng.standard_normal(4)),
            "linalg",
            (1,),
        ),
        array_op(
            "la.eigh (complex)", la.eigh, lambda rng: (_sym()(rng),), "linalg", (1,), complex=True
        ),
        array_op(
            "jax.scipy.linalg.expm",
            jax.scipy.linalg.expm,
            lambda rng: (0.5 * rng.standard_normal((3, 3)),),
            "linalg",
            (1,),
        ),
        array_op(
            "jax.scipy.linalg.lu_factor",
            lambda a: jax.scipy.linalg.lu_factor(a)[0],
            sq,
            "linalg",
            (1,),
        ),
        array_op(
            "jax.scipy.linalg.solve_triangular",
            lambda a, b: jax.scipy.linalg.solve_triangular(jnp.triu(a) + 3 * jnp.eye(3), b),
            lambda rng: (sq(rng), rng.standard_normal(3)),
            "linalg",
            (1, 2),
        ),
    ]


def _control() -> list[Op]:
    v = lambda rng: (rng.uniform(-1, 1, (3,)),)  # noqa: E731
    return [
        array_op(
            "lax.scan",
            lambda x: lax.scan(lambda c, y: (jnp.sin(c) * y, c), 0.5, x)[0],
            v,
            "control",
            (1, 2, 3),
        ),
        array_op(
            "lax.fori_loop",
            lambda x: lax.fori_loop(0, 3, lambda i, c: jnp.sin(c) + x, x),
            v,
            "control",
            (1, 2),
        ),
        array_op(
            "lax.while_loop",
            lambda x: lax.while_loop(
                lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.cos(c[1])), (0, x)
            )[1],
            v,
            "control",
            (1,),
            modes=("fwd",),
        ),
        array_op(
            "lax.cond",
            lambda x: lax.cond(jnp.sum(x) > 0, jnp.sin, jnp.cos, x),
            v,
            "control",
            (1, 2),
        ),
        array_op("lax.map", lambda x: lax.map(jnp.tanh, x), v, "control", (1, 2)),
        array_op(
            "lax.associative_scan", lambda x: lax.associative_scan(jnp.add, x), v, "control", (1,)
        ),
        array_op(
            "jax.checkpoint",
            lambda x: jax.checkpoint(lambda y: jnp.sin(y) ** 2)(x),
            v,
            "control",
            (1, 2, 3),
        ),
        array_op(
            "lax.custom_linear_solve",
            lambda b: jnp.linalg.solve(jnp.eye(3) * 2.0 + 0.1, b),
            v,
            "control",
            (1, 2),
        ),
        array_op(
            "vmap(grad)",
            lambda x: jax.vmap(jax.grad(lambda y: jnp.sin(y) ** 3))(x),
            v,
            "control",
            (1, 2),
        ),
    ]


def all_ops() -> list[Op]:
    return [
        *_elementwise(),
        *_binary(),
        *_special(),
        *_nn(),
        *_reductions(),
        *_shapes(),
        *_products(),
        *_linalg(),
        *_control(),
    ]


FAMILIES = (
    "elementwise",
    "binary",
    "special",
    "nn",
    "reduction",
    "shape",
    "product",
    "linalg",
    "control",
)
