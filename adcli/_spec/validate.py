"""``adcli validate``: load specs and parse their formulas, without running them (no jax).

What it catches is everything the loader catches (YAML, keys, types, shapes, dims, inits,
``python:`` files that do not exist) plus formula errors (syntax, unknown names and
functions). What needs the function to run (output shapes, a ``python:`` module that fails to
import) is left to ``adcli check``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from adcli._errors import SpecError
from adcli._spec.model import Spec


@dataclass(frozen=True)
class ValidateReport:
    """Files and specs read; one message per file that failed (first error of each)."""

    files: int
    specs: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        return 2 if self.errors else 0


def check_formulas(spec: Spec) -> None:
    """Parse every ``expr:`` of a spec as the builder will (same names); raise SpecError."""
    from adcli._spec.expr import parse_formula

    names = set(spec.inputs) | set(spec.constants)
    found = [("function", spec.function)]
    for kind in ("grad", "hessian"):
        found += [(f"expect.{kind}.{n}", f) for n, f in getattr(spec.expect, kind).items()]
    for where, formula in found:
        if formula.expr is not None:
            parse_formula(
                formula.expr,
                names=names,
                file=spec.where.file,
                first_line=formula.expr_line,
                field=f"{where}.expr" if where != "function" else "function.expr",
            )


def validate(paths: Sequence[str | os.PathLike[str]]) -> ValidateReport:
    """Validate every spec file under ``paths``.

    Raises:
        SpecError: a path does not exist (or a directory holds no spec files).

    >>> validate(["specs/quadratic.yaml"])
    ValidateReport(files=1, specs=('quadratic',), errors=())
    """
    from adcli._spec.load import find_spec_files, load_file

    files = find_spec_files(paths)
    names: list[str] = []
    errors: list[str] = []
    for file in files:
        try:
            specs = load_file(file)
            for spec in specs:
                check_formulas(spec)
        except SpecError as exc:
            errors.append(exc.format())
            continue
        names += [s.name for s in specs]
    return ValidateReport(len(files), tuple(names), tuple(errors))
