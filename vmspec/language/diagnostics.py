"""Turn parse failures into spec errors written in words, at the right line and column.

The driver (:mod:`~vmspec.language.driver`) reports a failure as terminal names (``SIZE``,
``COLON``); users need phrases ("expected a size such as 64MiB"). This module recognises the common
mistakes first (an unterminated string or block, an invisible character, a fraction, a bad hex
number, an unknown or miscased unit, a mistyped keyword, a quantity of the wrong kind) and otherwise
names what was found and what could have come instead, leaving out what the user almost surely did
not mean (see :func:`_narrow`), with a hint for the usual slips. No lark internals and no Python
tracebacks reach the message.
"""

from __future__ import annotations

import re
import unicodedata
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
                 "kernel", "latency", "readahead")

_PHRASES = {
    "SIZE": "a size such as 64MiB",
    "NUMBER": "a number",
    "DURATION": "a duration such as 20ns",
    "PERCENT": "a percentage such as 95%",
    "PARAM": "a parameter such as $frames",
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
    # a `$name` of a parametrised scenario fits wherever a value does: saying so at every value
    # would only lengthen the messages, so it is named only where nothing else fits
    expected = set(exc.expected) - {"PARAM"} or set(exc.expected)
    if exc.at_end:
        return _unexpected_end(text, path, expected)
    return _unexpected_at(text, path, exc.offset, exc.token, expected, exc.previous)


def _word_at(text: str, offset: int) -> str:
    m = re.compile(r"[A-Za-z_0-9%]+|\S").match(text, offset)
    return m.group(0) if m else ""


_OPERATORS = {"AND", "OR", "PLUS", "MINUS", "STAR", "SLASH", "CMP", "IN", "DOT"}
_STEP_KEYWORDS = {"SPAWN", "FORK", "EXIT", "SET", "DROP_CACHES", "REPEAT", "FILE", "MACHINE"}
_VERB_KEYWORDS = {"FREE", "MUNMAP", "BRK", "READ", "WRITE", "ACCESS", "REPLAY", "MADVISE",
                  "MPROTECT", "MLOCK", "MUNLOCK"}
_QUANTITY = {"SIZE": "a size", "DURATION": "a duration", "PERCENT": "a percentage"}
_QUANTITY_HINT = {
    "SIZE": "a size has a unit such as KiB, MiB or pages",
    "DURATION": "a duration has a unit such as ns, us, ms or s",
    "PERCENT": "a percentage is a number and `%`, such as 95%",
    "NUMBER": "a count is a plain number such as 3",
}
_NAME_HINT = "a name is made of the letters A-Z and a-z, digits and `_` (no `-`), and starts with a letter or `_`"


def _narrow(expected: set[str], previous: Any) -> set[str]:
    """Leave out what the user almost surely did not mean, when something else is possible: the
    operators that could continue an expression, the `:` that would make a step keyword a process
    name (`repeat: ...`), the `=` that would make a verb a region name (`p: brk = mmap ...`)."""
    narrowed = set(expected)
    if expected & {"AND", "OR", "CMP", "STAR", "SLASH"}:
        narrowed -= _OPERATORS
    prev = getattr(previous, "type", None)
    if prev in _STEP_KEYWORDS:
        narrowed.discard("COLON")
    if prev in _VERB_KEYWORDS:
        narrowed.discard("EQUAL")
    return narrowed or set(expected)


def _unexpected_at(text: str, path: str, offset: int, tok: Any, expected: set[str],
                   previous: Any = None) -> SpecError:
    ch = text[offset] if offset < len(text) else ""
    if ch == '"' and (tok is None or tok.type != "STRING"):
        return error_at_offset(text, path, offset, "unterminated string",
                               'close it with " on the same line (a string cannot hold a newline)')
    before = text[:offset].rstrip(" \t")
    word = _word_at(text, offset)
    if tok is not None and tok.type != "_NL":
        word = str(tok)
    prev_type = getattr(previous, "type", None)
    wanted = _describe_expected(_narrow(expected, previous))
    if tok is None and ch and (not ch.isprintable() or (ch.isspace() and ch not in " \t\r\n\f")
                               or unicodedata.category(ch) == "Cf"):
        name = unicodedata.name(ch, "a control character")
        return error_at_offset(text, path, offset,
                               f"unexpected invisible character U+{ord(ch):04X} ({name})",
                               "retype it as a plain space, or delete it (it often comes with "
                               "copied text)")
    special = _number_mistake(text, path, offset, before, word, wanted)
    if special is not None:
        return special
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
    if prev_type == "ARROW" and expected <= {"NAME"}:
        return error_at_offset(text, path, offset,
                               f"expected ENOMEM, EINVAL, SIGSEGV, SIGBUS or OOM after `=>`, found {found}",
                               "`=> ERR` says how the step must fail", width=max(1, len(word)))
    hint = _hint_for(text, offset, word, expected, tok, previous)
    if tok is not None and tok.type in _QUANTITY and tok.type not in expected:
        found = f"`{word}` ({_QUANTITY[tok.type]})"
    message = f"expected {wanted}, found {found}" if wanted else f"unexpected {found}"
    return error_at_offset(text, path, offset, message, hint, width=max(1, len(word)))


def _number_mistake(text: str, path: str, offset: int, before: str, word: str,
                    wanted: str) -> SpecError | None:
    """Recognise a mistake inside a number: a fraction, a bad hex number, an unknown unit."""
    num = re.search(r"(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$", before)
    if not num or (num.start() > 0 and (before[num.start() - 1].isalnum()
                                        or before[num.start() - 1] in "_.")):
        return None
    digits = num.group(1)
    start = num.start(1)
    if text.startswith(".", offset) and text[offset + 1 : offset + 2].isdigit():
        frac = re.match(r"\.([0-9]+)[ \t]*([A-Za-z]+)?", text[offset:])
        assert frac is not None
        written = text[start : offset + frac.end()]
        better = _whole(digits, frac.group(1), frac.group(2) or "")
        hint = f"write {better}" if better else "write a whole number"
        return error_at_offset(text, path, start, f"a number cannot have a fraction: `{written}`",
                               hint, width=len(written))
    if digits == "0" and word[:1] and word[:1] in "xX" and text[offset - 1 : offset] == "0":
        return error_at_offset(text, path, start, f"`0{word}` is not a number",
                               "a hex number is 0x and the digits 0-9 and a-f, such as 0x7f00",
                               width=len(word) + 1)
    import difflib

    glued = offset == len(before)
    units = [u for u in UNIT_WORDS if u.lower() == word.lower()]
    units = [b for u in units for b in ((u[0] + "iB", u) if u in ("KB", "MB", "GB", "TB") else (u,))]
    if word[:1].isalpha() and (glued or units or difflib.get_close_matches(word, UNIT_WORDS, 1, 0.6)):
        if units:
            hint = "units are case-sensitive: write " + " or ".join(f"{digits}{u}" for u in units)
        else:
            hint = f"write {digits}MiB or {digits} {'page' if digits == '1' else 'pages'}"
        return error_at_offset(text, path, offset, f"unknown unit `{word}`; use {UNITS_TEXT}",
                               hint, width=len(word))
    return None


UNIT_WORDS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "KB", "MB", "GB", "TB", "page", "pages", "ns",
              "us", "ms", "s")
