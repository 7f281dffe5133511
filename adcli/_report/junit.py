"""JUnit XML of a CheckReport: one ``<testcase>`` per spec × check kind.

The layout is the one CI consumers read (Jenkins, GitLab, GitHub test-reporter actions),
with only the attributes the Jenkins/Surefire ``junit-10.xsd`` allows (the schema pytest's
own ``junit_family=xunit2`` targets): ``<testsuites name time tests failures errors>`` ›
one ``<testsuite name tests failures errors skipped time timestamp hostname file>`` per spec
file › ``<testcase name classname time>`` with a ``<failure message type>``, ``<error>`` or
``<skipped>`` child whose text is adcli's compact report (it names the file and line). An
inconclusive check is a failure (type ``Inconclusive``) unless the run allows it, then it
is skipped.
"""

from __future__ import annotations

import datetime
import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from adcli._report._groups import Case, all_cases, located
from adcli._report.console import short, spec_text
from adcli._results.check import CheckReport, SpecResult
from adcli._results.reports import as_report


def render(report: CheckReport | SpecResult) -> str:
    """The report (or one spec's result) as a JUnit XML document (UTF-8, with an XML
    declaration)."""
    report = as_report(report)
    root = ET.Element("testsuites", name="adcli check")
    by_file: dict[str, list[Case]] = {}
    for case in all_cases(report):
        by_file.setdefault(case.result.file or "<spec>", []).append(case)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    stamp = {
        "timestamp": datetime.datetime.now().replace(microsecond=0).isoformat(),
        "hostname": socket.gethostname(),
    }
    for file, group in by_file.items():
        suite = _suite(root, file, group, report.allow_inconclusive, totals)
        suite.attrib.update(stamp, file=file)
    if report.errors:
        _load_errors(root, report.errors, totals)
        root[-1].attrib.update(stamp)
    for key in ("tests", "failures", "errors"):  # junit-10.xsd has no "skipped" here
        root.set(key, str(totals[key]))
    root.set("time", f"{report.seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(
    root: ET.Element, file: str, group: list[Case], allow: bool, totals: dict[str, int]
) -> ET.Element:
    stem = os.path.splitext(os.path.basename(file))[0]
    suite = ET.SubElement(root, "testsuite", name=f"adcli.{stem}")
    counts = dict.fromkeys(totals, 0)
    for case in group:
        r = case.result
        element = ET.SubElement(
            suite,
            "testcase",
            name=f"{r.name} [{case.kind}]",
            classname=f"adcli.{stem}.{r.name}",
            time=f"{case.seconds:.3f}",
        )
        counts["tests"] += 1
        verdict = case.verdict
        if verdict == "inconclusive" and allow:
            verdict = "skipped"
        if verdict == "error":
            counts["errors"] += 1
            child = ET.SubElement(element, "error", message=(r.error or "error").splitlines()[0])
            child.set("type", "SpecError")
            child.text = spec_text(case.only)
        elif verdict in ("fail", "inconclusive"):
            counts["failures"] += 1
            what = case.what
            margin = short(case.only.margin)
            child = ET.SubElement(
                element, "failure", message=f"{r.name}: {what}: {verdict} (margin {margin})"
            )
            child.set("type", "GradientMismatch" if verdict == "fail" else "Inconclusive")
            child.text = spec_text(case.only)
        elif verdict == "skipped":
            counts["skipped"] += 1
            reasons = [c.reason for c in case.only.comparisons if c.reason]
            ET.SubElement(element, "skipped", message=reasons[0] if reasons else "skipped")
    for key, value in counts.items():
        suite.set(key, str(value))
        totals[key] += value
    suite.set("time", f"{sum(c.seconds for c in group):.3f}")
    return suite


def _load_errors(root: ET.Element, errors: Iterable[str], totals: dict[str, int]) -> None:
    suite = ET.SubElement(root, "testsuite", name="adcli.load")
    count = 0
    for message in errors:
        file, line, _ = located(message)
        where = f"{file}:{line}" if line else file or "spec"
        case = ET.SubElement(
            suite, "testcase", name=f"load {where}", classname="adcli.load", time="0.000"
        )
        child = ET.SubElement(case, "error", message=message.splitlines()[0], type="SpecError")
        child.text = message
        count += 1
    for key, value in (("tests", count), ("errors", count), ("failures", 0), ("skipped", 0)):
        suite.set(key, str(value))
    suite.set("time", "0.000")
    totals["tests"] += count
    totals["errors"] += count
