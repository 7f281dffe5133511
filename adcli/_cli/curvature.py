"""``adcli curvature``: parse options, analyse the specs, render the report, exit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from adcli._cli.devices import DeviceArgs, prepare, spec_meshes
from adcli._cli.options import (
    CommandArgs,
    choice_option,
    count_option,
    point_options,
    report_options,
    size_option,
)
from adcli._cli.output import Progress, View, run_command
from adcli._report.formats import Format
from adcli._results.curvature import CurvatureReport

CURVATURE_EXIT_CODES = """\b
Exit codes:
  0  the HVPs agree with finite differences of the gradient
  1  an HVP check failed: every estimate is built on a wrong HVP (flagged untrusted)
  2  bad usage, a vector-valued function (when it is the only spec selected; among
     several it is skipped), a function reverse mode cannot differentiate, an
     --hvp-strategy that cannot trace it, --exact always over the memory budget,
     or a spec that cannot be loaded or built
"""


@dataclass(frozen=True, kw_only=True)
class CurvatureArgs(CommandArgs):
    """``adcli curvature``'s options."""

    fmt: Format
    trace: bool
    eigs: int
    probes: str
    hvps: int | None
    rtol: float | None
    confidence: float
    no_hutchpp: bool
    exact: str
    memory_budget: int | None
    point: int
    seed: int | None
    check_directions: int
    hvp_strategy: str | None
    measure: str
    lanczos_steps: int | None
    eig_tol: float


@click.command("curvature", epilog=CURVATURE_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--trace", is_flag=True, help="Estimate tr H (Hutchinson, and Hutch++).")
@count_option(
    "--eigs",
    least=0,
    default=0,
    metavar="K",
    help="The K largest and K smallest eigenvalues by Lanczos on HVPs.",
)
@choice_option(
    "--probes",
    ("rademacher", "gaussian", "both"),
    default="both",
    help="Hutchinson probe distribution(s).",
)
@count_option(
    "--hvps",
    least=2,
    metavar="N",
    help="HVPs per trace estimate (default 100; with --rtol the cap, default 1000).",
)
@click.option(
    "--rtol",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop a Hutchinson run once the interval half-width < RTOL·|estimate|.",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of the trace intervals (Student t).",
)
@click.option("--no-hutchpp", is_flag=True, help="Leave out the Hutch++ row.")
@choice_option(
    "--exact",
    ("auto", "always", "never"),
    default="auto",
    help="Form the dense Hessian to compare with (auto: d ≤ 4096 and it fits the budget).",
)
@size_option(
    "--memory-budget",
    help="Memory the dense Hessian and HVP batches may use (default: half the machine's).",
)
@point_options
@count_option(
    "--check-directions",
    least=1,
    default=3,
    help="Seeded directions whose HVP is checked against FD of the gradient.",
)
@choice_option(
    "--hvp-strategy",
    ("fwd-over-rev", "rev-over-rev", "rev-over-fwd", "fwd-over-fwd"),
    default=None,
    help="Use this composition instead of the one choose-mode recommends.",
)
@choice_option(
    "--measure",
    ("close", "none"),
    default="close",
    help="How choose-mode picks the HVP strategy: time the close candidates, or predict only.",
)
@count_option(
    "--lanczos-steps",
    least=1,
    help="Most Lanczos steps (one HVP each; default min(d, 300)).",
)
@click.option(
    "--eig-tol",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-8,
    show_default=True,
    help="Lanczos stops when each wanted residual estimate ≤ EIG_TOL·max|θ|.",
)
@report_options(CurvatureReport)
def curvature_command(**options: Any) -> None:
    """Curvature of a scalar function from Hessian-vector products, never forming H.

    Checks a few HVPs against finite differences of the gradient, then estimates the
    trace (Hutchinson with Rademacher/Gaussian probes and Hutch++, with confidence
    intervals) and the extreme eigenvalues (Lanczos, with residual bounds). When d is
    small enough the exact Hessian is formed to compare each estimate with. See
    docs/curvature.md.

    \b
    Examples:
      adcli curvature specs/mlp_loss.yaml --trace --eigs 5
      adcli curvature specs/quadratic.yaml --trace --rtol 0.01 --probes rademacher
      adcli curvature spec.yaml --eigs 3 --exact never --format json -o curv.json
    """
    devices = DeviceArgs.take(options)
    args = CurvatureArgs(**options)

    def engine(progress: Progress) -> CurvatureReport:
        prepare(devices, spec_meshes(args.paths, args.only))  # before JAX starts
        from adcli._curvature.engine import curvature_report

        options = args.engine_options("no_hutchpp", hutchpp=not args.no_hutchpp)
        return curvature_report(args.paths, **options)

    run_command(engine, View(args.fmt, args.output, args.no_color), label="curvature")
