"""Golden tests: the exact text of every spec error a user can meet."""

from __future__ import annotations

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
        'spec.vms:1:1: error: include path `/etc/common.vms` is absolute\n'
        '    include "/etc/common.vms"\n'
        '    ^^^^^^^^^^^^^^^^^^^^^^^^^\n'
        '  hint: write it relative to the directory of spec.vms'
    ),
    'include_leaves_root': (
        'spec.vms:1:1: error: spec.vms includes ../outside.vms, which is outside the root directory ROOT\n'
        '    include "../outside.vms"\n'
        '    ^^^^^^^^^^^^^^^^^^^^^^^^\n'
        '  hint: keep included and replayed files under the root directory'
    ),
    'include_missing': (
        'spec.vms:1:1: error: spec.vms includes nope.vms, which does not exist\n'
        '    include "nope.vms"\n'
        '    ^^^^^^^^^^^^^^^^^^\n'
        '  hint: check the path; it is relative to the directory of spec.vms'
    ),
    'include_cycle': (
        'a.vms:1:1: error: include cycle: spec.vms includes a.vms, which includes spec.vms\n'
        '    include "spec.vms"\n'
        '    ^^^^^^^^^^^^^^^^^^\n'
        '  hint: remove one of the includes'
    ),
    'replay_absolute': (
        'spec.vms:4:5: error: replay path `/tmp/t.trace` is absolute\n'
        '        p: replay "/tmp/t.trace"\n'
        '        ^^^^^^^^^^^^^^^^^^^^^^^^\n'
        '  hint: write it relative to the directory of spec.vms'
    ),
    'replay_leaves_root': (
        'spec.vms:4:5: error: spec.vms replays ../t.trace, which is outside the root directory ROOT\n'
        '        p: replay "../t.trace"\n'
        '        ^^^^^^^^^^^^^^^^^^^^^^\n'
        '  hint: keep included and replayed files under the root directory'
    ),
    'replay_missing': (
        'spec.vms:4:5: error: spec.vms replays t.trace, which does not exist\n'
        '        p: replay "t.trace"\n'
        '        ^^^^^^^^^^^^^^^^^^^\n'
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
        'spec.vms:1:13: error: expected a machine setting (ram, page_size, paging, swap, hugepages, thp, tlb, replacement, overcommit, watermarks, swappiness, page_cluster, mmap_threshold, kernel, latency) or `}`, found `rma`\n'
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