_SCALES = (("PiB", "TiB", 1024), ("TiB", "GiB", 1024), ("GiB", "MiB", 1024), ("MiB", "KiB", 1024),
           ("KiB", "B", 1024), ("TB", "GB", 1000), ("GB", "MB", 1000), ("MB", "KB", 1000),
           ("KB", "B", 1000), ("s", "ms", 1000), ("ms", "us", 1000), ("us", "ns", 1000))


def _whole(whole: str, fraction: str, unit: str) -> str | None:
    """Return ``whole.fraction unit`` in a smaller unit where it is a whole number (1.5GiB ->
    1536MiB), or None."""
    from fractions import Fraction

    if len(whole) + len(fraction) > 40:  # no smaller unit makes that a sensible whole number
        return None
    value = Fraction(int(whole.replace("_", "")) * 10 ** len(fraction) + int(fraction),
                     10 ** len(fraction))
    smaller = {big: (small, factor) for big, small, factor in _SCALES}
    while value.denominator != 1 and unit in smaller:
        unit, factor = smaller[unit]
        value *= factor
    if value.denominator != 1 or not unit:
        return None
    return f"{value.numerator}{unit}"


def _describe_found(tok: Any, word: str) -> str:
    if tok is not None and tok.type == "_NL":
        return "`;`" if tok.startswith(";") else "the end of the line"
    if word in ("\n", "", "\r"):
        return "the end of the line"
    return f"`{word}`"


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    if not names:
        return ""
    if {"SIZE", "NUMBER"} <= names and not names & {"LPAR", "NOT"}:
        if names <= {"SIZE", "NUMBER", "PLUS", "MINUS"}:
            return "a size such as 64MiB"
    if names == {"NUMBER", "MINUS"}:
        return "a number"
    if len(names & _EXPR_START) >= 5:
        return "an expression"
    if {"SPAWN", "FORK", "EXPECT"} <= names:
        return "a step (spawn, fork, exit, set, P: ..., expect, always, repeat, file) or `}`"
    if {"READ", "WRITE", "FREE"} <= names:
        return "`R = mmap ...`, `R = malloc ...` or a verb (" + ", ".join(VERBS[2:]) + ")"
    if {"INCLUDE", "SCENARIO"} <= names:
        return "`include`, `machine`, `image`, `invariant`, `scenario` or `file`"
    if {"RAM", "SWAP"} <= names:
        return "a machine setting (" + ", ".join(SETTING_WORDS) + ") or `}`"
    phrases: list[tuple[int, str]] = []
    for name in names:
        if name in ("_NL", "$END"):
            phrases.append((3, _PHRASES[name]))
        elif name in _PHRASES:
            phrases.append((1, _PHRASES[name]))
        elif name in _KEYWORD_TEXT:
            text = _KEYWORD_TEXT[name]
            phrases.append((0 if text.isidentifier() else 2, f"`{text}`"))
        elif name.isupper() and name.replace("_", "").isalpha() and not name.startswith("__"):
            phrases.append((0, f"`{_keyword(name)}`"))
        elif not name.startswith("__"):
            phrases.append((2, f"`{name}`"))
    ordered = list(dict.fromkeys(text for _, text in sorted(phrases)))
    if not ordered:
        return ""
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


