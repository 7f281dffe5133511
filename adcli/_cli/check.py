"""``adcli check``: parse options, run the checks, render the report, return the exit code."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from adcli._cli.devices import DeviceArgs, devices_option, distributed_options, mesh_sizes, prepare
from adcli._cli.options import (
    CommandArgs,
    FiniteFloat,
    dims_option,
    format_option,
    no_color_option,
    output_option,
    spec_option,
)
from adcli._cli.output import Progress, View, errors_exit, run_command, write_or_exit
from adcli._errors import UsageError
from adcli._report.formats import Format
from adcli._results.check import CheckReport

if TYPE_CHECKING:
    from rich.console import Console

    from adcli._spec.config import Config

EXIT_CODES = """\b
Exit codes:
  0  every check passed
  1  a check failed (or was inconclusive, unless --allow-inconclusive)
  2  bad usage or a spec that cannot be loaded or built
"""


def _jobs(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    """``auto`` (None) or a number of worker processes of at least 1."""
    if value == "auto":
        return None
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise click.BadParameter(f"{value!r} is neither auto nor a whole number ≥ 1", ctx, param)
    return jobs


@dataclass(frozen=True, kw_only=True)
class CheckArgs(CommandArgs):
    """``adcli check``'s options (``fmt`` None: [tool.adcli] format, else text)."""

    fmt: Format | None  # None: [tool.adcli] format, else text
    points: int | None
    seed: int | None
    method: str | None
    order: int | None
    junit_xml: str | None
    rtol: float | None
    atol: float | None
    factor: float | None
    repeat: int | None
    show_config: bool
    verbose: bool
    allow_inconclusive: bool
    jobs: int | None  # None: auto


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
@click.option(
    "--order",
    type=click.IntRange(min=1),
    help="2 also checks second derivatives (HVPs); k >= 3 also directional derivatives to order k.",
)
@spec_option
@format_option(
    CheckReport,
    default=None,
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
    "--factor",
    type=FiniteFloat(min=0),
    help="Against a reference: the error allowed, in multiples of the plain reference's own "
    "error in the function's precision (check.factor; default 2).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run each VJP N times at each point; any bitwise difference fails (check.repeat).",
)
@click.option(
    "--show-config",
    is_flag=True,
    help="Print the merged settings ([tool.adcli] and options) and where each came from; exit.",
)
@output_option
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show every comparison, not only failures, and the XLA compiles of each spec.",
)
@click.option(
    "-j",
    "--jobs",
    default="auto",
    callback=_jobs,
    metavar="N|auto",
    help="Check specs in N worker processes (1: in this one). auto (default): with 4 or "
    "more cores, one per core and at most one per 4 specs; else 1 (docs/ci.md).",
)
@click.option(
    "--allow-inconclusive",
    is_flag=True,
    help="Exit 0 when checks are only inconclusive (FD could not decide).",
)
@click.option(
    "--parity",
    is_flag=True,
    help="Sharded specs: also compare values and derivatives with one device's (docs/sharding.md).",
)
@devices_option
@distributed_options
@no_color_option
def check_command(**options: Any) -> None:
    """Compare forward/reverse-mode derivatives and hand formulas against finite differences.

    PATHS are spec files or directories (every *.yaml/*.yml under them); without PATHS,
    the specs listed in [tool.adcli] specs of the nearest pyproject.toml (docs/ci.md).

    \b
    Examples:
      adcli check specs/
      adcli check specs/logistic.yaml --format json > report.json
      adcli check spec.yaml --dim n=10000 --points 3 --seed 1 -v
      adcli check specs/ --junit-xml report.xml --format github
      adcli check specs/kernels/attention.yaml --repeat 20
      adcli check specs/ -j 1 -v
      adcli check sharded.yaml --devices 8 --parity
    """
    devices = DeviceArgs.take(options)
    parity = options.pop("parity")
    args = CheckArgs(**options)
    with errors_exit(args.no_color):
        config = _config(args)
    if args.show_config:
        click.echo(config.render())
        sys.exit(0)
    fmt = config["format"]
    view = View(fmt, args.output, args.no_color, options={"verbose": args.verbose})
    load_errors: list[str] = []  # printed before an error that stops the run

    def engine(progress: Progress) -> CheckReport:
        return _check(args, config, load_errors, progress, devices, parity)

    def files(report: CheckReport, err: Console) -> None:
        _ci_files(report, err, junit_xml=args.junit_xml, github=fmt == "github")

    run_command(engine, view, context=load_errors, files=files)


def _config(args: CheckArgs) -> Config:
    """[tool.adcli] merged with the options given (the command line wins)."""
    from adcli._spec.config import load_config

    return load_config().merged(
        {
            "specs": args.paths,
            "rtol": args.rtol,
            "atol": args.atol,
            "points": args.points,
            "seed": args.seed,
            "format": args.fmt,
            "allow-inconclusive": args.allow_inconclusive,
        }
    )


def _check(
    args: CheckArgs,
    config: Config,
    errors: list[str],
    progress: Progress,
    devices: DeviceArgs,
    parity: bool,
) -> CheckReport:
    from adcli._check.run import check_specs
    from adcli._spec.select import Overrides, apply, collect_specs

    if not config["specs"]:
        raise UsageError(
            "no PATHS given and no [tool.adcli] specs in a pyproject.toml (e.g. adcli check specs/)"
        )
    specs, found = collect_specs(config["specs"])
    errors += found
    defaults = {k: config[k] for k in ("rtol", "atol", "points", "seed")}
    overrides = Overrides(
        dims=args.dims,
        points=args.points,
        seed=args.seed,
        method=args.method,
        order=args.order,
        only=args.only,
        rtol=args.rtol,
        atol=args.atol,
        factor=args.factor,
        repeat=args.repeat,
        parity=parity,
        defaults={k: v for k, v in defaults.items() if config.source(k) != "command line"},
    )
    specs = apply(specs, overrides)
    prepare(devices, mesh_sizes(specs))  # before JAX starts: devices, processes
    progress.total = len(specs)
    return check_specs(
        specs,
        errors=errors,
        progress=progress.callback,
        allow_inconclusive=config["allow-inconclusive"],
        jobs=1 if devices.distributed else args.jobs,
    )


def _ci_files(report: CheckReport, err: Console, *, junit_xml: str | None, github: bool) -> None:
    """``--junit-xml``, and with ``--format github`` the job summary: in GitHub Actions one
    run gives annotations, the log report and the summary."""
    if junit_xml:
        from adcli._report.junit import render as render_junit

        write_or_exit(err, junit_xml, render_junit(report))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if github and summary:
        from adcli._report.markdown import render as render_markdown

        # The runner owns this file and expects appends (not an atomic replace).
        try:
            with open(summary, "a", encoding="utf-8") as stream:
                stream.write(render_markdown(report))
        except OSError as exc:
            err.print(f"[yellow]adcli: warning:[/yellow] cannot append to {summary}: {exc}")
