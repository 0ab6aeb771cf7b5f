"""GitHub workflow annotations (``--format github``): ``::error file=F,line=L,col=C::message``
for each violation and spec error, then the summary line."""

from __future__ import annotations

from vmspec.checker.results import Report
from vmspec.reporting.text import human_durations, printable, summary


def _data(text: str) -> str:
    """Escape a command's message: ``%``, CR and LF as GitHub's toolkit does, then every other
    control character as a ``\\xNN`` escape (an ESC or BEL would reach the log raw)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(text)


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    """Serialise a report as workflow commands."""
    lines = []
    for s in report.scenarios:
        if s.status == "skipped":
            lines.append(f"::notice file={_prop(s.file)},line={s.line},title={_prop(s.title)}::"
                         f"{_data('skipped on the ' + s.backend + ': ' + (s.skipped or ''))}")
        for u in s.unobservable:
            lines.append(f"::notice file={_prop(u.file)},line={u.line},col={u.column},title={_prop(s.title)}::"
                         f"{_data(f'not observable on the {s.backend}: {u.kind} {u.expression} ({u.reason})')}")
        for v in s.violations:
            body = v.message
            if v.detail:
                body += f"\n{human_durations(v.detail)}"
            for name, value in v.observed.items():
                body += f"\n{name} = {human_durations(value)}"
            title = f"{s.title}"
            lines.append(
                f"::error file={_prop(v.file)},line={v.line},col={v.column},title={_prop(title)}::{_data(body)}"
            )
    for e in report.errors:
        lines.append(f"::error file={_prop(e.file)},line={e.line},col={e.column}::{_data(e.message)}")
    lines.append(printable(summary(report)))
    return "\n".join(lines) + "\n"
