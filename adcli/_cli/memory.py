"""``adcli memory``: parse options, analyse each spec, render the report, return the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from adcli._cli.devices import DeviceArgs, distributed_options, prepare, spec_meshes
from adcli._cli.options import CommandArgs, count_option, report_options, size_option
from adcli._cli.output import Progress, View, run_command
from adcli._errors import UsageError
from adcli._report.formats import Format
from adcli._results.memory import MemoryReport

MEMORY_EXIT_CODES = """\b
Exit codes:
  0  no spec exceeds its memory.budget (or none declares one)
  1  a spec's memory.budget is exceeded (--budget never changes the exit code)
  2  bad usage or a spec that cannot be loaded or built
"""


@dataclass(frozen=True, kw_only=True)
class MemoryArgs(CommandArgs):
    """``adcli memory``'s options."""

    fmt: Format
    layers: int | None
    budget: int | None
    measure: bool
    no_policies: bool
    top: int


@click.command("memory", epilog=MEMORY_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@count_option(
    "--layers",
    least=1,
    help="Treat the function as one block of an L-layer stack and extrapolate schedules.",
)
@size_option(
    "--budget",
    help="Activation memory to fit, e.g. 8GB or 512MiB: pick the least recompute that fits.",
)
@click.option("--measure", is_flag=True, help="Also run the VJP and measure peak memory and time.")
@click.option(
    "--no-policies", is_flag=True, help="Skip the checkpoint policies (one compile each)."
)
@count_option("--top", least=1, default=10, help="Residual groups to list; the rest are summed.")
@report_options(MemoryReport)
@distributed_options
def memory_command(**options: Any) -> None:
    """What reverse mode stores, what XLA allocates, and what checkpointing buys back.

    Works from shapes alone (nothing is allocated) unless --measure is given. Exits 1
    when a spec's memory.budget is exceeded (a CI guard), 2 on errors. See docs/memory.md.

    \b
    Examples:
      adcli memory specs/memory/mlp.yaml
      adcli memory specs/memory/gpt2_xl_block.yaml --layers 48 --budget 8GB
      adcli memory spec.yaml --measure --dim batch=4
      adcli memory spec.yaml --format json -o memory.json
      adcli memory sharded.yaml --devices 8
    """
    devices = DeviceArgs.take(options)
    args = MemoryArgs(**options)

    def engine(progress: Progress) -> MemoryReport:
        if args.measure and devices.distributed:
            raise UsageError("--measure times a run, which differs between processes: use one")
        prepare(devices, spec_meshes(args.paths, args.only))  # before JAX starts
        from adcli._memory.engine import memory_report
        from adcli._spec.config import load_config

        # Without --budget, the project's [tool.adcli] memory-budget (when it sets one).
        budget = args.budget if args.budget is not None else load_config()["memory-budget"]
        return memory_report(
            args.paths,
            dims=args.dims,
            only=args.only,
            layers=args.layers,
            budget=budget,
            measure=args.measure,
            policies=not args.no_policies,
        )

    view = View(args.fmt, args.output, args.no_color, options={"top": args.top})
    run_command(engine, view, label="analysing memory")
