"""``adcli choose-mode``: parse options, run the engine, render the report, return the exit code."""

from __future__ import annotations

import sys
from typing import Any

import click

from adcli._cli.check import _parse_dims
from adcli._cli.options import (
    FiniteFloat,
    dims_option,
    format_option,
    no_color_option,
    output_option,
    spec_option,
)
from adcli._cli.output import consoles, exit_with_error, write_or_exit
from adcli._errors import AdcliError, UsageError


def parse_bytes(text: str) -> int:
    """``512MB``, ``2GiB``, ``1.5 GB`` → bytes (the size grammar of ``adcli._units``).

    Raises:
        UsageError: not a positive size.
    """
    from adcli._units import parse_size

    try:
        size = parse_size(text)
    except ValueError as exc:
        raise UsageError(f"--memory-budget: {exc}") from None  # exc names the grammar
    if size <= 0:
        raise UsageError(f"--memory-budget: expected a positive size, got {text!r}")
    return size


@click.command("choose-mode")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--target",
    type=click.Choice(["jacobian", "hessian", "hvp"]),
    default="jacobian",
    show_default=True,
    help="What to compute: the Jacobian, or (scalar functions) the Hessian or an HVP.",
)
@click.option(
    "--measure",
    type=click.Choice(["close", "all", "none"]),
    help="Time the candidates predicted close to the best (default), all, or none. "
    "A sweep times all.",
)
@click.option(
    "--memory-budget",
    metavar="SIZE",
    help="Skip candidates whose compiled memory exceeds this (e.g. 8GB). "
    "Default: half the machine's memory.",
)
@click.option(
    "--time-budget",
    type=FiniteFloat(min=0.0),
    metavar="SECONDS",
    default=1.0,
    show_default=True,
    help="Seconds of timing per spec (each timed candidate still gets 5 rounds).",
)
@dims_option
@click.option(
    "--sweep",
    metavar="DIM=V1,V2,...",
    help="Rerun over the values of a dim; show the reverse/forward time ratio per value.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="With --sweep: write the time-vs-(m/n) figure (.png or .svg; needs adcli[plot]).",
)
@spec_option
@format_option("text", "json")
@output_option
@no_color_option
def choose_mode_command(
    paths: tuple[str, ...],
    target: str,
    measure: str | None,
    memory_budget: str | None,
    time_budget: float,
    dims: tuple[str, ...],
    sweep: str | None,
    plot: str | None,
    only: tuple[str, ...],
    fmt: str,
    output: str | None,
    no_color: bool,
) -> None:
    """Recommend forward, reverse or mixed mode (or a Hessian composition), with the reason.

    Predicts each candidate's cost from shapes alone, compiles each (compile time and
    memory apart), times the close ones, checks that they agree, and recommends one.

    \b
    Examples:
      adcli choose-mode specs/modes/mlp_map.yaml
      adcli choose-mode specs/modes/loss.yaml --target hessian
      adcli choose-mode specs/modes/linear_map.yaml --sweep m=1,10,100,1000,10000 --plot modes.png
      adcli choose-mode spec.yaml --format json

    \b
    Exit codes: 0 a recommendation, 1 candidates disagree or none could run,
    2 bad usage or a spec that cannot be loaded.
    """
    out, err = consoles(no_color)
    try:
        budget = parse_bytes(memory_budget) if memory_budget else None
        if plot and not sweep:
            raise UsageError("--plot draws a sweep: add --sweep DIM=V1,V2,...")
        if plot:
            from adcli._report.mode_plot import require_matplotlib

            require_matplotlib(plot)
        from adcli._modes.run import run_choose_mode

        with _status(err) as progress:
            report = run_choose_mode(
                paths,
                only=only,
                dims=_parse_dims(dims),
                target=target,
                measure=measure,
                memory_budget=budget,
                time_budget=time_budget,
                sweep=sweep,
                progress=progress,
            )
        if plot and report.sweeps:
            from adcli._report.mode_plot import plot as draw

            write_or_exit(err, plot, draw(report.sweeps, plot))
    except AdcliError as exc:
        exit_with_error(err, exc)
    from adcli._report.mode_console import to_json

    if output:
        write_or_exit(err, output, to_json(report) + "\n")
    if fmt == "json":
        click.echo(to_json(report))
    else:
        from adcli._report.mode_console import render

        render(report, out)
    sys.exit(report.exit_code)


class _status:
    """A transient spinner line on stderr ("spec: compiling reverse") when it is a terminal."""

    def __init__(self, console: Any) -> None:
        self.console, self.live = console, None

    def __enter__(self) -> Any:
        if not self.console.is_terminal:
            return None
        live = self.live = self.console.status("starting")
        live.start()
        return lambda spec, what: live.update(f"{spec}: {what}")

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.stop()
