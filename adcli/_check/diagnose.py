"""What a spec's failures mean: notes on custom rules that explain a result, and one-line
diagnoses of the failure pattern across its comparisons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adcli._check.reference_diagnose import reference_diagnoses
from adcli._numerics.function import At, InputFunction
from adcli._problem.jaxpr import equations
from adcli._results.check import Comparison

_CUSTOM = {
    "custom_vjp_call": "uses jax.custom_vjp: forward mode is unavailable, the VJP rule is checked",
    "custom_jvp_call": "uses jax.custom_jvp: the JVP rule is checked (reverse mode transposes it)",
    "stop_gradient": "uses stop_gradient (perhaps inside a library function such as logsumexp "
    "or solve): where it cuts the graph AD legitimately differs from FD",
}


def jaxpr_notes(fn: InputFunction, name: str, at: At) -> list[str]:
    """Notes on the custom rules and stop_gradient that ``fn`` uses (kept where they
    explain a result: ``relevant_notes``)."""
    used = primitives(fn.jaxpr(at).jaxpr)
    return [f"{name}: the function {note}" for key, note in _CUSTOM.items() if key in used]


# Primitives whose inner jaxprs carry their own derivative rules (e.g. jnp.linalg.solve's
# stop_gradient inside custom_linear_solve): what happens inside them is not the user's.
_OPAQUE = frozenset({"custom_vjp_call", "custom_jvp_call", "custom_linear_solve", "custom_lin"})


def primitives(jaxpr: Any) -> set[str]:
    """Names of the primitives a jaxpr uses, looking into sub-jaxprs except custom rules."""
    return {eqn.primitive.name for eqn in equations(jaxpr, opaque=_OPAQUE)}


def relevant_notes(
    notes: list[str],
    comparisons: list[Comparison],
    inert: Mapping[str, bool | None] | None = None,
) -> list[str]:
    """Keep a note on custom rules or stop_gradient only where it explains a result.

    JAX's own functions use them too (relu is a custom_jvp, logsumexp and linear solves
    use stop_gradient), so mentioning them on every passing spec would be noise. A
    stop_gradient note goes where the stops are ``inert`` (removing them changes no
    derivative: ``adcli._check.inert``); a custom_jvp note goes where forward mode is
    unavailable because of a custom_vjp, whose note then says what is checked.
    """
    failing = {c.wrt for c in comparisons if c.verdict in ("fail", "inconclusive")}
    fwd_skipped = {c.wrt for c in comparisons if c.kind == "fwd" and c.verdict == "skipped"}
    custom_vjp = {n.partition(":")[0] for n in notes if "custom_vjp" in n}
    kept = []
    for note in dict.fromkeys(notes):
        wrt = note.partition(":")[0]
        if "stop_gradient" in note and (inert or {}).get(wrt):
            continue
        if "custom_jvp" in note and wrt in fwd_skipped and wrt in custom_vjp:
            continue
        if (
            ("custom_vjp" in note and (wrt in fwd_skipped or wrt in failing))
            or "float64" in note
            or "does not run" in note
            or "takes no key" in note
            or "fixed gauge" in note
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

    def compared(wrt: str) -> bool:  # (a mode JAX refused to trace compared nothing)
        return any(c.compared for c in comparisons if (c.wrt, c.kind) == (wrt, "rev"))

    custom_vjp = any("custom_vjp" in n for n in notes)
    custom_jvp = any("custom_jvp" in n for n in notes)
    for wrt in dict.fromkeys(c.wrt for c in comparisons):
        if failed(wrt, "rev") and passed(wrt, "fwd"):
            rule = "the custom VJP rule" if custom_vjp else "a reverse-mode rule"
            found.append(f"{wrt}: rev wrong, fwd right: {rule} is suspect")
        elif failed(wrt, "fwd") and passed(wrt, "rev"):
            rule = "the custom JVP rule" if custom_jvp else "a forward-mode rule"
            found.append(f"{wrt}: fwd wrong, rev right: {rule} is suspect")
        elif failed(wrt, "rev") and custom_vjp and not passed(wrt, "fwd") and compared(wrt):
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
    return found + reference_diagnoses(comparisons)
