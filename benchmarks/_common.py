"""Shared parts of the benchmarks: test functions (JAX and torch, same math), derivative bugs
to inject, the three checkers behind one calling convention, timing, tables and CLI flags.

Nothing here is part of adcli. Torch is optional: without it the torch columns are skipped
with a hint (``pip install torch``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# adcli keeps a persistent compilation cache (~/.cache/adcli/jax by default). A benchmark
# must not depend on what earlier runs left there, so unless the caller chose a cache
# directory, every benchmark process starts with an empty one: "first call" then really
# includes compiling. Set before adcli configures JAX (on its first check).
if "ADCLI_CACHE_DIR" not in os.environ:
    os.environ["ADCLI_CACHE_DIR"] = tempfile.mkdtemp(prefix="adcli-bench-cache-")
    atexit.register(shutil.rmtree, os.environ["ADCLI_CACHE_DIR"], ignore_errors=True)
CACHE_DIR = os.environ["ADCLI_CACHE_DIR"]

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

from adcli._check.function import check_function  # noqa: E402

try:
    import torch
    from torch.autograd import gradcheck
except ImportError:  # torch is a benchmark-only extra
    torch = None  # type: ignore[assignment]

TORCH_MISSING = "torch is not installed: torch columns skipped (pip install torch)"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- command line -------------------------------------------------------------------------


def parse_args(
    doc: str,
    default_repeats: int = 3,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if extra is not None:  # a script's own flags
        extra(parser)
    parser.add_argument(
        "--quick", action="store_true", help="small grid for a smoke run (under a minute)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=default_repeats,
        metavar="N",
        help=f"timed runs after the first call (default {default_repeats})",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=20,
        metavar="N",
        help="random points per power cell (default 20)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the raw rows as JSON")
    return parser.parse_args(argv)


def header(title: str) -> str:
    torch_v = torch.__version__ if torch is not None else "not installed"
    lines = [
        title,
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}, "
        f"python {platform.python_version()}",
        f"jax {jax.__version__} (backend {jax.default_backend()}, x64 on), torch {torch_v}, "
        f"numpy {np.__version__}",
        f"adcli source {adcli_fingerprint()}, compilation cache {CACHE_DIR}",
        f"started {time.strftime('%Y-%m-%d %H:%M:%S')}, load average {load_average()} "
        "(a shared machine: other work inflates wall times)",
    ]
    return "\n".join(lines)


def adcli_fingerprint() -> str:
    """A hash of adcli's source and its default tolerances: the package changes under
    active development, and figures only compare between runs of the same source."""
    import hashlib

    import adcli

    root = os.path.dirname(adcli.__file__)
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(f for f in files if f.endswith(".py")):
            with open(os.path.join(folder, name), "rb") as fh:
                digest.update(fh.read())
    try:
        from adcli._numerics.compare import DEFAULT_RTOL

        rtol = f"default rtol f64 {DEFAULT_RTOL['float64']:g}, f32 {DEFAULT_RTOL['float32']:g}"
    except (ImportError, KeyError):
        rtol = "default rtol unknown"
    return f"sha256 {digest.hexdigest()[:12]} ({rtol})"


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        with open(path, "w") as fh:
            json.dump(payload, fh, indent=1, default=str)


# --- test functions -----------------------------------------------------------------------
# Every function takes the checked input x (flat, shape (d,)) and a tuple of constants, in
# both frameworks, with the same math.


def _jax_logistic(x, consts):
    (a,) = consts
    return jax.nn.softplus(a @ x)


def _jax_mlp(theta, consts):
    X, y = consts
    n_in = X.shape[1]
    h = (theta.shape[0] - 1) // (n_in + 2)
    W1 = theta[: h * n_in].reshape(h, n_in)
    b1, w2, b2 = theta[h * n_in : h * n_in + h], theta[h * n_in + h : -1], theta[-1]
    return jnp.mean((jnp.tanh(X @ W1.T + b1) @ w2 + b2 - y) ** 2)


def _jax_tanh_layer(x, consts):
    (A,) = consts
    return jnp.tanh(A @ x)


def _torch_logistic(x, consts):
    (a,) = consts
    return torch.nn.functional.softplus(a @ x)


def _torch_mlp(theta, consts):
    X, y = consts
    n_in = X.shape[1]
    h = (theta.shape[0] - 1) // (n_in + 2)
    W1 = theta[: h * n_in].reshape(h, n_in)
    b1, w2, b2 = theta[h * n_in : h * n_in + h], theta[h * n_in + h : -1], theta[-1]
    return torch.mean((torch.tanh(X @ W1.T + b1) @ w2 + b2 - y) ** 2)


def _torch_tanh_layer(x, consts):
    (A,) = consts
    return torch.tanh(A @ x)


MLP_INPUTS, MLP_BATCH = 8, 32


def mlp_size(d: int) -> int:
    """The parameter count of the MLP closest to d: h·(8 + 2) + 1."""
    return max(1, round((d - 1) / (MLP_INPUTS + 2))) * (MLP_INPUTS + 2) + 1


@dataclass(frozen=True)
class Case:
    """One test function: its JAX and torch versions and how to draw a point."""

    name: str
    label: str
    short: str
    jax_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]

    def size(self, d: int) -> int:
        return mlp_size(d) if self.name == "mlp" else d

    def outputs(self, d: int) -> int:
        return min(d, 100) if self.name == "tanh_layer" else 1

    def point(self, d: int, seed: int, dtype: Any = np.float64) -> tuple[np.ndarray, tuple]:
        """x and the constants at random point ``seed`` (numpy arrays of ``dtype``)."""
        rng = np.random.default_rng([seed, d, len(self.name)])
        d = self.size(d)
        if self.name == "logistic":
            x = rng.standard_normal(d)
            consts = (rng.standard_normal(d) / np.sqrt(d),)
        elif self.name == "mlp":
            x = rng.standard_normal(d) * 0.5
            consts = (rng.standard_normal((MLP_BATCH, MLP_INPUTS)), rng.standard_normal(MLP_BATCH))
        else:
            x = rng.standard_normal(d)
            consts = (rng.standard_normal((self.outputs(d), d)) / np.sqrt(d),)
        return x.astype(dtype), tuple(c.astype(dtype) for c in consts)


CASES = {
    "logistic": Case(
        "logistic", "(a) ln(1+exp⟨a,x⟩)", "(a) logistic", _jax_logistic, _torch_logistic
    ),
    "mlp": Case("mlp", "(b) tanh MLP loss, flat params, batch 32", "(b) MLP", _jax_mlp, _torch_mlp),
    "tanh_layer": Case(
        "tanh_layer",
        "(c) tanh(Ax), m=min(d,100)",
        "(c) tanh(Ax)",
        _jax_tanh_layer,
        _torch_tanh_layer,
    ),
}


# --- injected derivative bugs -------------------------------------------------------------
# A bug multiplies the true gradient by ``scale`` elementwise: all ones but (1 + δ) at every
# coordinate, or at one. ``scale`` is an argument (not closed over) so that one compiled
# program serves every δ and seed.


def bug_scale(d: int, delta: float, index: int | None, dtype: Any = np.float64) -> np.ndarray:
    scale = np.ones(d, dtype)
    if index is None:
        scale[:] = 1 + delta
    else:
        scale[index] = 1 + delta
    return scale


def jax_wrong_vjp(f: Callable[..., Any]) -> Callable[..., Any]:
    """f(x, consts) as a jax.custom_vjp whose VJP rule returns (Jᵀu) ⊙ scale."""

    @jax.custom_vjp
    def g(x, consts, scale):
        return f(x, consts)

    def fwd(x, consts, scale):
        return f(x, consts), (x, consts, scale)

    def bwd(res, u):
        x, consts, scale = res
        gx, gc = jax.vjp(f, x, consts)[1](u)
        return gx * scale, gc, jnp.zeros_like(scale)

    g.defvjp(fwd, bwd)
    return g


def jax_wrong_jvp(f: Callable[..., Any]) -> Callable[..., Any]:
    """f(x, consts) as a jax.custom_jvp whose JVP rule returns J (v ⊙ scale)."""

    @jax.custom_jvp
    def g(x, consts, scale):
        return f(x, consts)

    @g.defjvp
    def g_jvp(primals, tangents):
        x, consts, scale = primals
        tx, tc, _ = tangents
        return jax.jvp(f, (x, consts), (tx * scale, tc))

    return g


def torch_wrong_backward(f: Callable[..., Any]) -> Callable[..., Any]:
    """f(x, consts) as a torch.autograd.Function whose backward returns (Jᵀu) ⊙ scale."""

    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, consts, scale):
            ctx.save_for_backward(x, scale)
            ctx.consts = consts
            return f(x, consts)

        @staticmethod
        def backward(ctx, u):
            x, scale = ctx.saved_tensors
            with torch.enable_grad():
                xx = x.detach().requires_grad_(True)
                (gx,) = torch.autograd.grad(f(xx, ctx.consts), xx, u)
            return gx * scale, None, None

    return Wrong.apply


# --- the checkers -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one check said: pass / fail / inconclusive (adcli) / error (a crash)."""

    verdict: str
    seconds: float
    detail: str = ""
    locations: tuple[str, ...] = ()  # adcli: comparison.locations of failing comparisons
    worst_inputs: tuple[str, ...] = ()  # adcli: input_index of their worst mismatches
    margin: float | None = None

    @property
    def alarm(self) -> bool:
        """The check did not pass (a failure, or adcli's inconclusive)."""
        return self.verdict in ("fail", "inconclusive")


