"""``adcli estimate``: parse options, run the engine, render the report, return the exit code."""

from __future__ import annotations

import sys

import click

from adcli._cli.check import _parse_dims
from adcli._cli.options import (
    FiniteFloat,
    dims_option,
    format_option,
    no_color_option,
    output_option,
    point_option,
    seed_option,
    spec_option,
)
from adcli._cli.output import consoles, emit_json, exit_with_error, write_or_exit
from adcli._errors import AdcliError, UsageError

ESTIMATE_EXIT_CODES = """\b
Exit codes:
  0  every gradient computed (errors of the estimators are reported, never fatal)
  1  forward-mode and reverse-mode AD disagree beyond rounding (a derivative bug)
  2  bad usage, or a spec that cannot be loaded, built, resized or estimated
     (reported as that spec's error; the other specs still run)
"""


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
@click.option(
    "--directions",
    type=click.Choice(["sphere", "gaussian"]),
    default="sphere",
    show_default=True,
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
@click.option(
    "--sweep",
    metavar="DIM=V1,V2,...",
    help="Rerun over the values of a dim: each cost and error as d grows.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="With --sweep: write time vs d and zero-order error vs d (.png/.svg; adcli[plot]).",
)
@click.option(
    "--sequential", is_flag=True, help="Evaluate one point (one JVP) at a time, not vmapped."
)
@click.option(
    "--memory-budget",
    metavar="SIZE",
    default="8MiB",
    show_default=True,
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
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Minimum timing rounds per method.",
)
@point_option
@seed_option
@dims_option
@spec_option
@format_option("text", "json")
@output_option
@no_color_option
def estimate_command(
    paths: tuple[str, ...],
    k: int | None,
    directions: str,
    seeds: int,
    sweep: str | None,
    plot: str | None,
    sequential: bool,
    memory_budget: str,
    time_budget: float,
    max_seconds: float,
    rounds: int,
    point: int,
    seed: int | None,
    dims: tuple[str, ...],
    only: tuple[str, ...],
    fmt: str,
    output: str | None,
    no_color: bool,
) -> None:
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
    from adcli._cli.choose_mode import _status, parse_bytes

    out, err = consoles(no_color, width=160)
    try:
        budget = parse_bytes(memory_budget)
        if k is not None and k < 1:
            raise UsageError(f"--k: expected a positive number of directions, got {k}")
        if seeds < 1:
            raise UsageError(f"--seeds: expected a positive number of seeds, got {seeds}")
        if plot and not sweep:
            raise UsageError("--plot draws a sweep: add --sweep DIM=V1,V2,...")
        if plot:
            from adcli._report.mode_plot import require_matplotlib

            require_matplotlib(plot)
        from adcli._estimate.sweep import run_estimate

        with _status(err) as progress:
            report = run_estimate(
                paths,
                only=only,
                dims=_parse_dims(dims),
                sweep=sweep,
                progress=progress,
                k=k,
                directions=directions,
                seeds=seeds,
                sequential=sequential,
                memory_budget=budget,
                time_budget=time_budget,
                max_seconds=max_seconds,
                min_rounds=rounds,
                point=point,
                seed=seed,
            )
        if plot and report.sweeps:
            from adcli._report.estimate_plot import plot as draw

            write_or_exit(err, plot, draw(report.sweeps, plot))
    except AdcliError as exc:
        exit_with_error(err, exc)
    from adcli._results.estimate import estimate_dict

    emit_json(estimate_dict(report), fmt=fmt, output=output, err=err)
    if fmt != "json":
        from adcli._report.estimate_console import render

        render(report, out)
    sys.exit(report.exit_code)
