"""adcli: check, choose and budget automatic differentiation in JAX, from YAML specs.

Importing adcli does not import jax; the functions that compute import it when called.

>>> import adcli, numpy as np
>>> report = adcli.check("specs/quadratic.yaml", points=1)   # a spec file (or a Spec)
>>> report.exit_code
0
>>> adcli.check(lambda x: (x * x).sum(), np.ones(3)).verdict  # a callable at example args
'pass'
>>> import jax.numpy as jnp
>>> adcli.assert_grads(jnp.tanh, (np.ones(2),), order=2)       # like jax check_grads
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    # Exactly the names of _LAZY below, for type checkers and IDEs
    # (tests/check/test_lazy_names.py keeps the two equal).
    from adcli._check.api import assert_grads as assert_grads
    from adcli._check.api import check as check
    from adcli._check.engine import check_spec as check_spec
    from adcli._check.function import check_function as check_function
    from adcli._curvature.engine import curvature as curvature
    from adcli._curvature.engine import curvature_report as curvature_report
    from adcli._errors import AdcliError as AdcliError
    from adcli._errors import SpecError as SpecError
    from adcli._errors import UsageError as UsageError
    from adcli._estimate.engine import estimate as estimate
    from adcli._estimate.engine import estimate_function as estimate_function
    from adcli._estimate.sweep import estimate_sweep as estimate_sweep
    from adcli._estimate.sweep import run_estimate as estimate_report  # noqa: F401 (in __all__)
    from adcli._explain.engine import explain as explain
    from adcli._explain.engine import explain_report as explain_report
    from adcli._memory.engine import analyse_memory as analyse_memory
    from adcli._memory.engine import memory_report as memory_report
    from adcli._modes.engine import choose_mode as choose_mode
    from adcli._modes.run import run_choose_mode as choose_mode_report  # noqa: F401 (in __all__)
    from adcli._problem.build import build as build
    from adcli._results.check import CheckReport as CheckReport
    from adcli._results.check import Comparison as Comparison
    from adcli._results.check import Mismatch as Mismatch
    from adcli._results.check import SpecResult as SpecResult
    from adcli._spec.config import load_config as load_config
    from adcli._spec.load import load_file as load_file
    from adcli._spec.load import load_text as load_text
    from adcli._spec.model import Spec as Spec
    from adcli._spec.select import Overrides as Overrides

# Every public name loads on first use (PEP 562): `import adcli` (and so loading the pytest
# plugin, which lives in this package) costs almost nothing, and jax comes only with a check.
_LAZY = {
    "AdcliError": ("adcli._errors", "AdcliError"),
    "SpecError": ("adcli._errors", "SpecError"),
    "UsageError": ("adcli._errors", "UsageError"),
    "CheckReport": ("adcli._results.check", "CheckReport"),
    "Comparison": ("adcli._results.check", "Comparison"),
    "Mismatch": ("adcli._results.check", "Mismatch"),
    "SpecResult": ("adcli._results.check", "SpecResult"),
    "Spec": ("adcli._spec.model", "Spec"),
    "check": ("adcli._check.api", "check"),
    "assert_grads": ("adcli._check.api", "assert_grads"),
    "check_function": ("adcli._check.function", "check_function"),
    "load_config": ("adcli._spec.config", "load_config"),
    "Overrides": ("adcli._spec.select", "Overrides"),
    "load_file": ("adcli._spec.load", "load_file"),
    "load_text": ("adcli._spec.load", "load_text"),
    "check_spec": ("adcli._check.engine", "check_spec"),
    "choose_mode": ("adcli._modes.engine", "choose_mode"),
    "choose_mode_report": ("adcli._modes.run", "run_choose_mode"),
    "build": ("adcli._problem.build", "build"),
    "analyse_memory": ("adcli._memory.engine", "analyse_memory"),
    "memory_report": ("adcli._memory.engine", "memory_report"),
    "explain": ("adcli._explain.engine", "explain"),
    "explain_report": ("adcli._explain.engine", "explain_report"),
    "curvature": ("adcli._curvature.engine", "curvature"),
    "curvature_report": ("adcli._curvature.engine", "curvature_report"),
    "estimate": ("adcli._estimate.engine", "estimate"),
    "estimate_function": ("adcli._estimate.engine", "estimate_function"),
    "estimate_sweep": ("adcli._estimate.sweep", "estimate_sweep"),
    "estimate_report": ("adcli._estimate.sweep", "run_estimate"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'adcli' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]  # built from _LAZY, so the two cannot drift


def __dir__() -> list[str]:
    """Only the public API (not ``Any``, ``TYPE_CHECKING`` or the loaded submodules)."""
    return sorted(__all__)
