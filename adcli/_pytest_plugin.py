"""pytest plugin: spec files become test items, one per spec; a failure shows adcli's report.

Collected (see docs/ci.md):

* every ``*.adcli.yaml`` / ``*.adcli.yml`` file pytest walks over;
* every ``*.yaml`` / ``*.yml`` under the paths of ``pytest --adcli PATH`` (repeatable), or,
  without ``--adcli``, under ``[tool.adcli] specs`` of the nearest pyproject.toml.

When pytest is given no test paths of its own, ``--adcli PATH`` runs only those specs;
``[tool.adcli] specs`` are collected in addition to ``testpaths``.

Loading this plugin imports neither jax nor yaml: a project that does not use adcli pays only
for reading this module and its pyproject.toml. jax is imported by the first ``runtest()``.
Only public pytest API is used (the pattern of pytest's doc/en/example/nonpython).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIXES = (".adcli.yaml", ".adcli.yml")
_PATHS = pytest.StashKey[tuple[Path, ...]]()
_CONFIG = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("adcli", "adcli gradient checks of spec files")
    group.addoption(
        "--adcli",
        action="append",
        default=[],
        metavar="PATH",
        help="Collect every *.yaml/*.yml spec under PATH as adcli checks (repeatable). "
        "Without it, [tool.adcli] specs in pyproject.toml; *.adcli.yaml files always.",
    )


def pytest_configure(config: pytest.Config) -> None:
    from adcli._errors import UsageError
    from adcli._spec.config import load_config  # standard library only

    here = config.invocation_params.dir
    try:
        settings = load_config(here)
    except UsageError as exc:
        raise pytest.UsageError(f"adcli: {exc}") from None
    given = [here / p for p in config.getoption("adcli")]
    configured = [here / p for p in settings["specs"]]
    paths = tuple(p.resolve() for p in (given or configured))
    config.stash[_PATHS] = paths
    config.stash[_CONFIG] = settings
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    if given and not explicit:  # `pytest --adcli specs/`: just the specs
        config.args[:] = [str(p) for p in paths]
    elif given or (configured and not explicit):
        covered = [(here / a.split("::")[0]).resolve() for a in config.args]
        config.args += [str(p) for p in paths if not any(_under(p, c) for c in covered)]


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    name = file_path.name
    if name.endswith(SUFFIXES) or (
        name.endswith((".yaml", ".yml"))
        and not name.startswith(".")
        and any(_under(file_path.resolve(), p) for p in parent.config.stash.get(_PATHS, ()))
    ):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecLoadError(Exception):
    """A spec file that does not load: shown as adcli's one-line error, not a traceback."""


class SpecFailed(Exception):
    """A spec whose check failed; carries the SpecResult that ``repr_failure`` renders."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.name)
        self.result = result


class SpecFile(pytest.File):
    """One spec file; its items are its specs (several when the file has ``---`` documents)."""

    def collect(self) -> Iterator[SpecItem]:
        from adcli._errors import SpecError
        from adcli._spec.load import load_file

        label = os.path.relpath(self.path, self.config.invocation_params.dir)
        try:
            specs = load_file(label if not label.startswith("..") else self.path)
        except SpecError as exc:
            raise SpecLoadError(exc.format()) from None
        for spec in specs:
            yield SpecItem.from_parent(self, name=spec.name, spec=spec)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if excinfo.errisinstance(SpecLoadError):
            return f"adcli: invalid spec: {excinfo.value}"
        return super().repr_failure(excinfo)


class SpecItem(pytest.Item):
    """One spec: ``runtest`` checks it; a failure is reported with adcli's compact report."""

    def __init__(self, *, spec: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        from adcli._check.run import check_specs
        from adcli._spec.select import Overrides, apply

        settings = self.config.stash[_CONFIG]
        defaults = {k: settings[k] for k in ("rtol", "atol", "points", "seed")}
        allow = settings["allow-inconclusive"]
        spec = apply([self.spec], Overrides(defaults=defaults))[0]
        result = check_specs([spec], allow_inconclusive=allow).results[0]
        self.user_properties += [("adcli_verdict", result.verdict), ("adcli_margin", result.margin)]
        if result.verdict == "skipped":
            reasons = [c.reason for c in result.comparisons if c.reason]
            pytest.skip(reasons[0] if reasons else "adcli: every comparison was skipped")
        if result.verdict in ("fail", "error") or (result.verdict == "inconclusive" and not allow):
            raise SpecFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if excinfo.errisinstance(SpecFailed):
            from adcli._report.console import spec_text

            return spec_text(excinfo.value.result).rstrip()  # type: ignore[attr-defined]
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.spec.where.line
        return self.path, None if line is None else line - 1, f"adcli spec {self.name}"