def run_adcli(fn, x, consts, extra=(), *, method="auto", modes=("fwd", "rev"), seed=0) -> Outcome:
    """adcli's check_function at (x, consts, *extra), differentiating x only."""
    start = time.perf_counter()
    try:
        res = check_function(fn, x, consts, *extra, wrt=[0], method=method, modes=modes, seed=seed)
    except Exception as exc:  # a crash is a result too
        return Outcome("error", time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    bad = [c for c in res.comparisons if c.verdict in ("fail", "inconclusive")]
    locations = tuple(dict.fromkeys(loc for c in bad for loc in c.locations))
    worst = tuple(dict.fromkeys(w.input_index for c in bad for w in c.worst))
    detail = "; ".join(
        f"{c.kind} {c.verdict} margin {c.margin:.3g}" + (f" ({c.diagnosis})" if c.diagnosis else "")
        for c in bad
    )
    return Outcome(res.verdict, seconds, detail, locations, worst, res.margin)


def run_check_grads(fn, x, consts, extra=(), *, modes=("fwd", "rev")) -> Outcome:
    """jax.test_util.check_grads(order=1) of x ↦ fn(x, consts, *extra) with its defaults."""
    xj = jnp.asarray(x)
    cj = tuple(jnp.asarray(c) for c in consts)
    ej = tuple(jnp.asarray(e) for e in extra)
    start = time.perf_counter()
    try:
        check_grads(lambda x: fn(x, cj, *ej), (xj,), order=1, modes=modes)
    except AssertionError as exc:
        return Outcome("fail", time.perf_counter() - start, str(exc).strip().splitlines()[0])
    except Exception as exc:
        return Outcome("error", time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return Outcome("pass", time.perf_counter() - start)


def run_torch(fn, x, consts, extra=(), *, fast: bool, seed: int = 0) -> Outcome:
    """torch.autograd.gradcheck of x ↦ fn(x, consts, *extra) with its defaults.

    Its warnings (float32 inputs) and printed output are kept in ``detail``, not shown."""
    if torch is None:
        return Outcome("error", 0.0, TORCH_MISSING)
    xt = torch.tensor(x, requires_grad=True)
    ct = tuple(torch.tensor(c) for c in consts)
    et = tuple(torch.tensor(e) for e in extra)
    torch.manual_seed(seed)
    sink = io.StringIO()
    start = time.perf_counter()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("always")
        try:
            ok = gradcheck(lambda x: fn(x, ct, *et), (xt,), fast_mode=fast, raise_exception=False)
        except Exception as exc:
            return Outcome("error", time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    detail = "; ".join(dict.fromkeys(str(w.message).split(".")[0] for w in caught))
    return Outcome("pass" if ok else "fail", seconds, detail)


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    """First call (tracing and compiling included, for JAX) and the repeated calls after it."""

    first: float
    runs: list[float] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else self.first

    @property
    def spread(self) -> str:
        if len(self.runs) < 2:
            return ""
        return f"{min(self.runs):.3g}–{max(self.runs):.3g}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median}


def block(value: Any) -> Any:
    """Wait for JAX's asynchronous dispatch (a no-op for anything that is not a JAX array)."""
    with contextlib.suppress(Exception):
        jax.block_until_ready(value)
    return value


def time_calls(call: Callable[[], Any], repeats: int, budget_s: float = 10.0) -> Timing:
    """Time ``call()`` once (first call) and then ``repeats`` times; median of the repeats.

    Slow cells are repeated less, so that the slowest competitors do not dominate the run
    time: twice if the first call took over ``budget_s``, once if over 3 × ``budget_s``
    (their first call then counts as a run too: compiling is a negligible part of it).
    ``call`` may return an Outcome, whose verdict is kept.
    """
    timing = Timing(first=0.0)

    def once() -> float:
        start = time.perf_counter()
        out = block(call())
        seconds = time.perf_counter() - start
        if isinstance(out, Outcome):
            timing.verdicts.append(out.verdict)
        return seconds

    timing.first = once()
    if timing.first > 3 * budget_s:
        timing.runs = [timing.first, once()]
    else:
        n = repeats if timing.first <= budget_s else min(repeats, 2)
        timing.runs = [once() for _ in range(n)]
    return timing


# --- formatting ---------------------------------------------------------------------------


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 100:
        return f"{seconds:.0f}"
    if seconds >= 10:
        return f"{seconds:.1f}"
    if seconds >= 0.01:
        return f"{seconds:.2f}"
    return f"{seconds:.4f}"


def fmt_d(d: int) -> str:
    """10, 100, 10³, 10⁴, ... (powers of ten above 100 as powers)."""
    exp = len(str(d)) - 1
    if d >= 1000 and d == 10**exp:
        return "10" + str(exp).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return str(d)


def fmt_ratio(num: float | None, den: float | None) -> str:
    if not num or not den:
        return "–"
    r = num / den
    return f"{r:.2g}×" if r < 10 else f"{r:.0f}×"


def fmt_count(k: int, n: int) -> str:
    return f"{k}/{n}" if n else "–"


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
    left: int = 1,
) -> str:
    """Plain text with aligned columns: the first ``left`` left-aligned, the rest right."""
    cells = [[str(c) for c in columns]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "-" * len(line(cells[0]))
    out = [title, rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule]
    out += [f"  {n}" for n in notes]
    return "\n".join(out)


def emit(text: str = "") -> None:
    print(text, flush=True)
    sys.stdout.flush()
