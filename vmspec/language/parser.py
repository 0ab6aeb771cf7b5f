"""Parse .vms text into a :class:`~vmspec.language.ast.SpecFile`.

The grammar (``grammar/vms.lark``; ``vmspec/grammar/vms.lark`` inside a wheel) is compiled once per
process, on first use, into a lark LALR(1) parser with the contextual lexer. The AST is built by
:class:`~vmspec.language.transform.ASTBuilder` during parsing (lark's tree-less mode), so there is
no intermediate tree and no recursion however deep the input nests. lark's own on-disk cache is not
used: it unpickles from a shared temporary directory, and compiling the grammar takes ~0.1 s.
Comments are collected on the side (for ``vmspec fmt``); the AST itself carries none.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vmspec.errors import SpecError, SpecErrors
from vmspec.language import ast

_LOCK = threading.Lock()
_PARSER: Any = None
_BUILDER: Any = None
_COMMENTS: list["Comment"] = []


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment: where it starts, its text, and whether code precedes it on its line."""

    line: int
    column: int
    text: str
    trailing: bool


def grammar_text() -> str:
    """Return the grammar's text, from the installed package or else the source tree."""
    try:
        res = resources.files("vmspec").joinpath("grammar", "vms.lark")
        if res.is_file():
            return res.read_text(encoding="utf-8")
    except (OSError, TypeError, ValueError, ModuleNotFoundError):
        pass
    path = Path(__file__).resolve().parent.parent.parent / "grammar" / "vms.lark"
    return path.read_text(encoding="utf-8")


def _on_comment(tok: Any) -> Any:
    _COMMENTS.append(Comment(tok.line, tok.column, str(tok), True))
    return tok


def _on_newline(tok: Any) -> Any:
    if "#" in tok:
        line = tok.line
        for index, piece in enumerate(str(tok).split("\n")):
            hash_at = piece.find("#")
            if hash_at >= 0:
                text = piece[hash_at:].rstrip("\r")
                if index == 0:  # `stmt; # note`: the comment shares the statement's line
                    _COMMENTS.append(Comment(line, tok.column + hash_at, text, True))
                else:
                    _COMMENTS.append(Comment(line, hash_at + 1, text, False))
            line += 1
    return tok


def get_parser() -> tuple[Any, Any]:
    """Return the process-wide (lark parser, AST builder) pair, compiling the grammar once."""
    global _PARSER, _BUILDER
    if _PARSER is None:
        from lark import Lark

        from vmspec.language.transform import ASTBuilder

        builder = ASTBuilder()
        _PARSER = Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            transformer=builder,
            maybe_placeholders=False,
            lexer_callbacks={"COMMENT": _on_comment, "_NL": _on_newline},
        )
        _BUILDER = builder
    return _PARSER, _BUILDER


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
    from lark.exceptions import LarkError

    from vmspec.language.diagnostics import describe_parse_error

    check_text(text, path)
    parser, builder = get_parser()
    with _LOCK:
        builder.reset(path)
        _COMMENTS.clear()
        try:
            items = parser.parse(text)
        except LarkError as exc:
            raise SpecErrors([describe_parse_error(exc, text, path)]) from None
        except RecursionError:  # pragma: no cover - the parser and builder do not recurse
            raise SpecErrors([SpecError("the spec nests too deeply", _file_span(path, text))]) from None
        finally:
            builder_errors = list(builder.errors)
            comments = list(_COMMENTS)
            builder.reset(path)
    for err in builder_errors:
        err.source = _line_of(text, err.span.line)
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

    lines = text.split("\n")
    return Span.model_construct(file=path, line=1, column=1, end_line=len(lines),
                                end_column=len(lines[-1]) + 1)


def _line_of(text: str, line: int) -> str:
    """Return line ``line`` of ``text`` (1-based), without its line ending, cheaply."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end].rstrip("\r")
