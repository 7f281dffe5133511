"""What every command does at its edges, once: the consoles, the progress line, an error
line and exit, the JSON file, the chosen format on stdout, the exit code.

A command parses its options and hands ``run_command`` the engine call; ``run_command``
does the rest, the same way for every command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from adcli._cli.devices import writes_reports
from adcli._errors import AdcliError
from adcli._report.formats import Format

if TYPE_CHECKING:
    from rich.console import Console

    from adcli._results.reports import Report

R = TypeVar("R", bound="Report")


@dataclass(frozen=True)
class View:
    """How a command shows its report: ``fmt`` on stdout, the JSON in ``output`` (``-o``),
    colours unless ``no_color``, ``width`` columns off a terminal; ``options`` go to the
    terminal renderer (``verbose``, ``top``)."""

    fmt: Format
    output: str | None = None
    no_color: bool = False
    width: int = 140
    options: Mapping[str, Any] = field(default_factory=dict)


def consoles(no_color: bool, *, width: int = 140) -> tuple[Console, Console]:
    """(stdout, stderr) consoles. Off a terminal, stdout is ``width`` wide, so CI logs and
    pipes get whole table rows rather than rich's default 80 columns."""
    from rich.console import Console

    out = Console(
        no_color=no_color,
        highlight=False,
        soft_wrap=False,
        width=None if sys.stdout.isatty() else width,
    )
    err = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)
    return out, err


def print_error(err: Console, message: str) -> None:
    """``adcli: error: …`` on stderr (the message is not markup)."""
    from rich.markup import escape

    err.print(f"[bold red]adcli: error:[/bold red] {escape(message)}", highlight=False)


def exit_with_error(err: Console, exc: AdcliError) -> NoReturn:
    """Print ``adcli: error: …`` (no traceback) and exit with the error's code (2 for usage)."""
    print_error(err, str(exc))
    sys.exit(exc.exit_code)


@contextmanager
def errors_exit(no_color: bool, context: Sequence[str] = ()) -> Iterator[None]:
    """Turn an AdcliError raised inside into ``adcli: error: …`` and its exit code, after
    ``context`` (e.g. the files that did not load: they may be why an option found nothing)."""
    try:
        yield
    except AdcliError as exc:
        _, err = consoles(no_color)
        for message in context:
            print_error(err, message)
        exit_with_error(err, exc)


def write_or_exit(err: Console, path: str, data: str | bytes) -> None:
    """``write_atomically``, or ``adcli: error: cannot write …`` and exit 2 (a missing
    directory, no permission) instead of a traceback."""
    from adcli._files import write_atomically

    try:
        write_atomically(path, data)
    except OSError as exc:
        print_error(err, f"cannot write {path}: {exc.strerror or exc}")
        sys.exit(2)


class Progress:
    """The one progress line: a transient spinner on stderr with the elapsed time while it
    is a terminal, silent otherwise. ``callback`` is what engines take (None when silent):
    ``callback(spec, what)`` shows ``spec: what``, or ``[i/total] spec: what`` once
    ``total`` (the number of specs) is known."""

    def __init__(self, console: Console, label: str) -> None:
        self.console, self.label = console, label
        self.total: int | None = None
        self._names: list[str] = []
        self._live: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            from rich.progress import Progress as Bar
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._live.start()
            self._task = self._live.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    @property
    def callback(self) -> Callable[[str, str], None] | None:
        return self.update if self._live is not None else None

    def update(self, spec: str, what: str) -> None:
        if self._live is None:
            return
        if spec not in self._names:
            self._names.append(spec)
        text = f"{spec}: {what}"
        if self.total is not None:
            text = f"[{len(self._names)}/{self.total}] {text}"
        self._live.update(self._task, description=text)


def run_command(
    engine: Callable[[Progress], R],
    view: View,
    *,
    label: str = "starting",
    context: Sequence[str] = (),
    files: Callable[[R, Console], None] | None = None,
) -> NoReturn:
    """The tail of every command: run ``engine`` under the progress line (an AdcliError is
    ``adcli: error: …``, after ``context``, and its exit code), write the JSON to ``-o``
    atomically, then any other ``files`` (JUnit, a figure), print ``view.fmt`` on stdout,
    and exit with the report's exit code."""
    from adcli._problem.runtime import use_persistent_cache
    from adcli._report.formats import render
    from adcli._results.json import to_json_text

    use_persistent_cache()  # the command's own process: compiled programs kept on disk
    out, err = consoles(view.no_color, width=view.width)
    with errors_exit(view.no_color, context), Progress(err, label) as progress:
        report = engine(progress)
    if not writes_reports():  # several processes: process 0 writes the one report
        sys.exit(report.exit_code)
    if view.output:
        write_or_exit(err, view.output, to_json_text(report) + "\n")
    if files is not None:
        files(report, err)
    text = render(report, view.fmt, out, **view.options)
    if text is not None:
        click.echo(text, nl=False)
    sys.exit(report.exit_code)
