"""adcli: check, choose and budget automatic differentiation in JAX, from YAML specs.

Importing adcli does not import jax; the functions that compute import it when called.

>>> import adcli
>>> report = adcli.check("specs/lecture_L.yaml")   # doctest: +SKIP
>>> report.exit_code                                # doctest: +SKIP
0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adcli._errors import AdcliError as AdcliError
from adcli._errors import SpecError as SpecError
from adcli._errors import UsageError as UsageError
from adcli._results import CheckReport as CheckReport
from adcli._results import Comparison as Comparison
from adcli._results import Mismatch as Mismatch
from adcli._results import SpecResult as SpecResult
from adcli._spec import Spec as Spec

__version__ = "0.1.0"

if TYPE_CHECKING:
    from adcli._load import load_file as load_file
    from adcli._load import load_text as load_text
    from adcli._run import Overrides as Overrides
    from adcli._run import check as check

# Public names that need jax (or are heavier) load on first use: PEP 562.
_LAZY = {
    "check": ("adcli._run", "check"),
    "Overrides": ("adcli._run", "Overrides"),
    "load_file": ("adcli._load", "load_file"),
    "load_text": ("adcli._load", "load_text"),
    "check_spec": ("adcli._check", "check_spec"),
    "choose_mode": ("adcli._mode", "choose_mode"),
    "build": ("adcli._builder", "build"),
    "analyse_memory": ("adcli._memory", "analyse_memory"),
    "memory_report": ("adcli._memory", "memory_report"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'adcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
