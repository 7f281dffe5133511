"""``adcli/__init__.py``: its TYPE_CHECKING imports name exactly the lazy public API."""

from __future__ import annotations

import ast
from pathlib import Path

import adcli

INIT = Path(adcli.__file__)


def _module() -> ast.Module:
    return ast.parse(INIT.read_text(encoding="utf-8"))


def _lazy(tree: ast.Module) -> dict[str, tuple[str, str]]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "_LAZY":
            value: dict[str, tuple[str, str]] = ast.literal_eval(node.value)
            return value
    raise AssertionError("no _LAZY in adcli/__init__.py")


def _type_checking(tree: ast.Module) -> dict[str, tuple[str, str]]:
    (block,) = (
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    names = {}
    for stmt in block.body:
        assert isinstance(stmt, ast.ImportFrom) and stmt.module, ast.dump(stmt)
        for alias in stmt.names:
            names[alias.asname or alias.name] = (stmt.module, alias.name)
    return names


def test_type_checking_block_lists_exactly_the_lazy_names() -> None:
    tree = _module()
    assert _type_checking(tree) == _lazy(tree)  # same names, from the same places


def test_lazy_names_resolve_to_what_the_type_checking_block_says() -> None:
    tree = _module()
    assert sorted(_lazy(tree)) == sorted(adcli.__all__[1:])  # after __version__
    for name, (module, attr) in _lazy(tree).items():
        if module.startswith(("adcli._results", "adcli._errors", "adcli._spec")):  # no jax
            target = __import__(module, fromlist=[attr])
            assert getattr(adcli, name) is getattr(target, attr)
