"""What a kernel's reference comparisons mean together: the forward or the backward is wrong.

* The value disagrees with the reference: the forward is wrong; where its derivatives were
  also judged against those of its own forward (``self-*``), that says whether the backward
  is right for the forward it has.
* The value agrees but a JVP or VJP does not: the derivative rule is wrong, with its error
  against the plain implementation's.
"""

from __future__ import annotations

from adcli._results.check import CheckKind, Comparison, times

_RULES = {CheckKind.REFERENCE_JVP: "JVP", CheckKind.REFERENCE_VJP: "VJP"}
_SELF = (CheckKind.SELF_JVP, CheckKind.SELF_VJP)


def reference_diagnoses(comparisons: list[Comparison]) -> list[str]:
    """One-line explanations of the reference comparisons' failures (none when they pass)."""
    values = [c for c in comparisons if c.kind == CheckKind.REFERENCE_VALUE]
    if any(c.verdict == "fail" for c in values):
        return _wrong_forward(comparisons)
    if not any(c.verdict == "pass" for c in values):
        return []
    found = []
    for wrt in dict.fromkeys(c.wrt for c in comparisons):
        for kind, rule in _RULES.items():
            failing = [
                c for c in comparisons if (c.wrt, c.kind) == (wrt, kind) and c.verdict == "fail"
            ]
            leaks = [
                c for c in failing if any(t.kernel_error == float("inf") for t in c.tolerances)
            ]
            if leaks:
                where = ", ".join(dict.fromkeys(loc for c in leaks for loc in c.locations))
                found.append(
                    f"{wrt}: the value agrees with the reference but the {rule} is not finite "
                    f"at {where or 'some elements'}: NaN or inf leaks into the derivative there "
                    "(a masked or padded region?)"
                )
            elif failing:
                what = "the VJP rule (the backward kernel)" if rule == "VJP" else "the JVP rule"
                imprecise = all((c.diagnosis or "").startswith("precision") for c in failing)
                found.append(
                    f"{wrt}: the value agrees with the reference but the {rule} does not"
                    f"{_ratios(failing)}: {what} is {'too imprecise' if imprecise else 'wrong'}"
                )
    return found


def _wrong_forward(comparisons: list[Comparison]) -> list[str]:
    values = [c for c in comparisons if c.kind == CheckKind.REFERENCE_VALUE and c.verdict == "fail"]
    if all((c.diagnosis or "").startswith("precision") for c in values):
        first = (
            "the kernel's value is less precise than the reference allows: the forward kernel "
            "computes too imprecisely"
        )
    else:
        first = "the kernel's value disagrees with the reference: the forward kernel is wrong"
    found = [first]
    for wrt in dict.fromkeys(c.wrt for c in comparisons if c.kind in _SELF):
        own = [c for c in comparisons if c.wrt == wrt and c.kind in _SELF]
        if all(c.verdict == "pass" for c in own):
            found.append(
                f"{wrt}: its derivatives agree with those of the kernel's own forward: the "
                "backward is right for the forward it has; fix the forward"
            )
        elif any(c.verdict == "fail" for c in own):
            found.append(
                f"{wrt}: its derivatives disagree with those of the kernel's own forward too: "
                "the backward is wrong (or imprecise) as well"
            )
    return found


def _ratios(failing: list[Comparison]) -> str:
    """`` (2.1–8.3× the error of the plain bfloat16 implementation, allowed 2×)``."""
    worst = [max(c.tolerances, key=lambda t: t.ratio) for c in failing if c.tolerances]
    if not worst:
        return ""
    low, high = min(t.ratio for t in worst), max(t.ratio for t in worst)
    span = times(low) if times(low) == times(high) else f"{times(low)}–{times(high)}"
    plain = f"the plain {worst[0].baseline_dtype} implementation"
    return f" ({span}× the error of {plain}, allowed {worst[0].factor:g}×)"
