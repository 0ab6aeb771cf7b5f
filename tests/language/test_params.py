"""Parametrised scenarios: `for NAME in ...` after the title, `$NAME` where a value goes."""

from __future__ import annotations

import pytest

from vmspec.errors import SpecErrors
from vmspec.language import format_text, load, parse_text
from vmspec.language import ast

MACHINE = "machine m { ram 64MiB; swap 16MiB }\n"


def loaded(spec_dir, body: str):
    spec_dir({"spec.vms": MACHINE + body})
    return load("spec.vms")


def errors_of(spec_dir, body: str) -> list[str]:
    spec_dir({"spec.vms": MACHINE + body})
    with pytest.raises(SpecErrors) as info:
        load("spec.vms")
    return [e.render().split("\n")[0] for e in info.value.errors]


def test_one_instance_per_combination_first_for_slowest(spec_dir):
    program = loaded(spec_dir, 'scenario "t" for n in 1 to 3 for policy in [fifo, lru] {\n'
                               "  machine extends m { replacement $policy }\n"
                               "  spawn p memory_max $n pages\n}\n")
    titles = [r.scenario.title for r in program.scenarios]
    assert titles == [f"t[n={n}, policy={p}]" for n in (1, 2, 3) for p in ("fifo", "lru")]
    first = program.scenarios[0]
    assert first.params == (("n", "1"), ("policy", "fifo")) and first.template == "t"
    replacement = [s for s in first.machine.settings if s.name == "replacement"]
    assert replacement[0].word == "fifo"
    spawn = first.scenario.steps[0]
    assert (spawn.memory_max.amount, spawn.memory_max.unit) == (1, "pages")
    assert program.scenarios[-1].scenario.steps[0].memory_max.amount == 3


def test_values_reach_sizes_counts_ranges_and_expressions(spec_dir):
    program = loaded(spec_dir, 'scenario "t" on m for size in 1MiB to 3MiB by 1MiB for k in [0x2, 5] {\n'
                               "  spawn p\n  p: r = mmap $size\n  repeat $k { p: read r[0..$k pages] }\n"
                               "  p: access r random $k\n  expect rss(p) <= $size and faults(p).minor <= $k\n}\n")
    assert len(program.scenarios) == 6
    last = program.scenarios[-1]
    assert last.scenario.title == "t[size=3MiB, k=5]"
    mmap, repeat, random, expect = last.scenario.steps[1:]
    assert (mmap.size.amount, mmap.size.unit) == (3, "MiB")
    assert repeat.count == 5 and random.count == 5
    assert (repeat.body[0].range.end.amount, repeat.body[0].range.end.unit) == (5, "pages")
    assert isinstance(expect.expr.left.right, ast.SizeLit) and expect.expr.right.right.value == 5


def test_pages_range_takes_the_unit_of_its_end(spec_dir):
    program = loaded(spec_dir, 'scenario "t" on m for mem in 1 to 4 pages by 2 { spawn p memory_max $mem }\n')
    assert [r.scenario.title for r in program.scenarios] == ["t[mem=1 pages]", "t[mem=3 pages]"]


def test_static_checks_apply_to_each_instance(spec_dir):
    # a count where the expression needs a size: the kind check sees the substituted value
    errors = errors_of(spec_dir, 'scenario "t" on m for n in [1, 2] { spawn p\n expect rss(p) == $n }\n')
    assert len(errors) == 1 and "Expected a Size but got" in errors[0]


@pytest.mark.parametrize("body, message", [
    ('scenario "t" on m for n in [1] { spawn p memory_max $x pages }\n',
     "unknown parameter `$x` (this scenario declares: n)"),
    ('scenario "t" on m { spawn p memory_max $x pages }\n', "unknown parameter `$x`"),
    ('invariant "i": rss(p) <= $n\nscenario "t" on m { spawn p }\n', "`$n` is used outside a parametrised scenario"),
    ('scenario "t" on m for n in [1] { spawn p memory_max $n }\n', "`$n` is 1 here, and a size needs a unit"),
    ('scenario "t" on m for n in [1MiB] { spawn p memory_max $n pages }\n', "`$n pages` needs a plain number"),
    ('scenario "t" for n in [fifo, often] { machine extends m { replacement $n } }\n',
     "`$n` is often here, and replacement takes twolist, lru, fifo, clock, random"),
    ('scenario "t" on m for n in [1MiB] { repeat $n { spawn p } }\n', "`$n` is 1MiB here, and a count is a plain number"),
    ('scenario "t" on m for n in 5 to 1 { spawn p }\n', "the range of parameter `n` is empty"),
    ('scenario "t" on m for n in 1 to 100000 { spawn p }\n', "parameter `n` takes 100,000 values, more than 10,000"),
    ('scenario "t" on m for n in 1MiB to 4KiB { spawn p }\n', "mixes units"),
    ('scenario "t" on m for n in 1 to 3 by 0 { spawn p }\n', "the step of parameter `n` must be at least 1"),
    ('scenario "t" on m for n in [1] for n in [2] { spawn p }\n', "given twice"),
    ('scenario "t" on m for a in 1 to 200 for b in 1 to 200 { spawn p }\n', "would run 40,000 instances"),
])
def test_errors_name_the_parameter(spec_dir, body, message):
    errors = errors_of(spec_dir, body)
    assert any(message in e for e in errors), errors


def test_printer_keeps_the_forms():
    text = ('scenario "t" for n in 1 to 8 by 0x2 for p in [fifo, lru] for s in [4KiB, 3 pages] {\n'
            "    machine {\n        ram 64MiB\n        replacement $p\n        swappiness $n\n    }\n"
            "    spawn q memory_max $n pages\n    q: r = mmap $s\n    q: read r[$n..$n pages] stride $s\n"
            "    expect faults(q).minor <= $n * 2\n}\n")
    assert format_text(text, "x.vms") == text
    assert parse_text(text, "x.vms").items[0].params[0].by.value == 2


def test_existing_forms_do_not_change():
    # `for`, `to`, `by` are keywords only after a scenario's title: still names everywhere else
    tree = parse_text('scenario "t" { spawn for\n for: to = mmap 1MiB\n for: write to\n'
                      ' expect rss(for) == 1MiB }\n', "x.vms")
    assert tree.items[0].params == () and tree.items[0].steps[1].region == "to"
