"""Import the correct models of ``specs/models/`` by path, so that each buggy twin here
changes only its one derivative rule."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

MODELS = pathlib.Path(__file__).resolve().parents[2] / "specs" / "models"


def correct(name: str) -> ModuleType:
    """``specs/models/<name>.py`` as a module (imported once)."""
    key = f"adcli_correct_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, MODELS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
