"""A Markdown summary of a CheckReport, for ``$GITHUB_STEP_SUMMARY`` and PR comments."""

from __future__ import annotations

import html

from adcli._report.console import short, spec_text
from adcli._results.check import CheckReport, SpecResult
from adcli._results.reports import as_report

_ICON = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "skipped": "⏭️ skipped",
    "error": "💥 error",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: CheckReport | SpecResult) -> str:
    """A heading, a counts line, a table of specs and the reports of those that failed."""
    report = as_report(report)
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    if report.errors:
        counts["error"] = counts.get("error", 0) + len(report.errors)
    summary = ", ".join(f"{n} {v}" for v, n in counts.items()) or "no specs"
    lines = [
        "## adcli check",
        "",
        f"**{summary}** in {report.seconds:.1f}s "
        f"(margin = \\|AD − reference\\| ÷ tolerance, ≤ 1 passes)",
        "",
        "| spec | verdict | margin | method | dtypes | file | time |",
        "|---|---|---:|---|---|---|---:|",
    ]
    for r in report.results:
        where = f"{r.file}:{r.line}" if r.file else ""
        margin = "" if r.verdict == "error" else short(r.margin)
        dtypes = ", ".join(sorted(set(r.dtypes.values())))
        lines.append(
            f"| {_cell(r.name)} | {_ICON[r.verdict]} | {margin} | {_cell(r.method)} | "
            f"{dtypes} | `{_cell(where)}` | {r.seconds:.1f}s |"
        )
    for message in report.errors:
        lines.append(f"| (load) | {_ICON['error']} |  |  |  | {_cell(message)} |  |")
    bad = [r for r in report.results if r.verdict in ("fail", "inconclusive", "error")]
    for r in bad:
        lines += [
            "",
            f"<details><summary>{_ICON[r.verdict]}: <code>{html.escape(r.name)}</code></summary>",
            "",
            "```text",
            spec_text(r).rstrip().replace("```", "'''"),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"
