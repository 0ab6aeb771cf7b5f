"""The plain-text report: the violation text shared by ``vmspec check`` and the pytest plugin.

Lines are built as (text, style) pairs so that the console reporter can colour them and the
plugin can join them into one string; the words are the same byte for byte. Control characters
(from a title or a trace file, say) are shown as ``\x1b`` escapes, so that a report can neither
drive the terminal nor break a line in two.
"""

from __future__ import annotations

import re
from fractions import Fraction

from vmspec.checker.results import FileError, Report, ScenarioResult, StepRecord, Violation
from vmspec.units import format_duration_human

Line = tuple[str, str]  # (text, rich style or "")

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Return ``text`` with control characters (tab excepted), line and paragraph separators and
    the undecodable bytes of a non-UTF-8 file name written as ``\\xNN`` / ``\\uNNNN`` escapes."""
    return _CONTROL.sub(lambda m: _escape(m.group()), text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """Return ``text`` with the undecodable bytes of a non-UTF-8 file name (lone surrogates, which
    no UTF-8 output can hold) written as ``\\xNN`` escapes; everything else is kept."""
    return _SURROGATE.sub(lambda m: _escape(m.group()), text)


def _clean(lines: list[Line]) -> list[Line]:
    return [(printable(text), style) for text, style in lines]


_DURATION = re.compile(r"(?<![\w.])(-?[0-9][0-9,]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)(ns|us|ms|s)\b")
_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9}


def human_durations(text: str) -> str:
    """Rewrite the exact durations of a formatted value (``93,451,563ns``) for people
    (``93.45ms``); the JSON report keeps them exact."""
    def human(m: re.Match) -> str:
        number = m.group(1).replace(",", "")
        value = Fraction(number) if "e" not in number else Fraction(float(number))
        return format_duration_human(value * _NS[m.group(2)])

    return _DURATION.sub(human, text)


STEP_TEXT_MAX = 100  # a longer step is cut in the trail (the JSON report keeps it whole)


def _step_text(r: StepRecord) -> str:
    text = r.text if len(r.text) <= STEP_TEXT_MAX else r.text[: STEP_TEXT_MAX - 3] + "..."
    return f"{text}  (repeat {r.iteration})" if r.iteration else text


def _step_lines(records: list[StepRecord], indent: str) -> list[Line]:
    if not records:
        return []
    texts = [_step_text(r) for r in records]
    width = max(len(f"{r.file}:{r.line}") for r in records)
    text_width = min(48, max(len(t) for t in texts))
    out = []
    for r, text in zip(records, texts):
        where = f"{r.file}:{r.line}".ljust(width)
        body = text.ljust(text_width) if r.changes else text
        out.append((f"{indent}{where}  {body}" + (f"  {human_durations(r.changes)}" if r.changes else ""), "dim"))
    return out


def violation_lines(v: Violation) -> list[Line]:
    """Describe one violation: location and message, why, the observed values, the steps."""
    out: list[Line] = [(f"  {v.file}:{v.line}:{v.column}: {v.message}", "bold red")]
    if v.stated_at is not None:
        where = f"{v.stated_file}:{v.stated_at}" if v.stated_file else f"line {v.stated_at}"
        out.append((f"      stated at {where}", ""))
    if v.detail:
        out.append((f"      {human_durations(v.detail)}", ""))
    for name, value in v.observed.items():
        out.append((f"      {name} = {human_durations(value)}", "cyan"))
    if v.later_breaks:
        out.append((f"      broken again by {v.later_breaks:,} later step{'s' if v.later_breaks != 1 else ''}", ""))
    if v.repeats:
        out.append((f"      failed again in {v.repeats:,} later iteration{'s' if v.repeats != 1 else ''} of its repeat", ""))
    if v.steps:
        out.append(("      steps that led there (newest last):", ""))
        out += _step_lines(v.steps, "        ")
    return out


def unobservable_lines(result: ScenarioResult) -> list[Line]:
    """The expectations of a scenario its backend could not read, one line each."""
    return [(f"  {u.file}:{u.line}:{u.column}: not observable on the {result.backend}: {u.kind} "
             f"{u.expression} ({u.reason})", "yellow") for u in result.unobservable]


def skipped_line(result: ScenarioResult) -> Line:
    """One line for a scenario its backend did not run."""
    return (f"SKIPPED {result.file}::{result.title} (line {result.line}): {result.skipped}", "yellow")


def scenario_lines(result: ScenarioResult) -> list[Line]:
    """Describe a failed or erroring scenario in full (the pytest failure text)."""
    label = "FAILED" if result.status == "failed" else "ERROR"
    out: list[Line] = [(f"{label} {result.file}::{result.title} (line {result.line})", "bold red")]
    for v in result.violations:
        out += violation_lines(v)
    if result.skipped:
        out.append((f"  stopped early on the {result.backend}: {result.skipped}", "yellow"))
    out += unobservable_lines(result)
    out.append((f"  reproduce: {result.reproduce}", "yellow"))
    return _clean(out)


def scenario_text(result: ScenarioResult) -> str:
    """Return the plain violation text of one scenario."""
    return "\n".join(text for text, _ in scenario_lines(result))


def failure_text(result: ScenarioResult) -> str:
    """Return the pytest plugin's failure text: the scenario's block without its header line
    (pytest names the item itself), two spaces less indented, so that pytest's short summary,
    which shows the first line, shows the first violation."""
    return "\n".join(text[2:] for text, _ in scenario_lines(result)[1:])


def trace_lines(result: ScenarioResult) -> list[Line]:
    """Every step of a scenario with what it changed (``--trace``)."""
    out: list[Line] = [(f"trace of {result.file}::{result.title}", "bold")]
    out += _step_lines(result.trace, "  ")
    return out


def summary(report: Report) -> str:
    """Return ``N scenarios: P passed, F failed, E errors``."""
    n = len(report.scenarios)
    line = (
        f"{n} scenario{'s' if n != 1 else ''}: {report.passed} passed, {report.failed} failed, "
        f"{report.error_count} error{'s' if report.error_count != 1 else ''}"
    )
    if report.skipped:
        line += f", {report.skipped} skipped"
    if report.deselected:
        line += f", {report.deselected} deselected"
    unread = sum(len(s.unobservable) for s in report.scenarios)
    if unread:
        line += f"; {unread} expectation{'s' if unread != 1 else ''} not observable"
    if report.interrupted:
        line += " (interrupted)"
    return line


def report_lines(report: Report, verbosity: int = 0, trace: bool = False) -> list[Line]:
    """The whole text report (stdout): per-scenario lines, failures in full, the summary."""
    out: list[Line] = []
    for result in report.scenarios:
        if trace and result.trace:
            out += trace_lines(result)
            out.append(("", ""))
        if result.status in ("passed", "skipped"):
            if result.status == "skipped":
                out.append(skipped_line(result))
            elif verbosity > 0:
                out.append((f"passed {result.file}::{result.title}", "green"))
            if verbosity >= 0 and result.unobservable:
                if result.status == "passed" and verbosity <= 0:
                    out.append((f"passed {result.file}::{result.title}", "green"))
                out += unobservable_lines(result)
        elif verbosity < 0:  # one line: the scenario and its first violation
            label = "FAILED" if result.status == "failed" else "ERROR"
            first = result.violations[0] if result.violations else None
            where = f" - {first.file}:{first.line}:{first.column}: {first.message}" if first else ""
            out.append((f"{label} {result.file}::{result.title}{where}", "bold red"))
        else:
            out += scenario_lines(result)
            out.append(("", ""))
    style = "bold red" if report.exit_code() else "bold green"
    out.append((summary(report), style))
    return _clean(out)


def error_text(errors: list[FileError]) -> str:
    """Render spec errors for stderr, one diagnostic after another."""
    return "\n".join(
        "\n".join(printable(line) for line in (e.rendered or f"{e.file}:{e.line}:{e.column}: error: {e.message}").split("\n"))
        for e in errors
    )
