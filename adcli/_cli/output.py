"""What every command does at its edges: its consoles, an error line and exit, the JSON report."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import click

from adcli._cli.check import write_atomically

if TYPE_CHECKING:
    from rich.console import Console

    from adcli._errors import AdcliError


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


def exit_with_error(err: Console, exc: AdcliError) -> NoReturn:
    """Print ``adcli: error: …`` (no traceback) and exit with the error's code (2 for usage)."""
    from rich.markup import escape

    err.print(f"[bold red]adcli: error:[/bold red] {escape(str(exc))}", highlight=False)
    sys.exit(exc.exit_code)


def write_or_exit(err: Console, path: str, data: str | bytes) -> None:
    """``write_atomically``, or ``adcli: error: cannot write …`` and exit 2 (a missing
    directory, no permission) instead of a traceback."""
    try:
        write_atomically(path, data)
    except OSError as exc:
        from rich.markup import escape

        reason = exc.strerror or str(exc)
        err.print(f"[bold red]adcli: error:[/bold red] cannot write {escape(path)}: {reason}")
        sys.exit(2)


def emit_json(data: Mapping[str, Any], *, fmt: str, output: str | None, err: Console) -> None:
    """The report as strict JSON: on stdout with ``--format json``, and atomically in
    ``-o FILE`` whatever the format."""
    if not output and fmt != "json":
        return
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    if output:
        write_or_exit(err, output, text + "\n")
    if fmt == "json":
        click.echo(text)
