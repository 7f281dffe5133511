"""``adcli explain``: parse options, explain each spec, render the report, return the exit code."""

from __future__ import annotations

import sys

import click

from adcli._cli.check import _parse_dims
from adcli._cli.options import (
    dims_option,
    format_option,
    no_color_option,
    output_option,
    point_option,
    seed_option,
    spec_option,
)
from adcli._cli.output import consoles, emit_json, exit_with_error
from adcli._errors import AdcliError

EXPLAIN_EXIT_CODES = """\b
Exit codes:
  0  the graph and its sweeps were explained
  2  bad usage or a spec that cannot be loaded or built
"""


def _parse_at(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got '{item}'", param_hint="--at")
        out[name.strip()] = value.strip()
    return out


@click.command("explain", epilog=EXPLAIN_EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--wrt", metavar="NAME", help="Input whose tangent seeds the forward sweep.")
@click.option(
    "--direction",
    type=click.Choice(["first", "ones", "random"]),
    default="first",
    show_default=True,
    help="Tangent of an array --wrt input: e₀, all ones, or random (from --seed).",
)
@click.option(
    "--cotangent",
    type=click.Choice(["first", "ones", "random"]),
    default="first",
    show_default=True,
    help="Seed of the reverse sweep for a non-scalar output: e₀ (one Jacobian row), ones, random.",
)
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set an input (or constant): a number, or a list broadcast to its shape (repeatable).",
)
@point_option
@seed_option
@click.option("--all-nodes", is_flag=True, help="Also show casts and broadcast constants.")
@click.option(
    "--max-nodes",
    type=click.IntRange(min=1),
    default=40,
    show_default=True,
    help="Beyond this many nodes, summarise the graph by primitive counts.",
)
@click.option("--check-dims", is_flag=True, help="Use each spec's check.dims (small sizes).")
@click.option("--output-name", metavar="NAME", help="Name of the output node (default L/out).")
@dims_option
@spec_option
@format_option("text", "json", "markdown", "dot")
@output_option
@no_color_option
def explain_command(
    paths: tuple[str, ...],
    wrt: str | None,
    direction: str,
    cotangent: str,
    at: tuple[str, ...],
    point: int,
    seed: int | None,
    all_nodes: bool,
    max_nodes: int,
    check_dims: bool,
    output_name: str | None,
    dims: tuple[str, ...],
    only: tuple[str, ...],
    fmt: str,
    output: str | None,
    no_color: bool,
) -> None:
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
    overrides = _parse_dims(dims)
    at_values = _parse_at(at)
    out, err = consoles(no_color)
    try:
        from adcli._explain.engine import explain_report

        report = explain_report(
            paths,
            only=only,
            dims=overrides,
            check_dims=check_dims,
            wrt=wrt,
            direction=direction,
            cotangent=cotangent,
            at=at_values,
            point=point,
            seed=seed,
            all_nodes=all_nodes,
            max_nodes=max_nodes,
            output_name=output_name,
        )
    except AdcliError as exc:
        exit_with_error(err, exc)
    from adcli._results.explain import explain_dict

    emit_json(explain_dict(report), fmt=fmt, output=output, err=err)
    if fmt == "markdown":
        from adcli._report.explain_markdown import render_markdown

        click.echo(render_markdown(report))
    elif fmt == "dot":
        from adcli._report.explain_dot import render_dot

        click.echo(render_dot(report), nl=False)
    elif fmt == "text":
        from adcli._report.explain_console import render

        render(report, out)
    sys.exit(report.exit_code)
