"""Project configuration: ``[tool.adcli]`` in the nearest pyproject.toml, merged with the CLI.

Precedence, highest first: the command line, the spec's own ``check:`` values, ``[tool.adcli]``,
adcli's defaults. (``rtol``/``atol``/``points``/``seed`` from the config are *project defaults*
for specs that set none of their own; a spec that chose a float32 tolerance keeps it.) Every
value remembers where it came from, so ``adcli config`` can say why it is what it is.

Imports only the standard library (and adcli's errors): the pytest plugin reads it at start-up.

>>> cfg = load_config(text='[tool.adcli]\\nrtol = 1e-7\\nspecs = ["specs"]', file="pyproject.toml")
>>> cfg["rtol"], cfg.source("rtol")
(1e-07, 'pyproject.toml:2')
>>> cfg.merged({"rtol": 1e-5})["rtol"], cfg.merged({"rtol": 1e-5}).source("rtol")
(1e-05, 'command line')
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from adcli._errors import UsageError, did_you_mean

FORMATS = ("text", "json", "github", "markdown")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return float(value)


def _int(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"expected an int >= {minimum}, got {value!r}")
        return value

    return check


def _paths(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f'expected a list of paths, e.g. ["specs"], got {value!r}')
    return tuple(value)


def _format(value: Any) -> str:
    if value not in FORMATS:
        hint = did_you_mean(str(value), FORMATS) or f"expected one of: {', '.join(FORMATS)}"
        raise ValueError(f"unknown format {value!r} ({hint})")
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _size(value: Any) -> int:
    from adcli._units import parse_size

    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'expected a size such as "8GB", got {value!r}')
    return parse_size(value)


# key -> (validator, default, meaning); the order is the order `adcli config` prints.
KEYS: dict[str, tuple[Callable[[Any], Any], Any, str]] = {
    "specs": (_paths, (), "spec files/directories checked when no PATHS are given"),
    "rtol": (_number, None, "relative tolerance for specs that set none (default: per dtype)"),
    "atol": (_number, None, "absolute tolerance for specs that set none (default: 0)"),
    "points": (_int(1), None, "evaluation points for specs that set none (default: 2)"),
    "seed": (_int(0), None, "seed for specs that set none (default: 0)"),
    "format": (_format, "text", "report format on stdout: text, json, github, markdown"),
    "allow-inconclusive": (_bool, False, "exit 0 when checks are only inconclusive"),
    "memory-budget": (_size, None, 'default memory budget in bytes ("8GB" accepted)'),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Merged settings: ``values[key]`` and ``sources[key]`` ("default", "FILE:LINE", ...)."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    file: str | None = None  # the pyproject.toml that was read, if any

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def source(self, key: str) -> str:
        return self.sources[key]

    def merged(self, cli: Mapping[str, Any], *, source: str = "command line") -> Config:
        """These settings with command-line values on top (``None`` means "not given")."""
        values, sources = dict(self.values), dict(self.sources)
        for key, value in cli.items():
            if key not in KEYS:
                raise UsageError(f"unknown setting {key!r}")
            if value is not None and value != () and value is not False:
                values[key], sources[key] = value, source
        return Config(values, sources, self.file)

    def render(self) -> str:
        """One line per key: ``key = value   # source``, TOML-like."""
        rows = [(k, _toml(self.values[k]), self.sources[k]) for k in KEYS]
        width = max(len(f"{k} = {v}") for k, v, _ in rows)
        head = f"# {self.file}" if self.file else "# no [tool.adcli] found: adcli's defaults"
        lines = [head] + [f"{f'{k} = {v}':<{width}}  # {s}" for k, v, s in rows]
        return "\n".join(lines)


def _toml(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def find_pyproject(start: str | os.PathLike[str] | None = None) -> str | None:
    """The nearest pyproject.toml at or above ``start`` (cwd) that has a ``[tool.adcli]`` table.

    Like ruff, a pyproject.toml without the table is passed over, so a sub-package's own
    pyproject.toml does not hide the repository's adcli settings.
    """
    here = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as stream:
                    text = stream.read()
            except OSError:
                text = ""
            if re.search(r"^\s*\[\s*tool\s*\.\s*adcli\s*\]", text, re.MULTILINE):
                return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def load_config(
    start: str | os.PathLike[str] | None = None,
    *,
    text: str | None = None,
    file: str | None = None,
) -> Config:
    """Read ``[tool.adcli]`` (from ``text``, or the file :func:`find_pyproject` finds).

    Relative ``specs`` paths are made relative to the pyproject.toml's directory, so the
    config means the same wherever adcli is started from.

    Raises:
        UsageError: unreadable TOML, an unknown key (with "did you mean"), or a bad value.
    """
    if text is None:
        file = find_pyproject(start)
        if file is None:
            return _defaults()
        with open(file, encoding="utf-8") as stream:
            text = stream.read()
    import tomllib  # only a project that configures adcli pays for it

    label = file or "pyproject.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{label}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("adcli", {})
    if not isinstance(table, dict):
        raise UsageError(f"{label}: [tool.adcli] must be a table")
    config = _defaults()
    values, sources = dict(config.values), dict(config.sources)
    for key, value in table.items():
        where = f"{label}:{_line_of(text, key)}" if _line_of(text, key) else label
        if key not in KEYS:
            hint = did_you_mean(key, KEYS) or f"known keys: {', '.join(KEYS)}"
            raise UsageError(f"{where}: [tool.adcli]: unknown key '{key}' ({hint})")
        check = KEYS[key][0]
        try:
            values[key] = check(value)
        except ValueError as exc:
            raise UsageError(f"{where}: [tool.adcli] {key}: {exc}") from None
        sources[key] = where
    if values["specs"] and file is not None:
        base = os.path.dirname(os.path.abspath(file))
        values["specs"] = tuple(
            os.path.relpath(os.path.join(base, p)) if not os.path.isabs(p) else p
            for p in values["specs"]
        )
    return Config(values, sources, file)


def _defaults() -> Config:
    return Config({k: v[1] for k, v in KEYS.items()}, dict.fromkeys(KEYS, "default"), None)


def _line_of(text: str, key: str) -> int | None:
    """The line of ``key = ...`` inside the ``[tool.adcli]`` table (tomllib keeps no lines)."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            header = stripped.split("#")[0].strip()
            inside = re.fullmatch(r"\[\s*tool\s*\.\s*adcli\s*\]", header) is not None
            continue
        if inside and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", stripped):
            return number
    return None
