"""``adcli check``: parse options, run the checks, render the report, return the exit code."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import click

from adcli._cli.options import (
    FiniteFloat,
    dims_option,
    no_color_option,
    output_option,
    spec_option,
)
from adcli._errors import AdcliError, UsageError


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
        # mkstemp creates 0600; give the report the mode a plain open() would (an existing
        # file keeps its own), so a CI artifact stays readable by others.
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(fd, mode)
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
@click.argument("paths", nargs=-1, type=click.Path())
@dims_option
@click.option("--points", type=click.IntRange(min=1), help="Random evaluation points per spec.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the points and directions.")
@click.option(
    "--method",
    type=click.Choice(["auto", "full", "directions"]),
    help="Full Jacobian, random directions, or chosen by size (auto).",
)
@click.option("--order", type=click.IntRange(1, 2), help="2 also checks second derivatives.")
@spec_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "markdown"]),
    help="Report format on stdout (default: text, or [tool.adcli] format): github prints "
    "workflow-command annotations (and appends the markdown summary to $GITHUB_STEP_SUMMARY "
    "when set), markdown a summary table.",
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False),
    help="Also write a JUnit XML report to this file (atomically).",
)
@click.option("--rtol", type=FiniteFloat(min=0), help="Relative tolerance for every spec.")
@click.option("--atol", type=FiniteFloat(min=0), help="Absolute tolerance for every spec.")
@click.option(
    "--show-config",
    is_flag=True,
    help="Print the merged settings ([tool.adcli] and options) and where each came from; exit.",
)
@output_option
@click.option("-v", "--verbose", is_flag=True, help="Show every comparison, not only failures.")
@click.option(
    "--allow-inconclusive",
    is_flag=True,
    help="Exit 0 when checks are only inconclusive (FD could not decide).",
)
@no_color_option
def check_command(
    paths: tuple[str, ...],
    dims: tuple[str, ...],
    points: int | None,
    seed: int | None,
    method: str | None,
    order: int | None,
    only: tuple[str, ...],
    fmt: str | None,
    junit_xml: str | None,
    rtol: float | None,
    atol: float | None,
    show_config: bool,
    output: str | None,
    verbose: bool,
    allow_inconclusive: bool,
    no_color: bool,
) -> None:
    """Compare forward/reverse-mode derivatives and hand formulas against finite differences.

    PATHS are spec files or directories (every *.yaml/*.yml under them); without PATHS,
    the specs listed in [tool.adcli] specs of the nearest pyproject.toml (docs/ci.md).

    \b
    Examples:
      adcli check specs/
      adcli check specs/logistic.yaml --format json > report.json
      adcli check spec.yaml --dim n=10000 --points 3 --seed 1 -v
      adcli check specs/ --junit-xml report.xml --format github
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
        from adcli._check.run import check_specs
        from adcli._spec.config import load_config
        from adcli._spec.select import Overrides, apply, collect_specs

        config = load_config().merged(
            {
                "specs": paths,
                "rtol": rtol,
                "atol": atol,
                "points": points,
                "seed": seed,
                "format": fmt,
                "allow-inconclusive": allow_inconclusive,
            }
        )
        if show_config:
            click.echo(config.render())
            sys.exit(0)
        fmt, allow_inconclusive = config["format"], config["allow-inconclusive"]
        if not config["specs"]:
            raise UsageError(
                "no PATHS given and no [tool.adcli] specs in a pyproject.toml "
                "(e.g. adcli check specs/)"
            )
        specs, errors = collect_specs(config["specs"])
        defaults = {k: config[k] for k in ("rtol", "atol", "points", "seed")}
        specs = apply(
            specs,
            Overrides(
                dims=overrides_dims,
                points=points,
                seed=seed,
                method=method,
                order=order,
                only=only,
                rtol=rtol,
                atol=atol,
                defaults={k: v for k, v in defaults.items() if config.source(k) != "command line"},
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
    for path, kind in ((output, "json"), (junit_xml, "junit")):
        if not path:
            continue
        try:
            write_atomically(path, _render(report, kind))
        except OSError as exc:
            err.print(f"[bold red]adcli: error:[/bold red] cannot write {path}: {exc.strerror}")
            sys.exit(2)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary:
        # In GitHub Actions one run gives annotations, the log report and the job summary.
        # The runner owns this file and expects appends (not an atomic replace).
        try:
            with open(summary, "a", encoding="utf-8") as stream:
                stream.write(_render(report, "markdown"))
        except OSError as exc:
            err.print(f"[yellow]adcli: warning:[/yellow] cannot append to {summary}: {exc}")
    if fmt in ("json", "github", "markdown"):
        click.echo(_render(report, fmt), nl=False)
    else:
        from adcli._report.console import render

        render(report, out, verbose=verbose)
    sys.exit(report.exit_code)


def _render(report: Any, kind: str) -> str:
    """The report in a file/stdout format other than the terminal's."""
    if kind == "json":
        from adcli._report.json_report import render as render_json

        return render_json(report) + "\n"
    if kind == "junit":
        from adcli._report.junit import render as render_junit

        return render_junit(report)
    if kind == "github":
        from adcli._report.github import render as render_github

        return render_github(report)
    from adcli._report.markdown import render as render_markdown

    return render_markdown(report)


class _progress:
    """A transient progress line on stderr when it is a terminal; silent otherwise."""

    def __init__(self, console: Any, total: int) -> None:
        self.console, self.total = console, total
        self.live: Any = None

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
