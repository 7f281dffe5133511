"""The bundled example models themselves, checked with jax and numpy only (not adcli).

- Every hand-derived derivative in specs/ (the python ones in specs/models.py, and the
  ``expr`` ones re-written here as jnp lambdas) equals jax.grad / jax.hessian at random points.
- The custom_vjp linear solve agrees with jnp.linalg.solve's own derivatives.
- Every buggy model in examples/ differs from the true derivative exactly in the advertised
  way (a ratio of 2, a sign, one coordinate, one region, only the second order, ...).
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

jax.config.update("jax_enable_x64", True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
EXAMPLES = ROOT / "examples"


def _import(path: pathlib.Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


models = _import(SPECS / "models.py", "adcli_bundled_spec_models")
buggy = _import(EXAMPLES / "buggy_models.py", "adcli_bundled_buggy_models")


def _docs(path: pathlib.Path) -> dict[str, dict]:
    with open(path, encoding="utf-8") as f:
        return {doc["name"]: doc for doc in yaml.safe_load_all(f)}


def _value(path: pathlib.Path, spec: str, section: str, name: str) -> np.ndarray:
    """The ``{value: ...}`` init of an input or constant of one spec, as float64."""
    return np.asarray(_docs(path)[spec][section][name]["init"]["value"], dtype=np.float64)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _jvp(f, x, v):
    return jax.jvp(f, (x,), (v,))[1]


def _vjp(f, x, w):
    return jax.vjp(f, x)[1](w)[0]


# ---------------------------------------------------------------------------------------------
# The spec files: parseable, and every python reference exists.

ALL_YAML = sorted(SPECS.glob("*.yaml")) + sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_files_parse_and_python_refs_exist(path):
    with open(path, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    names = [doc["name"] for doc in docs]
    assert len(names) == len(set(names))
    for doc in docs:
        assert doc.get("description"), doc["name"]
        assert "output" in doc, doc["name"]
        for ref in re.findall(r"python: ([\w./]+):(\w+)", path.read_text(encoding="utf-8")):
            known = {"models.py": models, "buggy_models.py": buggy}
            module = known.get(ref[0]) or _import(path.parent / ref[0], f"adcli_{path.stem}")
            assert (path.parent / ref[0]).exists(), ref
            assert callable(getattr(module, ref[1])), ref


# ---------------------------------------------------------------------------------------------
# lecture_L.yaml


def _lecture_L(w1, w2):
    v2 = w2 * jnp.log(w1)
    return v2 + jnp.sqrt(v2)


@pytest.mark.parametrize("seed", range(3))
def test_lecture_L_grads_and_second_derivatives(seed):
    w1, w2 = _rng(seed).uniform(1.5, 3.0), _rng(seed + 10).uniform(0.5, 2.0)
    u = w2 * np.log(w1)
    dL = 1 + 1 / (2 * np.sqrt(u))
    d2L = -1 / (4 * u * np.sqrt(u))
    _close(jax.grad(_lecture_L, 0)(w1, w2), (w2 / w1) * dL)
    _close(jax.grad(_lecture_L, 1)(w1, w2), np.log(w1) * dL)
    _close(jax.hessian(_lecture_L, 0)(w1, w2), d2L * (w2 / w1) ** 2 - dL * w2 / w1**2)
    _close(jax.hessian(_lecture_L, 1)(w1, w2), d2L * np.log(w1) ** 2)


# ---------------------------------------------------------------------------------------------
# quadratic.yaml, log_quadratic.yaml, logistic.yaml, logistic_regression.yaml


def test_quadratic_grad_and_hessian():
    rng = _rng(1)
    n = 10
    A, b, c, x = rng.normal(size=(n, n)), rng.normal(size=n), 1.5, rng.normal(size=n)

    def f(x):
        return x @ A @ x - b @ x + c

    _close(jax.grad(f)(x), (A + A.T) @ x - b)
    _close(jax.hessian(f)(x), A + A.T)


def test_log_quadratic_grad_and_hessian():
    rng = _rng(2)
    n = 8
    B, x = rng.normal(size=(n, 2 * n)), rng.normal(size=n)
    A = B @ B.T
    assert np.linalg.eigvalsh(A).min() > 0

    def f(x):
        return jnp.log(x @ A @ x)

    q = x @ A @ x
    _close(jax.grad(f)(x), 2 * A @ x / q)
    _close(jax.hessian(f)(x), 2 * A / q - 4 * np.outer(A @ x, A @ x) / q**2)


@pytest.mark.parametrize("n, std", [(10, 0.5), (1000, 0.03)])
def test_logistic_grad_and_hessian(n, std):
    rng = _rng(3)
    a, x = rng.normal(0, std, size=n), rng.normal(size=n)

    def f(x):
        return jnp.log1p(jnp.exp(a @ x))

    s = 1 / (1 + np.exp(-(a @ x)))
    _close(jax.grad(f)(x), s * a)
    if n <= 10:
        _close(jax.hessian(f)(x), s * (1 - s) * np.outer(a, a))


def test_logistic_regression_grads():
    rng = _rng(4)
    n, t, lam = 6, 1.0, 0.1
    w, b, x = rng.normal(size=n), rng.normal(), rng.normal(size=n)

    def f(w, b):
        s = jax.nn.sigmoid(w @ x + b)
        return (s - t) ** 2 / 2 + lam / 2 * jnp.sum(w**2)

    s = 1 / (1 + np.exp(-(w @ x + b)))
    _close(jax.grad(f, 0)(w, b), (s - t) * s * (1 - s) * x + lam * w)
    _close(jax.grad(f, 1)(w, b), (s - t) * s * (1 - s))


# ---------------------------------------------------------------------------------------------
# mds.yaml


def _mds(W, D):
    delta = W[:, None, :] - W[None, :, :]
    return jnp.sum((jnp.sum(delta**2, axis=-1) - D) ** 2)


def _mds_grad(W, D):
    """8 Σⱼ Rᵢⱼ (Wᵢ − Wⱼ) in the matrix form of mds.yaml: 8 (diag(R·1) − R) W."""
    R = np.sum((W[:, None, :] - W[None, :, :]) ** 2, axis=-1) - D
    return 8 * (R.sum(axis=1)[:, None] * W - R @ W)


def test_mds_target_matrix_is_symmetric_non_negative():
    D = _value(SPECS / "mds.yaml", "mds", "constants", "D")
    assert D.shape == (6, 6)
    _close(D, D.T, rtol=0, atol=0)
    assert D.min() >= 0 and np.all(np.diag(D) == 0)


@pytest.mark.parametrize("seed", range(3))
def test_mds_grad_has_factor_8_for_symmetric_D(seed):
    D = _value(SPECS / "mds.yaml", "mds", "constants", "D")
    W = _rng(seed).normal(size=(6, 2))
    _close(jax.grad(_mds)(W, D), _mds_grad(W, D))
    # The element-wise form Σⱼ 8 Rᵢⱼ (Wᵢ − Wⱼ) is the same thing.
    R = np.sum((W[:, None, :] - W[None, :, :]) ** 2, axis=-1) - D
    elementwise = [sum(8 * R[i, j] * (W[i] - W[j]) for j in range(6)) for i in range(6)]
    _close(_mds_grad(W, D), np.array(elementwise))


def test_mds_grad_formula_needs_symmetric_D():
    rng = _rng(5)
    D = np.abs(rng.normal(size=(6, 6)))  # not symmetric
    W = rng.normal(size=(6, 2))
    assert not np.allclose(jax.grad(_mds)(W, D), _mds_grad(W, D), rtol=1e-3)
    _close(jax.grad(_mds)(W, D), _mds_grad(W, (D + D.T) / 2))


# ---------------------------------------------------------------------------------------------
# sin_AX.yaml, mlp.yaml


def test_sum_sin_AX_grads():
    rng = _rng(6)
    A, X = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))

    def f(A, X):
        return jnp.sum(jnp.sin(A @ X))

    _close(jax.grad(f, 1)(A, X), A.T @ np.cos(A @ X))
    _close(jax.grad(f, 0)(A, X), np.cos(A @ X) @ X.T)


def test_sin_AX_jvp_and_vjp():
    rng = _rng(7)
    A, X, dX, W = (rng.normal(size=s) for s in [(4, 3), (3, 5), (3, 5), (4, 5)])

    def f(X):
        return jnp.sin(A @ X)

    _close(_jvp(f, X, dX), np.cos(A @ X) * (A @ dX))
    _close(_vjp(f, X, W), A.T @ (np.cos(A @ X) * W))


def test_one_hidden_layer_backprop_formulas():
    rng = _rng(8)
    N, d, h = 16, 4, 8
    W1, b1, w2, b2 = rng.normal(size=(h, d)), rng.normal(size=h), rng.normal(size=h), 0.3
    X, y = rng.normal(size=(N, d)), rng.normal(size=N)

    def f(W1, b1, w2, b2):
        H = jnp.tanh(X @ W1.T + b1)
        return jnp.mean((H @ w2 + b2 - y) ** 2)

    H = np.tanh(X @ W1.T + b1)
    r = H @ w2 + b2 - y
    G = np.outer(r, w2) * (1 - H**2)
    grads = jax.grad(f, (0, 1, 2, 3))(W1, b1, w2, b2)
    # The formulas as written in mlp.yaml (means instead of 1/N) ...
    _close(grads[2], 2 * np.mean(r[:, None] * H, axis=0))
    _close(grads[3], 2 * np.mean(r))
    _close(grads[0], 2 * np.mean(G[:, :, None] * X[:, None, :], axis=0))
    _close(grads[1], 2 * np.mean(G, axis=0))
    # ... and as in the description.
    _close(grads[2], 2 / N * H.T @ r)
    _close(grads[0], 2 / N * G.T @ X)


def _mlp_params(rng, d=4, h=8, dtype=np.float64):
    shapes = {"w1": (h, d), "b1": (h,), "w2": (h, h), "b2": (h,), "w3": (h,), "b3": ()}
    return {k: jnp.asarray(rng.normal(0, 0.5, size=s), dtype) for k, s in shapes.items()}


def test_mlp_loss_matches_numpy_forward_pass():
    rng = _rng(9)
    params = _mlp_params(rng)
    x, y = rng.normal(size=(16, 4)), rng.normal(size=16)
    p = {k: np.asarray(v) for k, v in params.items()}
    h2 = np.tanh(np.tanh(x @ p["w1"].T + p["b1"]) @ p["w2"].T + p["b2"])
    _close(models.mlp_loss(params=params, x=x, y=y), np.mean((h2 @ p["w3"] + p["b3"] - y) ** 2))
    grads = jax.grad(models.mlp_loss)(params, x, y)
    assert jax.tree.map(jnp.shape, grads) == jax.tree.map(jnp.shape, params)


# ---------------------------------------------------------------------------------------------
# linear_solve.yaml


def _solve_A():
    return _value(SPECS / "linear_solve.yaml", "linear_solve", "inputs", "A")


def test_linear_solve_matrix_is_well_conditioned_and_not_symmetric():
    A = _solve_A()
    assert np.linalg.cond(A) < 10
    assert np.abs(A - A.T).max() > 0.5


def test_linear_solve_custom_vjp_matches_jnp_solve():
    A, rng = _solve_A(), _rng(10)
    b, w = rng.normal(size=4), rng.normal(size=4)
    _close(models.linear_solve(A=A, b=b), np.linalg.solve(A, b))
    got = jax.vjp(models.linear_solve, A, b)[1](w)
    want = jax.vjp(jnp.linalg.solve, A, b)[1](w)
    _close(got[0], want[0])
    _close(got[1], want[1])
    # Random A too (custom rule against JAX's own).
    A2 = rng.normal(size=(4, 4)) + 4 * np.eye(4)
    _close(
        jax.grad(models.linear_solve_loss, (0, 1))(A2, b)[0],
        jax.grad(lambda A: jnp.sum(jnp.linalg.solve(A, b) ** 2))(A2),
    )


def test_linear_solve_loss_expect_formulas():
    A, b = _solve_A(), _rng(11).normal(size=4)
    x = np.linalg.solve(A, b)
    gA, gb = jax.grad(models.linear_solve_loss, (0, 1))(A, b)
    _close(gb, 2 * np.linalg.solve(A.T, x))
    _close(gA, -2 * np.outer(np.linalg.solve(A.T, x), x))


def test_linear_solve_has_no_forward_mode():
    A, b = _solve_A(), np.ones(4)
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(models.linear_solve, (A, b), (A, b))


# ---------------------------------------------------------------------------------------------
# svd_loss.yaml


@pytest.mark.parametrize(
    "name", ["nuclear_norm", "sum_log_singular_values", "sum_squared_singular_values"]
)
def test_svd_loss_grads(name):
    W = _rng(12).normal(size=(7, 4))
    s = np.linalg.svd(W, compute_uv=False)
    assert np.min(np.diff(-s)) > 1e-2  # distinct singular values
    f, g = getattr(models, name), getattr(models, name + "_grad")
    _close(jax.grad(f)(W), g(W=W), rtol=1e-9)


def test_svd_grads_closed_forms():
    W = _rng(13).normal(size=(7, 4))
    _close(models.sum_squared_singular_values_grad(W), 2 * W, rtol=1e-9)
    _close(models.sum_log_singular_values_grad(W), W @ np.linalg.inv(W.T @ W), rtol=1e-9)
    _close(models.sum_squared_singular_values(W), np.sum(W**2))


# ---------------------------------------------------------------------------------------------
# pytree_dict_output.yaml


def test_dict_output_structure_and_values():
    rng = _rng(14)
    params = {"w": rng.normal(size=3), "b": rng.normal()}
    x, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    out = models.dict_output(params=params, x=x, y=y)
    assert set(out) == {"loss", "pred"}
    assert out["loss"].shape == () and out["pred"].shape == (8,)
    _close(out["loss"], np.mean((x @ params["w"] + params["b"] - y) ** 2))
    grads = jax.grad(lambda p: models.dict_output(p, x, y)["loss"])(params)
    r = x @ params["w"] + params["b"] - y
    _close(grads["w"], 2 / 8 * x.T @ r)
    _close(grads["b"], 2 * np.mean(r))


def test_tuple_output_structure():
    rng = _rng(15)
    params = {
        "enc": {"w": rng.normal(size=(3, 5))},
        "dec": {"w": rng.normal(size=(5, 3)), "b": np.zeros(5)},
    }
    x = rng.normal(size=5)
    out = models.tuple_output(params=params, x=x)
    assert isinstance(out, tuple) and len(out) == 2
    assert out[0].shape == () and out[1].shape == (3,)
    _close(out[1], np.tanh(params["enc"]["w"] @ x))


# ---------------------------------------------------------------------------------------------
# float32.yaml


def test_float32_models_stay_float32():
    rng = _rng(16)
    params = _mlp_params(rng, dtype=np.float32)
    x, y = (jnp.asarray(rng.normal(size=s), jnp.float32) for s in [(16, 4), (16,)])
    assert models.mlp_loss(params=params, x=x, y=y).dtype == jnp.float32
    grads = jax.grad(models.mlp_loss)(params, x, y)
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))
    a, z = (jnp.asarray(rng.normal(size=20), jnp.float32) for _ in range(2))
    g32 = jax.grad(lambda z: jnp.log1p(jnp.exp(a @ z)))(z)
    assert g32.dtype == jnp.float32
    _close(g32, jax.nn.sigmoid(a @ z) * a, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# badly_scaled.yaml


def test_mixed_scales_grad():
    x = _value(SPECS / "badly_scaled.yaml", "mixed_scales", "inputs", "x")

    def f(x):
        return jnp.sum(jnp.log1p(x**2)) + x[0] * x[2] + x[3] * jnp.sin(x[1]) + jnp.sqrt(x[4])

    extra = np.array([x[2], x[3] * np.cos(x[1]), x[0], np.sin(x[1]), 1 / (2 * np.sqrt(x[4]))])
    g = 2 * x / (1 + x**2) + extra
    _close(jax.grad(f)(x), g, rtol=1e-12, atol=0)
    assert np.abs(g).max() / np.abs(g).min() > 1e7  # the entries really span many scales


def test_log_near_zero_and_large_offset_grads():
    rng = _rng(17)
    x, c = rng.uniform(1e-3, 1e-2, size=5), rng.normal(size=5)
    _close(jax.grad(lambda x: jnp.sum(c * jnp.log(x)))(x), c / x)
    z = rng.normal(size=5)
    _close(jax.grad(lambda z: 1e6 + jnp.sum(c * jnp.tanh(z)))(z), c * (1 - np.tanh(z) ** 2))


@pytest.mark.parametrize("seed", range(3))
def test_relu_abs_grad(seed):
    rng = _rng(seed)
    x, W1, b1, W2 = (rng.normal(size=s) for s in [(6,), (12, 6), (12,), (3, 12)])

    def f(x):
        return jnp.sum(jnp.abs(W2 @ jax.nn.relu(W1 @ x + b1)))

    z = W1 @ x + b1
    u = W2 @ np.maximum(z, 0)
    _close(jax.grad(f)(x), W1.T @ np.where(z > 0, W2.T @ np.sign(u), 0.0))


# ---------------------------------------------------------------------------------------------
# examples/: each bug is the advertised one.


def test_wrong_vjp_misses_a_transpose_in_dA_only():
    A = _value(EXAMPLES / "wrong_vjp.yaml", "linear_solve_wrong_vjp", "inputs", "A")
    rng = _rng(20)
    b, w = rng.normal(size=4), rng.normal(size=4)
    x = np.linalg.solve(A, b)
    _close(buggy.linear_solve_wrong_vjp(A=A, b=b), x)
    gA, gb = jax.vjp(buggy.linear_solve_wrong_vjp, A, b)[1](w)
    tA, tb = jax.vjp(jnp.linalg.solve, A, b)[1](w)
    _close(gb, tb)
    _close(gA, -np.outer(np.linalg.solve(A, w), x))  # A⁻¹ where A⁻ᵀ belongs
    assert np.abs(gA - tA).max() > 0.1 * np.abs(tA).max()
    # With a symmetric A the bug is invisible: hence the non-symmetric A in the spec.
    S = A + A.T
    _close(
        jax.vjp(buggy.linear_solve_wrong_vjp, S, b)[1](w)[0],
        jax.vjp(jnp.linalg.solve, S, b)[1](w)[0],
    )
    # The scalar-loss doc: b right, A wrong.
    lA, lb = jax.grad(buggy.linear_solve_wrong_vjp_loss, (0, 1))(A, b)
    _close(lb, 2 * np.linalg.solve(A.T, x))
    assert not np.allclose(lA, -2 * np.outer(np.linalg.solve(A.T, x), x), rtol=1e-2)


def test_wrong_jvp_doubles_both_modes():
    x, v = _rng(21).uniform(-1.5, 1.5, size=5), _rng(22).normal(size=5)
    _close(_jvp(buggy.sin_wrong_jvp, x, v), 2 * np.cos(x) * v)
    _close(_vjp(buggy.sin_wrong_jvp, x, v), 2 * np.cos(x) * v)


def test_wrong_jvp_only_doubles_forward_mode_only():
    assert buggy.LINEAR_CALL_BATCHES
    x, v = _rng(23).uniform(-1.5, 1.5, size=5), _rng(24).normal(size=5)
    f = buggy.sin_wrong_jvp_only
    _close(f(x=x), np.sin(x))
    _close(_jvp(f, x, v), 2 * np.cos(x) * v)
    _close(_vjp(f, x, v), np.cos(x) * v)
    # Also through vmap (jacfwd / jacrev), under jit.
    _close(jax.jit(jax.jacfwd(f))(x), np.diag(2 * np.cos(x)))
    _close(jax.jit(jax.jacrev(f))(x), np.diag(np.cos(x)))


def test_wrong_scale_is_twice_the_gradient():
    rng = _rng(25)
    x, A, b = rng.normal(size=5), rng.normal(size=(8, 5)), rng.normal(size=8)
    got = jax.grad(buggy.least_squares_wrong_scale)(x, A, b)
    want = jax.grad(lambda x: 0.5 * jnp.sum((A @ x - b) ** 2))(x)
    _close(buggy.least_squares_wrong_scale(x=x, A=A, b=b), 0.5 * np.sum((A @ x - b) ** 2))
    _close(got, 2 * want)


def test_sign_flip_negates_both_modes():
    x, v = _rng(26).normal(size=6), _rng(27).normal(size=6)
    f = buggy.log_sigmoid_sign_flip
    true_grad = jax.nn.sigmoid(-x)
    _close(f(x=x), np.sum(jax.nn.log_sigmoid(x)))
    _close(jax.grad(f)(x), -true_grad)
    _close(_jvp(f, x, v), -(true_grad @ v))


def test_one_coordinate_is_off_by_10_percent_at_one_index():
    n = 10000
    x = _rng(28).normal(size=n)
    got = np.asarray(jax.grad(buggy.softplus_one_coordinate)(x))
    want = np.asarray(jax.nn.sigmoid(x))
    bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-12, atol=0))
    assert bad.tolist() == [buggy.BAD_INDEX]
    _close(got[buggy.BAD_INDEX] / want[buggy.BAD_INDEX], 1.1)
    # Random directions still see it, far above float64 finite-difference noise.
    v = _rng(29).normal(size=n)
    assert abs((got - want) @ v) / abs(want @ v) > 1e-5


def test_wrong_hessian_is_right_to_first_order_only():
    x, v = _rng(30).uniform(0.5, 2.0, size=5), _rng(31).normal(size=5)
    f = buggy.cube_wrong_hessian
    _close(f(x=x), np.sum(x**3) / 3)
    _close(jax.grad(f)(x), x**2)
    _close(_jvp(f, x, v), x**2 @ v)
    _close(jax.hessian(f)(x), np.diag(x))  # truth: diag(2x)
    hvp = jax.jvp(jax.grad(f), (x,), (v,))[1]
    _close(hvp, x * v)
    _close(jax.jacrev(jax.grad(f))(x), np.diag(x))


def test_wrong_region_is_wrong_only_above_one():
    x = np.linspace(-2.0, 2.5, 46)
    got = np.asarray(jax.grad(buggy.softplus_wrong_region)(x))
    want = np.asarray(jax.nn.sigmoid(x))
    _close(got[x <= 1], want[x <= 1])
    assert np.all(np.abs(got[x > 1] - want[x > 1]) > 0.07)
    # With n = 20 draws from [-2, 2.5], P(no coordinate > 1) = (2/3)^20 ≈ 3e-4.
    assert (2 / 3) ** 20 < 1e-3


def test_wrong_expect_formulas_are_wrong_as_advertised():
    rng = _rng(32)
    x, B = rng.normal(size=6), rng.normal(size=(6, 6))
    S = (B + B.T) / 2
    _close(jax.grad(lambda x: x @ S @ x)(x), 2 * (S @ x))  # the spec says S @ x
    A = B
    _close(jax.grad(lambda x: x @ A @ x)(x), (A + A.T) @ x)  # right
    H = jax.hessian(lambda x: x @ A @ x)(x)
    _close(H, A + A.T)
    assert np.abs(H - 2 * A).max() > 0.5  # the spec's 2A is wrong for non-symmetric A


def test_float32_bug_is_a_1e3_relative_error():
    x = jnp.asarray(_rng(33).uniform(-1, 1, size=10), jnp.float32)
    got = jax.grad(buggy.exp2_float32_bug)(x)
    assert got.dtype == jnp.float32
    want = np.log(2.0) * np.exp2(np.asarray(x, np.float64))
    rel = np.asarray(got, np.float64) / want - 1
    assert np.all((rel > 0.9e-3) & (rel < 1.1e-3))
