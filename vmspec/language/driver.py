"""Run lark's LALR(1) tables over .vms text with a tight contextual lexer of our own.

lark compiles ``grammar/vms.lark`` once (``parser.get_parser``) into parse tables, per-state
scanners (the contextual lexer: in each parser state only the terminals that state accepts are
tried) and rule callbacks (its tree-less mode, which call :class:`~vmspec.language.transform.ASTBuilder`).
This module drives those same tables, scanners and callbacks in one loop: lark's generic
``LexerThread``/``feed_token`` machinery costs several microseconds a token, this loop about one.
The behaviour is lark's, token for token: the same regular expressions in the same order, a keyword
read as a name where the state accepts a name (lark's ``UnlessCallback``), the same reductions, and
on a failure the same facts lark would report (the offending token or offset, and what the state
expected), which :mod:`~vmspec.language.diagnostics` puts into words. Unit reductions whose callback
would only hand back their single child are skipped. There is no Linux counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class Tok(str):
    """A token: its text, terminal name and 1-based position (end exclusive)."""

    __slots__ = ("type", "start_pos", "line", "column", "end_line", "end_column")

    def __repr__(self) -> str:
        return f"Tok({self.type}, {str.__repr__(self)})"


_new_str = str.__new__


@dataclass
class ParseFailure(Exception):
    """The input does not fit the grammar: where, the token found there (None: no terminal of the
    grammar matches there) and the terminal names the parser state would have accepted."""

    offset: int
    token: Tok | None
    expected: frozenset[str]
    at_end: bool = False


class Tables:
    """lark's compiled grammar, flattened into plain dicts and tuples for :func:`parse`."""

    def __init__(self, lark: Any) -> None:
        from lark.parsers.lalr_analysis import Shift
        from lark.parse_tree_builder import ExpandSingleChild

        frontend = lark.parser
        lalr = frontend.parser.parser
        table = lalr.parse_table
        callbacks = lalr.callbacks
        assert not any(isinstance(k, str) for k in callbacks), "token callbacks are not supported"
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        rules: dict[Any, tuple] = {}
        for rule, callback in callbacks.items():
            size = len(rule.expansion)
            identity = (isinstance(callback, ExpandSingleChild) and size == 1
                        and not getattr(rule.expansion[0], "filter_out", False))
            rules[rule] = (size, None if identity else _streamline(callback, size),
                           str(rule.origin.name))
        # state -> {symbol: (True, next state) | (False, (size, callback or None, origin))}
        self.actions: dict[int, dict[str, tuple]] = {
            state: {str(sym): (True, arg) if action is Shift else (False, rules[arg])
                    for sym, (action, arg) in row.items()}  # str: lark's names are Tokens
            for state, row in table.states.items()}
        lexer = frontend.lexer
        self.ignore = frozenset(str(t) for t in lark.lexer_conf.ignore)
        self.newline_types = frozenset(str(t) for t in lexer.root_lexer.newline_types)
        # Every state's scanner first skips blanks (lark's ignored WS), so a token and the blanks
        # before it take one match, not two; the token starts where its named group does.
        ws = lark.get_terminal("WS").pattern.to_regexp()
        self._skip = f"(?:{ws})?"
        cache: dict[int, tuple] = {}
        # state -> (compiled regexes, {keyword text: terminal} for NAME, terminals lark lists as allowed)
        self.lexers: dict[int, tuple] = {}
        for state, basic in lexer.lexers.items():
            entry = cache.get(id(basic))
            if entry is None:
                entry = cache[id(basic)] = self._lexer_entry(basic)
            self.lexers[state] = entry
        self.root = self._lexer_entry(lexer.root_lexer)

    def _lexer_entry(self, basic: Any) -> tuple:
        scanner = basic.scanner  # built lazily by lark
        keywords: dict[str, str] = {}
        for name, callback in basic.callback.items():
            inner = getattr(callback, "scanner", None)
            if inner is None:
                continue
            assert name == "NAME", name
            keywords.update({str(t.pattern.value): str(t.name) for t in inner.terminals})
        allowed = frozenset(str(t) for t in scanner.allowed_types - self.ignore)
        import re

        mres = tuple(re.compile(self._skip + "(?:" + mre.pattern + ")", mre.flags)
                     for mre in scanner._mres)
        return mres, keywords, allowed


