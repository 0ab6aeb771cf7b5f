"""The parse tables shipped with vmspec (vmspec/language/vms_tables.json) are what lark makes of
the grammar, a run uses them without importing lark, and a grammar edited without regenerating
them is compiled in memory instead."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import lark

from vmspec.language.tables import (DATA_FILE, compile_tables, dump, grammar_hash, grammar_text,
                                    load_tables)


def shipped_text() -> str:
    return resources.files("vmspec.language").joinpath(DATA_FILE).read_text("utf-8")


def test_shipped_tables_are_what_lark_makes_of_the_grammar():
    """Regenerate with `python -m vmspec.language.tables` when this fails."""
    made_by = json.loads(shipped_text())["made_by"]
    assert dump(compile_tables(grammar_text())) == shipped_text(), (
        f"{DATA_FILE} (made by {made_by}) is out of date for this grammar and lark "
        f"{lark.__version__}: run python -m vmspec.language.tables")


def test_compiling_is_deterministic_whatever_the_hash_seed():
    """lark numbers states in hash order; the file numbers them canonically."""
    script = ("from vmspec.language.tables import compile_tables, dump, grammar_text;"
              "print(dump(compile_tables(grammar_text())), end='')")
    outs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")}
    assert outs == {shipped_text()}


def test_a_check_does_not_import_lark():
    script = ("import sys; from vmspec.language import parse_text;"
              "parse_text('machine m { ram 64MiB }\\n', 'x.vms');"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lark'))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_shipped_tables_are_used_for_the_shipped_grammar():
    data = load_tables()
    assert data["grammar"] == grammar_hash(grammar_text())
    assert dump(data) == shipped_text()


def test_an_edited_grammar_is_compiled_in_memory():
    edited = grammar_text() + "\n// edited after the tables were made\n"
    data = load_tables(edited)
    assert data["grammar"] == grammar_hash(edited) != grammar_hash(grammar_text())
    assert data["states"] == load_tables()["states"]  # a comment changes no table
