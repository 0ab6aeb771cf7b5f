"""The printer: canonical text, parse(print(tree)) == tree up to spans, and fmt keeps comments."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from vmspec.errors import SpecErrors
from vmspec.language import format_text, parse_text, print_spec
from vmspec.language.format import same_tree

from strategies import spec_files

DATA = Path(__file__).parent / "data"


@given(spec_files)
def test_parse_of_print_is_identity(spec):
    text = print_spec(spec)
    again = parse_text(text, "gen.vms")
    assert same_tree(again, spec), text
    assert format_text(text, "gen.vms") == text


@pytest.mark.parametrize("name", ["language_example.vms", "all_forms.vms", "lib/common.vms"])
def test_samples_round_trip_and_fmt_is_idempotent(name):
    text = (DATA / name).read_text()
    spec = parse_text(text, name)
    assert same_tree(parse_text(print_spec(spec), name), spec)
    once = format_text(text, name)
    assert format_text(once, name) == once
    assert [ln.strip() for ln in text.splitlines() if ln.strip().startswith("#")] == \
        [ln.strip() for ln in once.splitlines() if ln.strip().startswith("#")]


def test_print_language_example():
    spec = parse_text((DATA / "language_example.vms").read_text(), "x.vms")
    assert print_spec(spec).startswith("machine small {\n    ram 64MiB\n    swap 0\n}\n\nscenario ")


def test_parentheses_only_where_needed():
    spec = parse_text('scenario "s" { expect (1 - (2 - 3)) * (4 + 5) == -(-6) and not (a or b) }', "x")
    assert print_spec(spec).splitlines()[1] == "    expect (1 - (2 - 3)) * (4 + 5) == --6 and not (a or b)"


FORMAT_IN = """\
# header

include "x.vms"  # why
machine small { ram 64MiB; swap 0 }  # tiny
scenario "t" on small {  # opener
    spawn a  # spawn it
    # about mmap
    a: buf = mmap 1MiB; a: write buf
    repeat 3 {
        a: read buf
        # inner end
    } # closing


    expect (rss(a) == 1MiB)   # exp
    # last in block
}
# trailing file comment
"""
FORMAT_OUT = """\
# header

include "x.vms"  # why

machine small {  # tiny
    ram 64MiB
    swap 0
}

scenario "t" on small {  # opener
    spawn a  # spawn it
    # about mmap
    a: buf = mmap 1MiB
    a: write buf
    repeat 3 {
        a: read buf
        # inner end
    }  # closing

    expect rss(a) == 1MiB  # exp
    # last in block
}
# trailing file comment
"""


def test_format_text_keeps_comments_and_single_blank_lines():
    assert format_text(FORMAT_IN, "f.vms") == FORMAT_OUT
    assert format_text(FORMAT_OUT, "f.vms") == FORMAT_OUT


def test_format_text_raises_spec_errors_on_bad_input():
    with pytest.raises(SpecErrors):
        format_text("machine {", "bad.vms")
