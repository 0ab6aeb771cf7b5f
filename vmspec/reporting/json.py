"""The JSON report (``--format json``), version 1; the shape is documented in docs/reporting.md
and by ``vmspec/checker/report.schema.json``. Keys are written in a fixed order."""

from __future__ import annotations

import json

from vmspec.checker.results import Report
from vmspec.reporting.text import encodable


def report_dict(report: Report) -> dict:
    """Build the version-1 JSON document of a report."""
    return {
        "version": 1,
        "scenarios": [
            {
                "file": s.file,
                "line": s.line,
                "title": s.title,
                "status": s.status,
                "backend": s.backend,
                "skipped": s.skipped,
                "seed": s.seed,
                "reproduce": s.reproduce,
                **({"params": dict(s.params)} if s.params else {}),  # an instance of a parametrised scenario
                "violations": [
                    {
                        "file": v.file,
                        "line": v.line,
                        "column": v.column,
                        "kind": v.kind,
                        "message": v.message,
                        "expression": v.expression,
                        "detail": v.detail,
                        "observed": dict(v.observed),
                        "stated_at": v.stated_at,
                        "stated_file": v.stated_file,
                        "later_breaks": v.later_breaks,
                        "repeats": v.repeats,
                        "steps": [
                            {"file": r.file, "line": r.line, "text": r.text, "changes": r.changes,
                             "iteration": r.iteration}
                            for r in v.steps
                        ],
                    }
                    for v in s.violations
                ],
                "unobservable": [
                    {"file": u.file, "line": u.line, "column": u.column, "kind": u.kind,
                     "expression": u.expression, "reason": u.reason}
                    for u in s.unobservable
                ],
            }
            for s in report.scenarios
        ],
        "errors": [
            {"file": e.file, "line": e.line, "column": e.column, "message": e.message} for e in report.errors
        ],
        "summary": {
            "passed": report.passed,
            "failed": report.failed,
            "errors": report.error_count,
            "skipped": report.skipped,
            "interrupted": report.interrupted,
            "deselected": report.deselected,
        },
    }


def _encodable(value):
    """Return ``value`` with every string made encodable as UTF-8 (see ``text.encodable``)."""
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value


def render(report: Report) -> str:
    """Serialise a report as indented JSON with a trailing newline. The undecodable bytes of a
    non-UTF-8 file name are written as ``\\xNN`` text, so the document is always UTF-8."""
    return json.dumps(_encodable(report_dict(report)), indent=2, ensure_ascii=False) + "\n"
