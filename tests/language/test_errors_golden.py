"""Golden tests: the exact text of every spec error a user can meet."""

from __future__ import annotations

import re

import pytest

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
})

GOLDEN = {
    'size_without_unit': (
        'spec.vms:1:17: error: a size needs a unit: write 64MiB or 16 pages\n'
        '    machine m { ram 64 }\n'
        '                    ^^\n'
        '  hint: write 64KiB, 64MiB or 64 pages'
    ),
    'unknown_unit': (
        'spec.vms:1:19: error: unknown unit `MBs`; use B, KiB, MiB, GiB, TiB, PiB, KB, MB, GB, TB or pages\n'
        '    machine m { ram 64MBs }\n'
        '                      ^^^\n'
        '  hint: write 64MiB or 64 pages'
    ),
    'number_too_large_ram': (
        'spec.vms:1:17: error: number too large: ram 5PiB is above 4PiB, the most 5-level paging can address\n'
        '    machine m { ram 5PiB }\n'
        '                    ^^^^\n'
        '  hint: use at most 4PiB of RAM'
    ),
    'number_too_large_64bit': (
        'spec.vms:3:25: error: number too large: every value must fit in 64 bits\n'
        '        expect oom_kills == 18446744073709551616\n'
        '                            ^^^^^^^^^^^^^^^^^^^^'
    ),
    'unknown_process': (
        'spec.vms:4:5: error: unknown process `chlid`; did you mean child?\n'
        '        chlid: write stack\n'
        '        ^^^^^\n'
        '  hint: a step may name only processes that a spawn or fork earlier in the scenario creates'
    ),
    'unknown_region': (
        'spec.vms:5:14: error: process `p` has no region `bfu`; did you mean buf?\n'
        '        p: write bfu\n'
        '                 ^^^\n'
        "  hint: regions come from mmap and malloc steps, or are text, data, bss, heap, stack or a lib of the process's image"
    ),
    'unknown_machine': (
        'spec.vms:2:17: error: machine `smal` is not defined; did you mean small?\n'
        '    scenario "s" on smal { }\n'
        '                    ^^^^\n'
        '  hint: define it with `machine NAME { ram 1GiB }`, or include the file that does'
    ),
    'unknown_image': (
        'spec.vms:4:19: error: image `sever` is not defined; did you mean server?\n'
        '        spawn p image sever\n'
        '                      ^^^^^\n'
        '  hint: define it with `image NAME { text 1MiB }`, or include it'
    ),
    'unknown_file': (
        'spec.vms:5:27: error: file "data.bn" is not declared; did you mean data.bin?\n'
        '        p: r = mmap 1MiB file "data.bn"\n'
        '                              ^^^^^^^^^\n'
        '  hint: declare it first with `file "data.bn" SIZE`'
    ),
    'size_vs_count': (
        'spec.vms:4:12: error: Expected a Size but got rss(parent) == 256 (a Count); write 256 pages or 256KiB\n'
        '        expect rss(parent) == 256\n'
        '               ^^^^^^^^^^^^^^^^^^'
    ),
    'enomen': (
        'spec.vms:4:25: error: unknown failure `ENOMEN` after =>; did you mean ENOMEM?\n'
        '        p: r = mmap 1MiB => ENOMEN\n'
        '                            ^^^^^^\n'
        '  hint: a step may end with => ENOMEM, EINVAL, SIGSEGV, SIGBUS or OOM'
    ),
    'unterminated_string': (
        'spec.vms:2:10: error: unterminated string\n'
        '    scenario "s {\n'
        '             ^\n'
        '  hint: close it with " on the same line (a string cannot hold a newline)'
    ),
    'unterminated_block': (
        'spec.vms:2:14: error: unterminated block: `{` opened here is never closed\n'
        '    scenario "s" {\n'
        '                 ^\n'
        '  hint: add the matching `}`'
    ),
    'broken_expression': (
        'spec.vms:3:19: error: expected an expression, found `*`\n'
        '        expect ram == * 2\n'
        '                      ^'
    ),
    'no_machine': (
        'spec.vms:1:1: error: scenario "s" has no machine: none is in scope\n'
        '    scenario "s" { }\n'
        '    ^^^^^^^^^^^^^^^^\n'
        '  hint: define one with `machine NAME { ram 1GiB }`, include one, or start the scenario with `machine { ram 1GiB }`'
    ),
    'several_machines': (
        'spec.vms:3:1: error: scenario "s" does not say which machine it runs on, and 2 are in scope (a, b)\n'
        '    scenario "s" { }\n'
        '    ^^^^^^^^^^^^^^^^\n'
        '  hint: add `on a` after the title'
    ),
    'include_absolute': (
        'spec.vms:1:9: error: include path `/etc/common.vms` is absolute\n'
        '    include "/etc/common.vms"\n'
        '            ^^^^^^^^^^^^^^^^^\n'
        '  hint: write it relative to the directory of spec.vms'
    ),
    'include_leaves_root': (
        'spec.vms:1:9: error: spec.vms includes ../outside.vms, which is outside the root directory ROOT\n'
        '    include "../outside.vms"\n'
        '            ^^^^^^^^^^^^^^^^\n'
        '  hint: keep included and replayed files under the root directory'
    ),
    'include_missing': (
        'spec.vms:1:9: error: spec.vms includes nope.vms, which does not exist\n'
        '    include "nope.vms"\n'
        '            ^^^^^^^^^^\n'
        '  hint: check the path; it is relative to the directory of spec.vms'
    ),
    'include_cycle': (
        'a.vms:1:9: error: include cycle: spec.vms includes a.vms, which includes spec.vms\n'
        '    include "spec.vms"\n'
        '            ^^^^^^^^^^\n'
        '  hint: remove one of the includes'
    ),
    'replay_absolute': (
        'spec.vms:4:15: error: replay path `/tmp/t.trace` is absolute\n'
        '        p: replay "/tmp/t.trace"\n'
        '                  ^^^^^^^^^^^^^^\n'
        '  hint: write it relative to the directory of spec.vms'
    ),
    'replay_leaves_root': (
        'spec.vms:4:15: error: spec.vms replays ../t.trace, which is outside the root directory ROOT\n'
        '        p: replay "../t.trace"\n'
        '                  ^^^^^^^^^^^^\n'
        '  hint: keep included and replayed files under the root directory'
    ),
    'replay_missing': (
        'spec.vms:4:15: error: spec.vms replays t.trace, which does not exist\n'
        '        p: replay "t.trace"\n'
        '                  ^^^^^^^^^\n'
        '  hint: check the path; it is relative to the directory of spec.vms'
    ),
    'not_utf8': (
        'spec.vms:2:6: error: this file is not UTF-8 text (byte 0xe9 cannot start or continue a UTF-8 character)\n'
        '    # caf\n'
        '         ^\n'
        '  hint: save the file as UTF-8'
    ),
    'binary': (
        'spec.vms:1:12: error: this is a binary file, not a .vms spec (it contains a NUL byte)\n'
        '    machine m {\n'
        '               ^\n'
        '  hint: a spec is UTF-8 text'
    ),
    'page_size': (
        'spec.vms:1:24: error: page_size 2MiB is not supported yet: only 4KiB base pages are modelled\n'
        '    machine m { ram 64MiB; page_size 2MiB }\n'
        '                           ^^^^^^^^^^^^^^\n'
        '  hint: remove the page_size line (4KiB is the default); use hugepages or thp for large pages'
    ),
    'duplicate_title': (
        'spec.vms:3:1: error: two scenarios are titled "s" (the first at line 2)\n'
        '    scenario "s" { }\n'
        '    ^^^^^^^^^^^^^^^^\n'
        '  hint: give each scenario of a file its own title'
    ),
    'mistyped_step': (
        'spec.vms:3:5: error: unknown step `spwan`; did you mean spawn?\n'
        '        spwan p\n'
        '        ^^^^^\n'
        '  hint: a step starts with spawn, fork, exit, set, drop_caches, repeat, file, expect, always or `P:`'
    ),
    'mistyped_setting': (
        'spec.vms:1:13: error: expected a machine setting (ram, page_size, paging, swap, hugepages, thp, tlb, replacement, overcommit, watermarks, swappiness, page_cluster, mmap_threshold, kernel, latency, readahead) or `}`, found `rma`\n'
        '    machine m { rma 64MiB }\n'
        '                ^^^\n'
        '  hint: did you mean `ram`?'
    ),
    'expect_not_boolean': (
        'spec.vms:4:12: error: Expected a Boolean but got rss(p) (a Size); write a comparison such as rss(p) == 1MiB\n'
        '        expect rss(p)\n'
        '               ^^^^^^'
    ),
    'process_used_before_spawn': (
        'spec.vms:3:5: error: process `p` is used before it is created (at line 4)\n'
        '        p: r = mmap 1MiB\n'
        '        ^\n'
        '  hint: a step may name only processes that a spawn or fork earlier in the scenario creates'
    ),
    'missing_colon_after_process': (
        'spec.vms:4:7: error: expected `:`, found `r`\n'
        '        p r = mmap 1MiB\n'
        '          ^\n'
        "  hint: a process's step is written `p: ...`, as in `p: write buf`"
    ),
    'mmap_without_size': (
        'spec.vms:4:16: error: expected a size such as 64MiB, found the end of the line\n'
        '        p: r = mmap\n'
        '                   ^'
    ),
    'mmap_option_instead_of_size': (
        'spec.vms:4:17: error: expected a size such as 64MiB, found `anon`\n'
        '        p: r = mmap anon\n'
        '                    ^^^^\n'
        '  hint: write a size such as 64MiB before `anon`'
    ),
    'stride_without_size': (
        'spec.vms:4:26: error: expected a size such as 64MiB, found the end of the line\n'
        '        p: write stack stride\n'
        '                             ^'
    ),
    'stride_count': (
        'spec.vms:4:27: error: a size needs a unit: write 64MiB or 16 pages\n'
        '        p: write stack stride 64\n'
        '                              ^^\n'
        '  hint: write 64KiB, 64MiB or 64 pages'
    ),
    'arrow_without_error': (
        'spec.vms:4:22: error: expected ENOMEM, EINVAL, SIGSEGV, SIGBUS or OOM after `=>`, found the end of the line\n'
        '        p: write stack =>\n'
        '                         ^\n'
        '  hint: `=> ERR` says how the step must fail'
    ),
    'error_name_lowercase': (
        'spec.vms:4:25: error: unknown failure `enomem` after =>; did you mean ENOMEM?\n'
        '        p: r = mmap 1MiB => enomem\n'
        '                            ^^^^^^\n'
        '  hint: a step may end with => ENOMEM, EINVAL, SIGSEGV, SIGBUS or OOM'
    ),
    'unbalanced_bracket': (
        'spec.vms:4:27: error: expected `]`, found the end of the line\n'
        '        p: write stack[0..4KiB\n'
        '                              ^\n'
        '  hint: close the range with `]`'
    ),
    'range_outside_brackets': (
        'spec.vms:4:20: error: expected `stride`, `=>`, `[`, `}` or the end of the statement, found `0`\n'
        '        p: write stack 0..4KiB\n'
        '                       ^\n'
        '  hint: a range goes in brackets right after the region: stack[0..64KiB]'
    ),
    'percent_as_size': (
        'spec.vms:4:17: error: expected a size such as 64MiB, found `50%` (a percentage)\n'
        '        p: r = mmap 50%\n'
        '                    ^^^\n'
        '  hint: `50%` is a percentage; a size has a unit such as KiB, MiB or pages'
    ),
    'duration_as_size': (
        'spec.vms:4:17: error: expected a size such as 64MiB, found `10ms` (a duration)\n'
        '        p: r = mmap 10ms\n'
        '                    ^^^^\n'
        '  hint: `10ms` is a duration; a size has a unit such as KiB, MiB or pages'
    ),
    'size_as_duration': (
        'spec.vms:1:39: error: expected a duration such as 20ns, found `80KiB` (a size)\n'
        '    machine m { ram 64MiB; latency memory 80KiB }\n'
        '                                          ^^^^^\n'
        '  hint: `80KiB` is a size; a duration has a unit such as ns, us, ms or s'
    ),
    'size_as_count': (
        'spec.vms:4:12: error: expected a number, found `3 pages` (a size)\n'
        '        repeat 3 pages { p: read stack }\n'
        '               ^^^^^^^\n'
        '  hint: `3 pages` is a size; a count is a plain number such as 3'
    ),
    'percent_as_count': (
        'spec.vms:1:35: error: expected a number, found `60%` (a percentage)\n'
        '    machine m { ram 64MiB; swappiness 60% }\n'
        '                                      ^^^\n'
        '  hint: `60%` is a percentage; a count is a plain number such as 3'
    ),
    'negative_size': (
        'spec.vms:4:17: error: expected a size such as 64MiB, found `-`\n'
        '        p: r = mmap -1MiB\n'
        '                    ^\n'
        '  hint: a size cannot be negative (only `brk -SIZE`, oom_adj and oom_score_adj take a `-`)'
    ),
    'repeat_without_count': (
        'spec.vms:4:12: error: expected a number, found `{`\n'
        '        repeat { p: read stack }\n'
        '               ^\n'
        '  hint: write repeat N { ... } with N a plain number'
    ),
    'scenario_without_title': (
        'spec.vms:2:10: error: expected a string in double quotes, found `{`\n'
        '    scenario { }\n'
        '             ^\n'
        '  hint: give it a title in double quotes: scenario "what it checks" { ... }'
    ),
    'scenario_title_unquoted': (
        'spec.vms:2:10: error: expected a string in double quotes, found `s`\n'
        '    scenario s { }\n'
        '             ^\n'
        '  hint: write it in double quotes: "s"'
    ),
    'machine_defined_twice': (
        'spec.vms:2:9: error: machine `m` is defined twice (first at spec.vms:1)\n'
        '    machine m { ram 64MiB }\n'
        '            ^\n'
        '  hint: rename one of them'
    ),
    'extends_cycle': (
        'spec.vms:1:19: error: machine `a` extends itself: `a` extends `b` extends `a`\n'
        '    machine a extends b { ram 1GiB }\n'
        '                      ^\n'
        '  hint: remove one `extends` of the cycle\n'
        'spec.vms:2:19: error: machine `b` extends itself: `b` extends `a` extends `b`\n'
        '    machine b extends a { ram 1GiB }\n'
        '                      ^\n'
        '  hint: remove one `extends` of the cycle'
    ),
    'extends_unknown': (
        'spec.vms:1:19: error: machine `bb` is not defined; did you mean b?\n'
        '    machine a extends bb { ram 1GiB }\n'
        '                      ^^\n'
        '  hint: define it, or include the file that does'
    ),
    'image_segment_twice': (
        'spec.vms:2:22: error: image `i` gives `text` twice (first at column 11)\n'
        '    image i { text 1MiB; text 2MiB }\n'
        '                         ^^^^^^^^^\n'
        '  hint: keep one line per segment'
    ),
    'tlb_ways_do_not_divide': (
        'spec.vms:1:42: error: 5-way does not divide 64 entries\n'
        '    machine m { ram 64MiB; tlb l1 64 entries 5-way }\n'
        '                                             ^^^^^\n'
        '  hint: the number of sets is entries / ways; pick ways that divide entries'
    ),
    'tlb_level_typo': (
        'spec.vms:1:28: error: unknown TLB level `l3`\n'
        '    machine m { ram 64MiB; tlb l3 64 entries 4-way }\n'
        '                               ^^\n'
        '  hint: levels are l1, l1_2m, l1_1g and l2'
    ),
    'paging_6_level': (
        'spec.vms:1:31: error: unknown paging `6-level`\n'
        '    machine m { ram 64MiB; paging 6-level }\n'
        '                                  ^^^^^^^\n'
        '  hint: write paging 4-level or paging 5-level'
    ),
    'thp_sometimes': (
        'spec.vms:1:28: error: expected `always`, `madvise` or `never`, found `sometimes`\n'
        '    machine m { ram 64MiB; thp sometimes }\n'
        '                               ^^^^^^^^^'
    ),
    'string_bad_escape': (
        'spec.vms:2:6: error: unknown escape `\\q` in a string\n'
        '    file "a\\qb" 1MiB\n'
        '         ^^^^^^\n'
        '  hint: only \\" and \\\\ are escapes; write \\\\ for a backslash'
    ),
    'tab_indented': (
        'spec.vms:2:6: error: a size needs a unit: write 64MiB or 16 pages\n'
        '     ram 64\n'
        '         ^^\n'
        '  hint: write 64KiB, 64MiB or 64 pages'
    ),
    'crlf_line_ends': (
        'spec.vms:2:9: error: a size needs a unit: write 64MiB or 16 pages\n'
        '        ram 64\n'
        '            ^^\n'
        '  hint: write 64KiB, 64MiB or 64 pages'
    ),
    'bom_at_start': (
        'spec.vms:1:17: error: a size needs a unit: write 64MiB or 16 pages\n'
        '    machine m { ram 64 }\n'
        '                    ^^\n'
        '  hint: write 64KiB, 64MiB or 64 pages'
    ),
    'step_at_top_level': (
        'spec.vms:1:1: error: expected `include`, `machine`, `image`, `invariant`, `scenario` or `file`, found `spawn`\n'
        '    spawn p\n'
        '    ^^^^^\n'
        '  hint: steps go inside a scenario: scenario "title" { ... }'
    ),
    'closing_brace_too_many': (
        'spec.vms:3:1: error: expected `include`, `machine`, `image`, `invariant`, `scenario` or `file`, found `}`\n'
        '    }\n'
        '    ^\n'
        '  hint: this `}` closes no block'
    ),
    'assignment_in_expect': (
        'spec.vms:4:19: error: expected `}` or the end of the statement, found `=`\n'
        '        expect rss(p) = 1MiB\n'
        '                      ^\n'
        '  hint: compare with `==`'
    ),
    'chained_comparison': (
        'spec.vms:4:18: error: expected `}` or the end of the statement, found `<`\n'
        '        expect 1 < 2 < 3\n'
        '                     ^\n'
        '  hint: comparisons do not chain: write a < b and b < c'
    ),
    'arrow_after_expect': (
        'spec.vms:4:20: error: expected `}` or the end of the statement, found `=>`\n'
        '        expect ram > 0 => ENOMEM\n'
        '                       ^^\n'
        '  hint: `=> ERR` may end a step that can fail, not expect, always, repeat or file'
    ),
    'unclosed_parenthesis': (
        'spec.vms:4:27: error: expected `)`, found the end of the line\n'
        '        expect (rss(p) == 1MiB\n'
        '                              ^\n'
        '  hint: close it with `)`'
    ),
    'fork_without_as': (
        'spec.vms:4:12: error: expected `as`, found `c`\n'
        '        fork p c\n'
        '               ^\n'
        '  hint: write fork P as C'
    ),
    'fork_unknown_parent': (
        'spec.vms:4:10: error: unknown process `q`\n'
        '        fork q as c\n'
        '             ^\n'
        '  hint: a step may name only processes that a spawn or fork earlier in the scenario creates'
    ),
    'fork_child_exists': (
        'spec.vms:5:15: error: process `c` already exists (created at line 4)\n'
        '        fork p as c\n'
        '                  ^\n'
        '  hint: give the child a new name'
    ),
    'spawn_twice': (
        'spec.vms:4:11: error: process `p` already exists (created at line 3)\n'
        '        spawn p\n'
        '              ^\n'
        '  hint: give each process its own name'
    ),
    'keyword_with_extra_letters': (
        'spec.vms:4:22: error: expected `dontneed`, `hugepage`, `nohugepage`, `pageout`, `willneed` or `[`, found `dontneeded`\n'
        '        p: madvise stack dontneeded\n'
        '                         ^^^^^^^^^^\n'
        '  hint: did you mean `dontneed`?'
    ),
    'prot_typo': (
        'spec.vms:4:23: error: expected `none`, `r`, `rw`, `rwx`, `rx` or `[`, found `rwz`\n'
        '        p: mprotect stack rwz\n'
        '                          ^^^\n'
        '  hint: did you mean `rw`?'
    ),
    'fraction': (
        'spec.vms:1:17: error: a number cannot have a fraction: `1.5GiB`\n'
        '    machine m { ram 1.5GiB }\n'
        '                    ^^^^^^\n'
        '  hint: write 1536MiB'
    ),
    'bad_hex': (
        'spec.vms:4:17: error: `0xZZ` is not a number\n'
        '        p: r = mmap 0xZZ MiB\n'
        '                    ^^^^\n'
        '  hint: a hex number is 0x and the digits 0-9 and a-f, such as 0x7f00'
    ),
    'unit_wrong_case': (
        'spec.vms:4:18: error: unknown unit `kb`; use B, KiB, MiB, GiB, TiB, PiB, KB, MB, GB, TB or pages\n'
        '        p: r = mmap 4kb\n'
        '                     ^^\n'
        '  hint: units are case-sensitive: write 4KiB or 4KB'
    ),
    'dash_in_name': (
        'spec.vms:3:13: error: expected `image`, `memory_max`, `oom_adj`, `oom_score_adj`, `=>`, `}` or the end of the statement, found `-`\n'
        '        spawn my-proc\n'
        '                ^\n'
        '  hint: a name is made of the letters A-Z and a-z, digits and `_` (no `-`), and starts with a letter or `_`'
    ),
    'unquoted_include': (
        'spec.vms:1:9: error: expected a string in double quotes, found `common`\n'
        '    include common.vms\n'
        '            ^^^^^^\n'
        '  hint: write it in double quotes: "common.vms"'
    ),
    'replay_into_unknown_region': (
        'spec.vms:4:30: error: process `p` has no region `bfu`\n'
        '        p: replay "t.trace" into bfu\n'
        '                                 ^^^\n'
        "  hint: regions come from mmap and malloc steps, or are text, data, bss, heap, stack or a lib of the process's image"
    ),
    'invisible_character': (
        'spec.vms:3:10: error: unexpected invisible character U+00A0 (NO-BREAK SPACE)\n'
        '        spawn\xa0p\n'
        '             ^\n'
        '  hint: retype it as a plain space, or delete it (it often comes with copied text)'
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_error(name, spec_dir):
    from vmspec.errors import SpecErrors
    from vmspec.language import load

    text, extra = CASES[name]
    root = spec_dir({"root/spec.vms": text, **{f"root/{k}": v for k, v in extra.items()}}) / "root"
    import os

    os.chdir(root)
    with pytest.raises(SpecErrors) as info:
        load("spec.vms")
    rendered = info.value.render().replace(os.path.realpath(root), "ROOT")
    assert rendered == GOLDEN[name]


def test_every_case_has_a_golden_text():
    assert set(CASES) == set(GOLDEN)


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
