"""The safe formula language of specs (``expr:``): validated with :mod:`ast`, compiled to closures.

User text is never given to Python's ``eval``/``exec``/``compile``: :func:`parse_formula`
parses it with :func:`ast.parse`, accepts only the node types listed here, and builds a
tree of closures that call jax.numpy. Parsing does not import jax; evaluation does, lazily.

A formula is one expression, or ``name = expression`` lines ending in one expression (the
result), so that a lecture example reads as its computational graph::

    v1 = log(w1)
    v2 = w2 * v1
    v2 + sqrt(v2)

The language:

* names: the spec's inputs, constants and dims, names assigned on earlier lines, and the
  constants ``pi e inf nan`` (a spec name shadows these);
* literals: int, float, complex, ``True``/``False``;
* ``+ - * / // % ** @``, unary ``- +``, and one comparison ``< > <= >= == !=`` (no chains:
  write ``logical_and(0 < x, x < 1)``);
* indexing and slicing: ``x[0]``, ``x[1:]``, ``A[:, 0]``, ``x[::-1]``, ``x[None]``, ``x[..., 0]``;
* ``x.T`` (transpose);
* calls of the functions below, bare (``sqrt(x)``) or in their JAX spelling (``jnp.sqrt``,
  ``jax.numpy.sqrt``, ``jax.nn.relu``, ``jnp.linalg.norm``, ``jax.scipy.special.erf``), with
  tuples or lists as arguments (``reshape(x, (n, 2))``, ``stack([a, b])``), the keywords
  ``axis axes axis1 axis2 ddof k keepdims offset ord``, and a string only as einsum's first
  argument;
* a tuple as the final result (``x * 2, sum(x)``) for a function with several outputs.

Functions (``FUNCTIONS``), by the namespace they are taken from:

* jax.numpy: abs amax amin angle arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh
  cbrt ceil clip concatenate conj cos cosh cumprod cumsum diag diagonal diff dot einsum exp
  exp2 expand_dims expm1 eye flip floor full_like hstack hypot imag inner kron log log10
  log1p log2 logaddexp logical_and logical_not logical_or matmul max maximum mean median min
  minimum mod moveaxis ones_like outer power prod ravel real reciprocal reshape roll round
  sign sin sinc sinh sort sqrt square squeeze stack std sum swapaxes tan tanh tensordot tile
  trace transpose tril triu var vdot vstack where zeros_like
* jax.nn: celu elu gelu hard_tanh leaky_relu log_sigmoid log_softmax relu relu6 selu sigmoid
  silu softmax softplus swish
* jax.numpy.linalg: cholesky det eigh eigvalsh inv norm pinv qr slogdet solve svd svdvals
* jax.scipy.special: digamma erf erfc erfinv gammaln logit logsumexp xlog1py xlogy

``max min amax amin`` are reductions, so ``max(x, 0)`` (which would reduce over axis 0) is
refused: the element-wise form is ``maximum(x, 0)``. ``slogdet``, ``eigh``, ``qr`` and
``svd`` return tuples: index them (``slogdet(A)[1]``). ``eye``/``arange`` give JAX's default
dtype. Numbers stay Python numbers, so they are weakly typed and keep float32 float32.
"""

from __future__ import annotations

from collections.abc import Collection

from adcli._spec import vocabulary
from adcli._spec.compiler import CompiledFormula, Compiler
from adcli._spec.vocabulary import CONSTANTS as CONSTANTS
from adcli._spec.vocabulary import FUNCTIONS as FUNCTIONS
from adcli._spec.vocabulary import KEYWORDS as KEYWORDS

__all__ = ["CONSTANTS", "FUNCTIONS", "KEYWORDS", "CompiledFormula", "parse_formula"]

# The tables under the names they had when they lived here (tests read them from this module).
_MODULES, _HOMES, _SPELLING = vocabulary.MODULES, vocabulary.HOMES, vocabulary.SPELLING


def parse_formula(
    source: str,
    *,
    names: Collection[str],
    file: str | None = None,
    first_line: int | None = None,
    field: str = "function.expr",
) -> CompiledFormula:
    """Validate a formula and compile it to a :class:`CompiledFormula` (does not import jax).

    Args:
        source: the formula text (one expression, or ``name = expr`` lines and an expression).
        names: the names the formula may read (inputs, constants, dims).
        file: the spec file, for errors.
        first_line: the file line of the formula's first line (None: lines count from 1).
        field: the spec field the formula came from, for errors (e.g. ``expect.grad.x``).

    Raises:
        SpecError: for syntax errors and anything outside the language, naming the file
            line and the offending token.

    >>> f = parse_formula("v = x * 2\\nv + 1", names={"x"})
    >>> f.steps, f.result_text, f({"x": 3})
    ((('v', 'x * 2', 1),), 'v + 1', 7)
    """
    first = 1 if first_line is None else first_line
    return Compiler(str(source), set(names), file, first, field).compile()
