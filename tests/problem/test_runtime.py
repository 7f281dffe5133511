"""adcli leaves the caller's JAX as it found it (adcli._problem.runtime).

The rest of the suite runs with x64 on (tests/conftest.py), so the promise "a check
changes no global setting" is tested in a fresh interpreter started with x64 off and no
compilation cache, comparing every value of ``jax.config.values`` before and after, as
JAX's own test suite does after each test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from adcli._problem.runtime import caller_mode, jax_scope, spec_mode, use_persistent_cache

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    import adcli

    before = dict(jax.config.values)
    assert before["jax_enable_x64"] is False and before["jax_compilation_cache_dir"] is None

    @jax.custom_vjp
    def wrong(x):
        return jnp.sin(x)
    wrong.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (2 * g * jnp.cos(x),))

    adcli.assert_grads(lambda x: jnp.sum(jnp.tanh(x) ** 2), (np.linspace(-1, 1, 4),), order=3)
    try:
        adcli.assert_grads(wrong, (np.linspace(0.1, 1, 3),), modes=["rev"])
    except AssertionError:
        pass
    else:
        raise SystemExit("the wrong VJP was not caught")
    result = adcli.check_function(jnp.log, np.array([-1.0, 2.0]))  # not judged
    assert result.verdict == "skipped", result.verdict
    report = adcli.check("specs/quadratic.yaml", points=1)
    assert report.exit_code == 0, report.results[0].verdict
    adcli.choose_mode(adcli.load_file("specs/modes/linear_map.yaml")[0])

    after = dict(jax.config.values)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, changed
    # float32 work afterwards is float32, as it was: nothing left x64 on.
    assert jnp.arange(3.0).dtype == jnp.float32
    print("unchanged", len(after))
    """
)


def test_a_check_changes_no_global_jax_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "ADCLI_"))}
    env["ADCLI_CACHE_DIR"] = ""  # and nothing in a user's cache either way
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("unchanged")


def test_jax_scope_is_thread_local_and_restores_the_caller() -> None:
    with jax.enable_x64(False), jax.numpy_dtype_promotion("strict"):
        with jax_scope():
            assert jnp.arange(3.0).dtype == jnp.float64
            assert jax.config.values["jax_numpy_dtype_promotion"].value == "standard"
        assert jnp.arange(3.0).dtype == jnp.float32
        assert jax.config.values["jax_numpy_dtype_promotion"].value == "strict"


def test_a_mode_is_what_changes_tracing() -> None:
    with jax.enable_x64(False):
        off = caller_mode()
        with off.apply(), jax_scope(), off.apply():  # nested: the innermost wins
            assert jnp.arange(3.0).dtype == jnp.float32
    with jax.enable_x64(True):
        on = caller_mode()
    with jax.enable_x64(True), jax.numpy_dtype_promotion("strict"):
        strict = caller_mode()
    assert (off.x64, on.x64) == (False, True)
    assert len({off.key, on.key, strict.key}) == 3  # three different program caches
    assert spec_mode().x64 and dict(spec_mode().settings)["jax_numpy_dtype_promotion"] == (
        "standard"
    )


def test_the_persistent_cache_is_only_switched_on_when_asked(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, jax
        os.environ["ADCLI_CACHE_DIR"] = {str(tmp_path)!r}
        import adcli
        adcli.check_function(lambda x: (x ** 2).sum(), jax.numpy.ones(3))
        assert jax.config.values["jax_compilation_cache_dir"] is None  # the Python API
        from adcli._problem.runtime import use_persistent_cache
        use_persistent_cache()  # what the adcli command does for its own process
        assert jax.config.values["jax_compilation_cache_dir"] == {str(tmp_path)!r}
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert callable(use_persistent_cache)


def test_programs_traced_in_one_mode_are_not_reused_in_another() -> None:
    """The same function and shapes, checked with x64 off, on, off: each mode has its own
    programs (a program cache keyed by shapes alone mixes f32 and f64 jaxprs)."""
    import adcli

    def f(x: jax.Array) -> jax.Array:
        return jnp.sum(jnp.sin(x) * jnp.arange(3.0))

    x = np.linspace(0.1, 1.0, 3)
    dtypes = []
    for x64 in (False, True, False):
        with jax.enable_x64(x64):
            result = adcli.check_function(f, x, order=2)
        assert result.verdict == "pass", result.comparisons
        dtypes.append(result.dtypes["x"])
    assert dtypes == ["float32", "float64", "float32"]
    assert np.asarray(x).dtype == np.float64  # the caller's array is untouched