_KEYWORD_TEXT = {
    "LBRACE": "{", "RBRACE": "}", "LBRACKET": "[", "RBRACKET": "]", "LPAR": "(", "RPAR": ")",
    "DOT": ".", "DOTDOT": "..", "PLUS": "+", "MINUS": "-", "STAR": "*", "SLASH": "/",
    "ARROW": "=>", "COLON": ":", "EQUAL": "=", "COMMA": ",",
    "PROT_R": "r", "PROT_RW": "rw", "PROT_RX": "rx", "PROT_RWX": "rwx",
}


def _keyword(name: str) -> str:
    return _KEYWORD_TEXT.get(name, name.lower())


def _hint_for(text: str, offset: int, word: str, expected: set[str], tok: Any,
              previous: Any) -> str | None:
    """Suggest what the user probably meant, from what was found and what could have come."""
    import difflib

    found_type = getattr(tok, "type", None)
    prev_type = getattr(previous, "type", None)
    glued = offset > 0 and (text[offset - 1].isalnum() or text[offset - 1] == "_")
    if found_type in _QUANTITY and found_type not in expected:
        for wanted in ("SIZE", "DURATION", "PERCENT", "NUMBER"):
            if wanted in expected:
                return f"`{word}` is {_QUANTITY[found_type]}; {_QUANTITY_HINT[wanted]}"
    if word == "-" and "SIZE" in expected and "MINUS" not in expected:
        return "a size cannot be negative (only `brk -SIZE`, oom_adj and oom_score_adj take a `-`)"
    if glued and (word == "-" or not word[:1].isascii()):
        return _NAME_HINT
    if word == "=" and "CMP" in expected:
        return "compare with `==`"
    if found_type == "STRING" and len(expected & _EXPR_START) >= 5:
        inner = word[1:-1]
        if inner.isidentifier():
            return f"drop the quotes: write {inner} (words such as mmap, brk and running are not strings)"
        return "expressions hold no strings; compare with a word, a number or a size"
    if found_type == "CMP" and expected & {"AND", "OR"}:
        return "comparisons do not chain: write a < b and b < c"
    if found_type == "ARROW":
        return "`=> ERR` may end a step that can fail, not expect, always, repeat or file"
    if expected == {"STRING"} or (expected <= {"STRING", "EQUAL"} and "STRING" in expected):
        if word == "{":
            return 'give it a title in double quotes: scenario "what it checks" { ... }'
        if re.match(r"[A-Za-z_]", word):
            rest = re.match(r'[^\s"{}#;]*', text[offset:])
            return f'write it in double quotes: "{rest.group(0) if rest else word}"'
    if {"INCLUDE", "SCENARIO"} <= expected:
        if word == "}":
            return "this `}` closes no block"
        if word.lower() in STEP_WORDS[:6] or text[offset + len(word) : offset + len(word) + 1] == ":":
            return 'steps go inside a scenario: scenario "title" { ... }'
    if "RBRACKET" in expected and (found_type == "_NL" or not word.strip()):
        return "close the range with `]`"
    if "LBRACKET" in expected and (word[:1].isdigit() or word.startswith("..")) and previous is not None:
        return f"a range goes in brackets right after the region: {previous}[0..64KiB]"
    if expected == {"AS"}:
        return "write fork P as C"
    if prev_type == "REPEAT":
        return "write repeat N { ... } with N a plain number"
    if _narrow(expected, previous) == {"RPAR"}:
        return "close it with `)`"
    if "SIZE" in expected and re.match(r"[A-Za-z_]", word) and found_type != "_NL":
        return f"write a size such as 64MiB before `{word}`"
    if expected == {"RANDOM"}:
        return "write P: access R random N"
    prev = re.search(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*$", text[:offset])
    if expected == {"COLON"} and prev and prev_type == "NAME":
        return f"a process's step is written `{prev.group(1)}: ...`, as in `{prev.group(1)}: write buf`"
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
    for m in re.finditer(r'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"|#[^\n]*|[{}]', text):
        tok = m.group(0)
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            stack.pop()
    return stack[-1] if stack else None
