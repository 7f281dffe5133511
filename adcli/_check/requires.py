"""Specs whose code needs a package that is not installed: reported skipped, not failed.

The bundled model specs (specs/models/) need Flax, Equinox and optax, the ``models`` extra;
``pip install . && adcli check specs/`` without it checks every other spec and says which
were not checked and why. Only the packages a spec lists under ``requires:`` count: any
other import error is the spec's error, as before.
"""

from __future__ import annotations

import importlib.util

from adcli._results.check import SpecResult
from adcli._results.common import Verdict
from adcli._spec.model import Spec

EXTRA = {"flax": "models", "equinox": "models", "optax": "models"}


def missing(spec: Spec) -> list[str]:
    """The packages under ``requires:`` that cannot be imported here (none is imported)."""
    out = []
    for name in spec.requires:
        top = name.partition(".")[0]
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def not_installed(spec: Spec) -> SpecResult | None:
    """A skipped result naming what is missing, or None when everything is installed."""
    absent = missing(spec)
    if not absent:
        return None
    extras = sorted({EXTRA[n] for n in absent if n in EXTRA})
    how = f" (pip install 'adcli[{','.join(extras)}]')" if extras else ""
    verb = "is" if len(absent) == 1 else "are"
    note = f"not checked: {', '.join(absent)} {verb} not installed{how}"
    return unchecked(spec, "skipped", notes=(note,))


def unchecked(
    spec: Spec,
    verdict: Verdict,
    *,
    line: int | None = None,
    notes: tuple[str, ...] = (),
    error: str | None = None,
) -> SpecResult:
    """The result of a spec that was not checked (skipped, or an error before any
    comparison): its header, the verdict, and why (``notes`` or ``error``)."""
    return SpecResult(
        name=spec.name,
        file=spec.where.file,
        line=line or spec.where.line,
        verdict=verdict,
        seed=spec.check.seed,
        points=spec.check.points,
        dims=dict(spec.dims),
        backend="-",
        dtypes={},
        method="-",
        notes=notes,
        error=error,
    )
