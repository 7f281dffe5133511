"""The lecture's notation: each primitive as an operation (``w2 · v1``) and its local rules.

For a node c = prim(a, b, ...) the forward rule is ċ = Σₖ (∂c/∂argₖ)·ȧrgₖ and each
argument receives c̄·∂c/∂argₖ in the reverse sweep. ``terms`` gives, per argument, the
forward term (in terms of that argument's tangent) and the reverse term (in terms of c̄),
from a template for the common primitives and a generic ∂c/∂a form for the rest.
Text only: the numbers come from JAX (adcli._explain.engine).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from adcli._results.explain import bar, dot

_SIMPLE = re.compile(r"^[\w.@~\[\]'̇̄]+$")  # needs no parentheses inside a product


def _p(text: str) -> str:
    return text if _SIMPLE.match(text) else f"({text})"


_INFIX = {"add": "+", "sub": "−", "mul": "·", "div": "/", "pow": "^", "max": "max", "min": "min"}
_CALLS = {
    "log": "log",
    "exp": "exp",
    "sqrt": "sqrt",
    "rsqrt": "rsqrt",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "tanh": "tanh",
    "logistic": "sigmoid",
    "log1p": "log1p",
    "expm1": "expm1",
    "abs": "abs",
    "sign": "sign",
    "square": "square",
    "erf": "erf",
    "atan": "atan",
    "asin": "asin",
    "acos": "acos",
    "sinh": "sinh",
    "cosh": "cosh",
    "reduce_max": "max",
    "reduce_min": "min",
}


def operation(prim: str, args: Sequence[str], params: dict[str, Any], label: str) -> str:
    """How the node is computed, in its arguments' names: ``w2 · v1``, ``log(w1)``."""
    a = args[0] if args else ""
    if prim in ("add", "sub", "mul", "div") and len(args) == 2:
        return f"{_p(a)} {_INFIX[prim]} {_p(args[1])}"
    if prim == "neg":
        return f"−{_p(a)}"
    if prim == "integer_pow":
        return f"{_p(a)}^{params.get('y')}"
    if prim == "pow":
        return f"{_p(a)}^{_p(args[1])}"
    if prim in ("max", "min") and len(args) == 2:
        return f"{prim}({a}, {args[1]})"
    if prim in _CALLS and len(args) == 1:
        return f"{_CALLS[prim]}({a})"
    if prim == "dot_general":
        return f"{_p(a)} @ {_p(args[1])}"
    if prim == "reduce_sum":
        return f"sum({a}, axes={tuple(params.get('axes', ()))})"
    if prim == "transpose":
        return f"{_p(a)}ᵀ" if tuple(params.get("permutation", ())) == (1, 0) else f"transpose({a})"
    if prim == "broadcast_in_dim":
        return f"broadcast({a} → {list(params.get('shape', ()))})"
    if prim in ("reshape", "squeeze", "expand_dims"):
        return f"{prim}({a})"
    if prim == "convert_element_type":
        return f"{params.get('new_dtype')}({a})"
    return f"{label}({', '.join(args)})"


Shape = tuple[int, ...]  # an argument's shape


