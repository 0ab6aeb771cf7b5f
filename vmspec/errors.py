"""The error hierarchy of vmspec (not of the simulated machine: modelled failures such as ENOMEM
live in ``vmspec.engine.errors``).

Every problem with user input is a :class:`SpecError` carrying a :class:`~vmspec.source.Span`,
a message and an optional hint; :meth:`SpecError.render` gives the ``path:line:col: error: ...``
text with the source line and a caret that every front-end prints.
"""

from __future__ import annotations

import re

from vmspec.source import Span

# characters that would move the caret or break the quoted line on a terminal: shown as spaces
_BLANK = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class VmspecError(Exception):
    """Base class of every error vmspec raises on purpose."""


class UsageError(VmspecError):
    """A bad command line or option (exit code 2, no source location)."""


class SpecError(VmspecError):
    """A problem in a .vms file, located by a span (exit code 2)."""

    def __init__(self, message: str, span: Span, hint: str | None = None, source: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.source = source  # the line of text the span points into, if known

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """Render as ``path:line:col: error: message``, the source line, a caret and a hint."""
        span = self.span
        out = [f"{span.file}:{span.line}:{span.column}: error: {self.message}"]
        if self.source is not None:
            text = _BLANK.sub(" ", self.source)
            if len(text) > 200:  # keep 10 MB lines readable: show a window around the column
                start = max(0, span.column - 100)
                text = text[start : start + 200]
                caret_col = span.column - start
            else:
                caret_col = span.column
            out.append(f"    {text}")
            width = 1
            if span.end_line == span.line and span.end_column > span.column:
                width = min(span.end_column - span.column, max(1, len(text) - caret_col + 1))
            out.append("    " + " " * (caret_col - 1) + "^" * width)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


class SpecErrors(VmspecError):
    """Several spec errors found together (one file can have more than one)."""

    def __init__(self, errors: list[SpecError]):
        super().__init__(f"{len(errors)} spec error(s)")
        self.errors = errors

    def render(self) -> str:
        """Render every error, separated by blank lines."""
        return "\n".join(e.render() for e in self.errors)
