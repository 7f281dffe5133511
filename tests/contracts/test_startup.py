"""What start-up costs: each entry point, run in a fresh interpreter, imports none of the
heavy modules it promises not to (``import jax`` alone is most of a second).

These are the promises of the README and docs/ci.md: `import adcli`, `adcli --help`,
loading the pytest plugin, `adcli validate`/`schema`/`config` and loading a spec cost no
jax. Each case runs its code in a subprocess and reports the forbidden modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = "from click.testing import CliRunner\nfrom adcli._cli.main import cli\n"


def _invoke(*args: str) -> str:
    return CLI + f"r = CliRunner().invoke(cli, {list(args)!r})\nassert r.exit_code == 0, r.output\n"


# A pytest session in a project that does not use adcli: the plugin is loaded by its entry
# point name, sees a plain test file, and costs nothing. Other installed plugins are left
# out (jaxtyping's imports numpy): the promise is adcli's.
PLUGIN_SESSION = """\
import os, tempfile, pytest
os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
with tempfile.TemporaryDirectory() as project:
    with open(os.path.join(project, "test_plain.py"), "w") as f:
        f.write("def test_loaded(pytestconfig):\\n"
                "    assert pytestconfig.pluginmanager.has_plugin('adcli')\\n")
    assert pytest.main([project, "-q", "-p", "no:cacheprovider", "-p", "adcli"]) == 0
"""

CASES = {
    "import adcli": (
        "import adcli\nassert adcli.__version__ and 'check' in dir(adcli)\n",
        ("jax", "numpy", "rich", "yaml", "click"),
    ),
    "the pytest plugin module": (
        "import adcli._pytest_plugin\n",
        ("jax", "numpy", "rich", "yaml"),
    ),
    "a pytest session with the plugin": (PLUGIN_SESSION, ("jax", "numpy", "rich", "yaml")),
    "adcli --help, --version and every command's --help": (
        CLI
        + "for args in (['--help'], ['--version'], *([c, '--help'] for c in cli.commands)):\n"
        + "    r = CliRunner().invoke(cli, args)\n"
        + "    assert r.exit_code == 0 and r.output, (args, r.output)\n"
        + "assert len(cli.commands) >= 10, sorted(cli.commands)\n",
        ("jax", "numpy", "rich"),
    ),
    "adcli validate specs examples": (
        _invoke("validate", "specs", "examples")
        + "assert 'specs in' in r.output and 'valid' in r.output, r.output\n",
        ("jax", "numpy", "rich"),
    ),
    "adcli schema": (_invoke("schema"), ("jax", "numpy", "rich")),
    "adcli config": (_invoke("config"), ("jax", "numpy", "rich")),
    "the spec and results layers": (
        "import adcli._spec.config, adcli._spec.schema, adcli._spec.validate, "
        "adcli._spec.select, adcli._spec.scaffold\n"
        "import adcli._results.check, adcli._results.modes, adcli._results.memory, "
        "adcli._results.explain, adcli._results.estimate, adcli._results.curvature\n",
        ("jax", "numpy", "rich"),
    ),
    "loading spec files": (
        "from adcli._spec.load import load_file\n"
        "assert load_file('tests/fixtures/good/logistic.yaml')\n"
        "assert load_file('tests/fixtures/good/pytree.yaml')\n",
        ("jax", "numpy", "rich"),
    ),
    "parsing a formula": (
        "from adcli._spec.expr import parse_formula\n"
        "parse_formula('v = log(x)\\njnp.sum(v.T)', names={'x'})\n",
        ("jax", "numpy", "rich"),
    ),
}


def loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a fresh interpreter at the repository root; the ``modules`` it loaded."""
    report = f"import json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    proc = subprocess.run(
        [sys.executable, "-c", code + "\n" + report],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loaded: list[str] = json.loads(proc.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(("code", "forbidden"), CASES.values(), ids=CASES.keys())
def test_start_up_imports_nothing_heavy(code: str, forbidden: tuple[str, ...]) -> None:
    assert loaded_after(code, forbidden) == []


def test_the_measure_sees_an_import() -> None:
    """The harness itself: a case that does import jax is caught."""
    code = textwrap.dedent(
        """\
        import adcli
        adcli.check_function
        """
    )
    assert loaded_after(code, ("jax", "rich")) == ["jax"]
