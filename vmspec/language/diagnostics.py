"""Turn lark's parse failures into spec errors written in words, at the right line and column.

lark reports what it expected as terminal names (``SIZE``, ``__ANON_3``); users need phrases
("expected a size such as 64MiB"). This module recognises the common mistakes first (an
unterminated string or block, a size without its unit, an unknown unit, a mistyped keyword) and
otherwise names what was found and what could have come instead. No lark internals and no Python
tracebacks reach the message.
"""

from __future__ import annotations

import re
from typing import Any

from vmspec.errors import SpecError
from vmspec.source import Span

UNITS_TEXT = "B, KiB, MiB, GiB, TiB, PiB, KB, MB, GB, TB or pages"

STEP_WORDS = ("spawn", "fork", "exit", "set", "drop_caches", "repeat", "file", "expect", "always")
VERBS = ("mmap", "malloc", "free", "munmap", "brk", "read", "write", "access", "replay", "madvise",
         "mprotect", "mlock", "munlock")
TOP_WORDS = ("include", "machine", "image", "invariant", "scenario", "file")
SETTING_WORDS = ("ram", "page_size", "paging", "swap", "hugepages", "thp", "tlb", "replacement",
                 "overcommit", "watermarks", "swappiness", "page_cluster", "mmap_threshold",
                 "kernel", "latency")

_PHRASES = {
    "SIZE": "a size such as 64MiB",
    "NUMBER": "a number",
    "DURATION": "a duration such as 20ns",
    "PERCENT": "a percentage such as 95%",
    "NAME": "a name",
    "STRING": 'a string in double quotes',
    "_NL": "the end of the statement",
    "$END": "the end of the file",
    "PAGING_LEVELS": "4-level or 5-level",
    "WAYS": "N-way",
    "CMP": "a comparison",
    "ARROW": "`=>`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
}
_EXPR_START = {"NAME", "NUMBER", "SIZE", "DURATION", "PERCENT", "LPAR", "LBRACKET", "NOT", "MINUS"}


