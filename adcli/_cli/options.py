"""Options every command shares, defined once so they read, parse and behave the same.

Each command bundles its options into a frozen dataclass (``CommandArgs`` and a subclass per
command) instead of passing a dozen loose parameters around.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import click

from adcli._cli.devices import devices_option
from adcli._report.formats import formats

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def parse_dims(
    ctx: click.Context | None, param: click.Parameter | None, values: Any
) -> dict[str, int]:
    """``--dim n=10 --dim m=3`` → ``{"n": 10, "m": 3}`` (a click callback)."""
    dims: dict[str, int] = {}
    for item in values or ():
        name, sep, size = item.partition("=")
        if not sep or not name.strip() or not size.strip().lstrip("-").isdigit():
            raise click.BadParameter(
                f"expected NAME=SIZE (e.g. n=1000), got {item!r}", param_hint="--dim"
            )
        dims[name.strip()] = int(size)
    return dims


def parse_size(ctx: click.Context | None, param: click.Parameter | None, value: Any) -> int | None:
    """``8GB``, ``512MiB``, ``1.5 GB`` → bytes, by ``adcli._units.parse_size`` (a click
    callback); a size must be positive (no candidate or policy fits in nothing)."""
    if value is None:
        return None
    from adcli._units import parse_size as bytes_in

    try:
        size = bytes_in(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None  # the message names the grammar
    if size <= 0:
        raise click.BadParameter(f"expected a positive size, got {value!r}")
    return size


dims_option: Decorator = click.option(
    "--dim",
    "dims",
    multiple=True,
    metavar="NAME=SIZE",
    callback=parse_dims,
    help="Override a named size, e.g. --dim n=10000 (repeatable).",
)
spec_option: Decorator = click.option(
    "--spec",
    "only",
    multiple=True,
    metavar="NAME",
    help="Only the spec(s) with this name (repeatable).",
)
output_option: Decorator = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Also write the JSON report to this file (atomically).",
)
no_color_option: Decorator = click.option(
    "--no-color", is_flag=True, help="Plain output without colours."
)


def format_option(
    report_type: type, *, default: str | None = "text", help: str = "Report format on stdout."
) -> Decorator:
    """``--format`` (stored as ``fmt``) with the formats ``report_type`` renders in."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(formats(report_type))),
        default=default,
        show_default=default is not None,
        help=help,
    )


def size_option(*names: str, default: str | None = None, help: str) -> Decorator:
    """A byte-size option (``8GB``, ``512MiB``), parsed to a positive number of bytes."""
    return click.option(
        *names, callback=parse_size, metavar="SIZE", default=default, show_default=True, help=help
    )


def report_options(report_type: type) -> Decorator:
    """The options every analysis command ends with: ``--dim``, ``--spec``, ``--format``
    (the formats ``report_type`` renders in), ``-o``, ``--devices`` and ``--no-color``."""
    shared = (
        dims_option,
        spec_option,
        format_option(report_type),
        output_option,
        devices_option,
        no_color_option,
    )

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(shared):  # decorators apply bottom-up
            command = option(command)
        return command

    return apply


def choice_option(
    name: str, choices: tuple[str, ...], *, default: str | None, help: str
) -> Decorator:
    """An option taking one of ``choices`` (its default shown in ``--help``)."""
    return click.option(
        name,
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        help=help,
    )


def count_option(
    name: str, *, least: int, default: int | None = None, metavar: str | None = None, help: str
) -> Decorator:
    """An integer option of at least ``least`` (its default, if any, shown in ``--help``)."""
    return click.option(
        name,
        type=click.IntRange(min=least),
        default=default,
        show_default=default is not None,
        metavar=metavar,
        help=help,
    )


def sweep_options(*, sweep: str, plot: str) -> Decorator:
    """``--sweep DIM=V1,V2,...`` (what a sweep shows: ``sweep``) and ``--plot FILE`` (what
    it draws: ``plot``)."""

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--plot",
            type=click.Path(dir_okay=False),
            help=f"With --sweep: write {plot} (.png or .svg; needs adcli[plot]).",
        )(command)
        return click.option("--sweep", metavar="DIM=V1,V2,...", help=sweep)(command)

    return apply


def point_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--point I`` (which sampled point) and ``--seed S`` (the sampling seed)."""
    command = click.option(
        "--seed", type=click.IntRange(min=0), help="Replace the spec's check.seed (sampling seed)."
    )(command)
    return click.option(
        "--point",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Sample point index (points are drawn from the spec's inits, seeded).",
    )(command)


class FiniteFloat(click.FloatRange):
    """``click.FloatRange`` that also refuses nan and ±inf (a range test lets nan through)."""

    name = "float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        return number


@dataclass(frozen=True, kw_only=True)
class CommandArgs:
    """The options every spec command has: its PATHS, ``--dim``, ``--spec``, ``-o`` and
    ``--no-color``. Each command subclasses it with its own options and its ``fmt``
    (``--format``: check's may be None, for the project's [tool.adcli] format)."""

    paths: tuple[str, ...]
    dims: dict[str, int]
    only: tuple[str, ...]
    output: str | None
    no_color: bool

    def engine_options(self, *leave_out: str, **changed: Any) -> dict[str, Any]:
        """The options the command hands its engine as keywords: every field but the paths
        and those that only shape the output (``fmt``, ``-o``, ``--no-color``, and
        ``leave_out``), with ``changed`` replacing or adding entries."""
        skip = {"paths", "fmt", "output", "no_color", *leave_out}
        chosen = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        return {**chosen, **changed}
