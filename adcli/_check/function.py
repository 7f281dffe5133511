"""``adcli.check_function``: check a Python callable at given arguments, without a spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from adcli._check.dropin import (
    as_the_caller_has_them,
    eps_option,
    nothing_to_check,
    order_option,
    tolerance_option,
)
from adcli._check.engine import check_problem
from adcli._check.reference_callable import with_reference
from adcli._errors import UsageError, did_you_mean
from adcli._problem.callable import argument_names, problem_from_callable, resolve_wrt
from adcli._results.check import SpecResult
from adcli._spec.model import KINK_POLICIES, METHODS, MODES, CheckOptions


def check_function(
    fn: Callable[..., Any],
    *args: Any,
    wrt: Sequence[int | str] | int | str | None = None,
    order: int = 1,
    modes: Sequence[str] = ("fwd", "rev"),
    method: str = "auto",
    directions: int = 3,
    rtol: float | Mapping[Any, float] | None = None,
    atol: float | Mapping[Any, float] | None = None,
    seed: int = 0,
    reference: Callable[..., Any] | None = None,
    factor: float = 2.0,
    repeat: int = 1,
    eps: float | None = None,
    kinks: str = "inconclusive",
) -> SpecResult:
    """Check the derivatives of ``fn`` at ``args`` (arrays or pytrees) against FD, and
    against a trusted ``reference`` implementation when one is given.

    The same comparisons as ``adcli check`` on a spec, at this one point. ``fn`` runs, and
    is differentiated, under the JAX settings of the caller (``jax_enable_x64``, dtype and
    rank promotion): with x64 off, a float64 NumPy argument is a float32 input, as ``fn``
    would see it. adcli's own float64 work runs in a scope; nothing global changes.

    Args:
        fn: the function; called as ``fn(*args)``.
        *args: the arguments to check it at: arrays, Python numbers (taken as the caller's
            default float) or any JAX pytree (dicts, lists, NamedTuples, dataclasses,
            Flax parameters and NNX Modules, Equinox Modules). In an argument that is
            differentiated, the floating arrays are; its other leaves (integer and key
            arrays, functions, static fields) are held fixed, as
            ``equinox.partition(tree, equinox.is_inexact_array)`` would split it.
        wrt: positions or parameter names of the arguments to differentiate; default all.
            The others may be anything the function takes (integers, labels, config).
            Arguments with no entries (shape ``(0,)``) are left out, with a note; when every
            one has none there is nothing to check, and the result passes with a note.
        order: 1; 2 also checks Hessian-vector products; k >= 3 also the directional
            derivatives of orders 3 to k (``adcli._check.higher_order``).
        modes: a subset of ``("fwd", "rev")`` (a single string is one mode).
        method: ``"auto"``, ``"full"`` or ``"directions"``.
        directions: random directions per input (``method="directions"``), >= 1.
        rtol, atol: per-element tolerances (>= 0), or dicts of them by dtype
            (``{np.float32: 1e-3}``, as check_grads takes); ``None`` (or a dtype the dict
            does not name) is the per-dtype default.
        seed: seed of the random directions, >= 0.
        reference: a plain implementation called like ``fn``: values, JVPs and VJPs of
            ``fn`` are compared with its own in float64 (docs/reference.md). A bfloat16 or
            float16 ``fn`` is then judged by the reference alone.
        factor: with ``reference``: each error may be ``factor`` times the plain
            reference's own error in ``fn``'s precision (plus a rounding floor), >= 0.
        repeat: run the VJP this many times; from 2, every run must agree bitwise.
        eps: the largest finite-difference step, relative to each coordinate's scale
            (``|xᵢ|``, or 1 where ``xᵢ = 0``); adcli's own steps and its finer ones are used
            below it. ``None``: adcli's steps (``adcli._numerics.finite_diff``).
        kinks: at a kink exactly at the point FD cannot decide: ``"inconclusive"`` says so;
            ``"subgradient"`` passes an element whose AD value lies between the one-sided
            FD derivatives (``assert_grads``' policy).

    Returns:
        A :class:`SpecResult` (its ``verdict`` is ``pass``, ``fail``, ``inconclusive``, ...,
        or ``skipped`` when the point is not finite or f is not finite there: nothing is
        judged, a ``value`` comparison says why).

    Raises:
        UsageError: an option out of range or misspelt (with "did you mean"), a ``wrt``
            position out of range, or an integer argument (or a pytree without floating
            arrays) to differentiate.

    >>> import jax.numpy as jnp
    >>> from adcli._check.function import check_function
    >>> check_function(lambda x: jnp.sum(jnp.sin(x)), jnp.arange(3.0)).verdict
    'pass'
    """
    modes = _options(order, modes, method, directions, seed)
    _validate_keywords(reference, factor, repeat, kinks)
    options = CheckOptions(
        order=order_option(order),
        modes=modes,
        points=1,
        method=method,
        directions=directions,
        rtol=tolerance_option("rtol", rtol),
        atol=tolerance_option("atol", atol),
        seed=seed,
        factor=float(factor),
        repeat=repeat,
        eps=eps_option(eps),
        kinks=kinks,
    )
    args = as_the_caller_has_them(args)  # before adcli's scope: the caller's dtypes
    if nothing_to_check(args, wrt):
        return _nothing_to_check(fn, args, options)
    problem = problem_from_callable(fn, args, wrt=wrt, options=options)
    if reference is not None:
        problem = with_reference(problem, reference)
    result = check_problem(problem, point_given=True)
    asked = resolve_wrt(wrt, argument_names(fn, len(args)))
    return _left_out([n for n in asked if n not in problem.spec.wrt], result)


def _left_out(names: list[str], result: SpecResult) -> SpecResult:
    """``result`` with a note naming the arguments asked for but left out (no entries)."""
    if not names:
        return result
    note = f"not checked: {', '.join(names)} (no entries: nothing to differentiate)"
    return dataclasses.replace(result, notes=(*result.notes, note))


def _validate_keywords(reference: Any, factor: Any, repeat: Any, kinks: Any) -> None:
    """Check ``reference``, ``factor``, ``repeat`` and ``kinks`` of :func:`check_function`."""
    if kinks not in KINKS:
        hint = did_you_mean(str(kinks), KINKS) or f"expected one of: {', '.join(KINKS)}"
        raise UsageError(f"unknown kinks policy {kinks!r} ({hint})")
    if reference is not None and not callable(reference):
        raise UsageError(
            f"reference must be a callable (the plain implementation), got {reference!r}"
        )
    numeric = isinstance(factor, int | float | np.floating) and not isinstance(factor, bool)
    if not numeric or not factor >= 0:
        raise UsageError(f"factor must be a number >= 0, got {factor!r}")
    if isinstance(repeat, bool) or not isinstance(repeat, int | np.integer) or repeat < 1:
        raise UsageError(f"repeat must be an int >= 1, got {repeat!r}")


KINKS = KINK_POLICIES


def _nothing_to_check(
    fn: Callable[..., Any], args: Sequence[Any], opts: CheckOptions
) -> SpecResult:
    """A passing result with no comparison: every differentiated argument has no entries."""
    import jax

    shapes = ", ".join(
        str(tuple(np.shape(a))) for a in jax.tree_util.tree_leaves(args) if hasattr(a, "shape")
    )
    return SpecResult(
        name=getattr(fn, "__name__", type(fn).__name__),
        file=None,
        line=None,
        verdict="pass",
        seed=opts.seed,
        points=1,
        dims={},
        backend=jax.default_backend(),
        dtypes={},
        method="-",
        notes=(f"nothing to check: the differentiated arguments have no entries ({shapes})",),
    )


def _options(
    order: Any,
    modes: Any,
    method: Any,
    directions: Any,
    seed: Any,
) -> tuple[str, ...]:
    """Check the options of :func:`check_function`; return the modes as a tuple."""
    order_option(order)
    if isinstance(modes, str):
        modes = (modes,)
    modes = tuple(modes)
    if not modes:
        raise UsageError("modes is empty: give 'fwd', 'rev' or both")
    for mode in modes:
        if mode not in MODES:
            hint = did_you_mean(str(mode), MODES) or "modes are 'fwd' (JVPs) and 'rev' (VJPs)"
            raise UsageError(f"unknown mode {mode!r} ({hint})")
    if len(set(modes)) != len(modes):
        raise UsageError(f"modes lists a mode twice: {modes!r}")
    if method not in METHODS:
        hint = did_you_mean(str(method), METHODS) or f"expected one of: {', '.join(METHODS)}"
        raise UsageError(f"unknown method {method!r} ({hint})")
    for label, value, minimum in (("directions", directions, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise UsageError(f"{label} must be an int >= {minimum}, got {value!r}")
    checked: tuple[str, ...] = modes
    return checked
