"""The formula language's vocabulary: its functions (by the namespace each is taken from and
the spellings it may be written in), constants, keywords and operators. See
``adcli._spec.expr`` for the language itself. Does not import jax: ``function`` imports a
function's module on first evaluation.
"""

from __future__ import annotations

import ast
import functools
import importlib
import math
import operator
import re
from collections.abc import Callable
from typing import Any

_GROUPS = {
    "jnp": """abs amax amin angle arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh
        cbrt ceil clip concatenate conj cos cosh cumprod cumsum diag diagonal diff dot einsum
        exp exp2 expand_dims expm1 eye flip floor full_like hstack hypot imag inner kron log
        log10 log1p log2 logaddexp logical_and logical_not logical_or matmul max maximum mean
        median min minimum mod moveaxis ones_like outer power prod ravel real reciprocal
        reshape roll round sign sin sinc sinh sort sqrt square squeeze stack std sum swapaxes
        tan tanh tensordot tile trace transpose tril triu var vdot vstack where zeros_like""",
    "nn": """celu elu gelu hard_tanh leaky_relu log_sigmoid log_softmax relu relu6 selu
        sigmoid silu softmax softplus swish""",
    "linalg": "cholesky det eigh eigvalsh inv norm pinv qr slogdet solve svd svdvals",
    "special": "digamma erf erfc erfinv gammaln logit logsumexp xlog1py xlogy",
}
# Second homes: spellings JAX also exports (jax.nn.logsumexp, jnp.linalg.outer, ...).
_ALSO = {
    "logsumexp": "nn",
    "outer": "linalg",
    "trace": "linalg",
    "matmul": "linalg",
    "tensordot": "linalg",
    "diagonal": "linalg",
}
# Function name -> namespaces it may be spelt under; the first is where it is taken from.
HOMES: dict[str, tuple[str, ...]] = {
    name: (group, *([_ALSO[name]] if name in _ALSO else []))
    for group, names in _GROUPS.items()
    for name in names.split()
}
PREFIXES = {
    "jnp": "jnp",
    "jax.numpy": "jnp",
    "jax.nn": "nn",
    "jnp.linalg": "linalg",
    "jax.numpy.linalg": "linalg",
    "jax.scipy.special": "special",
}
SPELLING = {"jnp": "jnp", "nn": "jax.nn", "linalg": "jnp.linalg", "special": "jax.scipy.special"}
MODULES = {
    "jnp": "jax.numpy",
    "nn": "jax.nn",
    "linalg": "jax.numpy.linalg",
    "special": "jax.scipy.special",
}

FUNCTIONS: tuple[str, ...] = tuple(sorted(HOMES))
# Python floats, so that they stay weakly typed.
CONSTANT_VALUES = {"e": math.e, "inf": math.inf, "nan": math.nan, "pi": math.pi}
CONSTANTS: tuple[str, ...] = tuple(sorted(CONSTANT_VALUES))
KEYWORDS = ("axes", "axis", "axis1", "axis2", "ddof", "k", "keepdims", "offset", "ord")
REDUCTIONS = frozenset({"max", "min", "amax", "amin"})
EINSUM_SUBSCRIPTS = re.compile(r"[A-Za-z,.\->\s]*")

SYMBOLS: dict[type, str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Not: "not",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
ATTRIBUTE_RULE = "attribute access is limited to .T and the jnp./jax.nn./jnp.linalg. namespaces"
STATEMENT_RULE = "a formula is 'name = expression' lines ending in one expression"


@functools.cache
def function(name: str) -> Callable[..., Any]:
    # Imported on first evaluation only: validating a spec must not pay for `import jax`.
    module = importlib.import_module(MODULES[HOMES[name][0]])
    function: Callable[..., Any] = getattr(module, name)
    return function


def _power(base: Any, exponent: Any) -> Any:
    # Python ints have no size limit: refuse `9**9**9` instead of hanging on it.
    ints = isinstance(base, int) and isinstance(exponent, int)
    if ints and abs(base).bit_length() * abs(exponent) > 100_000:
        raise OverflowError(f"integer power {base}**{exponent} is too large")
    return base**exponent


BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
    ast.MatMult: lambda a, b: function("matmul")(a, b),
}
COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.Gt: operator.gt,
    ast.LtE: operator.le,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