def parse(text: str, tables: Tables, on_comment: Callable[[int, int, str, bool], None]) -> Any:
    """Parse ``text`` and return the value of the start rule; raise ParseFailure.

    ``on_comment(line, column, text, trailing)`` is called for every ``#`` comment.
    """
    actions = tables.actions
    lexers = tables.lexers
    ignore = tables.ignore
    end_state = tables.end
    state_stack = [tables.start]
    value_stack: list[Any] = []
    push_state = state_stack.append
    push_value = value_stack.append
    n = len(text)
    pos = 0
    line = 1
    line_start = 0  # offset of the current line's first character
    state = tables.start
    tok: Tok | None = None
    while pos < n:
        mres, keywords, allowed = lexers[state]
        m = mres[0].match(text, pos)
        if m is None and len(mres) > 1:  # pragma: no cover - no state has over 100 terminals
            for mre in mres[1:]:
                m = mre.match(text, pos)
                if m is not None:
                    break
        if m is None:
            raise _lex_failure(text, pos, line, line_start, tables, allowed)
        typ = m.lastgroup
        end = m.end()
        if typ in ignore:
            if typ == "COMMENT":
                on_comment(line, m.start(typ) - line_start + 1, m.group(typ), True)
            pos = end
            continue
        pos = m.start(typ)
        value = m.group(typ)
        if keywords and typ == "NAME":
            typ = keywords.get(value, typ)
        tok = _new_str(Tok, value)
        tok.type = typ
        tok.start_pos = pos
        tok.line = line
        tok.column = pos - line_start + 1
        if typ == "_NL":
            if "#" in value:
                _nl_comments(value, line, tok.column, on_comment)
            count = value.count("\n")
            if count:
                line += count
                line_start = pos + value.rindex("\n") + 1
        elif typ in tables.newline_types and "\n" in value:  # pragma: no cover - no such terminal
            line += value.count("\n")
            line_start = pos + value.rindex("\n") + 1
        tok.end_line = line
        tok.end_column = end - line_start + 1
        pos = end
        # feed the token: reduce as often as needed, then shift it
        while True:
            action = actions[state].get(typ)
            if action is None:
                raise ParseFailure(tok.start_pos, tok, _expected(actions[state]))
            if action[0]:
                state = action[1]
                push_state(state)
                push_value(tok)
                break
            size, callback, origin = action[1]
            if callback is None:  # a unit rule that hands back its child: only the state changes
                del state_stack[-1]
            elif size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
                push_value(callback(children))
            else:
                push_value(callback([]))
            state = actions[state_stack[-1]][origin][1]
            push_state(state)
    # the end of the input
    while True:
        action = actions[state].get("$END")
        if action is None:
            raise ParseFailure(n, None, _expected(actions[state]), at_end=True)
        if action[0]:  # pragma: no cover - lark never shifts $END
            raise AssertionError("shift of $END")
        size, callback, origin = action[1]
        if callback is None:
            del state_stack[-1]
        elif size:
            children = value_stack[-size:]
            del state_stack[-size:]
            del value_stack[-size:]
            push_value(callback(children))
        else:
            push_value(callback([]))
        state = actions[state_stack[-1]][origin][1]
        push_state(state)
        if state == end_state:
            return value_stack[-1]


def _streamline(callback: Any, size: int) -> Any:
    """Return ``callback`` without lark's child filter where the filter only drops tokens
    (``":"``, ``_NL``): a slice or a list of picks does the same with less work."""
    from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders

    if type(callback) is not ChildFilterLALR_NoPlaceholders:
        return callback
    if any(expand for _, expand in callback.to_include):
        return callback  # inlines a `_rule` or a repetition's children: keep lark's code
    keep = [i for i, _ in callback.to_include]
    build = callback.node_builder
    if keep == list(range(size)):
        return build
    if keep == list(range(keep[0], keep[0] + len(keep))) if keep else False:
        lo, hi = keep[0], keep[0] + len(keep)
        return lambda children: build(children[lo:hi])
    return lambda children: build([children[i] for i in keep])


def _expected(row: dict[str, tuple]) -> frozenset[str]:
    return frozenset(s for s in row if s.isupper())


def _nl_comments(value: str, line: int, column: int,
                 on_comment: Callable[[int, int, str, bool], None]) -> None:
    """Report the comments inside one separator run (`; # note` and full-line comments)."""
    for index, piece in enumerate(value.split("\n")):
        hash_at = piece.find("#")
        if hash_at >= 0:
            text = piece[hash_at:].rstrip("\r")
            if index == 0:  # `stmt; # note`: the comment shares the statement's line
                on_comment(line, column + hash_at, text, True)
            else:
                on_comment(line, hash_at + 1, text, False)
        line += 1


def _lex_failure(text: str, pos: int, line: int, line_start: int, tables: Tables,
                 allowed: frozenset[str]) -> ParseFailure:
    """No terminal of this state matches at ``pos``: say what the whole grammar would read there
    (lark's contextual lexer does the same, to name the token found)."""
    mres, keywords, _ = tables.root
    for mre in mres:
        m = mre.match(text, pos)
        if m is not None:
            value = m.group()
            typ = m.lastgroup
            if typ == "NAME":
                typ = keywords.get(value, typ)
            tok = _new_str(Tok, value)
            tok.type = typ
            tok.start_pos = pos
            tok.line = tok.end_line = line
            tok.column = pos - line_start + 1
            tok.end_column = m.end() - line_start + 1
            return ParseFailure(pos, tok, allowed)
    return ParseFailure(pos, None, allowed)
