"""``adcli``: the command group. Imports only click so that ``adcli --help`` stays instant."""

from __future__ import annotations

import sys

import click

from adcli import __version__
from adcli._cli.check import EXIT_CODES, check_command
from adcli._cli.choose_mode import choose_mode_command
from adcli._cli.curvature import curvature_command
from adcli._cli.estimate import estimate_command
from adcli._cli.explain import explain_command
from adcli._cli.memory import memory_command
from adcli._cli.tools import config_command, init_command, schema_command, validate_command


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES,
)
@click.version_option(__version__, prog_name="adcli")
def cli() -> None:
    """Check, choose and budget automatic differentiation in JAX, from YAML specs.

    A spec describes a function (a formula or a Python callable) and the shapes of its
    inputs; see docs/spec.md. Start with: adcli check specs/
    """


cli.add_command(check_command)
cli.add_command(memory_command)
cli.add_command(choose_mode_command)
cli.add_command(explain_command)
cli.add_command(estimate_command)
cli.add_command(curvature_command)
cli.add_command(validate_command)
cli.add_command(schema_command)
cli.add_command(init_command)
cli.add_command(config_command)


def main() -> None:
    """Console entry point: click's usage errors exit 2, as documented."""
    try:
        cli.main(prog_name="adcli", standalone_mode=True)
    except KeyboardInterrupt:  # a user interrupt is not a crash
        click.echo("interrupted", err=True)
        sys.exit(130)
