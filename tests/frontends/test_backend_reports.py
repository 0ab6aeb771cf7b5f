"""Skipped scenarios and expectations a backend cannot read are results of their own in every
report format (text, JSON against the shipped schema, JUnit, GitHub)."""

from __future__ import annotations

import importlib.resources
import json
import xml.etree.ElementTree as ET

import pytest

from vmspec.checker.results import Report, ScenarioResult, Unobservable
from vmspec.reporting import github, junit
from vmspec.reporting import json as json_report
from vmspec.reporting.text import report_lines, scenario_text


def sample() -> Report:
    unread = Unobservable(file="h.vms", line=9, column=5, kind="expect", expression="faults(c).cow == 16",
                          reason="the kernel does not count copy-on-write faults apart")
    return Report(scenarios=[
        ScenarioResult(file="h.vms", line=3, title="fork", status="passed", backend="host", unobservable=[unread]),
        ScenarioResult(file="h.vms", line=20, title="deep", status="skipped", backend="host",
                       skipped="the machine has 5-level paging, the host 4-level"),
    ])


def test_text():
    lines = [text for text, _ in report_lines(sample())]
    assert lines == [
        "passed h.vms::fork",
        "  h.vms:9:5: not observable on the host: expect faults(c).cow == 16 (the kernel does not count "
        "copy-on-write faults apart)",
        "SKIPPED h.vms::deep (line 20): the machine has 5-level paging, the host 4-level",
        "2 scenarios: 1 passed, 0 failed, 0 errors, 1 skipped; 1 expectation not observable",
    ]
    assert sample().exit_code() == 0


def test_json_matches_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(importlib.resources.files("vmspec.checker").joinpath("report.schema.json").read_text())
    doc = json.loads(json_report.render(sample()))
    jsonschema.validate(doc, schema)
    fork, deep = doc["scenarios"]
    assert fork["unobservable"][0]["reason"].startswith("the kernel does not count")
    assert (deep["status"], deep["skipped"], deep["backend"]) == (
        "skipped", "the machine has 5-level paging, the host 4-level", "host")
    assert doc["summary"]["skipped"] == 1


def test_junit():
    root = ET.fromstring(junit.render(sample()))
    suite = root.find("testsuite")
    assert suite.get("skipped") == "1" and root.get("skipped") == "1"
    fork, deep = suite.findall("testcase")
    assert "not observable on the host" in fork.find("system-out").text
    assert deep.find("skipped").get("message").startswith("the machine has 5-level paging")


def test_github():
    lines = github.render(sample()).splitlines()
    assert lines[0].startswith("::notice file=h.vms,line=9,col=5,title=fork::not observable on the host")
    assert lines[1] == "::notice file=h.vms,line=20,title=deep::skipped on the host: the machine has 5-level " \
                       "paging, the host 4-level"


def test_a_failure_that_stopped_early_says_so():
    failed = ScenarioResult(file="h.vms", line=3, title="t", status="failed", backend="host",
                            skipped="line 7: the agent of p died of signal 6")
    assert "stopped early on the host: line 7: the agent of p died of signal 6" in scenario_text(failed)
