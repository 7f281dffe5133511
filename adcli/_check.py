"""``adcli check``: run every comparison for a spec and explain what the failures mean."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from adcli._builder import Problem, build
from adcli._expect import check_expect
from adcli._first_order import check_first_order
from adcli._jaxpr import equations
from adcli._point import choose_method, make_point
from adcli._probe import InputProbe
from adcli._results import Comparison, SpecResult, worst_verdict
from adcli._second_order import check_second_order
from adcli._spec import Spec

Progress = Callable[[str], None]


def enable_x64() -> None:
    """Configure JAX for adcli: float64 allowed (the FD reference needs it), and a
    persistent compilation cache, since compiling dominates a check's time and specs are
    re-checked unchanged run after run. ``ADCLI_CACHE_DIR`` moves the cache; setting it
    to an empty string turns it off."""
    jax.config.update("jax_enable_x64", True)
    global _configured
    if _configured:
        return
    _configured = True
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "adcli", "jax"
    )
    cache = os.environ.get("ADCLI_CACHE_DIR", default)
    if cache and jax.config.values.get("jax_compilation_cache_dir") is None:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_configured = False


def check_spec(spec: Spec, *, progress: Progress | None = None) -> SpecResult:
    """Check every derivative a spec asks for; see ``check_problem``.

    Raises:
        SpecError: if the spec cannot be built into a runnable function.
    """
    enable_x64()
    if spec.check.dims:  # check-only sizes, unless the caller already applied them
        from adcli._load import apply_overrides

        spec = apply_overrides(spec, dims=spec.check.dims)
        spec = spec.replace(check=dataclasses.replace(spec.check, dims={}))
    return check_problem(build(spec), progress=progress)


def check_problem(problem: Problem, *, progress: Progress | None = None) -> SpecResult:
    """Compare AD (fwd, rev, 2nd order, ``expect`` formulas) against FD at each sample point.

    Deterministic: the same spec and seed give the same points, directions and numbers.
    """
    enable_x64()
    start = time.perf_counter()
    spec, opts = problem.spec, problem.spec.check
    probe = problem.cache.get(("check-probe", spec.wrt, opts.method))
    if probe is None:
        probe = InputProbe(problem, spec.wrt)
        _share_programs(probe, opts.method)
        problem.cache[("check-probe", spec.wrt, opts.method)] = probe
    constants = problem.sample_constants()
    comparisons: list[Comparison] = []
    notes: list[str] = []
    methods: dict[str, str] = {}
    dtypes: dict[str, str] = {}
    for point in range(opts.points):
        inputs = problem.sample_inputs(point)
        bad_value = _value_problem(problem, inputs, constants, point)
        if bad_value is not None:
            comparisons.append(bad_value)
            continue
        for name in spec.wrt:
            if progress:
                progress(f"point {point + 1}/{opts.points}, input {name}")
            pt = make_point(problem, probe, name, point, inputs, constants, opts.modes, opts.method)
            methods[name], dtypes[name] = pt.method, pt.dtype
            if point == 0:
                notes += _jaxpr_notes(probe, name, pt.x0, inputs, constants)
                if not probe.promoted and pt.dtype != "float64":
                    notes.append(
                        f"{name}: the function computes in {pt.dtype} and does not run "
                        "wholly in float64, so FD is taken in its own precision"
                    )
            first, reuse = check_first_order(pt, opts.directions)
            comparisons += first
            if opts.order >= 2:
                comparisons += check_second_order(pt, opts.directions)
            comparisons += check_expect(pt, problem, reuse, opts.directions)
    notes = _relevant_notes(notes, comparisons)
    verdict = worst_verdict(
        [c.verdict for c in comparisons if c.verdict != "skipped"] or ["skipped"]
    )
    return SpecResult(
        name=spec.name,
        file=spec.where.file,
        line=spec.where.line,
        verdict=verdict,
        seed=opts.seed,
        points=opts.points,
        dims=dict(problem.dims),
        backend=jax.default_backend(),
        dtypes=dtypes,
        method=", ".join(f"{n}: {m}" for n, m in methods.items()),
        comparisons=tuple(comparisons),
        notes=tuple(dict.fromkeys(notes)),
        diagnoses=tuple(diagnose(comparisons, notes)),
        seconds=time.perf_counter() - start,
    )


def _value_problem(problem: Problem, inputs: Any, constants: Any, point: int) -> Comparison | None:
    out = problem.evaluate("f", problem.fn, inputs, constants)
    for path, leaf in jax.tree_util.tree_flatten_with_path(out)[0]:
        values = np.asarray(leaf)
        if not np.all(np.isfinite(values)):
            where = np.argwhere(~np.isfinite(values))[0] if values.ndim else ()
            label = (
                "out"
                + jax.tree_util.keystr(path)
                + (f"[{', '.join(map(str, where))}]" if len(where) else "")
            )
            return Comparison(
                point=point,
                wrt="-",
                kind="value",
                method="-",
                verdict="fail",
                reason=f"the function is not finite at point {point}: {label} = "
                f"{values[tuple(where)] if len(where) else values}; is the init inside its "
                "domain (e.g. init: positive for log and sqrt)?",
            )
    return None


_CUSTOM = {
    "custom_vjp_call": "uses jax.custom_vjp: forward mode is unavailable, the VJP rule is checked",
    "custom_jvp_call": "uses jax.custom_jvp: the JVP rule is checked (reverse mode transposes it)",
    "stop_gradient": "uses stop_gradient (perhaps inside a library function such as logsumexp "
    "or solve): where it cuts the graph AD legitimately differs from FD",
}


def _share_programs(probe: InputProbe, method: str) -> None:
    """Size the batched programs for the largest input checked coordinate by coordinate,
    so that every input reuses them instead of compiling its own."""
    sizes = [s.stop - s.start for s in probe.layout.segments.values()]
    full = [n for n in sizes if choose_method(method, n, probe.m) == "full"]
    if full:
        keys = [f"fd-coord-{ref}-{noise}" for ref in (True, False) for noise in (True, False)]
        for key in (*keys, "jacfwd"):
            probe.reserve(key, max(full))


def _jaxpr_notes(probe: InputProbe, name: str, x0: Any, inputs: Any, constants: Any) -> list[str]:
    used = primitives(probe.jaxpr(x0, inputs, constants).jaxpr)
    return [f"{name}: the function {note}" for key, note in _CUSTOM.items() if key in used]


# Primitives whose inner jaxprs carry their own derivative rules (e.g. jnp.linalg.solve's
# stop_gradient inside custom_linear_solve): what happens inside them is not the user's.
_OPAQUE = frozenset({"custom_vjp_call", "custom_jvp_call", "custom_linear_solve", "custom_lin"})


def primitives(jaxpr: Any) -> set[str]:
    """Names of the primitives a jaxpr uses, looking into sub-jaxprs except custom rules."""
    return {eqn.primitive.name for eqn in equations(jaxpr, opaque=_OPAQUE)}


def _relevant_notes(notes: list[str], comparisons: list[Comparison]) -> list[str]:
    """Keep a note on custom rules or stop_gradient only where it explains a result.

    JAX's own functions use them too (relu is a custom_jvp, logsumexp and linear solves
    use stop_gradient), so mentioning them on every passing spec would be noise.
    """
    failing = {c.wrt for c in comparisons if c.verdict in ("fail", "inconclusive")}
    fwd_skipped = {c.wrt for c in comparisons if c.kind == "fwd" and c.verdict == "skipped"}
    kept = []
    for note in dict.fromkeys(notes):
        wrt = note.partition(":")[0]
        if (
            ("custom_vjp" in note and (wrt in fwd_skipped or wrt in failing))
            or "float64" in note
            or "does not run" in note
            or wrt in failing
        ):
            kept.append(note)
    return kept


def diagnose(comparisons: list[Comparison], notes: list[str]) -> list[str]:
    """One-line explanations of the failure pattern across all comparisons of a spec."""
    found: list[str] = []
    status: dict[tuple[str, str], set[str]] = {}
    for c in comparisons:
        status.setdefault((c.wrt, c.kind), set()).add(c.verdict)

    def failed(wrt: str, kind: str) -> bool:
        return "fail" in status.get((wrt, kind), set())

    def passed(wrt: str, kind: str) -> bool:
        return status.get((wrt, kind)) == {"pass"}

    custom_vjp = any("custom_vjp" in n for n in notes)
    custom_jvp = any("custom_jvp" in n for n in notes)
    for wrt in dict.fromkeys(c.wrt for c in comparisons):
        if failed(wrt, "rev") and passed(wrt, "fwd"):
            rule = "the custom VJP rule" if custom_vjp else "a reverse-mode rule"
            found.append(f"{wrt}: rev wrong, fwd right: {rule} is suspect")
        elif failed(wrt, "fwd") and passed(wrt, "rev"):
            rule = "the custom JVP rule" if custom_jvp else "a forward-mode rule"
            found.append(f"{wrt}: fwd wrong, rev right: {rule} is suspect")
        elif failed(wrt, "rev") and custom_vjp and not passed(wrt, "fwd"):
            found.append(f"{wrt}: reverse mode disagrees with FD: the custom VJP rule is suspect")
        first = [k for w, k in status if w == wrt and k in ("fwd", "rev")]
        second = [k for w, k in status if w == wrt and k.startswith("hvp")]
        if first and all(passed(wrt, k) for k in first) and any(failed(wrt, k) for k in second):
            found.append(f"{wrt}: first derivatives right, only second derivatives wrong")
        for kind in ("grad", "hessian"):
            ad_bad, fd_bad = failed(wrt, f"expect-{kind}:ad"), failed(wrt, f"expect-{kind}:fd")
            if ad_bad and fd_bad:
                found.append(
                    f"{wrt}: the hand-derived {kind} disagrees with both AD and FD: "
                    "the formula is wrong"
                )
            elif ad_bad and passed(wrt, f"expect-{kind}:fd"):
                found.append(
                    f"{wrt}: the hand-derived {kind} agrees with FD but not with AD: "
                    "the AD rule is suspect"
                )
        points_failed = {c.point for c in comparisons if c.wrt == wrt and c.verdict == "fail"}
        points_all = {c.point for c in comparisons if c.wrt == wrt}
        if points_failed and points_failed != points_all:
            found.append(
                f"{wrt}: fails at point(s) {sorted(points_failed)} only: the error "
                "depends on where the function is evaluated (a region of the domain)"
            )
    patterns: dict[tuple[str, str], list[str]] = {}
    for c in comparisons:
        if c.verdict == "fail" and c.diagnosis:
            kinds = patterns.setdefault((c.wrt, c.diagnosis), [])
            if c.kind not in kinds:
                kinds.append(c.kind)
    found += [f"{wrt}: {', '.join(kinds)}: {text}" for (wrt, text), kinds in patterns.items()]
    return found
