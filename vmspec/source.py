"""Source locations: where in which .vms file a node, a diagnostic or a violation comes from.

A :class:`Span` is 1-based (line and column, as editors show them) and ``end_*`` is exclusive.
It is a frozen pydantic model so that AST nodes and reports can carry it and serialise it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A region of one source file: 1-based line/column, end exclusive."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def source_lines(text: str) -> list[str]:
    """Split ``text`` into lines as the parser counts them: only ``\n`` ends a line (a ``\r``
    before it is dropped). Form feeds, vertical tabs, a lone ``\r``, U+0085, U+2028 and U+2029
    are characters of their line, not line ends, so every line number and column of a span
    points into these lines (``str.splitlines`` would split at each of them)."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def source_line(text: str, line: int) -> str:
    """Return line ``line`` (1-based) of ``text`` without its line ending, or ``""``."""
    lines = source_lines(text)
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return ""
