"""Source locations: where in which .vms file a node, a diagnostic or a violation comes from.

A :class:`Span` is 1-based (line and column, as editors show them) and ``end_*`` is exclusive.
It is a frozen pydantic model so that AST nodes and reports can carry it and serialise it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A region of one source file: 1-based line/column, end exclusive."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def source_line(text: str, line: int) -> str:
    """Return line ``line`` (1-based) of ``text`` without its line ending, or ``""``."""
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return ""
