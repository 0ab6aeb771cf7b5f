"""Golden tests: the exact text of every spec error a user can meet.

Each case's input is below; its expected text is ``golden/<case>.txt``. Regenerate them after an
intended change with `VMSPEC_REGEN_GOLDEN=1 python -m pytest tests/language/test_errors_golden.py`
and review the diff."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"

M = "machine m { ram 64MiB }\n"

CASES = {
    "size_without_unit": ("machine m { ram 64 }\n", {}),
    "unknown_unit": ("machine m { ram 64MBs }\n", {}),
    "number_too_large_ram": ("machine m { ram 5PiB }\n", {}),
    "number_too_large_64bit": (M + 'scenario "s" {\n    expect oom_kills == 18446744073709551616\n}\n', {}),
    "unknown_process": (M + 'scenario "s" {\n    spawn child\n    chlid: write stack\n}\n', {}),
    "unknown_region": (M + 'scenario "s" {\n    spawn p\n    p: buf = mmap 1MiB\n    p: write bfu\n}\n', {}),
    "unknown_machine": ("machine small { ram 64MiB }\nscenario \"s\" on smal { }\n", {}),
    "unknown_image": (M + 'image server { text 1MiB }\nscenario "s" {\n    spawn p image sever\n}\n', {}),
    "unknown_file": (M + 'file "data.bin" 1MiB\nscenario "s" {\n    spawn p\n    p: r = mmap 1MiB file "data.bn"\n}\n', {}),
    "size_vs_count": (M + 'scenario "s" {\n    spawn parent\n    expect rss(parent) == 256\n}\n', {}),
    "enomen": (M + 'scenario "s" {\n    spawn p\n    p: r = mmap 1MiB => ENOMEN\n}\n', {}),
    "unterminated_string": (M + 'scenario "s {\n}\n', {}),
    "unterminated_block": (M + 'scenario "s" {\n    spawn p\n', {}),
    "broken_expression": (M + 'scenario "s" {\n    expect ram == * 2\n}\n', {}),
    "no_machine": ('scenario "s" { }\n', {}),
    "several_machines": ("machine a { ram 64MiB }\nmachine b { ram 1GiB }\nscenario \"s\" { }\n", {}),
    "include_absolute": ('include "/etc/common.vms"\n', {}),
    "include_leaves_root": ('include "../outside.vms"\n', {}),
    "include_missing": ('include "nope.vms"\n', {}),
    "include_cycle": ('include "a.vms"\n', {"a.vms": 'include "spec.vms"\n'}),
    "replay_absolute": (M + 'scenario "s" {\n    spawn p\n    p: replay "/tmp/t.trace"\n}\n', {}),
    "replay_leaves_root": (M + 'scenario "s" {\n    spawn p\n    p: replay "../t.trace"\n}\n', {}),
    "replay_missing": (M + 'scenario "s" {\n    spawn p\n    p: replay "t.trace"\n}\n', {}),
    "not_utf8": (b"machine m { ram 64MiB }\n# caf\xe9\n", {}),
    "binary": (b"machine m {\x00 ram 64MiB }\n", {}),
    "page_size": ("machine m { ram 64MiB; page_size 2MiB }\nscenario \"s\" { }\n", {}),
    "duplicate_title": (M + 'scenario "s" { }\nscenario "s" { }\n', {}),
    "mistyped_step": (M + 'scenario "s" {\n    spwan p\n}\n', {}),
    "mistyped_setting": ('machine m { rma 64MiB }\n', {}),
    "expect_not_boolean": (M + 'scenario "s" {\n    spawn p\n    expect rss(p)\n}\n', {}),
    "process_used_before_spawn": (M + 'scenario "s" {\n    p: r = mmap 1MiB\n    spawn p\n}\n', {}),
}

def _steps(*lines: str) -> str:
    return M + 'scenario "s" {\n    spawn p\n' + "".join(f"    {line}\n" for line in lines) + "}\n"


# A user's plausible slips: each must be worded, located and hinted (no lark internals).
CASES.update({
    "missing_colon_after_process": (_steps("p r = mmap 1MiB"), {}),
    "mmap_without_size": (_steps("p: r = mmap"), {}),
    "mmap_option_instead_of_size": (_steps("p: r = mmap anon"), {}),
    "stride_without_size": (_steps("p: write stack stride"), {}),
    "stride_count": (_steps("p: write stack stride 64"), {}),
    "arrow_without_error": (_steps("p: write stack =>"), {}),
    "error_name_lowercase": (_steps("p: r = mmap 1MiB => enomem"), {}),
    "unbalanced_bracket": (_steps("p: write stack[0..4KiB"), {}),
    "range_outside_brackets": (_steps("p: write stack 0..4KiB"), {}),
    "percent_as_size": (_steps("p: r = mmap 50%"), {}),
    "duration_as_size": (_steps("p: r = mmap 10ms"), {}),
    "size_as_duration": ("machine m { ram 64MiB; latency memory 80KiB }\n", {}),
    "size_as_count": (_steps("repeat 3 pages { p: read stack }"), {}),
    "percent_as_count": ("machine m { ram 64MiB; swappiness 60% }\n", {}),
    "negative_size": (_steps("p: r = mmap -1MiB"), {}),
    "repeat_without_count": (_steps("repeat { p: read stack }"), {}),
    "scenario_without_title": (M + "scenario { }\n", {}),
    "scenario_title_unquoted": (M + "scenario s { }\n", {}),
    "machine_defined_twice": (M + M, {}),
    "extends_cycle": ("machine a extends b { ram 1GiB }\nmachine b extends a { ram 1GiB }\n"
                      'scenario "s" on a { }\n', {}),
    "extends_unknown": ("machine a extends bb { ram 1GiB }\nmachine b { ram 1GiB }\n"
                        'scenario "s" on a { }\n', {}),
    "image_segment_twice": (M + "image i { text 1MiB; text 2MiB }\n", {}),
    "tlb_ways_do_not_divide": ("machine m { ram 64MiB; tlb l1 64 entries 5-way }\n", {}),
    "tlb_level_typo": ("machine m { ram 64MiB; tlb l3 64 entries 4-way }\n", {}),
    "paging_6_level": ("machine m { ram 64MiB; paging 6-level }\n", {}),
    "thp_sometimes": ("machine m { ram 64MiB; thp sometimes }\n", {}),
    "string_bad_escape": (M + 'file "a\\qb" 1MiB\n', {}),
    "tab_indented": ("machine m {\n\tram 64\n}\n", {}),
    "crlf_line_ends": ("machine m {\r\n    ram 64\r\n}\r\n", {}),
    "bom_at_start": (b"\xef\xbb\xbfmachine m { ram 64 }\n", {}),
    "step_at_top_level": ("spawn p\n", {}),
    "closing_brace_too_many": (M + 'scenario "s" { }\n}\n', {}),
    "assignment_in_expect": (_steps("expect rss(p) = 1MiB"), {}),
    "chained_comparison": (_steps("expect 1 < 2 < 3"), {}),
    "arrow_after_expect": (_steps("expect ram > 0 => ENOMEM"), {}),
    "unclosed_parenthesis": (_steps("expect (rss(p) == 1MiB"), {}),
    "fork_without_as": (_steps("fork p c"), {}),
    "fork_unknown_parent": (_steps("fork q as c"), {}),
    "fork_child_exists": (_steps("spawn c", "fork p as c"), {}),
    "spawn_twice": (_steps("spawn p"), {}),
    "keyword_with_extra_letters": (_steps("p: madvise stack dontneeded"), {}),
    "prot_typo": (_steps("p: mprotect stack rwz"), {}),
    "fraction": ("machine m { ram 1.5GiB }\n", {}),
    "bad_hex": (_steps("p: r = mmap 0xZZ MiB"), {}),
    "unit_wrong_case": (_steps("p: r = mmap 4kb"), {}),
    "dash_in_name": (M + 'scenario "s" {\n    spawn my-proc\n}\n', {}),
    "unquoted_include": ("include common.vms\n", {}),
    "replay_into_unknown_region": (_steps('p: replay "t.trace" into bfu'), {"t.trace": "1\n"}),
    "invisible_character": (M + 'scenario "s" {\n    spawn\u00a0p\n}\n', {}),
    # issue 12: messages that blamed the wrong token or left out the likely fix
    "unclosed_parenthesis_after_zero": (_steps("expect (1 == 0"), {}),
    "repeats_nested_too_deep": (_steps("repeat 1 { " * 101 + "exit p" + " }" * 101), {}),
    "field_that_does_not_exist": (_steps("expect faults(p).cows == 0"), {}),
    "field_missing": (_steps("expect faults(p) == 0"), {}),
    "malloc_bytes_without_unit": (_steps("p: b = malloc 100"), {}),
    "quoted_word_in_expression": (_steps("p: b = mmap 1MiB", 'expect via(p.b) == "mmap"'), {}),
    "ratio_times_size": (_steps("expect swap_used <= 1% * ram"), {}),
    "reversed_range": (_steps("p: mprotect stack[3MiB..1MiB] r"), {}),
    "spawn_in_repeat": (_steps("repeat 2 { spawn q }"), {}),
    "range_in_size_observable": (_steps("p: b = mmap 1MiB", "expect size(p.b[0..4KiB]) == 4KiB"), {}),
    "fork_in_repeat": (_steps("repeat 1 { repeat 3 { fork p as c } }"), {}),
})

@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_error(name, spec_dir):
    from vmspec.errors import SpecErrors
    from vmspec.language import load

    text, extra = CASES[name]
    root = spec_dir({"root/spec.vms": text, **{f"root/{k}": v for k, v in extra.items()}}) / "root"
    os.chdir(root)
    with pytest.raises(SpecErrors) as info:
        load("spec.vms")
    rendered = info.value.render().replace(os.path.realpath(root), "ROOT") + "\n"
    expected = GOLDEN / f"{name}.txt"
    if os.environ.get("VMSPEC_REGEN_GOLDEN"):
        expected.write_text(rendered, encoding="utf-8")
    assert rendered == expected.read_text(encoding="utf-8")


def test_every_case_has_a_golden_text():
    assert set(CASES) == {path.stem for path in GOLDEN.glob("*.txt")}


# More slips, checked for form only: located, worded, no Python or lark internals.
SLIPS = [
    "p write stack", "p: brk", "p: brk +16", "p: access stack 100", "p: replay trace.txt",
    'p: replay "t" format csv', "spawn on", "p: r = mmap 1 MBs", "p: r = mmap 1mib",
    "expect", "expect rsss(p) == 1MiB", "set p oom_score 5", "set p oom_adj", "p: r = mmap rwxy",
    "p: r = mmap 1MiB rwxy", "p:: write stack", "* p", "p: write stack @", "spawn p\\",
    "spawn pé", "expect shared(p) == 0", "expect status(p) == 1", "p: r = mmap 99999999999999999999999 B",
    "repeat 2 {", "}", "p: write stack[..", "p: write stack[0..4KiB]]", "expect [p, ] == killed",
    "expect rss(p) == 1 MiB MiB", 'p: r = mmap 1MiB file', "p: r = mmap 1MiB hugetlb", "p: r = malloc",
    "p: munmap", "p: free", "fork", "exit", "drop_caches now", "p: mlock stack[0..4KiB]",
    'file "x"', "p: r = mmap 1MiB => ENOMEM => EINVAL",
]
TOP_SLIPS = [
    "machine m ram 64MiB\n", 'scenario "s" on { }\n', "machine m { ram 64MiB; paging five }\n",
    "machine m { ram 64MiB; overcommit sometimes }\n", "machine m { ram 1GiB; hugepages 2MiB 16 }\n",
    "machine m { ram 64MiB; latency memory 80 }\n", 'scenario "s" seed abc { }\n', "image i { txt 1MiB }\n",
    'invariant "x" swap_used == 0\n', "invariant swap_used == 0\n", "$\n", "machin m { }\n",
    'scenario "s\n" { }\n', 'include "a\\nb.vms"\n', "machine { ram 1GiB }\n", "machine m extends { }\n",
]
_INTERNALS = re.compile(r"__ANON|\bRULE\b|\b(NAME|NUMBER|SIZE|DURATION|PERCENT|STRING|LBRACE|RBRACE|"
                        r"COLON|_NL|\$END|Traceback|Token|lark)\b")


@pytest.mark.parametrize("text", [M + 'scenario "s" {\n    spawn p\n    ' + s + "\n}\n" for s in SLIPS]
                         + [M + t for t in TOP_SLIPS])
def test_slips_are_worded_and_located(text, spec_dir):
    from vmspec.errors import SpecErrors
    from vmspec.language import load

    spec_dir({"spec.vms": text})
    with pytest.raises(SpecErrors) as info:
        load("spec.vms")
    for err in info.value.errors:
        rendered = err.render()
        assert re.match(r"spec\.vms:\d+:\d+: error: ", rendered), rendered
        assert not _INTERNALS.search(err.message + (err.hint or "")), rendered
        assert err.source is not None and "^" in rendered, rendered
