"""Scenario selection: ``-k`` expressions like pytest's, and ``PATH::TITLE`` arguments.

``-k`` takes words joined by ``and``, ``or``, ``not`` and parentheses; a word matches a title
that contains it, ignoring case. Titles have spaces, so words written next to each other form one
phrase (``-k 'fork shares'`` matches "fork shares pages"), and a phrase may be quoted to hold an
operator word or a parenthesis (``-k '"rock and roll"'``). The expression is parsed here by hand
(never evaluated as Python).
"""

from __future__ import annotations

import re

from vmspec.errors import UsageError

_TOKEN = re.compile(r"""\s*(\(|\)|"[^"]*"|'[^']*'|[^\s()]+)""")
_OPERATORS = ("and", "or", "not")


def compile_k(expression: str):
    """Compile a -k expression into a predicate on titles; raise UsageError if malformed."""
    tokens = _TOKEN.findall(expression)
    for token in tokens:
        if token[0] in "\"'" and (len(token) < 2 or token[-1] != token[0]):
            raise UsageError(f"-k {expression!r}: unterminated quote {token[0]}")
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def parse_or():
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda t: a(t) or b(t))(left, right)
        return left

    def parse_and():
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda t: a(t) and b(t))(left, right)
        return left

    def parse_not():
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda t: not inner(t)
        return parse_atom()

    def parse_atom():
        token = peek()
        if token is None:
            raise UsageError(f"-k {expression!r}: expected a word at the end")
        if token == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise UsageError(f"-k {expression!r}: missing `)`")
            take()
            return inner
        if token in (")", "and", "or"):
            raise UsageError(f"-k {expression!r}: unexpected `{token}`")
        words = []
        while peek() is not None and peek() not in ("(", ")", *_OPERATORS):
            word = take()
            words.append(word[1:-1] if word[0] in "\"'" else word)
        phrase = " ".join(words).casefold()
        return lambda t: phrase in t.casefold()

    if not tokens:
        return lambda t: True
    predicate = parse_or()
    if pos != len(tokens):
        raise UsageError(f"-k {expression!r}: unexpected `{tokens[pos]}`")
    return predicate


def split_target(arg: str) -> tuple[str, str | None]:
    """Split ``path.vms::title`` into path and title (title None when absent)."""
    marker = arg.find(".vms::")
    if marker >= 0:
        return arg[: marker + 4], arg[marker + 6 :]
    return arg, None
