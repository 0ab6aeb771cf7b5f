"""The JUnit XML report (``--format junit``): one testsuite per file, one testcase per scenario,
a ``failure`` per failed scenario and an ``error`` per erroring one or per spec error (a testcase
named after the spec error's file and place, ``specs/bad.vms:4:28``). Characters
that XML 1.0 cannot hold (control characters in a title, say) are written as ``\x1b`` escapes,
so the document always parses."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from vmspec.checker.results import Report
from vmspec.reporting.text import encodable, scenario_text, unobservable_lines


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", encodable(text))


def _clean(element: ET.Element) -> None:
    for node in element.iter():
        for key, value in node.attrib.items():
            node.set(key, _xml(value))
        if node.text:
            node.text = _xml(node.text)


def render(report: Report) -> str:
    """Serialise a report as JUnit XML."""
    suites = ET.Element("testsuites", name="vmspec")
    by_file: dict[str, ET.Element] = {}
    counts: dict[str, list[int]] = {}

    def suite(file: str) -> ET.Element:
        if file not in by_file:
            by_file[file] = ET.SubElement(suites, "testsuite", name=file)
            counts[file] = [0, 0, 0, 0]
        return by_file[file]

    for s in report.scenarios:
        case = ET.SubElement(suite(s.file), "testcase", classname=s.file, name=s.title, file=s.file, line=str(s.line))
        counts[s.file][0] += 1
        if s.status == "failed":
            counts[s.file][1] += 1
            first = s.violations[0].message if s.violations else "failed"
            ET.SubElement(case, "failure", message=first).text = scenario_text(s)
        elif s.status == "error":
            counts[s.file][2] += 1
            first = s.violations[0].message if s.violations else "error"
            ET.SubElement(case, "error", message=first).text = scenario_text(s)
        elif s.status == "skipped":
            counts[s.file][3] += 1
            ET.SubElement(case, "skipped", message=s.skipped or "skipped")
        if s.unobservable:
            ET.SubElement(case, "system-out").text = "\n".join(text for text, _ in unobservable_lines(s))
    for e in report.errors:
        case = ET.SubElement(suite(e.file), "testcase", classname=e.file, name=f"{e.file}:{e.line}:{e.column}",
                             file=e.file, line=str(e.line))
        counts[e.file][0] += 1
        counts[e.file][2] += 1
        ET.SubElement(case, "error", message=e.message).text = e.rendered
    total = [0, 0, 0, 0]
    for file, element in by_file.items():
        tests, failures, errors, skipped = counts[file]
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        if skipped:
            element.set("skipped", str(skipped))
        total = [a + b for a, b in zip(total, counts[file])]
    suites.set("tests", str(total[0]))
    suites.set("failures", str(total[1]))
    suites.set("errors", str(total[2]))
    if total[3]:
        suites.set("skipped", str(total[3]))
    _clean(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
