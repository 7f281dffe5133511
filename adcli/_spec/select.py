"""Which specs a command runs: collect them from paths, filter (``--spec``), resize (``--dim``)
and apply command-line overrides. One place for the spec-selection logic of every command."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from adcli._errors import AdcliError, SpecError, UsageError, hinted
from adcli._spec.load import apply_overrides, find_spec_files, load_file
from adcli._spec.model import METHODS, CheckOptions, Spec


@dataclasses.dataclass(frozen=True)
class Overrides:
    """Command-line settings that replace a spec's own."""

    dims: Mapping[str, int] = dataclasses.field(default_factory=dict)
    points: int | None = None
    seed: int | None = None
    method: str | None = None
    order: int | None = None
    only: tuple[str, ...] = ()  # spec names to run (all if empty)
    rtol: float | None = None
    atol: float | None = None
    factor: float | None = None  # check.factor of specs with a reference
    repeat: int | None = None  # check.repeat: runs of the VJP, compared bitwise from 2
    parity: bool = False  # --parity: sharded specs also against one device
    # Project defaults ([tool.adcli]): used only by specs that do not set their own.
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def collect_specs(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Spec], list[str]]:
    """Every spec under ``paths``; files that cannot be loaded become error messages."""
    specs: list[Spec] = []
    errors: list[str] = []
    for file in find_spec_files(paths):
        try:
            specs += load_file(file)
        except SpecError as exc:
            errors.append(exc.format())
    return specs, errors


def select_specs(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    only: Sequence[str] = (),
    dims: Mapping[str, int] | None = None,
    check_dims: bool = False,
) -> tuple[list[Spec], list[str]]:
    """The specs under ``paths`` named in ``only`` (all if empty), with ``dims`` applied.

    A ``--dim`` applies to the specs that have that dim; ``check_dims`` first applies each
    spec's own ``check.dims`` (the sizes it is checked at). Files that cannot be loaded
    become error messages (the second item), so one bad file does not hide the others.

    Raises:
        UsageError: an ``only`` name or a ``dims`` name that no spec has.
    """
    if isinstance(paths, str | os.PathLike):  # one file or directory
        paths = [paths]
    specs, errors = collect_specs(paths)
    names = [s.name for s in specs]
    for name in only:
        if name not in names:
            message = _no_such_spec(name, names)
            if errors:  # it may be in a file that did not load: show why that file failed
                message += (
                    f" among those that loaded; {len(errors)} could not be loaded:\n"
                    + "\n".join(errors)
                )
            raise UsageError(message)
    chosen = [s for s in specs if not only or s.name in only]
    _known_dims(dims or {}, chosen)
    out = []
    for spec in chosen:
        own = {k: v for k, v in (dims or {}).items() if k in spec.dims}
        if check_dims:
            own = {**spec.check.dims, **own}
        out.append(apply_overrides(spec, dims=own) if own else spec)
    return out, errors


def all_loaded(selection: tuple[list[Spec], list[str]]) -> list[Spec]:
    """The specs ``select_specs`` chose, for a command that runs only when every file loads.

    Raises:
        AdcliError: a file could not be loaded (every such file's error, joined by ``; ``).
    """
    chosen, errors = selection
    if errors:
        raise AdcliError("; ".join(errors))
    return chosen


def _no_such_spec(name: str, names: Collection[str]) -> str:
    return hinted(f"--spec {name}: no such spec", name, names)


def _known_dims(dims: Collection[str], specs: list[Spec]) -> None:
    """Raise a UsageError for a ``--dim`` that none of ``specs`` has."""
    known = {d for s in specs for d in s.dims}
    for name in dims:
        if name not in known:
            listing = f"; dims: {', '.join(sorted(known)) or 'none'}"
            raise UsageError(
                hinted(f"--dim {name}: no spec has a dim '{name}'", name, known, listing)
            )


def one_spec(spec: Spec | str | os.PathLike[str], *, instead: str) -> Spec:
    """``spec`` itself, or the one spec in the file it names.

    Raises:
        UsageError: the file holds several specs (``instead`` names the function that
            takes a file or directory of them).
        SpecError: the file cannot be loaded.
    """
    if isinstance(spec, Spec):
        return spec
    found = load_file(spec)
    if len(found) != 1:
        names = ", ".join(s.name for s in found)
        raise UsageError(
            f"{os.fspath(spec)} holds {len(found)} specs ({names}): pass one Spec, "
            f"or use {instead} for a file or directory"
        )
    return found[0]


def apply(specs: list[Spec], overrides: Overrides) -> list[Spec]:
    """Apply overrides; a ``--dim`` applies to the specs that have that dim."""
    if overrides.method is not None and overrides.method not in METHODS:
        raise UsageError(f"--method: expected one of {', '.join(METHODS)}")
    _known_dims(overrides.dims, specs)
    if overrides.only:
        names = {s.name for s in specs}
        for name in overrides.only:
            if name not in names:
                raise UsageError(_no_such_spec(name, names))
        specs = [s for s in specs if s.name in overrides.only]
    out = []
    for spec in specs:
        dims = {**spec.check.dims, **{k: v for k, v in overrides.dims.items() if k in spec.dims}}
        spec = apply_overrides(spec, dims=dims, points=overrides.points, seed=overrides.seed)
        check: dict[str, Any] = {"dims": {}}
        for key, value in overrides.defaults.items():
            given = getattr(overrides, key, None)  # the command line wins over both
            if value is not None and given is None and not _set_in_spec(spec, key):
                check[key] = value
        for key in ("rtol", "atol", "factor", "repeat"):
            if getattr(overrides, key) is not None:
                check[key] = getattr(overrides, key)
        if overrides.method is not None:
            check["method"] = overrides.method
        if overrides.order is not None:
            check["order"] = overrides.order
        if overrides.parity:
            check["parity"] = True
        spec = spec.replace(check=dataclasses.replace(spec.check, **check))
        out.append(spec)
    return out


_DEFAULTABLE = ("rtol", "atol", "points", "seed")


def _set_in_spec(spec: Spec, key: str) -> bool:
    """Whether the spec chose ``check.<key>`` itself (so a project default must not apply)."""
    if key not in _DEFAULTABLE:
        raise UsageError(f"no project default for {key!r}; expected one of {_DEFAULTABLE}")
    if spec.field_lines:  # loaded from YAML: the file says what it set
        return f"check.{key}" in spec.field_lines
    default = getattr(CheckOptions(), key)
    differs: bool = getattr(spec.check, key) != default
    return differs
