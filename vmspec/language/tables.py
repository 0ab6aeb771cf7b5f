"""The parse tables the driver runs, compiled from the grammar by lark once and shipped as data.

lark compiles ``grammar/vms.lark`` into LALR(1) tables, one scanner per parser state (its
contextual lexer) and one callback chain per rule. That takes ~0.2 s, which every ``vmspec check``
would pay, so it is done when the grammar changes: ``python -m vmspec.language.tables`` writes
the result next to this module as plain JSON (``vms_tables.json``, shipped in the wheel): the
states and their actions, each state's regular expressions, keywords and accepted terminals, and
for each rule its length, its left-hand side, the ASTBuilder method lark would call and lark's
child filter. Reading it back needs neither lark nor pickle. The file records the fingerprint of
the grammar it was made from (length and CRC-32): if the grammar was edited without regenerating it, the tables are
compiled with lark in memory instead (slow, but right), and tests/language/test_tables.py fails
until the file is regenerated (``--check`` says whether it is up to date).

This is the only module that knows lark's internals (``frontend.parser.parser``, the scanners'
``_mres``, the callback wrappers of ``lark.parse_tree_builder``); CI checks it against the
newest lark too.
"""

from __future__ import annotations

import json
import sys
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

FORMAT = 1
DATA_FILE = "vms_tables.json"


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


def grammar_hash(text: str) -> str:
    """Return the grammar's fingerprint: its length and CRC-32 (a check for a stale file, not a
    defence: the test of the shipped file compares the tables themselves)."""
    data = text.encode("utf-8")
    return f"{len(data)}:{zlib.crc32(data):08x}"


def load_tables(text: str | None = None) -> dict[str, Any]:
    """Return the tables for the grammar ``text`` (default: the shipped grammar): the shipped
    file when it was made from this grammar, else freshly compiled with lark."""
    text = grammar_text() if text is None else text
    try:
        data = json.loads(resources.files("vmspec.language").joinpath(DATA_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        data = None
    if data is None or data.get("format") != FORMAT or data.get("grammar") != grammar_hash(text):
        data = compile_tables(text)
    return data


def compile_tables(text: str) -> dict[str, Any]:
    """Compile the grammar ``text`` with lark and flatten what the driver needs into JSON data."""
    import lark
    from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders, ExpandSingleChild
    from lark.parsers.lalr_analysis import Shift

    from vmspec.language.transform import ASTBuilder

    builder = ASTBuilder()
    parser = lark.Lark(text, parser="lalr", lexer="contextual", transformer=builder,
                       maybe_placeholders=False)
    frontend = parser.parser
    lalr = frontend.parser.parser
    table = lalr.parse_table

    # lark numbers states and rules in an order that depends on Python's string hashing; number
    # them canonically instead, so that the same grammar always gives the same file: states
    # breadth-first from the start state, symbols in sorted order, rules as first reduced.
    number = {table.start_states["start"]: 0}
    queue = [table.start_states["start"]]
    for state in queue:
        for sym in sorted(table.states[state], key=str):
            action, arg = table.states[state][sym]
            if action is Shift and arg not in number:
                number[arg] = len(number)
                queue.append(arg)
    if len(number) != len(table.states):
        raise ValueError("lark built states that the start state does not reach")

    rules: list[list] = []
    rule_index: dict[Any, int] = {}

    def describe(rule: Any) -> int:
        """Number ``rule`` and record its callback as data: lark's child filter, its
        ExpandSingleChild, and the ASTBuilder method (or the default tree of an inlined rule)."""
        if rule in rule_index:
            return rule_index[rule]
        callback = lalr.callbacks[rule]
        include = None
        if isinstance(callback, ChildFilterLALR_NoPlaceholders):
            include = [[i, bool(expand)] for i, expand in callback.to_include]
            callback = callback.node_builder
        expand1 = isinstance(callback, ExpandSingleChild)
        if expand1:
            callback = callback.node_builder
        origin = str(rule.origin.name)
        if getattr(callback, "__self__", None) is builder:
            name = callback.__name__  # an ASTBuilder method
        elif getattr(callback, "func", None) is not None and (
                origin.startswith("_") or (expand1 and include is None and len(rule.expansion) == 1)):
            # lark's default tree: of an inlined rule (spliced into its parent), or never built
            # (a `?rule` of one symbol hands back that child)
            name = None
        else:
            raise ValueError(f"lark built a callback the driver does not know for {rule}: "
                             f"{callback!r}")
        rule_index[rule] = len(rules)
        rules.append([len(rule.expansion), origin, name, expand1, include])
        return rule_index[rule]

    states = []
    for state in queue:
        row = table.states[state]
        states.append([number[state], [
            [str(sym), 1, number[arg]] if action is Shift else [str(sym), 0, describe(arg)]
            for sym, (action, arg) in sorted(row.items(), key=lambda item: str(item[0]))]])

    lexer = frontend.lexer
    ignore = sorted(str(t) for t in parser.lexer_conf.ignore)
    entries: list[list] = []
    seen: dict[int, int] = {}

    def entry(basic: Any) -> int:
        if id(basic) not in seen:
            scanner = basic.scanner  # built lazily by lark
            keywords: dict[str, str] = {}
            for name, cb in basic.callback.items():
                inner = getattr(cb, "scanner", None)
                if inner is not None:  # lark's UnlessCallback: keywords read as NAME
                    keywords.update({str(t.pattern.value): str(t.name) for t in inner.terminals})
            allowed = sorted(str(t) for t in scanner.allowed_types - set(ignore))
            patterns = [[mre.pattern, mre.flags] for mre in scanner._mres]
            seen[id(basic)] = len(entries)
            entries.append([patterns, keywords, allowed])
        return seen[id(basic)]

    state_lexer = [[number[state], entry(lexer.lexers[state])] for state in queue]
    root = entry(lexer.root_lexer)
    return {
        "format": FORMAT,
        "grammar": grammar_hash(text),
        "made_by": f"lark {lark.__version__}",
        "start": number[table.start_states["start"]],
        "end": number[table.end_states["start"]],
        "rules": rules,
        "states": states,
        "ignore": ignore,
        "newline_types": sorted(str(t) for t in lexer.root_lexer.newline_types),
        # keywords (`dontneed`): a match followed by more of a word is only the word's start
        "keyword_terms": sorted(str(t.name) for t in parser.terminals
                                if t.pattern.type == "str" and str(t.pattern.value).isidentifier()),
        "whitespace": parser.get_terminal("WS").pattern.to_regexp(),
        "lexers": entries,
        "state_lexer": state_lexer,
        "root_lexer": root,
    }


def dump(data: dict[str, Any]) -> str:
    """Return the JSON text of ``data`` as it is shipped (stable: sorted keys, one state a line)."""
    head = {k: v for k, v in data.items() if k not in ("rules", "states", "lexers", "state_lexer")}
    parts = [json.dumps(head, sort_keys=True)[:-1]]
    for key in ("rules", "states", "lexers", "state_lexer"):
        rows = ",\n".join(json.dumps(row, sort_keys=True) for row in data[key])
        parts.append(f', "{key}": [\n{rows}\n]')
    return "".join(parts) + "}\n"


def main(argv: list[str]) -> int:
    """Write the tables file from the grammar; with ``--check``, exit 1 if it is out of date."""
    target = Path(__file__).resolve().parent / DATA_FILE
    text = dump(compile_tables(grammar_text()))
    if argv[1:] == ["--check"]:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run python -m vmspec.language.tables", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
