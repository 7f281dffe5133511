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

import ast
import functools
import importlib
import math
import operator
import re
import textwrap
import warnings
from collections.abc import Callable, Collection, Mapping
from typing import Any

from adcli._errors import SpecError, did_you_mean

__all__ = ["CONSTANTS", "FUNCTIONS", "KEYWORDS", "CompiledFormula", "parse_formula"]

_Eval = Callable[[dict[str, Any]], Any]

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
_HOMES: dict[str, tuple[str, ...]] = {
    name: (group, *([_ALSO[name]] if name in _ALSO else []))
    for group, names in _GROUPS.items()
    for name in names.split()
}
_PREFIXES = {
    "jnp": "jnp",
    "jax.numpy": "jnp",
    "jax.nn": "nn",
    "jnp.linalg": "linalg",
    "jax.numpy.linalg": "linalg",
    "jax.scipy.special": "special",
}
_SPELLING = {"jnp": "jnp", "nn": "jax.nn", "linalg": "jnp.linalg", "special": "jax.scipy.special"}
_MODULES = {
    "jnp": "jax.numpy",
    "nn": "jax.nn",
    "linalg": "jax.numpy.linalg",
    "special": "jax.scipy.special",
}

FUNCTIONS: tuple[str, ...] = tuple(sorted(_HOMES))
# Python floats, so that they stay weakly typed.
_CONSTANT_VALUES = {"e": math.e, "inf": math.inf, "nan": math.nan, "pi": math.pi}
CONSTANTS: tuple[str, ...] = tuple(sorted(_CONSTANT_VALUES))
KEYWORDS = ("axes", "axis", "axis1", "axis2", "ddof", "k", "keepdims", "offset", "ord")
_REDUCTIONS = frozenset({"max", "min", "amax", "amin"})
_EINSUM_SUBSCRIPTS = re.compile(r"[A-Za-z,.\->\s]*")

