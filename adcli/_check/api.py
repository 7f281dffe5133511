"""The Python API: ``adcli.check`` on a path, a Spec or a callable; ``adcli.assert_grads``.

Both return (or render) the same result objects as ``adcli check``; jax is imported when
they are called, not when adcli is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adcli._errors import did_you_mean
from adcli._results.check import CheckReport, SpecResult
from adcli._spec.model import Spec

_SPEC_OPTIONS = (
    "dims", "points", "seed", "method", "order", "only", "rtol", "atol", "factor", "repeat",
)  # fmt: skip
_CALLABLE_OPTIONS = (
    "wrt", "order", "modes", "method", "directions", "rtol", "atol", "seed", "eps", "kinks",
    "reference", "factor", "repeat",
)  # fmt: skip


def _reject_unknown(opts: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    for key in opts:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            raise TypeError(
                f"adcli.check() got an unexpected keyword {key!r} for {what}"
                + (f" ({hint})" if hint else f"; expected one of: {', '.join(allowed)}")
            )


def check(
    target: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Spec | Callable[..., Any],
    *example_args: Any,
    allow_inconclusive: bool = False,
    **opts: Any,
) -> CheckReport | SpecResult:
    """Check derivatives against finite differences, as ``adcli check`` does.

    Cost: one compile and a few evaluations of the function per point, plus ``n`` (forward,
    full Jacobian) or ``m`` (reverse) derivative products; see docs/spec.md.

    Args:
        target: a spec file or directory (or a list of them), a :class:`Spec`, or a callable.
        *example_args: for a callable, the arguments (arrays or pytrees) to check it at.
        allow_inconclusive: for specs: an inconclusive check does not make ``exit_code`` 1.
        **opts: for specs, command-line overrides: ``dims`` (a mapping), ``points``,
            ``seed``, ``method``, ``order``, ``only`` (spec names), ``rtol``, ``atol``,
            ``factor``, ``repeat``; for a callable: ``wrt`` (argument positions or names),
            ``order``, ``modes``, ``method``, ``directions``, ``rtol``, ``atol``, ``seed``,
            and ``reference`` (a plain implementation to compare with, docs/reference.md),
            ``factor``, ``repeat``.

    Returns:
        A :class:`CheckReport` for paths and Specs; a :class:`SpecResult` for a callable.
        ``[tool.adcli]`` settings are not read here: pass what you want explicitly.

    Raises:
        SpecError: a path does not exist. UsageError: an override does not apply.
        TypeError: an unknown keyword, or a callable without example arguments.

    >>> import numpy as np, adcli
    >>> adcli.check(lambda x: (x ** 3).sum(), np.arange(3.0)).verdict
    'pass'
    >>> report = adcli.check("specs/quadratic.yaml", points=1)
    >>> [(r.name, r.verdict) for r in report.results], report.exit_code
    ([('quadratic', 'pass')], 0)
    """
    if isinstance(target, Spec | str | os.PathLike) or (
        isinstance(target, list | tuple) and not callable(target)
    ):
        if example_args:
            raise TypeError("example arguments are for a callable; a spec has its own inputs")
        from adcli._check.run import check as check_paths
        from adcli._spec.select import Overrides

        _reject_unknown(opts, _SPEC_OPTIONS, "a spec")
        if "only" in opts and isinstance(opts["only"], str):
            opts["only"] = (opts["only"],)
        overrides = Overrides(**opts)
        return check_paths(target, overrides=overrides, allow_inconclusive=allow_inconclusive)
    if not callable(target):
        raise TypeError(f"adcli.check() expects a path, a Spec or a callable, got {target!r}")
    if not example_args:
        raise TypeError("adcli.check(fn, *example_args): give the arguments to check fn at")
    _reject_unknown(opts, _CALLABLE_OPTIONS, "a callable")
    from adcli._check.function import check_function

    return check_function(target, *example_args, **opts)


def assert_grads(
    f: Callable[..., Any],
    args: Sequence[Any] | Any,
    order: int = 1,
    modes: Sequence[str] = ("fwd", "rev"),
    atol: float | Mapping[Any, float] | None = None,
    rtol: float | Mapping[Any, float] | None = None,
    eps: float | None = None,
    *,
    wrt: Sequence[int | str] | int | str | None = None,
    reference: Callable[..., Any] | None = None,
    strict: bool = False,
) -> None:
    """Assert that ``f``'s derivatives at ``args`` agree with finite differences (and with
    those of a plain ``reference`` implementation, when one is given).

    A drop-in for ``jax.test_util.check_grads(f, args, order, modes, atol, rtol, eps)``:
    same call shape, adcli's comparison and messages. It passes silently, or raises an
    ``AssertionError`` whose message is adcli's compact report: the input element and
    output, the AD and FD values, the margin, and a diagnosis. Like check_grads it runs
    ``f`` under the caller's JAX settings (x64, dtype promotion) and changes none of them.

    Differences from ``check_grads``, on purpose:

    * ``eps`` bounds adcli's FD step instead of fixing it: no coordinate moves by more than
      ``eps`` times its scale (``|xᵢ|``, or 1 at 0); adcli's own step (ε^(1/7), 6e-3 in
      float64) and finer ones are used below that bound, each with an error estimate.
    * ``atol``/``rtol`` (numbers, or dicts by dtype as check_grads takes them) are per
      element (not scaled by the array size), as in a spec's ``check:``; ``None``, or a
      dtype a dict leaves out, means adcli's per-dtype default.
    * ``order`` k >= 3 checks the directional derivatives of orders 3 to k by nested JVPs
      (and a gradient of them) against FD of order k − 1.
    * A ``jax.custom_vjp`` function does not raise TypeError in forward mode: the forward
      check is reported skipped and the VJP rule is still checked.
    * A check that finite differences cannot decide (inconclusive) fails, except at a kink
      exactly at the point, where an element passes when AD lies between the one-sided FD
      derivatives: the rule chose a subgradient (``relu``, ``abs`` and ``max`` at a tie).
    * At a point that is not finite (NaN or ±inf in ``args``) or where ``f`` is not finite,
      nothing is judged and nothing is raised; ``strict=True`` raises there too, and
      treats every kink as inconclusive.
    * Arguments with no entries have nothing to check, and pass.
    * ``args`` that is not a tuple or list (one array, a number or a dict) is taken as
      the single argument: ``assert_grads(f, x)`` is ``assert_grads(f, (x,))``. A tuple or
      list is always the argument list, as in ``check_grads``.
    * ``wrt`` (positions or parameter names) picks the arguments to differentiate, as
      ``jax.grad``'s ``argnums`` does; the others may be integers, labels or anything the
      function takes. Any JAX pytree is an argument (an Equinox Module, Flax parameters):
      its floating arrays are differentiated, its other leaves held fixed.
    * ``reference=plain`` (keyword only) also compares ``f``'s values, JVPs and VJPs with
      those of ``plain`` (same arguments) in float64, with a tolerance set by the plain
      implementation's own error in ``f``'s precision (docs/reference.md); a bfloat16 or
      float16 ``f`` is judged by the reference alone.

    Raises:
        AssertionError: a comparison failed, was inconclusive, or the check errored (and,
            with ``strict``, when nothing was judged).
        UsageError: ``order`` not an int >= 1, an unknown mode (with "did you mean"), a
            tolerance that is neither a number nor a dict of them by dtype, a bad ``wrt``,
            or an integer argument in ``wrt`` (see :func:`adcli.check_function`).

    >>> import numpy as np, jax.numpy as jnp, adcli
    >>> adcli.assert_grads(jnp.sin, (np.arange(3.0),), order=2)
    """
    from adcli._check.function import check_function
    from adcli._check.special import not_judged
    from adcli._report.console import spec_text

    if not isinstance(args, tuple | list):
        args = (args,)  # one array (or dict pytree): unambiguous, f gets one argument
    kinks = "inconclusive" if strict else "subgradient"
    result = check_function(
        f,
        *args,
        wrt=wrt,
        order=order,
        modes=modes,
        rtol=rtol,
        atol=atol,
        eps=eps,
        kinks=kinks,
        reference=reference,
    )
    if result.verdict in ("fail", "inconclusive", "error"):
        raise AssertionError("\n" + spec_text(result).rstrip())
    if strict and any(not_judged(c) for c in result.comparisons):
        reasons = [c.reason for c in result.comparisons if not_judged(c)]
        raise AssertionError(f"\n{result.name}: {reasons[0]} (strict=True)")
