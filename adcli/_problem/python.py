"""Import the user's Python callable named by a spec (``python: file.py:fn``)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adcli._errors import SpecError, did_you_mean
from adcli._spec.model import Spec


def load_python(ref: str, base_dir: str, spec: Spec, where: str) -> Callable[..., Any]:
    """Import ``file.py:attr`` (relative to the spec) or ``package.module:attr``.

    This runs the user's own module code, as pytest does with test files.
    """
    obj = load_object(ref, base_dir, spec, where)
    if not callable(obj):
        line = spec.line_of(where)
        raise SpecError(f"'{ref}' is not callable", file=spec.where.file, line=line, field=where)
    function: Callable[..., Any] = obj
    return function


def load_object(ref: str, base_dir: str, spec: Spec, where: str) -> Any:
    """What ``file.py:attr`` or ``package.module:attr`` names: a callable or a value."""
    target, _, attr = ref.rpartition(":")
    line = spec.line_of(where)
    try:
        if target.endswith(".py"):
            path = (Path(base_dir) / target).resolve()
            module_name = "adcli_user_" + str(zlib.crc32(str(path).encode()))
            module = sys.modules.get(module_name)
            if module is None:
                module_spec = importlib.util.spec_from_file_location(module_name, path)
                if module_spec is None or module_spec.loader is None:
                    raise ImportError(f"cannot import {path}")
                module = importlib.util.module_from_spec(module_spec)
                # Let the user's module import its neighbours, as a script would.
                sys.path.insert(0, str(path.parent))
                try:
                    sys.modules[module_name] = module
                    module_spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(module_name, None)
                    raise
                finally:
                    sys.path.remove(str(path.parent))
        else:
            module = importlib.import_module(target)
    except SpecError:
        raise
    except Exception as exc:  # the user's module failed to import: show why, no traceback
        raise SpecError(
            f"cannot import '{target}': {type(exc).__name__}: {exc}",
            file=spec.where.file,
            line=line,
            field=where,
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            raise SpecError(
                f"'{target}' has no attribute '{attr}'",
                file=spec.where.file,
                line=line,
                field=where,
                hint=did_you_mean(part, public),
            )
        obj = getattr(obj, part)
    return obj
