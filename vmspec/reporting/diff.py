"""Reports of ``vmspec diff``: text (one block per scenario that differs, a line per difference)
and JSON (every scenario, every difference with both values). The shape is documented in
docs/reporting.md."""

from __future__ import annotations

import json

from vmspec.checker.diff import DiffReport
from vmspec.reporting.text import Line, printable

ENGINE_KERNEL = (6, 18)


def kernel_line(report: DiffReport) -> Line:
    """Name the host's kernel, and say so when it is not the one the engine models."""
    import re

    m = re.match(r"(\d+)\.(\d+)", report.kernel)
    version = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    text = f"host kernel: Linux {report.kernel}"
    if version != ENGINE_KERNEL:
        return (text + f" (the engine models {ENGINE_KERNEL[0]}.{ENGINE_KERNEL[1]}: differences may be "
                "the kernel's)", "yellow")
    return (text, "")


def text_lines(report: DiffReport, verbosity: int = 0) -> list[Line]:
    """The text report."""
    out: list[Line] = [kernel_line(report)]
    for s in report.scenarios:
        head = f"{s.file}::{s.title} (line {s.line})"
        if s.status == "skipped":
            out.append((f"SKIPPED {head}: {s.skipped}", "yellow"))
            continue
        if s.status == "error":
            out.append((f"ERROR {head}: {s.error}", "bold red"))
            continue
        if s.status == "same":
            if verbosity > 0:
                out.append((f"same {head}: {s.equal:,} of {s.compared:,} readings equal", "green"))
            continue
        label = "DIFFERENT" if s.status == "different" else "explained"
        out.append((f"{label} {head}: {s.compared - s.equal:,} of {s.compared:,} readings differ",
                    "bold red" if s.status == "different" else "yellow"))
        for d in s.differences:
            if d.explained and verbosity < 0:
                continue
            out.append((f"  {d.file}:{d.line}  {d.step}", "dim"))
            out.append((f"      {d.observable}: engine {d.engine}, host {d.host}", "cyan"))
            if d.explained:
                out.append((f"      explained ({d.explained.split(':', 1)[0]}): {d.explained.split(': ', 1)[1]}", ""))
    out.append((summary(report), "bold red" if report.exit_code() else "bold green"))
    return [(printable(text), style) for text, style in out]


def summary(report: DiffReport) -> str:
    """``N scenarios: S same, E explained, D different, K skipped; R of T readings equal``."""
    counts = {k: sum(1 for s in report.scenarios if s.status == k)
              for k in ("same", "explained", "different", "skipped", "error")}
    compared = sum(s.compared for s in report.scenarios)
    equal = sum(s.equal for s in report.scenarios)
    n = len(report.scenarios)
    line = (f"{n} scenario{'s' if n != 1 else ''}: {counts['same']} same, {counts['explained']} explained, "
            f"{counts['different']} different, {counts['skipped']} skipped")
    errors = counts["error"] + len(report.errors)
    if errors:
        line += f", {errors} error{'s' if errors != 1 else ''}"
    line += f"; {equal:,} of {compared:,} readings equal"
    if report.interrupted:
        line += " (interrupted)"
    return line


def render_json(report: DiffReport) -> str:
    """The JSON report (version 1)."""
    doc = {
        "version": 1,
        "kernel": report.kernel,
        "scenarios": [
            {"file": s.file, "line": s.line, "title": s.title, "status": s.status, "skipped": s.skipped,
             "error": s.error, "compared": s.compared, "equal": s.equal,
             "differences": [
                 {"file": d.file, "line": d.line, "step": d.step, "observable": d.observable,
                  "engine": d.engine, "host": d.host, "explained": d.explained}
                 for d in s.differences]}
            for s in report.scenarios
        ],
        "errors": [{"file": e.file, "line": e.line, "column": e.column, "message": e.message}
                   for e in report.errors],
        "summary": {k: sum(1 for s in report.scenarios if s.status == k)
                    for k in ("same", "explained", "different", "skipped", "error")}
        | {"compared": sum(s.compared for s in report.scenarios),
           "equal": sum(s.equal for s in report.scenarios),
           "interrupted": report.interrupted},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
