"""``vmspec fmt``: rewrite a spec in canonical form without losing its comments.

The text is parsed (comments are collected on the side), printed by ``printer``, and the comments
are woven back: a full-line comment goes before the statement that follows it, at that statement's
indentation (or before the ``}`` that closes its block, or at the end of the file); a trailing
comment stays at the end of its statement's line (with ``a; b  # c`` it follows ``a``). Single blank
lines between statements are kept, runs of them collapse. The result is parsed again and compared
with the original (spans aside); if a comment could not be placed or the tree changed, a SpecError
is raised instead of writing anything lossy.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from vmspec.errors import SpecError, SpecErrors
from vmspec.language import ast
from vmspec.language.parser import Comment, parse_with_comments
from vmspec.language.printer import INDENT, Line, emit, is_block
from vmspec.source import Span


def without_spans(node: Any) -> Any:
    """Return a node as nested tuples and plain values, spans (``span`` and every ``*_span``)
    left out, to compare trees."""
    if isinstance(node, BaseModel):
        return (type(node).__name__,) + tuple(
            (name, without_spans(getattr(node, name)))
            for name in type(node).model_fields if name != "span" and not name.endswith("_span"))
    if isinstance(node, (tuple, list)):
        return tuple(without_spans(x) for x in node)
    return node


def same_tree(a: ast.Node, b: ast.Node) -> bool:
    """Tell whether two trees are equal apart from their spans."""
    return without_spans(a) == without_spans(b)


class _Weaver:
    """Interleave printed lines with the source's comments and blank lines."""

    def __init__(self, text: str, comments: list[Comment]):
        self.src = text.split("\n")
        self.full: list[Comment] = []
        self.trailing: dict[int, Comment] = {}
        for c in sorted(comments, key=lambda c: (c.line, c.column)):
            if self.src[c.line - 1][: c.column - 1].strip():
                self.trailing.setdefault(c.line, c)
            else:
                self.full.append(c)
        self.next_full = 0
        self.out: list[str] = []
        self.last_src = 0
        self.placed = 0

    def blank_before(self, line: int) -> None:
        """Emit one blank line if the source has one between the last emitted line and ``line``."""
        if self.out and self.out[-1] != "" and not self.out[-1].endswith("{"):
            if any(not self.src[k - 1].strip() for k in range(self.last_src + 1, line)
                   if 0 < k <= len(self.src)):
                self.out.append("")

    def leading(self, before: int, depth: int) -> None:
        """Emit the full-line comments that come before source line ``before``."""
        while self.next_full < len(self.full) and self.full[self.next_full].line < before:
            c = self.full[self.next_full]
            self.blank_before(c.line)
            self.out.append(INDENT * depth + c.text)
            self.last_src = max(self.last_src, c.line)
            self.next_full += 1
            self.placed += 1

    def claim(self, lines: range) -> str:
        """Return the trailing comment on one of ``lines`` (each is used once), with its gap."""
        for line in lines:
            c = self.trailing.pop(line, None)
            if c is not None:
                self.placed += 1
                return "  " + c.text
        return ""

    def line(self, ln: Line, separate: bool) -> None:
        """Emit one printed line with its comments."""
        depth = ln.depth + 1 if ln.role == "close" else ln.depth
        if separate and self.out and self.out[-1] != "":
            self.out.append("")
        self.leading(ln.first, depth)
        if ln.role != "close":
            self.blank_before(ln.first)
        span = range(ln.first, ln.last + 1) if ln.role == "stmt" else range(ln.first, ln.first + 1)
        if ln.role == "close":
            span = range(ln.last, ln.last + 1)
        self.out.append(INDENT * ln.depth + ln.text + self.claim(span))
        self.last_src = max(self.last_src, ln.last if ln.role != "open" else ln.first)


def format_text(text: str, path: str) -> str:
    """Return ``text`` (the spec at ``path``) in canonical form with its comments; raise
    SpecErrors if it does not parse, or if its comments cannot all be kept."""
    spec, comments = parse_with_comments(text, path)
    weaver = _Weaver(text, comments)
    prev: ast.Node | None = None

    def written_on_one_line(block: ast.Node) -> bool:  # (no comment can sit inside such a block)
        return block.span.line == block.span.end_line

    for item in spec.items:
        lines: list[Line] = []
        emit(lines, 0, item, True, written_on_one_line)
        separate = prev is not None and (is_block(item) or is_block(prev) or type(item) is not type(prev))
        for i, ln in enumerate(lines):
            weaver.line(ln, separate and i == 0)
        prev = item
    weaver.leading(len(weaver.src) + 1, 0)
    out = "\n".join(weaver.out).rstrip("\n")
    result = out + "\n" if out else ""
    if weaver.placed != len(comments):
        missing = next(iter(weaver.trailing.values()), None)
        line = missing.line if missing else 1
        raise SpecErrors([SpecError("vmspec fmt cannot keep this comment in place", Span(
            file=path, line=line, column=missing.column if missing else 1, end_line=line,
            end_column=(missing.column if missing else 1) + 1), "move it to a line of its own")])
    again = parse_with_comments(result, path)[0]
    if not same_tree(again, spec):  # pragma: no cover - a printer bug; never write a changed spec
        raise SpecErrors([SpecError("vmspec fmt would change the meaning of this file (a bug in "
                                    "vmspec's printer); it was left as it is",
                                    Span(file=path, line=1, column=1, end_line=1, end_column=1))])
    return result


@dataclass(frozen=True)
class Formatted:
    """A spec file and its canonical form (both with the file's UTF-8 BOM, if it has one)."""

    path: str
    original: str
    formatted: str

    @property
    def changed(self) -> bool:
        return self.original != self.formatted


def format_file(path: str, root: str | None = None) -> Formatted:
    """Read the spec at ``path`` as ``load`` reads it (a regular file inside ``root``, at most
    16 MiB, UTF-8 with or without a BOM) and return it with its canonical form; raise SpecErrors."""
    from vmspec.language.includes import read_spec

    text = read_spec(path, root)  # the BOM dropped, as for `vmspec check`
    bom = "\ufeff" if _has_bom(path) else ""
    return Formatted(path, bom + text, bom + format_text(text, path))


def _has_bom(path: str) -> bool:
    with open(os.path.realpath(path), "rb") as fh:
        return fh.read(3) == b"\xef\xbb\xbf"


def write_formatted(result: Formatted) -> None:
    """Replace the file (its real path: a symlink's target, which ``format_file`` confined) with
    its canonical form, atomically, keeping its permissions."""
    real = os.path.realpath(result.path)
    mode = stat.S_IMODE(os.stat(real).st_mode)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(real), prefix=".vmspec-fmt-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(result.formatted)
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        os.unlink(tmp)
        raise
