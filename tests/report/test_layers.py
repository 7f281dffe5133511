"""Data flows one way: engines → results → reporters → CLI. No back-edges.

Reporters import results (and ``adcli._units``/``adcli._errors``), never an engine; the
results layer imports neither jax nor rich; nothing outside the CLI imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import adcli

PACKAGE = Path(adcli.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports in functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


@pytest.mark.parametrize("path", _modules("_report"), ids=lambda p: p.name)
def test_reporters_import_no_engine(path: Path) -> None:
    allowed = ("adcli._results", "adcli._report", "adcli._units", "adcli._errors")
    ours = {m for m in _imports(path) if m.startswith("adcli")}
    assert all(m.startswith(allowed) for m in ours), sorted(ours)
    assert not {m for m in _imports(path) if m.split(".")[0] == "jax"}


@pytest.mark.parametrize("path", _modules("_results"), ids=lambda p: p.name)
def test_results_import_neither_jax_nor_rich(path: Path) -> None:
    roots = {m.split(".")[0] for m in _imports(path)}
    assert not roots & {"jax", "jaxlib", "rich", "click", "numpy"}
    ours = {m for m in _imports(path) if m.startswith("adcli")}
    assert all(m.startswith("adcli._results") for m in ours), sorted(ours)


def test_only_the_cli_imports_the_cli() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "_cli" or path.name == "__main__.py":  # `python -m adcli`
            continue
        assert not {m for m in _imports(path) if m.startswith("adcli._cli")}, path