def _span_at(path: str, line: int, column: int, width: int = 1) -> Span:
    return Span.model_construct(file=path, line=line, column=column, end_line=line,
                                end_column=column + max(1, width))


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _source_line(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return (text[start:] if end < 0 else text[start:end]).rstrip("\r")


def error_at_offset(text: str, path: str, offset: int, message: str, hint: str | None = None,
                    width: int = 1) -> SpecError:
    """Build a SpecError pointing at character ``offset`` of ``text``."""
    offset = max(0, min(offset, len(text)))
    line, column = _line_col(text, offset)
    return SpecError(message, _span_at(path, line, column, width), hint, _source_line(text, offset))


def describe_parse_error(exc: Any, text: str, path: str) -> SpecError:
    """Translate a :class:`~vmspec.language.driver.ParseFailure` into one worded SpecError."""
    if exc.at_end:
        return _unexpected_end(text, path, set(exc.expected))
    return _unexpected_at(text, path, exc.offset, exc.token, set(exc.expected))


def _word_at(text: str, offset: int) -> str:
    m = re.compile(r"[A-Za-z_0-9%]+|\S").match(text, offset)
    return m.group(0) if m else ""


def _unexpected_at(text: str, path: str, offset: int, tok: Any, expected: set[str]) -> SpecError:
    ch = text[offset] if offset < len(text) else ""
    if ch == '"' and (tok is None or tok.type != "STRING"):
        return error_at_offset(text, path, offset, "unterminated string",
                               'close it with " on the same line (a string cannot hold a newline)')
    # a number directly followed by letters: a unit we do not know
    before = text[:offset].rstrip(" \t")
    word = _word_at(text, offset)
    if before[-1:].isdigit() and word[:1].isalpha():
        num = re.search(r"(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$", before)
        if num and (num.start() == 0 or not (before[num.start() - 1].isalnum()
                                             or before[num.start() - 1] == "_")):
            return error_at_offset(text, path, offset, f"unknown unit `{word}`; use {UNITS_TEXT}",
                                   f"write {num.group(1)}MiB or {num.group(1)} pages",
                                   width=len(word))
    prev = re.search(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*$", text[:offset])
    if expected == {"COLON"} and prev:  # `spwan p`: a mistyped step keyword
        import difflib

        close = difflib.get_close_matches(prev.group(1), STEP_WORDS, n=1, cutoff=0.6)
        if close:
            return error_at_offset(text, path, prev.start(1),
                                   f"unknown step `{prev.group(1)}`; did you mean {close[0]}?",
                                   "a step starts with spawn, fork, exit, set, drop_caches, repeat, "
                                   "file, expect, always or `P:`", width=len(prev.group(1)))
    found = _describe_found(tok, word)
    wanted = _describe_expected(expected)
    hint = _hint_for(text, offset, word, expected)
    if wanted:
        message = f"expected {wanted}, found {found}"
    else:
        message = f"unexpected {found}"
    return error_at_offset(text, path, offset, message, hint, width=max(1, len(word)))


def _describe_found(tok: Any, word: str) -> str:
    if tok is not None and tok.type == "_NL":
        return "`;`" if tok.startswith(";") else "the end of the line"
    if word in ("\n", ""):
        return "the end of the line"
    if word == "\r":
        return "the end of the line"
    return f"`{word}`"


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    if not names:
        return ""
    if {"SIZE", "NUMBER"} <= names and not names & {"LPAR", "NOT"}:
        if names <= {"SIZE", "NUMBER", "PLUS", "MINUS"}:
            return "a size such as 64MiB"
    if len(names & _EXPR_START) >= 5:
        return "an expression"
    if {"SPAWN", "FORK", "EXPECT"} <= names:
        return "a step (spawn, fork, exit, set, P: ..., expect, always, repeat, file) or `}`"
    if {"MMAP", "MALLOC"} & names and {"READ", "WRITE"} <= names:
        return "`R = mmap ...`, `R = malloc ...` or a verb (" + ", ".join(VERBS[2:]) + ")"
    if {"INCLUDE", "SCENARIO"} <= names:
        return "`include`, `machine`, `image`, `invariant`, `scenario` or `file`"
    if {"RAM", "SWAP"} <= names:
        return "a machine setting (" + ", ".join(SETTING_WORDS) + ") or `}`"
    phrases = []
    for name in sorted(names):
        if name in _PHRASES:
            phrases.append(_PHRASES[name])
        elif name.isupper() and name.replace("_", "").isalpha() and not name.startswith("__"):
            phrases.append(f"`{_keyword(name)}`")
        elif not name.startswith("__"):
            phrases.append(f"`{name}`")
    if not phrases:
        return ""
    phrases = list(dict.fromkeys(phrases))
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


_KEYWORD_TEXT = {
    "LBRACE": "{", "RBRACE": "}", "LBRACKET": "[", "RBRACKET": "]", "LPAR": "(", "RPAR": ")",
    "DOT": ".", "DOTDOT": "..", "PLUS": "+", "MINUS": "-", "STAR": "*", "SLASH": "/",
    "PROT_R": "r", "PROT_RW": "rw", "PROT_RX": "rx", "PROT_RWX": "rwx",
}


def _keyword(name: str) -> str:
    return _KEYWORD_TEXT.get(name, name.lower())


def _hint_for(text: str, offset: int, word: str, expected: set[str]) -> str | None:
    """Suggest the keyword the user probably meant, from the word before or at the error."""
    import difflib

    prev = re.search(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*$", text[:offset])
    candidates: tuple[str, ...] = ()
    target = word
    if expected == {"COLON"} and prev:  # `spwan parent`: a mistyped step word
        candidates, target = STEP_WORDS, prev.group(1)
    elif {"RAM", "SWAP"} <= expected:
        candidates = SETTING_WORDS
    elif {"INCLUDE", "SCENARIO"} <= expected:
        candidates = TOP_WORDS
    elif {"MMAP", "READ"} <= expected or {"READ", "WRITE"} <= expected:
        candidates = VERBS
    else:
        keywords = tuple(_keyword(n) for n in expected if n.isupper() and n not in _PHRASES)
        candidates = tuple(k for k in keywords if k.isidentifier())
    close = difflib.get_close_matches(target, candidates, n=1, cutoff=0.6) if target else []
    if close and close[0] != target:
        return f"did you mean `{close[0]}`?"
    return None


def _unexpected_end(text: str, path: str, expected: set[str]) -> SpecError:
    opener = _unclosed_brace(text)
    if opener is not None:
        return error_at_offset(text, path, opener,
                               "unterminated block: `{` opened here is never closed",
                               "add the matching `}`")
    wanted = _describe_expected(expected)
    message = f"unexpected end of file; expected {wanted}" if wanted else "unexpected end of file"
    return error_at_offset(text, path, len(text.rstrip()), message)


def _unclosed_brace(text: str) -> int | None:
    """Return the offset of the innermost ``{`` never closed, skipping strings and comments."""
    stack: list[int] = []
    for m in re.finditer(r'"(?:[^"\\\n]|\\[^\n])*"|#[^\n]*|[{}]', text):
        tok = m.group(0)
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            stack.pop()
    return stack[-1] if stack else None
