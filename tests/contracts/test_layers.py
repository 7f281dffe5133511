"""The layer rules, read from the source: which package may import what.

Every ``import`` statement in adcli/ counts, wherever it is: at module level, inside a
function (a lazy import is still a dependency), under ``if TYPE_CHECKING``. Imports made
by name at run time (``importlib.import_module``) are not seen; the start-up contracts in
test_startup.py measure what is actually imported.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "adcli"

ENGINES = tuple(
    f"adcli.{name}"
    for name in (
        "_check",
        "_modes",
        "_memory",
        "_explain",
        "_estimate",
        "_curvature",
        "_numerics",
        "_problem",
    )
)


@dataclass(frozen=True)
class Import:
    """One imported name: ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a.b``."""

    file: str  # relative to the repository root, with /
    line: int
    name: str
    at_module_level: bool


@dataclass(frozen=True)
class Rule:
    """Modules under ``layers`` must not import a name under ``forbidden``; with
    ``allowed``, they may import only those names and the standard library."""

    id: str
    why: str
    layers: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    allowed: tuple[str, ...] | None = None
    module_level_only: bool = False  # a function-level import is fine (paid on use)

    def breaks(self, imp: Import) -> bool:
        if self.module_level_only and not imp.at_module_level:
            return False
        if self.allowed is None:
            return _under(imp.name, self.forbidden)
        top = imp.name.partition(".")[0]
        if top == "adcli":
            return not _under(imp.name, self.allowed)
        return top not in sys.stdlib_module_names


RULES = (
    Rule(
        "spec",
        "the spec layer says what a spec is: no jax, no rendering, no CLI, no engine",
        ("adcli._spec",),
        forbidden=("jax", "rich", "click", "adcli._cli", "adcli._report", *ENGINES),
    ),
    Rule(
        "spec-numpy",
        "loading and validating a spec costs no numpy: only a file init: imports it, on use",
        ("adcli._spec",),
        forbidden=("numpy",),
        module_level_only=True,
    ),
    Rule(
        "results",
        "results are plain data: they import only results, errors, units and the stdlib",
        ("adcli._results",),
        allowed=("adcli._results", "adcli._errors", "adcli._units"),
    ),
    Rule(
        "base",
        "errors, units, atomic file writes and options-from-keywords sit under every layer: "
        "the standard library only",
        ("adcli._errors", "adcli._units", "adcli._files", "adcli._options"),
        allowed=(),
    ),
    Rule(
        "report",
        "reporters render results and compute nothing: no engine, no jax or numpy, no CLI",
        ("adcli._report",),
        forbidden=("jax", "numpy", "click", "adcli._cli", *ENGINES),
    ),
    Rule(
        "engines",
        "engines return data: no CLI, no terminal (click, rich)",
        ENGINES,
        forbidden=("adcli._cli", "click", "rich"),
    ),
    Rule(
        "model-libraries",
        "adcli takes Flax, Equinox and optax models as pytrees without importing them (they "
        "are the models extra, for the bundled model specs and the tests)",
        ("adcli",),
        forbidden=("flax", "equinox", "optax"),
    ),
    Rule(
        "plugin",
        "the pytest plugin runs checks and renders them without the CLI",
        ("adcli._pytest_plugin",),
        forbidden=("adcli._cli", "click"),
    ),
)

# What no rule constrains, because it sits on top: the lazy public API (adcli/__init__.py),
# `python -m adcli` and the CLI. A new module or package must get a rule or be listed here.
UNCONSTRAINED = {"adcli", "adcli.__main__"}
UNCONSTRAINED_PACKAGES = ("adcli._cli",)

# Imports that break a rule today, each to be removed; the lead empties this list as the
# fixes merge. A listed import that is no longer there fails the test, so it cannot rot.
KNOWN_VIOLATIONS: set[tuple[str, str, str]] = set()


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, file: str, package: str) -> list[Import]:
    """Every import statement in ``source`` (a module of ``package``), at any depth."""
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    # Imports under module-level if/try blocks run at import time too, except those for the
    # type checker only (they are still dependencies, but cost nothing at run time).
    for stmt in tree.body:
        if isinstance(stmt, ast.If | ast.Try) and not _type_checking(stmt):
            top |= {id(child) for child in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y inside package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [Import(file, node.lineno, name, id(node) in top) for name in names]
    return sorted(found, key=lambda imp: imp.line)


def _type_checking(node: ast.stmt) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    test = getattr(node, "test", None)
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
        "TYPE_CHECKING"
    )


def _all_imports() -> list[tuple[str, Import]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        rel = path.relative_to(ROOT).as_posix()
        found += [(name, imp) for imp in imports(path.read_text(), rel, package)]
    return found


ALL = _all_imports()


def violations(rule: Rule) -> list[Import]:
    return [imp for module, imp in ALL if _under(module, rule.layers) and rule.breaks(imp)]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_layer_rule(rule: Rule) -> None:
    found = [v for v in violations(rule) if (rule.id, v.file, v.name) not in KNOWN_VIOLATIONS]
    lines = [f"{v.file}:{v.line}: imports {v.name}" for v in found]
    assert not lines, f"{rule.id}: {rule.why}\n" + "\n".join(lines)


def test_known_violations_are_still_there() -> None:
    rules = {rule.id: rule for rule in RULES}
    present = {(r, v.file, v.name) for r in rules for v in violations(rules[r])}
    gone = sorted(KNOWN_VIOLATIONS - present)
    assert not gone, f"fixed, so remove from KNOWN_VIOLATIONS: {gone}"


def test_every_module_is_under_a_rule_or_listed_as_unconstrained() -> None:
    covered = (*UNCONSTRAINED_PACKAGES, *(layer for rule in RULES for layer in rule.layers))
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    loose = sorted(m for m in modules - UNCONSTRAINED if not _under(m, covered))
    assert loose == [], f"give these a rule in RULES or list them in UNCONSTRAINED: {loose}"


def test_the_scanner_sees_imports_at_every_depth() -> None:
    source = textwrap.dedent(
        """\
        import os.path
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from rich.console import Console

        def f():
            import jax.numpy as jnp
            from . import sibling
            from ..up import thing

        class C:
            def g(self):
                from numpy import linalg
        """
    )
    found = [(i.line, i.name, i.at_module_level) for i in imports(source, "m.py", "pkg.sub")]
    assert found == [
        (1, "os.path", True),
        (2, "typing.TYPE_CHECKING", True),
        (5, "rich.console.Console", False),  # for the type checker: not run
        (8, "jax.numpy", False),
        (9, "pkg.sub.sibling", False),
        (10, "pkg.up.thing", False),
        (14, "numpy.linalg", False),
    ]


def test_a_rule_names_file_line_and_import() -> None:
    rule = next(r for r in RULES if r.id == "results")
    bad = Import("adcli/_results/x.py", 7, "jax.numpy", True)
    assert rule.breaks(bad)
    assert not rule.breaks(Import("adcli/_results/x.py", 8, "dataclasses.field", True))
    assert not rule.breaks(Import("adcli/_results/x.py", 9, "adcli._errors.SpecError", True))
    assert rule.breaks(Import("adcli/_results/x.py", 9, "adcli._check.engine", True))
    spec_numpy = next(r for r in RULES if r.id == "spec-numpy")
    assert not spec_numpy.breaks(Import("adcli/_spec/x.py", 3, "numpy", False))
    assert spec_numpy.breaks(Import("adcli/_spec/x.py", 3, "numpy", True))
