"""``adcli explain``: parse options, explain each spec, render the report, return the exit code."""

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
)
from adcli._cli.output import Progress, View, run_command
from adcli._report.formats import Format
from adcli._results.explain import ExplainReport

EXPLAIN_EXIT_CODES = """\b
Exit codes:
  0  the graph and its sweeps were explained
  2  bad usage or a spec that cannot be loaded or built
"""

# Seeds of the forward (--direction) and reverse (--cotangent) sweeps.
DIRECTIONS = ("first", "ones", "random")


def _parse_at(ctx: click.Context, param: click.Parameter, values: Any) -> dict[str, str]:
    out = {}
    for item in values or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got '{item}'", param_hint="--at")
        out[name.strip()] = value.strip()
    return out


@dataclass(frozen=True, kw_only=True)
class ExplainArgs(CommandArgs):
    """``adcli explain``'s options."""

    fmt: Format
    wrt: str | None
    direction: str
    cotangent: str
    at: dict[str, str]
    point: int
    seed: int | None
    all_nodes: bool
    max_nodes: int
    check_dims: bool
    output_name: str | None


@click.command("explain", epilog=EXPLAIN_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--wrt", metavar="NAME", help="Input whose tangent seeds the forward sweep.")
@choice_option(
    "--direction",
    DIRECTIONS,
    default="first",
    help="Tangent of an array --wrt input: e₀, all ones, or random (from --seed).",
)
@choice_option(
    "--cotangent",
    DIRECTIONS,
    default="first",
    help="Seed of the reverse sweep for a non-scalar output: e₀ (one Jacobian row), ones, random.",
)
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    callback=_parse_at,
    help="Set an input (or constant): a number, or a list broadcast to its shape (repeatable).",
)
@point_options
@click.option("--all-nodes", is_flag=True, help="Also show casts and broadcast constants.")
@count_option(
    "--max-nodes",
    least=1,
    default=40,
    help="Beyond this many nodes, summarise the graph by primitive counts.",
)
@click.option("--check-dims", is_flag=True, help="Use each spec's check.dims (small sizes).")
@click.option("--output-name", metavar="NAME", help="Name of the output node (default L/out).")
@report_options(ExplainReport)
def explain_command(**options: Any) -> None:
    """The computational graph of a function, and its forward and reverse sweeps.

    For each node: its operation, value, tangent (forward sweep, seeded at --wrt) and
    adjoint (reverse sweep), with the local rule in the nodes' names and the local
    partials; then what the reverse sweep stored. Numbers come from JAX and each rule is
    re-evaluated to agree. See docs/explain.md.

    \b
    Examples:
      adcli explain specs/lecture_L.yaml
      adcli explain specs/lecture_L.yaml --wrt w1 --at w1=2 --at w2=3 --format markdown
      adcli explain specs/mlp.yaml --spec one_hidden_layer --format dot > graph.dot
      adcli explain specs/memory/gpt2_xl_block.yaml --check-dims
    """
    devices = DeviceArgs.take(options)
    args = ExplainArgs(**options)

    def engine(progress: Progress) -> ExplainReport:
        prepare(devices, spec_meshes(args.paths, args.only))  # before JAX starts
        from adcli._explain.engine import explain_report

        return explain_report(args.paths, **args.engine_options())

    run_command(engine, View(args.fmt, args.output, args.no_color), label="explaining")
