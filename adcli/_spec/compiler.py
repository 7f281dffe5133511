"""Compile a formula's syntax tree (``ast``) to a tree of closures, refusing anything
outside the language of ``adcli._spec.expr`` with a SpecError that names the file line and
the offending token. User text never reaches ``eval``/``exec``/``compile``.
"""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from adcli._errors import SpecError, did_you_mean
from adcli._spec import vocabulary as v

Eval = Callable[[dict[str, Any]], Any]


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
        steps: list[tuple[str, str, int, Eval]],
        result: tuple[str, int, Eval],
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


class Compiler:
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
        steps: list[tuple[str, str, int, Eval]] = []
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
            raise self.error(stmt, f"'{word}' is not allowed: {v.STATEMENT_RULE}")
        target = stmt.targets[0]
        if len(stmt.targets) != 1 or not isinstance(target, ast.Name):
            hint = "e.g. 's = slogdet(A)', then use s[0] and s[1]"
            raise self.error(stmt, f"'{text}': assign to one plain name only", hint)
        name = target.id
        if name.startswith("__"):
            raise self.error(stmt, f"'{name}' is not allowed: names with '__' are reserved")
        if name in self.names:
            raise self.error(stmt, f"'{name}' is an input, constant or dim: it cannot be assigned")
        if name in v.HOMES:
            raise self.error(stmt, f"'{name}' is a function name: it cannot be assigned")
        if name in v.CONSTANT_VALUES or name in ("jnp", "jax"):
            raise self.error(stmt, f"'{name}' is a built-in name: it cannot be assigned")
        if name in self.assigned:
            where = f"'{name}' is already assigned on line {self.assigned[name]}"
            raise self.error(stmt, where, "use a new name, so that each step has its own")
        return name, stmt.value

    # -- expressions --------------------------------------------------------------------

    def sequence(self, elts: list[ast.expr], kind: type, each: Callable[..., Eval]) -> Eval:
        parts = [each(elt) for elt in elts]
        return lambda scope: kind(part(scope) for part in parts)

    def expr(self, node: ast.expr) -> Eval:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp | ast.Compare):
            if isinstance(node, ast.Compare) and len(node.ops) != 1:
                hint = "write logical_and(a < b, b < c)"
                raise self.error(node, f"'{self.segment(node)}': one comparison only", hint)
            table = v.BINOPS if isinstance(node, ast.BinOp) else v.COMPARE
            op_node = node.op if isinstance(node, ast.BinOp) else node.ops[0]
            if type(op_node) not in table:
                symbol = v.SYMBOLS.get(type(op_node), type(op_node).__name__)
                raise self.error(node, f"'{symbol}' is not allowed")
            op = table[type(op_node)]
            right_node = node.right if isinstance(node, ast.BinOp) else node.comparators[0]
            left, right = self.expr(node.left), self.expr(right_node)
            return lambda scope: op(left(scope), right(scope))
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in v.UNARY:
                advice = "use logical_not(x)" if isinstance(node.op, ast.Not) else None
                raise self.error(node, f"'{v.SYMBOLS[type(node.op)]}' is not allowed", advice)
            unary, operand = v.UNARY[type(node.op)], self.expr(node.operand)
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

    def constant(self, node: ast.Constant) -> Eval:
        value = node.value
        if isinstance(value, bool | int | float | complex):
            return lambda scope: value
        if isinstance(value, str | bytes):
            raise self.string_error(node)
        what = "None" if value is None else "..."
        raise self.error(node, f"'{what}' is allowed only inside [ ], as in x[None] or x[..., 0]")

    def name(self, node: ast.Name) -> Eval:
        name = node.id
        if name.startswith("__"):
            raise self.error(node, f"'{name}' is not allowed: names with '__' are reserved")
        if name in self.names or name in self.assigned:  # these shadow pi, e, inf, nan
            self.used.add(name)
            return lambda scope: scope[name]
        if name in v.CONSTANT_VALUES:
            value = v.CONSTANT_VALUES[name]
            return lambda scope: value
        if name in self.later:
            where = f"on line {self.later[name]}"
            raise self.error(node, f"'{name}' is used before it is assigned ({where})")
        if name in v.HOMES:
            raise self.error(node, f"'{name}' is a function: call it, as in {name}(x)")
        known = [*self.names, *self.assigned, *v.CONSTANT_VALUES]
        raise self.error(node, f"unknown name '{name}'", did_you_mean(name, known))

    def index(self, node: ast.expr) -> Eval:
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

    def attribute(self, node: ast.Attribute) -> Eval:
        if node.attr == "T":
            value = self.expr(node.value)
            return lambda scope: v.function("transpose")(value(scope))
        dotted = _dotted(node)
        if dotted and dotted.split(".")[0] not in self.names | self.assigned.keys():
            prefix, _, last = dotted.rpartition(".")
            if v.PREFIXES.get(prefix) == "jnp" and last in v.CONSTANT_VALUES:  # jnp.pi
                number = v.CONSTANT_VALUES[last]
                return lambda scope: number
            if prefix in v.PREFIXES and last in v.HOMES:
                raise self.error(node, f"'{dotted}' is a function: call it, as in {dotted}(x)")
        hint = "shapes are fixed by the spec: use its dims" if node.attr == "shape" else None
        raise self.error(node, f"'{node.attr}' is not allowed: {v.ATTRIBUTE_RULE}", hint)

    def call(self, node: ast.Call) -> Eval:
        name = self.function_name(node.func)
        if name in v.REDUCTIONS and len(node.args) > 1:
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
            if keyword.arg not in v.KEYWORDS:
                allowed = "the keywords are " + ", ".join(v.KEYWORDS)
                problem = f"keyword '{keyword.arg}=' is not allowed: {allowed}"
                raise self.error(keyword, problem, did_you_mean(keyword.arg, v.KEYWORDS))
            keywords.append((keyword.arg, self.argument(keyword.value)))

        def call(scope: dict[str, Any]) -> Any:
            kwargs = {key: value(scope) for key, value in keywords}
            return v.function(name)(*(arg(scope) for arg in args), **kwargs)

        return call

    def argument(self, node: ast.expr) -> Eval:
        if isinstance(node, ast.Tuple):
            return self.sequence(node.elts, tuple, self.argument)
        if isinstance(node, ast.List):
            return self.sequence(node.elts, list, self.argument)
        return self.expr(node)

    def einsum_subscripts(self, node: ast.Constant) -> Eval:
        subscripts = node.value
        if not isinstance(subscripts, str) or not v.EINSUM_SUBSCRIPTS.fullmatch(subscripts):
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
            if name in v.HOMES:  # a call is never of a value, so `norm(x)` works beside input norm
                return name
            if is_value:
                raise self.error(func, f"'{name}' is not a function")
            raise self.error(func, f"unknown function '{name}'", did_you_mean(name, v.FUNCTIONS))
        if prefix not in v.PREFIXES or is_value:
            hint = f"write {name}(...)" if name in v.HOMES else None
            raise self.error(func, f"'{dotted}' is not allowed: {v.ATTRIBUTE_RULE}", hint)
        namespace = v.PREFIXES[prefix]
        if name in v.HOMES and namespace in v.HOMES[name]:
            return name
        if name in v.HOMES:
            home = v.SPELLING[v.HOMES[name][0]]
            hint = f"write {name}(...) or {home}.{name}(...)"
            raise self.error(func, f"'{dotted}' is not available: {name} is in {home}", hint)
        choices = [f for f, homes in v.HOMES.items() if namespace in homes]
        raise self.error(func, f"unknown function '{dotted}'", did_you_mean(name, choices))
