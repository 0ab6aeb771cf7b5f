"""load(): includes, scope, machine flattening and validation, scenario resolution."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from vmspec.errors import SpecErrors
from vmspec.language import Program, ResolvedScenario, load

DATA = Path(__file__).parent / "data"


def settings(machine):
    return {(s.name if s.name != "hugepages" else f"hugepages {s.size.amount}{s.size.unit}"): s
            for s in machine.settings}


def test_language_example_loads(spec_dir):
    spec_dir({"example.vms": (DATA / "language_example.vms").read_text()})
    program = load("example.vms")
    assert isinstance(program, Program)
    (resolved,) = program.scenarios
    assert isinstance(resolved, ResolvedScenario) and resolved.machine.name == "small"
    assert program.sources["example.vms"].startswith("machine small")


def test_all_forms_loads_with_includes(tmp_path, monkeypatch):
    shutil.copytree(DATA, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    program = load("data/all_forms.vms")
    assert set(program.machines) == {"base", "full", "here", "smaller"}
    assert program.machines["smaller"].from_host and not program.machines["full"].from_host
    assert [inv.label for inv in program.invariants] == ["free never exceeds ram", "no swap used"]
    assert [f.name for f in program.files] == ["data.bin"]
    assert set(program.images) == {"server"}
    every, inline = program.scenarios
    full = settings(every.machine)
    assert full["ram"].size.amount == 1 and full["swap"].size.amount == 512  # child overrides parent
    assert {"hugepages 2MiB", "hugepages 1GiB"} <= set(full)
    small = settings(inline.machine)
    assert inline.machine.name is None and small["ram"].size.amount == 64
    assert small["swap"].size.amount == 0 and small["thp"].word == "never"  # inherited from base
    assert "data/lib/common.vms" in program.sources


def test_extends_keeps_one_hugepages_line_per_size(spec_dir):
    spec_dir({"s.vms": "machine a { ram 1GiB; hugepages 2MiB x 4 }\n"
                       "machine b extends a { hugepages 2MiB x 8; hugepages 1GiB x 0 }\n"
                       'scenario "x" on b { }\n'})
    b = load("s.vms").machines["b"]
    assert [(s.name, s.number) for s in b.settings if s.name == "hugepages"] == [("hugepages", 8), ("hugepages", 0)]


def test_empty_file_has_no_scenarios(spec_dir):
    spec_dir({"e.vms": ""})
    assert load("e.vms").scenarios == ()


def test_only_machine_in_scope_is_used(spec_dir):
    spec_dir({"m.vms": "machine only { ram 1GiB }\n", "s.vms": 'include "m.vms"\nscenario "x" { spawn p }\n'})
    assert load("s.vms").scenarios[0].machine.name == "only"


def test_nested_include_paths_are_relative_to_the_including_file(spec_dir):
    spec_dir({"a/b/c.vms": 'include "../d.vms"\n', "a/d.vms": "machine m { ram 1GiB }\n",
              "s.vms": 'include "a/b/c.vms"\nscenario "x" { }\n'})
    assert "m" in load("s.vms").machines


def test_symlink_leaving_the_root_is_refused(spec_dir, tmp_path):
    outside = tmp_path.parent / (tmp_path.name + "-outside.vms")
    outside.write_text("machine m { ram 1GiB }\n")
    root = spec_dir({"s.vms": 'include "link.vms"\n'})
    os.symlink(outside, root / "link.vms")
    with pytest.raises(SpecErrors) as info:
        load("s.vms")
    assert "outside the root directory" in info.value.render()


def test_explicit_root_confines(spec_dir):
    spec_dir({"sub/s.vms": 'include "../m.vms"\n', "m.vms": "machine m { ram 1GiB }\n"})
    assert "m" in load("sub/s.vms").machines
    with pytest.raises(SpecErrors):
        load("sub/s.vms", root="sub")


def test_spec_outside_cwd_uses_its_own_directory_as_root(spec_dir, tmp_path, monkeypatch):
    root = spec_dir({"proj/s.vms": 'include "m.vms"\n', "proj/m.vms": "machine m { ram 1GiB }\n",
                     "elsewhere/x": ""})
    monkeypatch.chdir(root / "elsewhere")
    assert "m" in load(str(root / "proj" / "s.vms")).machines


def test_several_errors_are_reported_together(spec_dir):
    spec_dir({"s.vms": 'machine m { ram 1GiB }\nscenario "x" {\n spawn p\n q: read r\n p: read nope\n'
                       " expect rss(p) == 3\n}\n"})
    with pytest.raises(SpecErrors) as info:
        load("s.vms")
    assert [e.span.line for e in info.value.errors] == [4, 5, 6]


def test_errors_in_included_files_are_reported(spec_dir):
    spec_dir({"m.vms": "machine m { ram 1GiB; swappiness 500 }\n", "s.vms": 'include "m.vms"\n'})
    with pytest.raises(SpecErrors) as info:
        load("s.vms")
    assert info.value.errors[0].span.file == "m.vms"


@pytest.mark.parametrize("text, needle", [
    ("machine m { ram 100TiB }", "64TiB"),
    ("machine m { ram 100TiB; paging 5-level }", None),
    ("machine m { ram 1000B }", "whole number of 4KiB pages"),
    ("machine m { ram 1GiB; tlb l1 64 entries 5-way }", "does not divide"),
    ("machine m { ram 1GiB; tlb l3 64 entries 4-way }", "unknown TLB level"),
    ("machine m { ram 1GiB; latency walk 1ns }", "did you mean walk_step"),
    ("machine m { ram 1GiB; swappiness 201 }", "0..200"),
    ("machine m { ram 1GiB; hugepages 4MiB x 1 }", "do not exist"),
    ("machine m { ram 1GiB; ram 2GiB }", "set twice"),
    ("machine m { ram 1GiB; paging 3-level }", "paging"),
    ("machine m { ram 1GiB; watermarks min 3MiB low 2MiB high 1MiB }", "min <= low <= high"),
    ("machine m { ram 1GiB; page_size 1 page }", None),
    ("machine a extends b { ram 1GiB }\nmachine b extends a { ram 1GiB }", "extends itself"),
    ("machine a extends nope { ram 1GiB }", "not defined"),
    ("machine m { swap 0 }\nscenario \"x\" { }", "no `ram`"),
    ("machine m { ram 1GiB; readahead 6KiB }", "whole number of 4KiB pages"),
    ("machine m { ram 1GiB; readahead 0 }", None),
    ("machine m from host\nscenario \"x\" { }", None),
    ("machine m from host { readahead 8MiB }\nmachine n extends m { swap 0 }\nscenario \"x\" on n { }", None),
])
def test_machine_validation(spec_dir, text, needle):
    spec_dir({"s.vms": text + "\n"})
    if needle is None:
        load("s.vms")
        return
    with pytest.raises(SpecErrors) as info:
        load("s.vms")
    assert needle in info.value.render()


def test_a_machine_extending_one_from_host_reads_the_host_too(spec_dir):
    spec_dir({"s.vms": 'machine h from host { readahead 8MiB }\nmachine m extends h { ram 64MiB }\n'
                       'scenario "x" on m { }\n'})
    (resolved,) = load("s.vms").scenarios
    assert resolved.machine.from_host and set(settings(resolved.machine)) == {"ram", "readahead"}


def test_base_machine_without_ram_is_fine_when_only_extended(spec_dir):
    spec_dir({"s.vms": 'machine base { swap 0 }\nmachine m extends base { ram 1GiB }\nscenario "x" on m { }\n'})
    load("s.vms")


@pytest.mark.parametrize("body, needle", [
    ("spawn p\nspawn p", "already exists"),
    ("spawn p\nfork p as p", "already exists"),
    ("fork q as c", "unknown process"),
    ("spawn p\nexpect rss(q) == 0", "unknown process `q`"),
    ("spawn p\nexpect size(p.nope) == 0", "no region `nope`"),
    ("spawn p\nexpect frob(p) == 0", "unknown observable"),
    ("spawn p\nexpect faults(p) == 0", "faults(P).minor"),
    ("spawn p\nexpect status(p) == 3", "status word"),
    ("spawn p\nexpect via(p.heap) == running", "brk or mmap"),
    ("spawn p\nexpect time(p) == 5", "write 5ns"),
    ("spawn p\nexpect tlb(p).hit_rate > 5", "write 5%"),
    ("spawn p\nexpect rss(p) * rss(p) == 0", "cannot multiply"),
    ("spawn p\nexpect rss(p) / time(p) == 0", "cannot divide"),
    ("spawn p\nexpect rss(p) + time(p) == 0", "Expected a Size"),
    ("spawn p\nexpect killed == p", "list"),
    ("spawn p\nexpect 3 in killed", "process name"),
    ("spawn p\nexpect hugepages_free(4KiB) == 0", "2MiB or 1GiB"),
    ("spawn p\np: x = mmap 1MiB file \"f\"", 'file "f" is not declared'),
    ("spawn p\nfile \"f\" 1MiB\np: x = mmap 1MiB file \"f\"", None),
    ("spawn p\nrepeat 2 { p: b = malloc 1KiB }\np: free b", None),
    ("spawn p image img\np: read libc", None),
    ("spawn p\nfork p as c\nc: read stack\nexpect shared(p.stack, c.stack) == 0", None),
    ("expect rss(later) == 0\nspawn later", None),
    ("spawn p\nexpect 10 * time(p) > time and rss(p) / ram < 50% and 0 == rss(p)", None),
    ("spawn p\nexpect faults(p).minor / 2 == 50%", None),
])
def test_scenario_resolution(spec_dir, body, needle):
    spec_dir({"s.vms": "machine m { ram 1GiB }\nimage img { lib libc 1MiB }\n"
                       'scenario "x" {\n' + body + "\n}\n"})
    if needle is None:
        load("s.vms")
        return
    with pytest.raises(SpecErrors) as info:
        load("s.vms")
    assert needle in info.value.render()


def test_nothing_but_spec_errors_escape(spec_dir, tmp_path):
    spec_dir({"dir.vms/x": ""})
    with pytest.raises(SpecErrors):
        load("dir.vms")
    with pytest.raises(SpecErrors):
        load("missing.vms")


def test_a_quoted_source_line_shows_odd_blanks_as_spaces(load_errors):
    """A form feed or U+2028 in the quoted line would break it on a terminal and move the caret:
    it is shown as a space, and the caret stays under the column."""
    rendered = load_errors("machine m {\f ram 64 }  # a\u2028b\vc\x85d\n")
    assert rendered.split("\n")[:3] == [
        "spec.vms:1:18: error: a size needs a unit: write 64MiB or 16 pages",
        "    machine m {  ram 64 }  # a b c d",
        "                     ^^",
    ]


@pytest.mark.parametrize("depth", [62, 63, 70])
def test_an_include_chain_too_deep_is_a_spec_error(spec_dir, depth):
    """64 files deep is the limit; a file past it was listed but never read (a KeyError)."""
    files = {f"f{i}.vms": f'include "f{i + 1}.vms"\n' for i in range(depth)}
    files[f"f{depth}.vms"] = "machine m { ram 64MiB }\n"
    files["main.vms"] = 'include "f0.vms"\nscenario "s" { }\n'
    spec_dir(files)
    if depth < 63:
        assert load("main.vms").scenarios
        return
    with pytest.raises(SpecErrors) as info:
        load("main.vms")
    (error,) = [e for e in info.value.errors if "nested deeper" in e.message]
    assert error.message == "includes nested deeper than 64 files"
    assert error.span.file == "f62.vms" and (error.span.line, error.span.column) == (1, 9)


def test_a_long_extends_chain_is_merged_once_per_machine(spec_dir, monkeypatch):
    """Each machine is merged onto its parent's merged settings: linear, not one walk of the whole
    chain per machine (10,000 chained machines took 67 s)."""
    from vmspec.language import machines

    calls = []
    real = machines.own_settings
    monkeypatch.setattr(machines, "own_settings", lambda m, e: calls.append(m.name) or real(m, e))
    n = 300
    text = "machine m0 { ram 1GiB }\n" + "".join(
        f"machine m{i} extends m{i - 1} {{ swap {i} pages }}\n" for i in reversed(range(1, n)))
    spec_dir({"spec.vms": text + f'scenario "s" on m{n - 1} {{ }}\n'})
    (resolved,) = load("spec.vms").scenarios
    assert {s.name: s for s in resolved.machine.settings}["swap"].size.amount == n - 1
    assert {s.name: s for s in resolved.machine.settings}["ram"].size.amount == 1
    assert len(calls) <= 2 * n


def test_a_long_extends_cycle_is_reported_briefly(load_errors):
    n = 50
    text = "".join(f"machine m{i} extends m{(i + 1) % n} {{ ram 1GiB }}\n" for i in range(n))
    rendered = load_errors(text + 'scenario "s" on m0 { }\n')
    first = rendered.split("\n")[0]
    assert first == ("spec.vms:1:20: error: machine `m0` extends itself: `m0` extends `m1` extends "
                     "`m2` extends `m3` extends `m4` extends ... extends `m46` extends `m47` extends "
                     "`m48` extends `m49` extends `m0`")
    assert rendered.count("extends itself") == n


def test_arithmetic_in_machine_settings(spec_dir):
    spec_dir({"spec.vms": "machine m { ram 1GiB - 4 * 64MiB; kernel 1MiB - 6 pages; swap (2GiB + 512MiB) / 2\n"
                          "    watermarks min 1MiB low 2 * 1MiB high 3 * 1MiB }\n"
                          'scenario "s" { spawn p }\n'})
    (resolved,) = load("spec.vms").scenarios
    values = {s.name: s for s in resolved.machine.settings}
    assert values["ram"].size.amount == 768 << 20 and values["ram"].size.unit == "B"
    assert values["kernel"].size.amount == (1 << 20) - 6 * 4096
    assert values["swap"].size.amount == 1280 << 20
    from vmspec.language.machines import nbytes

    assert [nbytes(x) for x in values["watermarks"].sizes] == [1 << 20, 2 << 20, 3 << 20]


@pytest.mark.parametrize("setting, message", [
    ("kernel 1MiB - 6", "cannot add a size and a plain number"),
    ("kernel 2 * 3", "2 * 3 is a number, not a size"),
    ("kernel 1MiB * 2MiB", "cannot multiply a size by a size"),
    ("kernel 1MiB / 1KiB", "a size divided by a size is a ratio, not a size"),
    ("kernel 1MiB / 3", "1MiB / 3 is not a whole number of bytes"),
    ("kernel 6 pages - 1MiB", "6 pages - 1MiB is negative; a machine setting's size is at least 0"),
    ("swap 1GiB / 0", "division by zero"),
    ("swap rss(p)", "`rss(p)` cannot be part of a machine setting"),
    ("swap 10ms", "expected a size such as 64MiB, found `10ms` (a duration)"),
    ("swap 1024 * 16PiB", "number too large: 1024 * 16PiB does not fit in 64 bits"),
    ("ram 1GiB + 64TiB", "ram 1GiB + 64TiB is above 64TiB, the most 4-level paging can address"),
])
def test_arithmetic_in_machine_settings_errors(load_errors, setting, message):
    rendered = load_errors(f"machine m {{ {setting} }}\n")
    assert message in rendered.split("\n")[0], rendered


def test_load_scenarios_checks_more_scenarios_in_a_loaded_programs_scope(spec_dir):
    from vmspec.language import load_scenarios

    spec_dir({"base.vms": 'machine m { ram 64MiB }\nimage srv { text 1MiB }\nfile "f" 1MiB\n'
                          'invariant "small": used < 1MiB\nscenario "own" on m { spawn a }\n'})
    program = load("base.vms")
    text = ('include "base.vms"\n# a comment\nscenario "more" on m {\n    spawn p image srv\n'
            '    p: r = mmap 1MiB file "f"\n    p: read text\n}\n')
    variant = load_scenarios(program, text, "more.vms")
    (resolved,) = variant.scenarios
    assert resolved.scenario.title == "more" and resolved.machine.name == "m"
    assert resolved.scenario.steps[0].span.file == "more.vms" and resolved.scenario.steps[0].span.line == 4
    assert variant.sources["more.vms"] == text and variant.invariants == program.invariants
    assert [r.scenario.title for r in program.scenarios] == ["own"]  # the program itself is unchanged
    with pytest.raises(SpecErrors) as bad:
        load_scenarios(program, 'scenario "bad" on m {\n    q: r = mmap 1MiB\n}\n', "bad.vms")
    assert [(e.message, e.span.line) for e in bad.value.errors] == [("unknown process `q`", 2)]
    with pytest.raises(SpecErrors) as bad:
        load_scenarios(program, 'machine n { ram 1GiB }\n', "bad.vms")
    assert "only scenarios and includes" in bad.value.errors[0].message
    # a parametrised scenario gives its instances, as load does
    variant = load_scenarios(program, 'scenario "p" on m for n in [1, 2] {\n    spawn a\n'
                                      '    a: r = mmap $n pages\n}\n', "p.vms")
    assert [(r.scenario.title, r.params, r.template) for r in variant.scenarios] == [
        ("p[n=1]", (("n", "1"),), "p"), ("p[n=2]", (("n", "2"),), "p")]
