"""Parse .vms text into a :class:`~vmspec.language.ast.SpecFile`.

The grammar (``grammar/vms.lark``; ``vmspec/grammar/vms.lark`` inside a wheel) is compiled by lark
into LALR(1) tables and a contextual lexer when it changes, and shipped as data
(:mod:`~vmspec.language.tables`); :mod:`~vmspec.language.driver` runs them in its own tight loop,
and lark is not imported at all. The AST is built by
:class:`~vmspec.language.transform.ASTBuilder` as rules are reduced (no intermediate tree), so there
is no recursion however deep the input nests. lark's own on-disk cache is not used: it unpickles
from a shared temporary directory. Comments are collected
on the side (for ``vmspec fmt``); the AST itself carries none. Python's cyclic garbage collector is
paused while a file is parsed: the tree is acyclic, and collections would only scan it again and
again (that made parsing superlinear in the file's size).
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vmspec.errors import SpecError, SpecErrors
from vmspec.language import ast

if TYPE_CHECKING:
    from vmspec.language.driver import Tables

_LOCK = threading.Lock()
_BUILDER: Any = None
_TABLES: Any = None


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment: where it starts, its text, and whether code precedes it on its line."""

    line: int
    column: int
    text: str
    trailing: bool


def grammar_text() -> str:
    """Return the grammar's text (see :func:`vmspec.language.tables.grammar_text`)."""
    from vmspec.language.tables import grammar_text as text

    return text()


def get_parser() -> tuple[Tables, Any]:
    """Return the process-wide (tables, AST builder) pair, loading the tables once."""
    global _TABLES, _BUILDER
    if _TABLES is None:
        from vmspec.language.driver import Tables
        from vmspec.language.tables import load_tables
        from vmspec.language.transform import ASTBuilder

        builder = ASTBuilder()
        _TABLES, _BUILDER = Tables(load_tables(), builder), builder
    return _TABLES, _BUILDER


def check_text(text: str, path: str) -> None:
    """Reject text that is not a spec at all (NUL bytes) before the parser sees it."""
    nul = text.find("\x00")
    if nul >= 0:
        from vmspec.language.diagnostics import error_at_offset

        raise SpecErrors([error_at_offset(
            text, path, nul, "this is a binary file, not a .vms spec (it contains a NUL byte)",
            "a spec is UTF-8 text")])


def parse_source(text: str, path: str) -> tuple[ast.SpecFile, list[Comment], list[SpecError]]:
    """Parse ``text`` (the file at ``path``); return the tree, its comments and the errors the
    grammar could not see (a tree is still built). A syntax error raises SpecErrors."""
    from vmspec.language.driver import ParseFailure, parse

    check_text(text, path)
    tables, builder = get_parser()
    comments: list[Comment] = []

    def on_comment(line: int, column: int, body: str, trailing: bool) -> None:
        comments.append(Comment(line, column, body, trailing))

    with _LOCK:
        builder.reset(path)
        gc_was_on = gc.isenabled()
        gc.disable()  # millions of young, acyclic nodes: collections would only cost time
        try:
            items = parse(text, tables, on_comment)
        except ParseFailure as exc:
            from vmspec.language.diagnostics import describe_parse_error

            raise SpecErrors([describe_parse_error(exc, text, path)]) from None
        except RecursionError:  # pragma: no cover - the parser and builder do not recurse
            raise SpecErrors([SpecError("the spec nests too deeply", _file_span(path, text))]) from None
        finally:
            if gc_was_on:
                gc.enable()
            builder_errors = list(builder.errors)
            builder.reset(path)
    if builder_errors:
        lines = text.split("\n")  # once: a line found per error would be quadratic
        for err in builder_errors:
            line = err.span.line
            err.source = lines[line - 1].rstrip("\r") if 1 <= line <= len(lines) else ""
    spec = ast.SpecFile.model_construct(span=_file_span(path, text), path=path, items=tuple(items))
    return spec, comments, builder_errors


def parse_with_comments(text: str, path: str) -> tuple[ast.SpecFile, list[Comment]]:
    """Parse ``text`` (the file at ``path``) into a SpecFile and the comments it contains."""
    spec, comments, errors = parse_source(text, path)
    if errors:
        raise SpecErrors(errors)
    return spec, comments


def parse_text(text: str, path: str) -> ast.SpecFile:
    """Parse ``text`` (the file at ``path``) into a SpecFile; raise SpecErrors if it is not valid."""
    return parse_with_comments(text, path)[0]


def _file_span(path: str, text: str) -> Any:
    from vmspec.source import Span

    return Span.model_construct(file=path, line=1, column=1, end_line=text.count("\n") + 1,
                                end_column=len(text) - text.rfind("\n"))
