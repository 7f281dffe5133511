"""Spec tooling commands: ``adcli validate``, ``adcli schema``, ``adcli init``, ``adcli config``.

None of them imports jax except ``init --python`` (it traces the function once for shapes).
"""

from __future__ import annotations

import sys

import click

from adcli._errors import AdcliError

_VALIDATE_EXIT = """\b
Exit codes:
  0  every spec is valid
  2  a spec is invalid, or a path does not exist
"""


def _fail(exc: AdcliError) -> None:
    click.echo(f"adcli: error: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.command("validate", epilog=_VALIDATE_EXIT)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
def validate_command(paths: tuple[str, ...], quiet: bool) -> None:
    """Check that spec files load and their formulas parse, without running them.

    Fast (no jax import): for editors, pre-commit hooks and the first step of CI. PATHS
    default to [tool.adcli] specs.

    \b
    Examples:
      adcli validate specs/
      adcli validate specs/logistic.yaml specs/mlp.yaml
    """
    from adcli._spec.config import load_config
    from adcli._spec.validate import validate

    try:
        paths = paths or load_config()["specs"]
        if not paths:
            raise AdcliError("no PATHS given and no [tool.adcli] specs in a pyproject.toml")
        report = validate(paths)
    except AdcliError as exc:
        _fail(exc)
        return
    for message in report.errors:
        click.echo(f"adcli: error: {message}", err=True)
    if not quiet:
        bad = len(report.errors)
        click.echo(
            f"{len(report.specs)} specs in {report.files - bad} files valid"
            + (f"; {bad} file{'s' if bad > 1 else ''} invalid" if bad else "")
        )
    sys.exit(report.exit_code)


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the spec format (for editors and other validators).

    \b
    Example:
      adcli schema > adcli.schema.json
      # in a spec: # yaml-language-server: $schema=adcli.schema.json
    """
    from adcli._spec.schema import render

    click.echo(render(), nl=False)


@click.command("config")
def config_command() -> None:
    """Print the [tool.adcli] settings in effect and where each value comes from.

    Settings live in the nearest pyproject.toml (at or above the current directory) that
    has a [tool.adcli] table; see docs/ci.md. `adcli check ... --show-config` shows them
    merged with that command's options.
    """
    from adcli._spec.config import load_config

    try:
        click.echo(load_config().render())
    except AdcliError as exc:
        _fail(exc)


@click.command("init")
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--python", "ref", metavar="FILE.py:FN", help="The function, as in a spec.")
@click.option("--expr", metavar="FORMULA", help="An inline formula instead of --python.")
@click.option(
    "--example",
    "examples",
    multiple=True,
    metavar="NAME=VALUE",
    help="An example argument, as a Python/numpy expression: x=zeros(3), w='ones((3, 2))' "
    "(repeatable). With --expr, NAME=[SHAPE] such as x=[n] or x=[3, 2].",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=[SHAPE]",
    help="With --expr: an input and its shape, e.g. x=[n] (repeatable).",
)
@click.option("--dim", "dims", multiple=True, metavar="NAME=SIZE", help="A named size, n=3.")
@click.option(
    "--args-from",
    metavar="FILE.py:FN",
    help="A function returning example arguments (a tuple, or a dict by name); "
    "arguments YAML cannot list leaf by leaf (Modules, long pytrees) are taken from it.",
)
@click.option("--name", help="The spec name (default: the function's name or the file's).")
@click.option("--force", is_flag=True, help="Overwrite SPEC_FILE if it exists.")
def init_command(
    spec_file: str,
    ref: str | None,
    expr: str | None,
    examples: tuple[str, ...],
    inputs: tuple[str, ...],
    dims: tuple[str, ...],
    args_from: str | None,
    name: str | None,
    force: bool,
) -> None:
    """Write a starting spec from a callable and one example call, or from a formula.

    Shapes and dtypes are filled in from the example arguments (and the declared output
    from one trace of the function); the written spec is then validated.

    \b
    Examples:
      adcli init spec.yaml --python models.py:loss --example 'x=zeros(3)' --example 'w=ones((3, 2))'
      adcli init spec.yaml --python models.py:loss --args-from models.py:example_args
      adcli init spec.yaml --expr "sum(x**2)" --input x=[n] --dim n=3
    """
    from adcli._problem.introspect import describe_call
    from adcli._spec.scaffold import init_spec

    try:
        text = init_spec(
            spec_file,
            python=ref,
            expr=expr,
            examples=examples,
            inputs=inputs,
            dims=dims,
            args_from=args_from,
            name=name,
            force=force,
            describe=describe_call,
        )
    except AdcliError as exc:
        _fail(exc)
        return
    click.echo(f"wrote {spec_file}:\n{text}", nl=False)
    click.echo(f"next: adcli check {spec_file}")
