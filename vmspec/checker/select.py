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
    """Compile a -k expression into a predicate on titles; raise UsageError if malformed.

    The expression is turned into postfix form with an operator stack (shunting-yard) and the
    predicate evaluates it with a value stack, so neither recurses: 500 nested parentheses,
    1,000 ``not`` or 5,000 ``or`` cost nothing special."""
    tokens = _TOKEN.findall(expression)
    for token in tokens:
        if token[0] in "\"'" and (len(token) < 2 or token[-1] != token[0]):
            raise UsageError(f"-k {expression!r}: unterminated quote {token[0]}")
    if not tokens:
        return lambda t: True
    postfix = _postfix(expression, tokens)

    def predicate(title: str) -> bool:
        folded = title.casefold()
        stack: list[bool] = []
        for op, phrase in postfix:
            if op == "word":
                stack.append(phrase in folded)
            elif op == "not":
                stack[-1] = not stack[-1]
            else:
                right = stack.pop()
                stack[-1] = (stack[-1] and right) if op == "and" else (stack[-1] or right)
        return stack[0]

    return predicate


_PRECEDENCE = {"or": 1, "and": 2, "not": 3}


def _postfix(expression: str, tokens: list[str]) -> list[tuple[str, str]]:
    """Return the expression as postfix ``(op, phrase)`` pairs: ``("word", phrase)``, ``("not",
    "")``, ``("and", "")``, ``("or", "")``; raise UsageError where it is malformed."""
    out: list[tuple[str, str]] = []
    ops: list[str] = []  # "(" and operators waiting for their operands
    want_operand = True
    pos = 0
    while pos < len(tokens):
        token = tokens[pos]
        if want_operand:
            if token in ("not", "("):
                ops.append(token)
                pos += 1
                continue
            if token in (")", "and", "or"):
                raise UsageError(f"-k {expression!r}: unexpected `{token}`")
            words = []  # words side by side form one phrase (titles have spaces)
            while pos < len(tokens) and tokens[pos] not in ("(", ")", *_OPERATORS):
                word = tokens[pos]
                words.append(word[1:-1] if word[0] in "\"'" else word)
                pos += 1
            out.append(("word", " ".join(words).casefold()))
            want_operand = False
        elif token in ("and", "or"):
            while ops and ops[-1] != "(" and _PRECEDENCE[ops[-1]] >= _PRECEDENCE[token]:
                out.append((ops.pop(), ""))
            ops.append(token)
            want_operand = True
            pos += 1
        elif token == ")":
            while ops and ops[-1] != "(":
                out.append((ops.pop(), ""))
            if not ops:
                raise UsageError(f"-k {expression!r}: unexpected `)`")
            ops.pop()
            pos += 1
        else:
            raise UsageError(f"-k {expression!r}: unexpected `{token}`")
    if want_operand:
        raise UsageError(f"-k {expression!r}: expected a word at the end")
    while ops:
        op = ops.pop()
        if op == "(":
            raise UsageError(f"-k {expression!r}: missing `)`")
        out.append((op, ""))
    return out


def split_target(arg: str) -> tuple[str, str | None]:
    """Split ``path.vms::title`` into path and title (title None when absent)."""
    marker = arg.find(".vms::")
    if marker >= 0:
        return arg[: marker + 4], arg[marker + 6 :]
    return arg, None
