"""Options every command shares, defined once so they read and behave the same."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

dims_option: Decorator = click.option(
    "--dim",
    "dims",
    multiple=True,
    metavar="NAME=SIZE",
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


def format_option(*choices: str, default: str | None = "text") -> Decorator:
    """``--format`` with these choices (stored as ``fmt``)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        help="Report format on stdout.",
    )


point_option: Decorator = click.option(
    "--point",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Sample point index (points are drawn from the spec's inits, seeded).",
)
seed_option: Decorator = click.option(
    "--seed", type=click.IntRange(min=0), help="Replace the spec's check.seed (sampling seed)."
)


class FiniteFloat(click.FloatRange):
    """``click.FloatRange`` that also refuses nan and ±inf (a range test lets nan through)."""

    name = "float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a finite number, got {value!r}", param, ctx)
        return number
