"""Run lark's LALR(1) tables over .vms text with a tight contextual lexer of our own.

lark compiles ``grammar/vms.lark`` (once, shipped as data: :mod:`vmspec.language.tables`) into
parse tables, per-state scanners (the contextual lexer: in each parser state only the terminals
that state accepts are tried) and rule callbacks (its tree-less mode, which call
:class:`~vmspec.language.transform.ASTBuilder`). This module drives those same tables, scanners
and callbacks in one loop, without importing lark: lark's generic
``LexerThread``/``feed_token`` machinery costs several microseconds a token, this loop about one.
On valid input the behaviour is lark's, token for token: the same regular expressions in the same
order, a keyword read as a name where the state accepts a name (lark's ``UnlessCallback``), the same
reductions. Unit reductions whose callback would only hand back their single child are skipped.
On invalid input it says more than lark would, for :mod:`~vmspec.language.diagnostics` to put into
words: the terminals that could really come next (each tried against the parser stack from before
the offending token, since LALR's merged lookaheads over-promise), the whole word where a keyword
matched only its start (``dontneeded``), and the whole quantity where a state that wants a number
met a size, duration or percentage (``repeat 3 pages``). There is no Linux counterpart.
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
    grammar matches there), the terminal names that could have come instead, and the token before."""

    offset: int
    token: Tok | None
    expected: frozenset[str]
    at_end: bool = False
    previous: Tok | None = None


class _Tree:
    """The value of a rule that lark inlines into its parent (``_rule``, a repetition): its
    children, which the parent's filter splices in (lark builds a ``Tree`` there)."""

    __slots__ = ("children",)

    def __init__(self, children: list) -> None:
        self.children = children


class _Lexers(dict):
    """state -> (regexes, keywords, allowed terminals, quantities), compiled on first use: a file
    visits few of the grammar's states, and compiling every scanner would cost most of start-up."""

    def __init__(self, tables: Tables, state_lexer: dict[int, int]) -> None:
        super().__init__()
        self._tables, self._state_lexer, self._built = tables, state_lexer, {}

    def __missing__(self, state: int) -> tuple:
        index = self._state_lexer[state]
        entry = self._built.get(index)
        if entry is None:
            entry = self._built[index] = self._tables.lexer_entry(index)
        self[state] = entry
        return entry


