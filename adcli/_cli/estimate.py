"""``adcli estimate``: parse options, run the engine, render the report, return the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from adcli._cli.choose_mode import require_plot
from adcli._cli.devices import DeviceArgs, prepare, spec_meshes
from adcli._cli.options import (
    CommandArgs,
    FiniteFloat,
    choice_option,
    count_option,
    point_options,
    report_options,
    size_option,
    sweep_options,
)
from adcli._cli.output import Progress, View, run_command, write_or_exit
from adcli._report.formats import Format
from adcli._results.estimate import EstimateReport

if TYPE_CHECKING:
    from rich.console import Console

ESTIMATE_EXIT_CODES = """\b
Exit codes:
  0  every gradient computed (errors of the estimators are reported, never fatal)
  1  forward-mode and reverse-mode AD disagree beyond rounding (a derivative bug)
  2  bad usage, or a spec that cannot be loaded, built, resized or estimated
     (reported as that spec's error; the other specs still run)
"""


@dataclass(frozen=True, kw_only=True)
class EstimateArgs(CommandArgs):
    """``adcli estimate``'s options."""

    fmt: Format
    k: int | None
    directions: str
    seeds: int
    sweep: str | None
    plot: str | None
    sequential: bool
    memory_budget: int
    time_budget: float
    max_seconds: float
    rounds: int
    point: int
    seed: int | None


@click.command("estimate", epilog=ESTIMATE_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--k",
    "k",
    type=int,
    metavar="K",
    help="Zero-order directions (2K evaluations). Default: d (the cost of central "
    "differences); in a sweep, d at the first value, then fixed.",
)
@choice_option(
    "--directions",
    ("sphere", "gaussian"),
    default="sphere",
    help="Zero-order directions: uniform on the unit sphere (G = d·…·v) or N(0, I).",
)
@click.option(
    "--seeds",
    type=int,
    default=3,
    show_default=True,
    metavar="N",
    help="Zero-order runs with different directions (error: mean ± std).",
)
@sweep_options(
    sweep="Rerun over the values of a dim: each cost and error as d grows.",
    plot="time vs d and zero-order error vs d",
)
@click.option(
    "--sequential", is_flag=True, help="Evaluate one point (one JVP) at a time, not vmapped."
)
@size_option(
    "--memory-budget",
    default="8MiB",
    help="Memory of the rows evaluated together in one vmapped chunk.",
)
@click.option(
    "--time-budget",
    type=FiniteFloat(min=0.0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds of timing per spec (each method still gets --rounds rounds).",
)
@click.option(
    "--max-seconds",
    type=FiniteFloat(min=0.0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Skip a method whose one call is predicted (passes × T) to take longer.",
)
@count_option(
    "--rounds",
    least=1,
    default=5,
    help="Minimum timing rounds per method.",
)
@point_options
@report_options(EstimateReport)
def estimate_command(**options: Any) -> None:
    """The gradient by forward and central differences, the two-point random-direction
    (zero-order) estimator, forward-mode AD and reverse-mode AD, side by side.

    For each: the passes it ran (counted), compile time, median run time and its multiple
    of T (one evaluation of f), and its error against reverse AD next to what theory
    predicts. See docs/estimate.md.

    \b
    Examples:
      adcli estimate specs/mds.yaml
      adcli estimate specs/estimate/rosenbrock.yaml --sweep n=10,100,1000,10000 --plot est.png
      adcli estimate spec.yaml --k 50 --directions gaussian --format json
    """
    devices = DeviceArgs.take(options)
    args = EstimateArgs(**options)

    def engine(progress: Progress) -> EstimateReport:
        prepare(devices, spec_meshes(args.paths, args.only))  # before JAX starts
        from adcli._estimate.options import EstimateOptions
        from adcli._estimate.sweep import run_estimate

        EstimateOptions(args.k, args.directions, args.seeds)  # its errors before --plot's
        require_plot(args.plot, args.sweep)
        options = args.engine_options("plot", "rounds", min_rounds=args.rounds)
        return run_estimate(args.paths, progress=progress.callback, **options)

    def files(report: EstimateReport, err: Console) -> None:
        if args.plot and report.sweeps:
            from adcli._report.estimate_plot import plot as draw

            write_or_exit(err, args.plot, draw(report.sweeps, args.plot))

    run_command(engine, View(args.fmt, args.output, args.no_color, width=160), files=files)
