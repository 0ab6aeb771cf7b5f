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

machine small { ram 64MiB; swap 0 }  # tiny

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


def test_fmt_keeps_a_short_block_written_on_one_line():
    """`machine small { ram 64MiB; swap 0 }` (the README's style) stayed split over four lines."""
    text = ('machine small { ram 64MiB; swap 0 }\nimage i { text 1MiB }\n'
            'scenario "one" on small { spawn p; repeat 2 {p: r = mmap 4KiB ;exit p} }\n'
            'scenario "empty" on small {}\n'
            'scenario "long" on small { spawn p; p: b = mmap 1MiB; p: write b; p: read b; expect rss(p) == 1MiB; exit p }\n'
            'scenario "split" {\n    machine { ram 1GiB }\n    repeat 2 { exit p }\n}\n')
    assert format_text(text, "f.vms") == (
        "machine small { ram 64MiB; swap 0 }\n\nimage i { text 1MiB }\n\n"
        'scenario "one" on small { spawn p; repeat 2 { p: r = mmap 4KiB; exit p } }\n\n'
        'scenario "empty" on small { }\n\n'
        'scenario "long" on small {\n    spawn p\n    p: b = mmap 1MiB\n    p: write b\n    p: read b\n'
        "    expect rss(p) == 1MiB\n    exit p\n}\n\n"  # 106 characters on one line: split
        'scenario "split" {\n    machine { ram 1GiB }\n    repeat 2 { exit p }\n}\n')


def test_fmt_keeps_arithmetic_in_machine_settings():
    text = "machine m {\n    ram 1GiB - 4 * 64MiB\n    kernel (1MiB - 6 pages)\n}\n"
    assert format_text(text, "f.vms") == "machine m {\n    ram 1GiB - 4 * 64MiB\n    kernel 1MiB - 6 pages\n}\n"


def test_format_text_raises_spec_errors_on_bad_input():
    with pytest.raises(SpecErrors):
        format_text("machine {", "bad.vms")


SPELLED_IN = """\
machine m { ram 0x4000_0000 B; swappiness 0x3c; hugepages 2MiB x 0x10; tlb l1 0x40 entries 4-way }
scenario "s" seed 0xdead {
    spawn p oom_score_adj -0x10 oom_adj 0_3
    p: b = mmap 1_000 pages
    p: write b[0x1000..0x2_000] stride 0x1000 B
    p: access b random 1_000_000 seed 0x7
    set p oom_adj -1_0
    repeat 1_0 {
        expect rss(p) == 0x10MiB and faults(p).minor > 1_000 and time(p) < 0x1ams and tlb(p).hit_rate > 5_0%
    }
}
"""
SPELLED_OUT = """\
machine m { ram 0x4000_0000 B; swappiness 0x3c; hugepages 2MiB x 0x10; tlb l1 0x40 entries 4-way }

scenario "s" seed 0xdead {
    spawn p oom_score_adj -0x10 oom_adj 0_3
    p: b = mmap 1_000 pages
    p: write b[0x1000..0x2_000] stride 0x1000 B
    p: access b random 1_000_000 seed 0x7
    set p oom_adj -1_0
    repeat 1_0 {
        expect rss(p) == 0x10MiB and faults(p).minor > 1_000 and time(p) < 0x1ams and tlb(p).hit_rate > 5_0%
    }
}
"""


def test_fmt_keeps_how_integers_were_written():
    assert format_text(SPELLED_IN, "n.vms") == SPELLED_OUT
    spec = parse_text(SPELLED_IN, "n.vms")
    assert spec.items[0].settings[0].size.amount == 1 << 30
    assert spec.items[1].steps[0].oom_score_adj == -16


def test_a_spelling_that_does_not_match_its_value_prints_in_decimal():
    spec = parse_text("machine m { ram 0x400 MiB }", "n.vms")
    ram = spec.items[0].settings[0].size
    changed = ram.model_copy(update={"amount": 2048})
    from vmspec.language.printer import size_text

    assert size_text(ram) == "0x400MiB"
    assert size_text(changed) == "2048MiB"
