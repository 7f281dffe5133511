"""Check a Python callable at given arguments, without writing a spec."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from adcli._builder import Problem
from adcli._results import SpecResult
from adcli._spec import ArraySpec, CheckOptions, Formula, Spec


@dataclass
class _GivenPoint(Problem):
    """A Problem whose only sample point is the arguments the caller gave."""

    given_inputs: dict[str, Any] | None = None
    given_constants: dict[str, Any] | None = None

    def sample_inputs(self, point: int, seed: int | None = None) -> dict[str, Any]:
        return dict(self.given_inputs or {})

    def sample_constants(self, seed: int | None = None) -> dict[str, Any]:
        return dict(self.given_constants or {})


def _names(fn: Callable[..., Any], count: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins and some wrapped callables have no signature
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= count:
        return positional[:count]
    return [f"arg{i}" for i in range(count)]


def problem_from_callable(
    fn: Callable[..., Any],
    args: Sequence[Any],
    *,
    wrt: Sequence[int] | None = None,
    constants: dict[str, Any] | None = None,
    options: CheckOptions | None = None,
) -> Problem:
    """A Problem for ``fn(*args, **constants)`` checked at exactly ``args``.

    ``wrt`` lists positions of ``args`` to differentiate (default: all). The same function
    with arguments of the same shapes gets the same Problem back (with the new values),
    so a test suite checking it many times compiles its programs once.
    """
    import jax.numpy as jnp

    names = _names(fn, len(args))
    inputs = {n: jax.tree_util.tree_map(jnp.asarray, a) for n, a in zip(names, args, strict=True)}
    constants = dict(constants or {})
    options = options or CheckOptions()
    if wrt is not None:
        options = CheckOptions(**{**options.__dict__, "wrt": tuple(names[i] for i in wrt)})
    given_constants = {k: jnp.asarray(v) for k, v in constants.items()}
    key = _cache_key(fn, inputs, given_constants, options)
    cached = _PROBLEMS.get(key) if key is not None else None
    if cached is not None:
        cached.given_inputs, cached.given_constants = inputs, given_constants
        cached.spec = cached.spec.replace(check=options)  # the seed may differ
        return cached

    def call(**kwargs: Any) -> Any:
        return fn(*[kwargs.pop(n) for n in names], **kwargs)

    def struct(tree: Any) -> Any:
        return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)

    input_structs = {n: struct(v) for n, v in inputs.items()}
    constant_structs = {n: struct(jnp.asarray(v)) for n, v in constants.items()}
    output = jax.eval_shape(lambda i, c: call(**i, **c), input_structs, constant_structs)
    name = getattr(fn, "__name__", type(fn).__name__)
    spec = Spec(
        name=name,
        function=Formula(python=f"{getattr(fn, '__module__', '?')}:{name}"),
        inputs={n: ArraySpec(shape=()) for n in names},
        check=options,
    )
    problem = _GivenPoint(
        spec=spec,
        dims={},
        fn=call,
        input_structs=input_structs,
        constant_structs=constant_structs,
        output_struct=output,
        given_inputs=inputs,
        given_constants=given_constants,
    )
    if key is not None:
        if len(_PROBLEMS) >= _CACHE_SIZE:
            _PROBLEMS.pop(next(iter(_PROBLEMS)))
        _PROBLEMS[key] = problem
    return problem


_CACHE_SIZE = 32
_PROBLEMS: dict[Any, _GivenPoint] = {}


def _cache_key(fn: Callable[..., Any], inputs: Any, constants: Any, options: CheckOptions) -> Any:
    """What makes two calls the same problem: the function, shapes, dtypes and options."""
    try:
        hash(fn)
    except TypeError:
        return None
    leaves, tree = jax.tree_util.tree_flatten((inputs, constants))
    shapes = tuple((np.shape(a), str(a.dtype)) for a in leaves)
    return (fn, tree, shapes, repr(dataclasses.replace(options, seed=0)))


def check_function(
    fn: Callable[..., Any],
    *args: Any,
    wrt: Sequence[int] | None = None,
    order: int = 1,
    modes: Sequence[str] = ("fwd", "rev"),
    method: str = "auto",
    directions: int = 3,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> SpecResult:
    """Check the derivatives of ``fn`` at ``args`` (arrays or pytrees) against FD.

    The same comparisons as ``adcli check`` on a spec, at this one point.

    >>> import jax.numpy as jnp
    >>> from adcli._callable import check_function
    >>> check_function(lambda x: jnp.sum(jnp.sin(x)), jnp.arange(3.0)).verdict
    'pass'
    """
    from adcli._check import check_problem, enable_x64

    enable_x64()
    options = CheckOptions(
        order=order,
        modes=tuple(modes),
        points=1,
        method=method,
        directions=directions,
        rtol=rtol,
        atol=atol,
        seed=seed,
    )
    return check_problem(problem_from_callable(fn, args, wrt=wrt, options=options))
