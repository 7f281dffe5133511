"""``adcli memory``: parse options, analyse each spec, render the report, return the exit code."""

from __future__ import annotations

import sys

import click

from adcli._cli.check import _parse_dims
from adcli._cli.options import (
    dims_option,
    format_option,
    no_color_option,
    output_option,
    spec_option,
)
from adcli._cli.output import consoles, emit_json, exit_with_error
from adcli._errors import AdcliError


def _parse_budget(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    from adcli._units import parse_size

    try:
        size = parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if size <= 0:  # no policy fits nothing: as choose-mode's --memory-budget
        raise click.BadParameter(f"expected a positive size, got {value!r}")
    return size


MEMORY_EXIT_CODES = """\b
Exit codes:
  0  no spec exceeds its memory.budget (or none declares one)
  1  a spec's memory.budget is exceeded (--budget never changes the exit code)
  2  bad usage or a spec that cannot be loaded or built
"""


@click.command("memory", epilog=MEMORY_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--layers",
    type=click.IntRange(min=1),
    help="Treat the function as one block of an L-layer stack and extrapolate schedules.",
)
@click.option(
    "--budget",
    callback=_parse_budget,
    metavar="SIZE",
    help="Activation memory to fit, e.g. 8GB or 512MiB: pick the least recompute that fits.",
)
@click.option("--measure", is_flag=True, help="Also run the VJP and measure peak memory and time.")
@click.option(
    "--no-policies", is_flag=True, help="Skip the checkpoint policies (one compile each)."
)
@dims_option
@spec_option
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Residual groups to list; the rest are summed.",
)
@format_option("text", "json")
@output_option
@no_color_option
def memory_command(
    paths: tuple[str, ...],
    layers: int | None,
    budget: int | None,
    measure: bool,
    no_policies: bool,
    dims: tuple[str, ...],
    only: tuple[str, ...],
    top: int,
    fmt: str,
    output: str | None,
    no_color: bool,
) -> None:
    """What reverse mode stores, what XLA allocates, and what checkpointing buys back.

    Works from shapes alone (nothing is allocated) unless --measure is given. Exits 1
    when a spec's memory.budget is exceeded (a CI guard), 2 on errors. See docs/memory.md.

    \b
    Examples:
      adcli memory specs/memory/mlp.yaml
      adcli memory specs/memory/gpt2_xl_block.yaml --layers 48 --budget 8GB
      adcli memory spec.yaml --measure --dim batch=4
      adcli memory spec.yaml --format json -o memory.json
    """
    overrides = _parse_dims(dims)
    out, err = consoles(no_color)
    try:
        from adcli._memory.engine import memory_report
        from adcli._spec.config import load_config

        if budget is None:  # [tool.adcli] memory-budget, when the project sets one
            budget = load_config()["memory-budget"]

        with err.status("analysing memory", spinner="dots") if err.is_terminal else _null():
            report = memory_report(
                paths,
                dims=overrides,
                only=only,
                layers=layers,
                budget=budget,
                measure=measure,
                policies=not no_policies,
            )
    except AdcliError as exc:
        exit_with_error(err, exc)
    from adcli._results.memory import memory_report_dict

    emit_json(memory_report_dict(report), fmt=fmt, output=output, err=err)
    if fmt == "text":
        from adcli._report.memory_console import render

        render(report, out, top=top)
    sys.exit(report.exit_code)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
