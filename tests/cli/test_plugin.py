"""The pytest plugin, run with pytester: collection, pass, fail, -k, config, and no jax at load."""

from __future__ import annotations

import pytest

import adcli._report.console  # noqa: F401

# pytester's in-process runs drop the modules a run imported; PyYAML's C parser does not
# survive being imported twice, so the modules an adcli run needs are imported here, once.

pytest_plugins = ["pytester"]

PASSING = """\
name: square_sum
function: {expr: "sum(x * x)"}
inputs: {x: [3]}
check: {points: 1}
expect: {grad: {x: "2 * x"}}
"""
FAILING = """\
name: wrong_grad
function: {expr: "sum(x * x)"}
inputs: {x: [3]}
check: {points: 1}
expect: {grad: {x: "3 * x"}}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".adcli.yaml", good=PASSING)
    (pytester.path / "checks").mkdir()
    (pytester.path / "checks" / "two.yaml").write_text(
        FAILING + "---\n" + PASSING.replace("square_sum", "again")
    )
    return pytester


def test_collects_adcli_yaml_files_one_item_per_spec(project: pytest.Pytester) -> None:
    result = project.runpytest("--co", "-q")
    result.stdout.fnmatch_lines(["good.adcli.yaml::square_sum", "*1 test collected*"])
    assert "two.yaml" not in result.stdout.str()  # a plain .yaml is not a test file


def test_adcli_option_collects_plain_yaml_under_a_path(project: pytest.Pytester) -> None:
    result = project.runpytest("--adcli", "checks", "--co", "-q")
    result.stdout.fnmatch_lines(
        ["checks/two.yaml::wrong_grad", "checks/two.yaml::again", "*2 tests*"]
    )
    assert "good.adcli.yaml" not in result.stdout.str()  # --adcli alone: only those specs


def test_pass_and_fail_show_adcli_report_not_a_traceback(project: pytest.Pytester) -> None:
    result = project.runpytest("--adcli", "checks", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ adcli spec wrong_grad _*",
            "FAIL*wrong_grad*checks/two.yaml:1*margin*",
            "*expect.grad formula vs AD*FAIL",
            "*input*output*formula*reference*margin*",
        ]
    )
    assert "Traceback" not in out and "SpecFailed" not in out and "def runtest" not in out
    assert "FAILED checks/two.yaml::wrong_grad" in out


def test_k_selects_specs_by_name(project: pytest.Pytester) -> None:
    result = project.runpytest("--adcli", "checks", "-k", "again", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=1)


def test_config_specs_are_collected_beside_tests(project: pytest.Pytester) -> None:
    project.makepyprojecttoml('[tool.adcli]\nspecs = ["checks"]\n')
    project.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = project.runpytest("--co", "-q")
    result.stdout.fnmatch_lines_random(
        ["checks/two.yaml::wrong_grad", "checks/two.yaml::again", "good.adcli.yaml::square_sum",
         "test_plain.py::test_ok", "*4 tests collected*"]
    )  # fmt: skip


def test_explicit_args_are_respected(project: pytest.Pytester) -> None:
    project.makepyprojecttoml('[tool.adcli]\nspecs = ["checks"]\n')
    project.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = project.runpytest("test_plain.py", "--co", "-q")
    result.stdout.fnmatch_lines(["test_plain.py::test_ok", "*1 test collected*"])


def test_an_invalid_spec_is_a_collection_error_with_file_and_line(project: pytest.Pytester) -> None:
    project.makefile(
        ".adcli.yaml", broken="name: b\nfunction: {expr: x}\ninputs: {x: {shape: [3], dtyp: f32}}\n"
    )
    result = project.runpytest("-p", "no:cacheprovider", "broken.adcli.yaml")
    result.stdout.fnmatch_lines(
        ["*adcli: invalid spec: broken.adcli.yaml:3: inputs.x.dtyp: unknown key*"]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the run


def test_bad_config_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyprojecttoml("[tool.adcli]\nspec = ['checks']\n")
    result = project.runpytest("--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key 'spec' (did you mean 'specs'?)*"])


def test_junitxml_gets_one_testcase_per_spec(project: pytest.Pytester) -> None:
    import xml.etree.ElementTree as ET

    project.runpytest("--adcli", "checks", "--junitxml=out.xml", "-p", "no:cacheprovider")
    cases = list(ET.parse(project.path / "out.xml").getroot().iter("testcase"))
    assert sorted(c.get("name") or "" for c in cases) == ["again", "wrong_grad"]
    failed = next(c for c in cases if c.get("name") == "wrong_grad").find("failure")
    assert failed is not None and "expect.grad formula vs AD" in (failed.text or "")


def test_our_own_spec_folders_are_not_collected_by_the_plugin() -> None:
    # specs/, examples/ and tests/fixtures/ are run by their own tests (and examples/ fail on
    # purpose): none may use the suffix the plugin collects everywhere.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for top in ("specs", "examples", "tests"):
        assert not [p for p in (root / top).rglob("*.adcli.y*ml")], top


KERNELS = """\
import jax
import jax.numpy as jnp


def plain(x):
    return jnp.log1p(jnp.exp(x))


def _kernel(slope):
    @jax.custom_vjp
    def f(x):
        return jnp.logaddexp(x, 0.0)

    f.defvjp(lambda x: (f(x), x), lambda x, g: (slope(x) * g,))
    return f


right = _kernel(jax.nn.sigmoid)
wrong = _kernel(lambda x: 1.5 * jax.nn.sigmoid(x))
"""
KERNEL_SPEC = """\
name: {name}
function: {{python: kernels.py:{name}}}
reference: {{python: kernels.py:plain}}
inputs: {{x: {{shape: [4], dtype: bfloat16}}}}
check: {{points: 1}}
"""


def test_a_spec_with_a_reference_is_an_item_like_any_other(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(kernels=KERNELS)
    pytester.makefile(".adcli.yaml", right=KERNEL_SPEC.format(name="right"))
    pytester.makefile(".adcli.yaml", wrong=KERNEL_SPEC.format(name="wrong"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ adcli spec wrong _*",
            "*x · VJP vs the reference's VJP (float64) · point 0 · directions*FAIL",
            "*x: FD not used: the kernel computes in bfloat16*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
