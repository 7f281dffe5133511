"""``adcli choose-mode``: parse options, run the engine, render the report, return the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from adcli._cli.devices import DeviceArgs, prepare, spec_meshes
from adcli._cli.options import (
    CommandArgs,
    FiniteFloat,
    choice_option,
    report_options,
    size_option,
    sweep_options,
)
from adcli._cli.output import Progress, View, run_command, write_or_exit
from adcli._errors import UsageError
from adcli._report.formats import Format
from adcli._results.modes import ModeReport

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True, kw_only=True)
class ModeArgs(CommandArgs):
    """``adcli choose-mode``'s options."""

    fmt: Format
    target: str
    measure: str | None
    memory_budget: int | None
    time_budget: float
    sweep: str | None
    plot: str | None


@click.command("choose-mode")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@choice_option(
    "--target",
    ("jacobian", "hessian", "hvp"),
    default="jacobian",
    help="What to compute: the Jacobian, or (scalar functions) the Hessian or an HVP.",
)
@choice_option(
    "--measure",
    ("close", "all", "none"),
    default=None,
    help="Time the candidates predicted close to the best (default), all, or none. "
    "A sweep times all.",
)
@size_option(
    "--memory-budget",
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
@sweep_options(
    sweep="Rerun over the values of a dim; show the reverse/forward time ratio per value.",
    plot="the time-vs-(m/n) figure",
)
@report_options(ModeReport)
def choose_mode_command(**options: Any) -> None:
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
    devices = DeviceArgs.take(options)
    args = ModeArgs(**options)

    def engine(progress: Progress) -> ModeReport:
        prepare(devices, spec_meshes(args.paths, args.only))  # before JAX starts
        from adcli._modes.run import run_choose_mode

        require_plot(args.plot, args.sweep)
        options = args.engine_options("plot")
        return run_choose_mode(args.paths, progress=progress.callback, **options)

    def files(report: ModeReport, err: Console) -> None:
        if args.plot and report.sweeps:
            from adcli._report.mode_plot import plot as draw

            write_or_exit(err, args.plot, draw(report.sweeps, args.plot))

    run_command(engine, View(args.fmt, args.output, args.no_color), files=files)


def require_plot(plot: str | None, sweep: str | None) -> None:
    """Fail now, not after a sweep, if ``--plot`` cannot be drawn.

    Raises:
        UsageError: --plot without --sweep, a suffix other than .png/.svg, no matplotlib.
    """
    if plot and not sweep:
        raise UsageError("--plot draws a sweep: add --sweep DIM=V1,V2,...")
    if plot:
        from adcli._report.mode_plot import require_matplotlib

        require_matplotlib(plot)