class Tables:
    """The grammar's compiled tables (:mod:`vmspec.language.tables`) in the shapes :func:`parse`
    reads, with each rule's callback bound to ``builder``."""

    def __init__(self, data: dict[str, Any], builder: Any) -> None:
        self.start = data["start"]
        self.end = data["end"]
        rules = []
        for size, origin, name, expand1, include in data["rules"]:
            identity = expand1 and include is None and size == 1  # hands back its one child
            rules.append((size, None if identity else _callback(builder, size, name, expand1, include),
                          origin))
        # state -> {symbol: (True, next state) | (False, (size, callback or None, origin))}
        self.actions: dict[int, dict[str, tuple]] = {
            state: {sym: (True, arg) if shift else (False, rules[arg]) for sym, shift, arg in row}
            for state, row in data["states"]}
        self.terminals = frozenset(sym for row in self.actions.values() for sym in row
                                   if sym.isupper() or sym == "$END")
        # keywords (`dontneed`): a match followed by more of a word is only the word's start
        self.keyword_terms = frozenset(data["keyword_terms"])
        self.ignore = frozenset(data["ignore"])
        self.newline_types = frozenset(data["newline_types"])
        # Every state's scanner first skips blanks (lark's ignored WS), so a token and the blanks
        # before it take one match, not two; the token starts where its named group does.
        self._skip = f"(?:{data['whitespace']})?"
        self._entries = data["lexers"]
        self.lexers = _Lexers(self, dict(data["state_lexer"]))
        self._root_index = data["root_lexer"]
        self._root: tuple | None = None

    @property
    def root(self) -> tuple:
        """The whole grammar's scanner (to name what was found where a state's scanner failed)."""
        if self._root is None:
            self._root = self.lexer_entry(self._root_index)
        return self._root

    def lexer_entry(self, index: int) -> tuple:
        """Compile scanner ``index``: (regexes, {keyword text: terminal} for NAME, allowed
        terminals, whether a number there may be the start of a quantity)."""
        import re

        patterns, keywords, allowed = self._entries[index]
        mres = tuple(re.compile(self._skip + "(?:" + pattern + ")", flags) for pattern, flags in patterns)
        allowed = frozenset(allowed)
        # a state that reads NUMBER but not every quantity: `3 pages` there is a size, not 3
        quantities = "NUMBER" in allowed and not {"SIZE", "DURATION", "PERCENT"} <= allowed
        return mres, keywords, allowed, quantities


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
    keyword_terms = tables.keyword_terms
    is_end = False
    before: list[int] = []
    while True:
        if pos < n:  # read the next token (blanks and comments are skipped here)
            mres, keywords, allowed, quantities = lexers[state]
            m = mres[0].match(text, pos)
            if m is None and len(mres) > 1:  # pragma: no cover - no state has over 100 terminals
                for mre in mres[1:]:
                    m = mre.match(text, pos)
                    if m is not None:
                        break
            if m is None:
                raise _lex_failure(text, pos, line, line_start, tables, state_stack, value_stack)
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
            elif (typ in keyword_terms and _continues_word(text[end:end + 1])) or (
                    quantities and typ == "NUMBER" and _unit_may_follow(text, end)):
                failure = _longer_token(text, pos, end, line, line_start, tables, state_stack, value_stack)
                if failure is not None:
                    raise failure
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
        else:  # the end of the input: feed $END
            typ, is_end = "$END", True
            before = state_stack[:]
        # feed(token, is_end), as lark's ParserState.feed_token: reduce as often as the token
        # asks, then shift it; at the end, reduce until the start rule is accepted
        while True:
            action = actions[state].get(typ)
            if action is None:
                if is_end:
                    raise ParseFailure(n, None, viable(tables, before), at_end=True,
                                       previous=_last_token(value_stack))
                # (the stack from before this token's reductions is re-derived)
                stack = _states_before(text, tables, tok.start_pos)
                raise ParseFailure(tok.start_pos, tok, viable(tables, stack),
                                   previous=_last_token(value_stack))
            if action[0]:
                if is_end:  # pragma: no cover - lark never shifts $END
                    raise AssertionError("shift of $END")
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
            if is_end and state == end_state:
                return value_stack[-1]


def _callback(builder: Any, size: int, name: str | None, expand1: bool,
              include: list | None) -> Callable[[list], Any]:
    """Return the callback lark would run for a rule: ``builder``'s method ``name`` (an inlined
    rule without one: a :class:`_Tree`), behind lark's ``ExpandSingleChild`` when ``expand1`` (a
    ``?rule`` with one child is that child) and its child filter when ``include`` lists the
    children kept (index, spliced-in); a filter that only drops tokens becomes a slice."""
    build = getattr(builder, name) if name is not None else _Tree
    if expand1:
        inner = build

        def build(children: list) -> Any:
            return children[0] if len(children) == 1 else inner(children)
    if include is None:
        return build
    if any(expand for _, expand in include):
        def filtered(children: list) -> Any:  # lark's ChildFilterLALR_NoPlaceholders
            out: list = []
            for i, expand in include:
                if not expand:
                    out.append(children[i])
                elif out:
                    out += children[i].children
                else:
                    out = children[i].children
            return build(out)
        return filtered
    keep = [i for i, _ in include]
    if keep == list(range(size)):
        return build
    if keep and keep == list(range(keep[0], keep[0] + len(keep))):
        lo, hi = keep[0], keep[0] + len(keep)
        return lambda children: build(children[lo:hi])
    return lambda children: build([children[i] for i in keep])


def viable(tables: Tables, stack: list[int]) -> frozenset[str]:
    """Return the terminals that the parser, with ``stack``, would shift (or accept at the end).

    Each trial reduces on a copy of the stack's top only (``stack`` may be 100,000 deep)."""
    actions = tables.actions
    found = set()
    for terminal in tables.terminals:
        depth = len(stack)  # stack[:depth] plus `top` is the trial's stack
        top: list[int] = []
        while True:
            action = actions[top[-1] if top else stack[depth - 1]].get(terminal)
            if action is None:
                break
            if action[0]:
                found.add(terminal)
                break
            size, _, origin = action[1]
            for _ in range(size):
                if top:
                    top.pop()
                else:
                    depth -= 1
            top.append(actions[top[-1] if top else stack[depth - 1]][origin][1])
            if terminal == "$END" and top[-1] == tables.end:
                found.add(terminal)
                break
    return frozenset(found)