_SYMBOLS: dict[type, str] = {
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
_ATTRIBUTE_RULE = "attribute access is limited to .T and the jnp./jax.nn./jnp.linalg. namespaces"
_STATEMENT_RULE = "a formula is 'name = expression' lines ending in one expression"


@functools.cache
def _function(name: str) -> Callable[..., Any]:
    # Imported on first evaluation only: validating a spec must not pay for `import jax`.
    module = importlib.import_module(_MODULES[_HOMES[name][0]])
    function: Callable[..., Any] = getattr(module, name)
    return function


def _power(base: Any, exponent: Any) -> Any:
    # Python ints have no size limit: refuse `9**9**9` instead of hanging on it.
    ints = isinstance(base, int) and isinstance(exponent, int)
    if ints and abs(base).bit_length() * abs(exponent) > 100_000:
        raise OverflowError(f"integer power {base}**{exponent} is too large")
    return base**exponent


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
    ast.MatMult: lambda a, b: _function("matmul")(a, b),
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.Gt: operator.gt,
    ast.LtE: operator.le,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _nothing(scope: dict[str, Any]) -> None:
    return None  # an omitted slice bound


def _dotted(node: ast.expr) -> str | None:
    """``jax.nn.relu`` for an Attribute chain on a plain name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


class CompiledFormula:
    """A validated formula; calling it with ``{name: array}`` evaluates it with jax.numpy.

    Attributes:
        source: the formula text as given.
        steps: ``(name, rhs text, file line)`` for each ``name = expr`` line, in order.
        result_text: the text of the final expression.
        used_names: which of the caller's ``names`` the formula reads.
    """

    def __init__(
        self,
        source: str,
        steps: list[tuple[str, str, int, _Eval]],
        result: tuple[str, int, _Eval],
        used_names: frozenset[str],
        file: str | None,
        field: str,
    ) -> None:
        self.source = source
        self.steps = tuple((name, text, line) for name, text, line, _ in steps)
        self.result_text = result[0]
        self.used_names = used_names
        self._program = [*steps, ("", *result)]
        self._file = file
        self._field = field

    def __repr__(self) -> str:
        return f"CompiledFormula({self.source!r})"

    def __call__(self, env: Mapping[str, Any]) -> Any:
        """The formula's value; traceable by jit/vmap/grad when env holds jax values."""
        return self.evaluate_steps(env)[""]

    def evaluate_steps(self, env: Mapping[str, Any]) -> dict[str, Any]:
        """Every assigned intermediate by name, and the result under the key ``""``."""
        missing = self.used_names - env.keys()
        if missing:  # the caller's bug, not the user's: no SpecError
            raise KeyError(f"formula needs values for {sorted(missing)}")
        scope = dict(env)
        values: dict[str, Any] = {}
        for name, text, line, evaluate in self._program:
            try:
                value = evaluate(scope)
            except Exception as error:
                first = str(error).strip().splitlines()
                detail = f"{type(error).__name__}: {first[0]}" if first else type(error).__name__
                raise SpecError(
                    f"cannot evaluate '{text}': {detail}",
                    file=self._file,
                    line=line,
                    field=self._field,
                ) from error
            scope[name] = values[name] = value
        return values


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
    return _Compiler(str(source), set(names), file, first, field).compile()


class _Compiler:
    """One pass over the syntax tree: refuses what is outside the language, builds closures."""

    def __init__(self, source: str, names: set[str], file: str | None, first: int, field: str):
        self.source = source
        self.text = textwrap.dedent(source)  # an indented YAML scalar still parses; same lines
        self.names = names
        self.file, self.first, self.field = file, first, field
        self.assigned: dict[str, int] = {}  # names assigned so far -> file line
        self.later: dict[str, int] = {}  # every assigned name -> file line, for "used before"
        self.used: set[str] = set()

    def error(self, node: ast.AST | int, problem: str, hint: str | None = None) -> SpecError:
        line = node if isinstance(node, int) else self.line(node)
        return SpecError(problem, file=self.file, line=line, field=self.field, hint=hint)

    def line(self, node: ast.AST) -> int:
        return self.first + getattr(node, "lineno", 1) - 1

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    # -- statements ---------------------------------------------------------------------

    def compile(self) -> CompiledFormula:
        try:
            with warnings.catch_warnings():  # e.g. "'is' with a literal": refused below anyway
                warnings.simplefilter("ignore")
                body = ast.parse(self.text, mode="exec").body
        except SyntaxError as error:
            token = (error.text or "").strip()
            where = f" in '{token}'" if token else ""
            line = self.first + (error.lineno or 1) - 1
            raise self.error(line, f"invalid syntax{where}: {error.msg}") from None
        except ValueError as error:  # e.g. a NUL byte
            raise self.error(self.first, f"invalid formula: {error}") from None
        if not body:
            raise self.error(self.first, "the formula is empty", "write e.g. 'sum(x**2)'")
        for stmt in body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                self.later.setdefault(stmt.targets[0].id, self.line(stmt))
        steps: list[tuple[str, str, int, _Eval]] = []
        for stmt in body[:-1]:
            if isinstance(stmt, ast.Expr):
                self.expr(stmt.value)  # a forbidden construct is the better message
                raise self.error(
                    stmt,
                    f"'{self.segment(stmt)}' is unused: only the last line is a bare expression",
                    "assign it to a name, e.g. 'v1 = ...'",
                )
            name, value = self.assignment(stmt)
            steps.append((name, self.segment(value), self.line(stmt), self.expr(value)))
            self.assigned[name] = self.line(stmt)
        last = body[-1]
        if not isinstance(last, ast.Expr):
            name, _ = self.assignment(last)
            raise self.error(
                last,
                f"the last line assigns '{name}': it must be the result expression",
                f"add a last line '{name}'",
            )
        value = last.value
        if isinstance(value, ast.Tuple):  # several outputs
            result = self.sequence(value.elts, tuple, self.expr)
        else:
            result = self.expr(value)
        used = frozenset(self.used & self.names)
        program = (self.segment(value), self.line(last), result)
        return CompiledFormula(self.source, steps, program, used, self.file, self.field)

    def assignment(self, stmt: ast.stmt) -> tuple[str, ast.expr]:
        text = self.segment(stmt)
        if isinstance(stmt, ast.AugAssign):
            hint = "give the new value a new name, e.g. 'v2 = v1 + ...'"
            raise self.error(stmt, f"augmented assignment '{text}' is not allowed", hint)
        if isinstance(stmt, ast.AnnAssign):
            raise self.error(stmt, f"'{text}': annotations are not allowed")
        if not isinstance(stmt, ast.Assign):
            match = re.match(r"[^\s(:]+", text)  # the keyword: import, def, for, if, ...
            word = match.group(0) if match else type(stmt).__name__
            raise self.error(stmt, f"'{word}' is not allowed: {_STATEMENT_RULE}")
        target = stmt.targets[0]
        if len(stmt.targets) != 1 or not isinstance(target, ast.Name):
            hint = "e.g. 's = slogdet(A)', then use s[0] and s[1]"
            raise self.error(stmt, f"'{text}': assign to one plain name only", hint)
        name = target.id
        if name.startswith("__"):
            raise self.error(stmt, f"'{name}' is not allowed: names with '__' are reserved")
        if name in self.names:
            raise self.error(stmt, f"'{name}' is an input, constant or dim: it cannot be assigned")
        if name in _HOMES:
            raise self.error(stmt, f"'{name}' is a function name: it cannot be assigned")
        if name in _CONSTANT_VALUES or name in ("jnp", "jax"):
            raise self.error(stmt, f"'{name}' is a built-in name: it cannot be assigned")
        if name in self.assigned:
            where = f"'{name}' is already assigned on line {self.assigned[name]}"
            raise self.error(stmt, where, "use a new name, so that each step has its own")
        return name, stmt.value

    # -- expressions --------------------------------------------------------------------

    def sequence(self, elts: list[ast.expr], kind: type, each: Callable[..., _Eval]) -> _Eval:
        parts = [each(elt) for elt in elts]
        return lambda scope: kind(part(scope) for part in parts)

    def expr(self, node: ast.expr) -> _Eval:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp | ast.Compare):
            if isinstance(node, ast.Compare) and len(node.ops) != 1:
                hint = "write logical_and(a < b, b < c)"
                raise self.error(node, f"'{self.segment(node)}': one comparison only", hint)
            table = _BINOPS if isinstance(node, ast.BinOp) else _COMPARE
            op_node = node.op if isinstance(node, ast.BinOp) else node.ops[0]
            if type(op_node) not in table:
                symbol = _SYMBOLS.get(type(op_node), type(op_node).__name__)
                raise self.error(node, f"'{symbol}' is not allowed")
            op = table[type(op_node)]
            right_node = node.right if isinstance(node, ast.BinOp) else node.comparators[0]
            left, right = self.expr(node.left), self.expr(right_node)
            return lambda scope: op(left(scope), right(scope))
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                advice = "use logical_not(x)" if isinstance(node.op, ast.Not) else None
                raise self.error(node, f"'{_SYMBOLS[type(node.op)]}' is not allowed", advice)
            unary, operand = _UNARY[type(node.op)], self.expr(node.operand)
            return lambda scope: unary(operand(scope))
        if isinstance(node, ast.Subscript):
            value, index = self.expr(node.value), self.index(node.slice)
            return lambda scope: value(scope)[index(scope)]
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.refuse(node)

    def refuse(self, node: ast.expr) -> SpecError:
        text = self.segment(node)
        if isinstance(node, ast.Lambda):
            return self.error(node, "'lambda' is not allowed: functions cannot be defined")
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            return self.error(node, f"'{text}' is not allowed: comprehensions are not supported")
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            return self.error(node, f"'{word}' is not allowed", f"use logical_{word}(a, b)")
        if isinstance(node, ast.IfExp):
            return self.error(node, f"'{text}' is not allowed", "use where(cond, a, b)")
        if isinstance(node, ast.JoinedStr):
            return self.string_error(node)
        if isinstance(node, ast.Tuple):
            where = "as call arguments, inside [ ], or as the whole result"
            return self.error(node, f"'{text}': tuples are allowed only {where}")
        if isinstance(node, ast.List):
            hint = "write a tuple; to pick elements, index with an integer-array constant"
            return self.error(node, f"'{text}': lists are allowed only as call arguments", hint)
        return self.error(node, f"'{text}' is not allowed in a formula")

    def string_error(self, node: ast.expr) -> SpecError:
        where = "strings appear only as einsum's first argument"
        return self.error(node, f"string {self.segment(node)} is not allowed: {where}")

    def constant(self, node: ast.Constant) -> _Eval:
        value = node.value
        if isinstance(value, bool | int | float | complex):
            return lambda scope: value
        if isinstance(value, str | bytes):
            raise self.string_error(node)
        what = "None" if value is None else "..."
        raise self.error(node, f"'{what}' is allowed only inside [ ], as in x[None] or x[..., 0]")

    def name(self, node: ast.Name) -> _Eval:
        name = node.id
        if name.startswith("__"):
            raise self.error(node, f"'{name}' is not allowed: names with '__' are reserved")
        if name in self.names or name in self.assigned:  # these shadow pi, e, inf, nan
            self.used.add(name)
            return lambda scope: scope[name]
        if name in _CONSTANT_VALUES:
            value = _CONSTANT_VALUES[name]
            return lambda scope: value
        if name in self.later:
            where = f"on line {self.later[name]}"
            raise self.error(node, f"'{name}' is used before it is assigned ({where})")
        if name in _HOMES:
            raise self.error(node, f"'{name}' is a function: call it, as in {name}(x)")
        known = [*self.names, *self.assigned, *_CONSTANT_VALUES]
        raise self.error(node, f"unknown name '{name}'", did_you_mean(name, known))

    def index(self, node: ast.expr) -> _Eval:
        """What goes inside [ ]: expressions, slices, None, ..., and tuples of them."""
        if isinstance(node, ast.Tuple):
            return self.sequence(node.elts, tuple, self.index)
        if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
            value = node.value
            return lambda scope: value
        if isinstance(node, ast.Slice):
            bounds = (node.lower, node.upper, node.step)
            parts = [_nothing if p is None else self.expr(p) for p in bounds]
            return lambda scope: slice(*(part(scope) for part in parts))
        return self.expr(node)

    def attribute(self, node: ast.Attribute) -> _Eval:
        if node.attr == "T":
            value = self.expr(node.value)
            return lambda scope: _function("transpose")(value(scope))
        dotted = _dotted(node)
        if dotted and dotted.split(".")[0] not in self.names | self.assigned.keys():
            prefix, _, last = dotted.rpartition(".")
            if _PREFIXES.get(prefix) == "jnp" and last in _CONSTANT_VALUES:  # jnp.pi
                number = _CONSTANT_VALUES[last]
                return lambda scope: number
            if prefix in _PREFIXES and last in _HOMES:
                raise self.error(node, f"'{dotted}' is a function: call it, as in {dotted}(x)")
        hint = "shapes are fixed by the spec: use its dims" if node.attr == "shape" else None
        raise self.error(node, f"'{node.attr}' is not allowed: {_ATTRIBUTE_RULE}", hint)

    def call(self, node: ast.Call) -> _Eval:
        name = self.function_name(node.func)
        if name in _REDUCTIONS and len(node.args) > 1:
            word = name[-3:] + "imum"  # max -> maximum, amin -> minimum
            problem = f"'{self.segment(node)}': {name} reduces over an axis (its 2nd argument)"
            raise self.error(node, problem, f"for the element-wise {word} write {word}(a, b)")
        args = []
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                raise self.error(arg, f"'{self.segment(arg)}': starred arguments are not allowed")
            if name == "einsum" and position == 0 and isinstance(arg, ast.Constant):
                args.append(self.einsum_subscripts(arg))
            else:
                args.append(self.argument(arg))
        keywords = []
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.error(keyword, f"'{self.segment(keyword)}' is not allowed")
            if keyword.arg not in KEYWORDS:
                allowed = "the keywords are " + ", ".join(KEYWORDS)
                problem = f"keyword '{keyword.arg}=' is not allowed: {allowed}"
                raise self.error(keyword, problem, did_you_mean(keyword.arg, KEYWORDS))
            keywords.append((keyword.arg, self.argument(keyword.value)))

        def call(scope: dict[str, Any]) -> Any:
            kwargs = {key: value(scope) for key, value in keywords}
            return _function(name)(*(arg(scope) for arg in args), **kwargs)

        return call

    def argument(self, node: ast.expr) -> _Eval:
        if isinstance(node, ast.Tuple):
            return self.sequence(node.elts, tuple, self.argument)
        if isinstance(node, ast.List):
            return self.sequence(node.elts, list, self.argument)
        return self.expr(node)

    def einsum_subscripts(self, node: ast.Constant) -> _Eval:
        subscripts = node.value
        if not isinstance(subscripts, str) or not _EINSUM_SUBSCRIPTS.fullmatch(subscripts):
            hint = "letters, commas, '->' and '...', e.g. 'ij,j->i'"
            raise self.error(node, f"{self.segment(node)} is not an einsum subscript", hint)
        return lambda scope: subscripts

    def function_name(self, func: ast.expr) -> str:
        """The table name of the called function; a SpecError for anything else."""
        dotted = _dotted(func)
        if dotted is None:
            raise self.error(func, f"'{self.segment(func)}' cannot be called")
        for part in dotted.split("."):
            if part.startswith("__"):
                raise self.error(func, f"'{part}' is not allowed: names with '__' are reserved")
        prefix, _, name = dotted.rpartition(".")
        is_value = dotted.split(".")[0] in self.names | self.assigned.keys()
        if not prefix:
            if name in _HOMES:  # a call is never of a value, so `norm(x)` works beside input norm
                return name
            if is_value:
                raise self.error(func, f"'{name}' is not a function")
            raise self.error(func, f"unknown function '{name}'", did_you_mean(name, FUNCTIONS))
        if prefix not in _PREFIXES or is_value:
            hint = f"write {name}(...)" if name in _HOMES else None
            raise self.error(func, f"'{dotted}' is not allowed: {_ATTRIBUTE_RULE}", hint)
        namespace = _PREFIXES[prefix]
        if name in _HOMES and namespace in _HOMES[name]:
            return name
        if name in _HOMES:
            home = _SPELLING[_HOMES[name][0]]
            hint = f"write {name}(...) or {home}.{name}(...)"
            raise self.error(func, f"'{dotted}' is not available: {name} is in {home}", hint)
        choices = [f for f, homes in _HOMES.items() if namespace in homes]
        raise self.error(func, f"unknown function '{dotted}'", did_you_mean(name, choices))
