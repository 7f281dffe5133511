"""``adcli check``: parse options, run the checks, render the report, return the exit code."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import click

from adcli._errors import AdcliError


def _parse_dims(values: tuple[str, ...]) -> dict[str, int]:
    dims: dict[str, int] = {}
    for item in values:
        name, sep, size = item.partition("=")
        if not sep or not name.strip() or not size.strip().lstrip("-").isdigit():
            raise click.BadParameter(
                f"expected NAME=SIZE (e.g. n=1000), got {item!r}", param_hint="--dim"
            )
        dims[name.strip()] = int(size)
    return dims


def write_atomically(path: str, text: str | bytes) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a report."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".adcli-", suffix=".tmp")
    try:
        if isinstance(text, bytes):  # a figure (choose-mode --plot)
            with os.fdopen(fd, "wb") as binary:
                binary.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


EXIT_CODES = """\b
Exit codes:
  0  every check passed
  1  a check failed (or was inconclusive, unless --allow-inconclusive)
  2  bad usage or a spec that cannot be loaded or built
"""


@click.command("check", epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--dim",
    "dims",
    multiple=True,
    metavar="NAME=SIZE",
    help="Override a named size, e.g. --dim n=10000 (repeatable).",
)
@click.option("--points", type=click.IntRange(min=1), help="Random evaluation points per spec.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the points and directions.")
@click.option(
    "--method",
    type=click.Choice(["auto", "full", "directions"]),
    help="Full Jacobian, random directions, or chosen by size (auto).",
)
@click.option("--order", type=click.IntRange(1, 2), help="2 also checks second derivatives.")
@click.option(
    "--spec",
    "only",
    multiple=True,
    metavar="NAME",
    help="Check only the spec(s) with this name (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Also write the JSON report to this file (atomically).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show every comparison, not only failures.")
@click.option(
    "--allow-inconclusive",
    is_flag=True,
    help="Exit 0 when checks are only inconclusive (FD could not decide).",
)
@click.option("--no-color", is_flag=True, help="Plain output without colours.")
def check_command(
    paths: tuple[str, ...],
    dims: tuple[str, ...],
    points: int | None,
    seed: int | None,
    method: str | None,
    order: int | None,
    only: tuple[str, ...],
    fmt: str,
    output: str | None,
    verbose: bool,
    allow_inconclusive: bool,
    no_color: bool,
) -> None:
    """Compare forward/reverse-mode derivatives and hand formulas against finite differences.

    PATHS are spec files or directories (every *.yaml/*.yml under them).

    \b
    Examples:
      adcli check specs/
      adcli check specs/logistic.yaml --format json > report.json
      adcli check spec.yaml --dim n=10000 --points 3 --seed 1 -v
    """
    from rich.console import Console
    from rich.markup import escape

    overrides_dims = _parse_dims(dims)
    out = Console(
        no_color=no_color,
        highlight=False,
        soft_wrap=False,
        width=None if sys.stdout.isatty() else 140,
    )
    err = Console(stderr=True, no_color=no_color, highlight=False, soft_wrap=True)
    errors: list[str] = []
    try:
        from adcli._run import Overrides, apply, check_specs, collect_specs

        specs, errors = collect_specs(paths)
        specs = apply(
            specs,
            Overrides(
                dims=overrides_dims, points=points, seed=seed, method=method, order=order, only=only
            ),
        )
        with _progress(err, len(specs)) as progress:
            report = check_specs(
                specs, errors=errors, progress=progress, allow_inconclusive=allow_inconclusive
            )
    except AdcliError as exc:
        for message in errors:  # files that did not load may be why an option found nothing
            err.print(f"[bold red]adcli: error:[/bold red] {escape(message)}")
        err.print(f"[bold red]adcli: error:[/bold red] {escape(str(exc))}")
        sys.exit(exc.exit_code)
    if output:
        from adcli._report.json_report import render as render_json

        try:
            write_atomically(output, render_json(report) + "\n")
        except OSError as exc:
            err.print(f"[bold red]adcli: error:[/bold red] cannot write {output}: {exc.strerror}")
            sys.exit(2)
    if fmt == "json":
        from adcli._report.json_report import render as render_json

        click.echo(render_json(report))
    else:
        from adcli._report.console import render

        render(report, out, verbose=verbose)
    sys.exit(report.exit_code)


class _progress:
    """A transient progress line on stderr when it is a terminal; silent otherwise."""

    def __init__(self, console: Any, total: int) -> None:
        self.console, self.total, self.live = console, total, None

    def __enter__(self) -> Any:
        if not self.console.is_terminal:
            return None
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.live = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.live.start()
        task = self.live.add_task("starting", total=self.total)
        names: list[str] = []

        def update(spec: str, what: str) -> None:
            if spec not in names:
                names.append(spec)
            self.live.update(
                task,
                description=f"[{len(names)}/{self.total}] {spec}: {what}",
                completed=len(names) - 1,
            )

        return update

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.stop()
