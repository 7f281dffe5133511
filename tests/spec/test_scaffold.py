"""`adcli init`: a spec from a callable and one example call (or a formula) → validate → check."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adcli._cli.main import cli
from adcli._spec.load import load_file

MODELS = """\
import jax.numpy as jnp


def loss(params, x, labels, scale=2.0):
    logits = jnp.tanh(x @ params["w"] + params["b"])
    return jnp.sum((logits - labels) ** 2) * scale, {"logits": logits}


def example_args():
    import numpy as np

    return ({"w": np.ones((3, 2)), "b": np.zeros(2)}, np.ones((4, 3)), np.array([[0, 1]] * 4))
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "specs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_init_from_a_callable_round_trips(project: Path) -> None:
    code, out = run(
        "init", "specs/loss.yaml", "--python", "models.py:loss",
        "--example", "params={'w': ones((3, 2)), 'b': zeros(2)}",
        "--example", "x=ones((4, 3))", "--example", "labels=array([[0, 1]] * 4)",
    )  # fmt: skip
    assert code == 0, out
    (spec,) = load_file("specs/loss.yaml")
    assert spec.function.python == "../models.py:loss"  # relative to the spec file
    assert spec.inputs["params"]["w"].shape == (3, 2)  # type: ignore[index]
    assert spec.inputs["x"].shape == (4, 3)  # type: ignore[union-attr]
    assert spec.constants["labels"].dtype == "int64"  # type: ignore[union-attr]
    assert spec.constants["labels"].init.kind == "value"  # type: ignore[union-attr]
    assert isinstance(spec.output, tuple) and spec.output[0].shape == ()  # type: ignore[union-attr]
    assert "scale" not in spec.inputs  # a parameter with a default is left to its default
    assert run("validate", "specs/loss.yaml")[0] == 0
    code, out = run("check", "specs/loss.yaml", "--points", "1")
    assert code == 0, out
    assert "PASS" in out


def test_init_from_an_example_args_function(project: Path) -> None:
    code, out = run(
        "init", "s.yaml", "--python", "models.py:loss", "--args-from", "models.py:example_args"
    )
    assert code == 0, out
    assert "labels: {shape: [4, 2], dtype: int64" in Path("s.yaml").read_text()


def test_init_from_a_formula(project: Path) -> None:
    code, out = run(
        "init",
        "sq.yaml",
        "--expr",
        "sum(x**2) + y @ x",
        "--input",
        "x=[n]",
        "--input",
        "y=[n]",
        "--dim",
        "n=3",
    )
    assert code == 0, out
    (spec,) = load_file("sq.yaml")
    assert spec.name == "sq" and spec.dims == {"n": 3} and spec.inputs["x"].shape == ("n",)  # type: ignore[union-attr]
    code, out = run("check", "sq.yaml")
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--python", "models.py:loss", "--example", "x=ones(3)"], "no example for params, labels"),
        (["--python", "models.py:loss", "--example", "z=ones(3)"], "has no parameter 'z'"),
        (["--python", "models.py:nope", "--example", "x=ones(3)"], "has no attribute 'nope'"),
        (["--python", "models.py:loss", "--expr", "x"], "exactly one of --python"),
        (["--expr", "sum(x)", "--input", "x=[m]"], "unknown dim 'm'"),
        (["--expr", "sum(q)", "--input", "x=[3]"], "unknown name 'q'"),
        (["--expr", "sum(x)", "--input", "x=3"], "expected a shape list"),
        (["--expr", "sum(x)", "--input", "x=[3]"], "cannot write no/such/s.yaml"),
    ],
)
def test_init_errors_exit_2_and_write_nothing(project: Path, args: list[str], message: str) -> None:
    target = "no/such/s.yaml" if "x=[3]" in args else "bad.yaml"  # a missing directory
    code, out = run("init", target, *args)
    assert code == 2 and "Traceback" not in out
    assert message in out
    assert not Path("bad.yaml").exists()


def test_init_does_not_overwrite_without_force(project: Path) -> None:
    Path("s.yaml").write_text("keep me\n")
    code, out = run("init", "s.yaml", "--expr", "sum(x)", "--input", "x=[2]")
    assert code == 2 and "exists" in out and Path("s.yaml").read_text() == "keep me\n"
    assert run("init", "s.yaml", "--expr", "sum(x)", "--input", "x=[2]", "--force")[0] == 0


PYTREES = """\
import jax, jax.numpy as jnp
import equinox as eqx


def list_loss(params, x, labels):
    for w, b in params:
        x = jnp.tanh(x @ w + b)
    return jnp.mean(x.sum(-1) - labels)


def list_args():
    k = jax.random.split(jax.random.key(0), 2)
    return ([(jax.random.normal(k[0], (3, 4)), jnp.zeros(4)),
             (jax.random.normal(k[1], (4, 2)), jnp.zeros(2))], jnp.ones((5, 3)), jnp.arange(5))


def module_loss(model, x, y):
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


def module_args(key):
    return eqx.nn.MLP(3, "scalar", 8, 1, key=key), jnp.ones((5, 3)), jnp.zeros(5)
"""


def test_init_writes_list_pytrees_and_modules(project: Path) -> None:
    pytest.importorskip("equinox")
    (project / "nets.py").write_text(PYTREES)
    code, out = run(
        "init", "l.yaml", "--python", "nets.py:list_loss", "--args-from", "nets.py:list_args"
    )
    assert code == 0, out
    (spec,) = load_file("l.yaml")
    params = spec.inputs["params"]
    assert isinstance(params, tuple) and params[1][0].shape == (4, 2)  # type: ignore[index]
    code, out = run(
        "init", "m.yaml", "--python", "nets.py:module_loss", "--args-from", "nets.py:module_args"
    )
    assert code == 0, out
    assert 'model: {python: "nets.py:module_args", item: 0}' in Path("m.yaml").read_text()
    for name in ("l.yaml", "m.yaml"):
        code, out = run("check", name, "--points", "1")
        assert code == 0 and "PASS" in out, out


def test_init_writes_examples_leaf_by_leaf_and_refuses_what_yaml_cannot_spell(
    project: Path,
) -> None:
    (project / "nets.py").write_text(
        "import jax.numpy as jnp\n\ndef f(x):\n    return jnp.sum(x[0]) + jnp.sum(x[1])\n"
    )
    code, out = run("init", "s.yaml", "--python", "nets.py:f", "--example", "x=[ones(2), ones(3)]")
    assert code == 0, out  # a list of arrays is written leaf by leaf
    text = Path("s.yaml").read_text()
    assert "x: [{shape: [2], dtype: float64}, {shape: [3], dtype: float64}]" in text
    code, out = run(
        "init", "t.yaml", "--python", "nets.py:f", "--example", "x=[ones(2), arange(3)]"
    )
    assert code == 2 and "Traceback" not in out
    assert "argument 'x' cannot be written leaf by leaf (it mixes floating and integer" in out
    assert "give it with --args-from FILE.py:FN" in out
