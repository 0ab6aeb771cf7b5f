"""The parse driver against lark's own LALR loop: same trees (spans included) on valid input, and a
failure wherever lark fails (the driver only words failures better)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from vmspec.errors import SpecErrors
from vmspec.language import parse_text, print_spec
from vmspec.language.driver import Tok

from strategies import spec_files
from test_errors_golden import CASES, SLIPS, TOP_SLIPS

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p for p in [*ROOT.glob("specs/**/*.vms"), *(ROOT / "tests/language/data").glob("**/*.vms")])


class _Reference:
    """lark's tree-less callbacks onto the same ASTBuilder, with lark's tokens turned into the
    driver's token class (which the builder expects)."""

    def __init__(self, builder):
        self.builder = builder

    def __getattr__(self, name):
        method = getattr(type(self.builder), name, None)
        if method is None or name.startswith("_"):
            raise AttributeError(name)
        return lambda children: method(self.builder, [_tok(c) for c in children])


def _tok(item):
    from lark import Token

    if not isinstance(item, Token):
        return item
    tok = str.__new__(Tok, str(item))
    tok.type, tok.start_pos = item.type, item.start_pos
    tok.line, tok.column, tok.end_line, tok.end_column = item.line, item.column, item.end_line, item.end_column
    return tok


_LARK = []


def lark_parse(text: str, path: str):
    """Parse with lark's own loop and lexer (the reference); return the items or None on failure."""
    from lark import Lark
    from lark.exceptions import LarkError

    from vmspec.language.parser import grammar_text
    from vmspec.language.transform import ASTBuilder

    if not _LARK:
        builder = ASTBuilder()
        _LARK.append((Lark(grammar_text(), parser="lalr", lexer="contextual", transformer=_Reference(builder),
                           maybe_placeholders=False), builder))
    parser, builder = _LARK[0]
    builder.reset(path)
    try:
        return tuple(parser.parse(text))
    except LarkError:
        return None


def driver_parse(text: str, path: str):
    try:
        return parse_text(text, path).items
    except SpecErrors:
        return None


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_samples_parse_as_lark_parses_them(path):
    text = path.read_text(encoding="utf-8")
    assert driver_parse(text, "x.vms") == lark_parse(text, "x.vms")


@settings(max_examples=60)
@given(spec_files)
def test_printed_trees_parse_as_lark_parses_them(spec):
    text = print_spec(spec)
    assert driver_parse(text, "gen.vms") == lark_parse(text, "gen.vms")


BROKEN = [text for text, _ in CASES.values() if isinstance(text, str)] + \
    ['machine m { ram 1GiB }\nscenario "s" {\n    spawn p\n    ' + s + "\n}\n" for s in SLIPS] + TOP_SLIPS


@pytest.mark.parametrize("text", BROKEN)
def test_the_driver_fails_where_lark_fails(text):
    if lark_parse(text, "x.vms") is None:
        with pytest.raises(SpecErrors):
            parse_text(text, "x.vms")


def test_tables_compiled_by_the_installed_lark_parse_as_lark_parses():
    """CI also runs this file against the newest lark: the tables it compiles (not only the
    shipped ones) must drive the parser to lark's own trees."""
    from vmspec.language.driver import Tables, parse
    from vmspec.language.tables import compile_tables, grammar_text
    from vmspec.language.transform import ASTBuilder

    builder = ASTBuilder()
    tables = Tables(compile_tables(grammar_text()), builder)
    for path in SAMPLES:
        text = path.read_text(encoding="utf-8")
        builder.reset("x.vms")
        items = tuple(parse(text, tables, lambda *comment: None))
        assert items == lark_parse(text, "x.vms"), path