def _states_before(text: str, tables: Tables, offset: int) -> list[int]:
    """Re-run the parser over ``text``, states only, and return its stack just before the token
    at ``offset`` is fed: LALR may reduce on a token it then rejects, and what could have come
    instead is a question about the stack from before those reductions. Only failures pay this."""
    actions = tables.actions
    lexers = tables.lexers
    stack = [tables.start]
    pos = 0
    while pos < offset:
        m = None
        for mre in lexers[stack[-1]][0]:
            m = mre.match(text, pos)
            if m is not None:
                break
        if m is None:  # pragma: no cover - the text before `offset` was read once already
            break
        typ = m.lastgroup
        if m.start(typ) >= offset:
            break
        pos = m.end()
        if typ in tables.ignore:
            continue
        keywords = lexers[stack[-1]][1]
        if keywords and typ == "NAME":
            typ = keywords.get(m.group(typ), typ)
        while True:
            action = actions[stack[-1]].get(typ)
            if action is None:  # pragma: no cover - as above
                return stack
            if action[0]:
                stack.append(action[1])
                break
            size, _, origin = action[1]
            if size:
                del stack[-size:]
            stack.append(actions[stack[-1]][origin][1])
    return stack


def _continues_word(ch: str) -> bool:
    """Tell whether ``ch`` would continue a word (a letter or ``_``; a digit does not, so that
    `hugepages 2MiB x16` still reads as lark always read it)."""
    return ch.isalpha() or ch == "_"


def _unit_may_follow(text: str, end: int) -> bool:
    """Tell whether a unit or `%` may follow the number that ends at ``end``."""
    ch = text[end:end + 1]
    if ch in (" ", "\t"):
        ch = text[end:end + 16].lstrip(" \t")[:1]
    return ch.isalpha() or ch == "%"


def _last_token(values: list[Any]) -> Tok | None:
    """Return the token just before the failure, if the top of the value stack is one."""
    return values[-1] if values and isinstance(values[-1], Tok) else None


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


def _root_token(text: str, pos: int, line: int, line_start: int, tables: Tables) -> Tok | None:
    """Return the token that the whole grammar's lexer reads at ``pos`` (None: none does)."""
    mres, keywords, _, _ = tables.root
    for mre in mres:
        m = mre.match(text, pos)
        if m is not None:
            typ = m.lastgroup
            value = m.group(typ)
            start = m.start(typ)
            if typ == "NAME":
                typ = keywords.get(value, typ)
            tok = _new_str(Tok, value)
            tok.type = typ
            tok.start_pos = start
            tok.line = tok.end_line = line
            tok.column = tok.start_pos - line_start + 1
            tok.end_column = m.end() - line_start + 1
            return tok
    return None


def _lex_failure(text: str, pos: int, line: int, line_start: int, tables: Tables,
                 state_stack: list[int], value_stack: list[Any]) -> ParseFailure:
    """No terminal of this state matches at ``pos``: say what the whole grammar would read there
    (lark's contextual lexer does the same, to name the token found)."""
    tok = _root_token(text, pos, line, line_start, tables)
    return ParseFailure(pos if tok is None else tok.start_pos, tok, viable(tables, state_stack),
                        previous=_last_token(value_stack))


def _longer_token(text: str, pos: int, end: int, line: int, line_start: int, tables: Tables,
                  state_stack: list[int], value_stack: list[Any]) -> ParseFailure | None:
    """Return a failure if the state's match at ``pos`` is only the start of a longer token that
    the state does not accept (`dontneed` of `dontneeded`, `3` of `3 pages`), else None."""
    tok = _root_token(text, pos, line, line_start, tables)
    if tok is None or tok.start_pos + len(tok) <= end or tok.type == "NUMBER":
        return None
    expected = viable(tables, state_stack)
    if tok.type in expected:  # pragma: no cover - the state's own scanner would have read it
        return None
    return ParseFailure(pos, tok, expected, previous=_last_token(value_stack))