def terms(
    prim: str, out: str, args: Sequence[str], params: dict[str, Any], shapes: Sequence[Shape]
) -> list[tuple[str, str]]:
    """(forward term, reverse term) per argument of ``out = prim(args)``.

    The forward term is that argument's contribution to ``dot(out)``; the reverse term is
    what it adds to the argument's adjoint. Arguments that are literals still get terms
    (the caller drops them: a literal has no tangent and keeps no adjoint).
    """
    c, cb = out, bar(out)
    a = args[0] if args else ""
    b = args[1] if len(args) > 1 else ""
    da = dot(a) if a else ""
    db = dot(b) if b else ""
    if prim == "add":
        return [(da, cb), (db, cb)]
    if prim == "sub":
        return [(da, cb), (f"−{db}", f"−{cb}")]
    if prim == "mul":
        return [(f"{da}·{_p(b)}", f"{cb}·{_p(b)}"), (f"{_p(a)}·{db}", f"{cb}·{_p(a)}")]
    if prim == "div":
        return [
            (f"{da}/{_p(b)}", f"{cb}/{_p(b)}"),
            (f"−{_p(a)}·{db}/{_p(b)}²", f"−{cb}·{_p(a)}/{_p(b)}²"),
        ]
    one = {
        "neg": ("−{t}", "−{c}"),
        "log": ("{t}/{a}", "{c}/{a}"),
        "log1p": ("{t}/(1 + {a})", "{c}/(1 + {a})"),
        "exp": ("{t}·{o}", "{c}·{o}"),
        "expm1": ("{t}·(1 + {o})", "{c}·(1 + {o})"),
        "sqrt": ("{t}/(2√{a})", "{c}/(2√{a})"),
        "rsqrt": ("−{t}·{o}/(2{a})", "−{c}·{o}/(2{a})"),
        "sin": ("{t}·cos({a})", "{c}·cos({a})"),
        "cos": ("−{t}·sin({a})", "−{c}·sin({a})"),
        "tanh": ("{t}·(1 − {o}²)", "{c}·(1 − {o}²)"),
        "logistic": ("{t}·{o}·(1 − {o})", "{c}·{o}·(1 − {o})"),
        "abs": ("sign({a})·{t}", "{c}·sign({a})"),
        "square": ("2·{a}·{t}", "{c}·2·{a}"),
        "convert_element_type": ("{t}", "{c}"),
        "copy": ("{t}", "{c}"),
        "reduce_sum": ("sum({t})", "broadcast({c})"),
        "broadcast_in_dim": ("broadcast({t})", "sum({c} over the new axes)"),
        "reshape": ("reshape({t})", "reshape({c})"),
        "squeeze": ("squeeze({t})", "expand({c})"),
        "expand_dims": ("expand({t})", "squeeze({c})"),
        "transpose": ("{t}ᵀ", "{c}ᵀ"),
    }
    if prim in one and len(args) == 1:
        fwd, rev = one[prim]
        pa = _p(a)
        return [(fwd.format(t=da, a=pa, o=_p(c)), rev.format(c=cb, a=pa, o=_p(c)))]
    if prim == "integer_pow":
        y = int(params.get("y", 2))
        power = _p(a) if y == 2 else f"{_p(a)}^{y - 1}"
        return [(f"{y}·{power}·{da}", f"{cb}·{y}·{power}")]
    if prim == "dot_general":
        return _dot_terms(cb, a, b, da, db, params, shapes)
    # generic: ∂c/∂x is the partial through every argument x fills (a while loop reads x
    # as a loop constant and as the initial carry), so a repeated argument gets one term
    # and its later positions an empty one (the callers skip empty terms).
    found: list[tuple[str, str]] = []
    for k, x in enumerate(args):
        first = x not in args[:k]
        found.append((f"∂{c}/∂{x}·{dot(x)}", f"{cb}·∂{c}/∂{x}") if first else ("", ""))
    return found


def _dot_terms(
    cb: str, a: str, b: str, da: str, db: str, params: dict[str, Any], shapes: Sequence[Shape]
) -> list[tuple[str, str]]:
    (contract, batch) = params.get("dimension_numbers", (((), ()), ((), ())))
    ra, rb = (len(s) for s in shapes[:2]) if len(shapes) >= 2 else (0, 0)
    fwd = [f"{da} @ {_p(b)}", f"{_p(a)} @ {db}"]
    plain = not batch[0] and tuple(contract[0]) == (ra - 1,) and tuple(contract[1]) == (0,)
    if plain and ra == 2 and rb == 2:
        rev = [f"{cb} @ {_p(b)}ᵀ", f"{_p(a)}ᵀ @ {cb}"]
    elif plain and ra == 2 and rb == 1:
        rev = [f"outer({cb}, {b})", f"{_p(a)}ᵀ @ {cb}"]
    elif plain and ra == 1 and rb == 1:
        rev = [f"{cb}·{_p(b)}", f"{cb}·{_p(a)}"]
    elif plain and ra == 1 and rb == 2:
        rev = [f"{_p(b)} @ {cb}", f"outer({a}, {cb})"]
    else:
        rev = [f"{cb} contracted with {b}", f"{cb} contracted with {a}"]
    return list(zip(fwd, rev, strict=True))
