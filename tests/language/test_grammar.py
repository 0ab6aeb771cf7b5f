"""One test per form of the language (docs/language.md): each parses exactly as written into the expected AST."""

from __future__ import annotations

import pytest

from vmspec.errors import SpecErrors
from vmspec.language import ast, parse_text
from vmspec.language.transform import MAX_DEPTH

from pathlib import Path

DATA = Path(__file__).parent / "data"


def items(text: str):
    return parse_text(text, "t.vms").items


def steps(body: str):
    return items('scenario "s" {\n' + body + "\n}")[0].steps


def step(body: str):
    (only,) = steps(body)
    return only


def expr(text: str):
    return step("expect " + text).expr


def test_language_example_parses_verbatim():
    spec = parse_text((DATA / "language_example.vms").read_text(), "example.vms")
    machine, scenario = spec.items
    assert machine.name == "small" and [s.name for s in machine.settings] == ["ram", "swap"]
    assert scenario.title == "fork shares pages until one side writes" and scenario.machine == "small"
    assert len(scenario.steps) == 10
    assert scenario.steps[6] == scenario.steps[6]  # models compare
    assert isinstance(scenario.steps[-1], ast.Always)


def test_all_forms_file_parses():
    spec = parse_text((DATA / "all_forms.vms").read_text(), "all_forms.vms")
    assert [type(i).__name__ for i in spec.items] == [
        "Include", "Machine", "Machine", "Machine", "Image", "FileDecl", "Invariant", "Scenario", "Scenario"]
    here, smaller = spec.items[2], spec.items[3]
    assert here.from_host and here.settings == () and not smaller.from_host


def test_machine_from_host_with_and_without_a_block():
    bare, block = items("machine a from host\nmachine b from host { ram 64MiB; readahead 8MiB }")
    assert bare.name == "a" and bare.from_host and bare.settings == ()
    assert block.from_host and [s.name for s in block.settings] == ["ram", "readahead"]
    assert block.settings[1].size.amount == 8 and block.settings[1].size.unit == "MiB"


def test_from_and_host_stay_names_elsewhere():
    (scenario,) = items('machine m { ram 1GiB }\nscenario "x" on m { spawn host; spawn from; host: b = mmap 1MiB }')[1:]
    assert [s.process for s in scenario.steps] == ["host", "from", "host"]


# ----------------------------------------------------------------------------- lexical rules
def test_comments_blank_lines_and_semicolons():
    text = "# a comment\n\n\nmachine m { ram 1GiB;; swap 0 # trailing\n\n # full line\n }\n# end"
    (machine,) = items(text)
    assert [s.name for s in machine.settings] == ["ram", "swap"]


def test_crlf_line_ends():
    (machine,) = items("machine m {\r\n    ram 1GiB\r\n}\r\n")
    assert machine.settings[0].size.amount == 1


def test_empty_file_and_only_comments():
    assert items("") == ()
    assert items("# nothing\n\n") == ()


@pytest.mark.parametrize("written, amount, unit", [
    ("64MiB", 64, "MiB"), ("64 MiB", 64, "MiB"), ("3 pages", 3, "pages"), ("3pages", 3, "pages"),
    ("1 page", 1, "page"), ("1B", 1, "B"), ("2KiB", 2, "KiB"), ("2GiB", 2, "GiB"), ("2TiB", 2, "TiB"),
    ("1PiB", 1, "PiB"), ("5KB", 5, "KB"), ("5MB", 5, "MB"), ("5GB", 5, "GB"), ("5TB", 5, "TB"),
    ("1_024KiB", 1024, "KiB"), ("0x10MiB", 16, "MiB"), ("0", 0, "B"),
])
def test_sizes_with_every_unit(written, amount, unit):
    (machine,) = items(f"machine m {{ swap {written} }}")
    size = machine.settings[0].size
    assert (size.amount, size.unit) == (amount, unit)


@pytest.mark.parametrize("written, value", [("4096", 4096), ("1_000_000", 1_000_000), ("0x7f00", 0x7F00)])
def test_integers(written, value):
    assert expr(f"oom_kills == {written}").right.value == value


def test_percent_and_durations():
    assert expr("tlb(p).hit_rate >= 95%").right.percent == 95
    for unit in ("ns", "us", "ms", "s"):
        lit = expr(f"time(p) < 5{unit}").right
        assert (lit.amount, lit.unit) == (5, unit)


def test_negative_values_where_signed():
    spawn = step("spawn p oom_adj -17 oom_score_adj -500")
    assert (spawn.oom_adj, spawn.oom_score_adj) == (-17, -500)
    assert step("set p oom_adj -16").value == -16
    brk = step("p: brk -1MiB")
    assert brk.negative and brk.delta.amount == 1


def test_string_escapes():
    (inc,) = items(r'include "a\"b\\c.vms"')
    assert inc.path == 'a"b\\c.vms'


def test_keywords_are_names_where_a_name_is_expected():
    s = steps("spawn text\nspawn spawn\nspawn: free = malloc 3 pages\nexit: free free\n"
              "text: read = mmap 1MiB\nfork text as image\nfile: x = malloc 1KiB\n"
              "machine: write stack\nrepeat: read heap")
    assert [getattr(x, "process", None) for x in s] == [
        "text", "spawn", "spawn", "exit", "text", None, "file", "machine", "repeat"]
    assert s[2].region == "free" and s[3].region == "free" and s[4].region == "read"
    assert s[5].child == "image"
    (image,) = items("image image { lib lib 1MiB }")
    assert image.name == "image" and image.segments[0].lib == "lib"
    (machine,) = items("machine machine extends scenario { ram 1GiB }")
    assert (machine.name, machine.extends) == ("machine", "scenario")


@pytest.mark.parametrize("word", ["on", "as", "expect", "always"])
def test_reserved_words_are_not_names(word):
    with pytest.raises(SpecErrors) as info:
        steps(f"spawn {word}")
    assert "reserved" in info.value.render()


# ----------------------------------------------------------------------------- file
def test_include_machine_image_invariant_scenario_file():
    inc, machine, image, inv, scen, decl = items(
        'include "machines/common.vms"\nmachine big extends small { ram 2GiB }\n'
        "image server { text 2MiB; data 256KiB; bss 128KiB; lib libc 2MiB; stack 8MiB }\n"
        'invariant "label": swap_used == 0\nscenario "t" on big seed 7 { }\nfile "f" 1MiB')
    assert inc.path == "machines/common.vms"
    assert (machine.name, machine.extends) == ("big", "small")
    assert [(s.kind, s.lib) for s in image.segments] == [
        ("text", None), ("data", None), ("bss", None), ("lib", "libc"), ("stack", None)]
    assert inv.label == "label" and isinstance(inv.expr, ast.Binary)
    assert (scen.title, scen.machine, scen.seed, scen.steps) == ("t", "big", 7, ())
    assert (decl.name, decl.size.amount, decl.size.unit) == ("f", 1, "MiB")


def test_scenario_options_in_either_order():
    (scen,) = items('scenario "t" seed 3 on m { }')
    assert (scen.machine, scen.seed) == ("m", 3)


def test_inline_machine_first_statement():
    (scen,) = items('scenario "t" {\n machine { ram 64MiB }\n spawn p\n}')
    assert scen.machine_inline.settings[0].name == "ram" and len(scen.steps) == 1


# ----------------------------------------------------------------------------- machine settings
def test_every_machine_setting():
    (m,) = items((DATA / "all_forms.vms").read_text().split("machine here")[0].split('vms"')[1]
                 .split("visible\n", 1)[1])
    by = {s.name: s for s in m.settings}
    assert by["paging"].number == 5
    hp = [s for s in m.settings if s.name == "hugepages"]
    assert [(h.size.amount, h.size.unit, h.number) for h in hp] == [(2, "MiB", 16), (1, "GiB", 0)]
    assert by["thp"].word == "always" and by["replacement"].word == "clock"
    assert (by["overcommit"].word, by["overcommit"].number) == ("never", 80)
    assert [x.amount for x in by["watermarks"].sizes] == [1, 2, 3]
    assert by["swappiness"].number == 60 and by["page_cluster"].number == 0
    assert [(lv.name, lv.entries, lv.ways) for lv in by["tlb"].tlb_levels] == [
        ("l1", 64, 4), ("l1_2m", 32, 4), ("l1_1g", 4, None), ("l2", 1536, 12)]
    assert [(i.name, i.value.amount, i.value.unit) for i in by["latency"].latency] == [
        ("tlb_hit", 1, "ns"), ("walk_step", 20, "ns"), ("minor_fault", 1, "us"),
        ("major_fault", 100, "us"), ("memory", 80, "ns")]
    for name in ("ram", "page_size", "swap", "mmap_threshold", "kernel", "readahead"):
        assert by[name].size is not None
    assert (by["readahead"].size.amount, by["readahead"].size.unit) == (8, "MiB")


@pytest.mark.parametrize("mode", ["heuristic", "always", "never"])
def test_overcommit_modes(mode):
    (m,) = items(f"machine m {{ overcommit {mode} }}")
    assert m.settings[0].word == mode and m.settings[0].number is None


@pytest.mark.parametrize("word", ["twolist", "lru", "fifo", "clock", "random"])
def test_replacement_policies(word):
    assert items(f"machine m {{ replacement {word} }}")[0].settings[0].word == word


@pytest.mark.parametrize("word", ["never", "madvise", "always"])
def test_thp_modes(word):
    assert items(f"machine m {{ thp {word} }}")[0].settings[0].word == word


# ----------------------------------------------------------------------------- steps
def test_spawn_options():
    s = step("spawn p image server oom_score_adj 5 oom_adj 3 memory_max 64MiB")
    assert (s.process, s.image, s.oom_score_adj, s.oom_adj, s.memory_max.amount) == ("p", "server", 5, 3, 64)
    assert step("spawn q").image is None


def test_mmap_defaults_and_every_option_in_any_order():
    plain = step("p: r = mmap 1MiB")
    assert (plain.file, plain.shared, plain.prot, plain.hugetlb, plain.populate, plain.noreserve) == (
        None, False, "rw", None, False, False)
    a = step('p: r = mmap 2MiB noreserve populate hugetlb 2MiB rx shared file "f"')
    b = step('p: r = mmap 2MiB file "f" shared rx hugetlb 2MiB populate noreserve')
    assert (a.file, a.shared, a.prot, a.hugetlb.amount, a.populate, a.noreserve) == ("f", True, "rx", 2, True, True)
    assert a.model_dump(exclude={"span", "file_span"}) == \
        b.model_dump(exclude={"span", "file_span"}) | {"hugetlb": a.hugetlb.model_dump()}
    for prot in ("r", "rw", "rx", "rwx", "none"):
        assert step(f"p: r = mmap 1MiB anon private {prot}").prot == prot


def test_malloc_free_munmap_brk():
    assert step("p: h = malloc 100KiB").size.amount == 100
    assert step("p: free h").region == "h"
    assert step("p: munmap r").range is None
    m = step("p: munmap r[4KiB..8KiB]")
    assert (m.range.start.amount, m.range.end.amount) == (4, 8)
    assert not step("p: brk +1MiB").negative


@pytest.mark.parametrize("written, start, end, single", [
    ("[0..64KiB]", (0, "B"), (64, "KiB"), False), ("[4096..]", (4096, "B"), None, False),
    ("[..2 pages]", None, (2, "pages"), False), ("[100]", (100, "B"), None, True),
])
def test_ranges(written, start, end, single):
    rng = step(f"p: read r{written}").range
    assert (rng.start.amount, rng.start.unit) == start if start else rng.start is None
    assert (rng.end.amount, rng.end.unit) == end if end else rng.end is None
    assert rng.single is single


def test_read_write_stride():
    s = step("p: write r[0..64KiB] stride 4KiB")
    assert s.write and s.stride.amount == 4
    assert not step("p: read r").write


def test_random_access():
    s = step("p: access r random 1000 seed 7 write")
    assert (s.count, s.seed, s.write) == (1000, 7, True)
    s = step("p: access r random 10 read")
    assert (s.count, s.seed, s.write) == (10, None, False)


def test_replay():
    s = step('p: replay "t.trace" into r format lackey write')
    assert (s.path, s.region, s.format, s.mode) == ("t.trace", "r", "lackey", "write")
    s = step('p: replay "t"')
    assert (s.region, s.format, s.mode) == (None, "pages", None)


@pytest.mark.parametrize("advice", ["dontneed", "hugepage", "nohugepage", "willneed", "pageout"])
def test_madvise(advice):
    assert step(f"p: madvise r[0..4KiB] {advice}").advice == advice
    assert step(f"p: madvise r {advice}").range is None


def test_mprotect_mlock_munlock():
    assert step("p: mprotect r[0..4KiB] none").prot == "none"
    assert step("p: mlock r").lock and not step("p: munlock r").lock


def test_file_fork_exit_set_drop_caches_repeat():
    f, fork, ex, s1, s2, dc, rep = steps(
        'file "f" 1MiB\nfork p as c\nexit c\nset p oom_score_adj 100\nset p oom_adj -16\n'
        "drop_caches\nrepeat 3 { p: read r; repeat 2 { p: write r } }")
    assert f.name == "f" and (fork.parent, fork.child) == ("p", "c") and ex.process == "c"
    assert (s1.setting, s1.value, s2.setting, s2.value) == ("oom_score_adj", 100, "oom_adj", -16)
    assert isinstance(dc, ast.DropCaches)
    assert rep.count == 3 and isinstance(rep.body[1], ast.Repeat)


@pytest.mark.parametrize("err", ["ENOMEM", "EINVAL", "SIGSEGV", "SIGBUS", "OOM"])
def test_failure_outcome(err):
    assert step(f"p: read r => {err}").expect_error == err
    assert step(f"spawn q => {err}").expect_error == err


def test_expect_and_always():
    e, a = steps("expect ram > 0\nalways swap_used == 0")
    assert isinstance(e, ast.Expect) and isinstance(a, ast.Always)


# ----------------------------------------------------------------------------- expressions
def shape(node):
    if isinstance(node, ast.Binary):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, ast.Unary):
        return (node.op, shape(node.operand))
    if isinstance(node, ast.CountLit):
        return node.value
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.Observable):
        return node.name
    return type(node).__name__


@pytest.mark.parametrize("text, tree", [
    ("1 + 2 * 3 == 7", ("==", ("+", 1, ("*", 2, 3)), 7)),
    ("1 - 2 - 3 == 0", ("==", ("-", ("-", 1, 2), 3), 0)),
    ("8 / 4 / 2 == 1", ("==", ("/", ("/", 8, 4), 2), 1)),
    ("-2 * 3 == -6", ("==", ("*", ("-", 2), 3), ("-", 6))),
    ("a or b and c", ("or", "a", ("and", "b", "c"))),
    ("not a == 1 and b", ("and", ("not", ("==", "a", 1)), "b")),
    ("not not a", ("not", ("not", "a"))),
    ("(1 + 2) * 3 == 9", ("==", ("*", ("+", 1, 2), 3), 9)),
    ("x in killed or y", ("or", ("in", "x", "killed"), "y")),
    ("a <= 1 or a >= 2 or a != 3 or a < 4 or a > 5", None),
])
def test_precedence(text, tree):
    node = expr(text)
    if tree is not None:
        assert shape(node) == tree


def test_observables():
    assert expr("ram").name == "ram"
    o = expr("faults(p).minor")
    assert (o.name, o.args[0].name, o.field) == ("faults", "p", "minor")
    o = expr("shared(p.buf, q.buf)")
    assert [(a.process, a.region) for a in o.args] == [("p", "buf"), ("q", "buf")]
    o = expr("hugepages_free(2MiB)")
    assert (o.args[0].amount, o.args[0].unit) == (2, "MiB")
    assert expr("time").args == () and expr("time(p)").args[0].name == "p"
    assert isinstance(expr("running"), ast.NameRef)
    lst = expr("killed == [a, b]").right
    assert [i.name for i in lst.items] == ["a", "b"]
    assert expr("killed == []").right.items == ()


def test_ranges_in_region_observables():
    o = expr("resident(p.buf[0..1MiB])")
    (ref,) = o.args
    assert (ref.process, ref.region, ref.range.start.amount, ref.range.end.amount) == ("p", "buf", 0, 1)
    assert expr("swapped(p.buf[4KiB..])").args[0].range.end is None
    assert expr("huge(p.buf[..2MiB])").args[0].range.start is None
    assert expr("huge(p.buf[100])").args[0].range.single
    assert expr("resident(p.buf)").args[0].range is None


def test_spans_point_at_the_source():
    (scen,) = items('scenario "s" {\n    spawn parent\n    expect rss(parent) == 1MiB\n}')
    spawn, exp = scen.steps
    assert (spawn.span.line, spawn.span.column, spawn.span.end_column) == (2, 5, 17)
    assert (exp.expr.left.span.column, exp.expr.right.span.column) == (12, 27)
    assert (scen.span.line, scen.span.end_line) == (1, 4)


def test_deep_parentheses_do_not_recurse():
    depth = 100_000
    node = expr("(" * depth + "1" + ")" * depth + " == 1")
    assert shape(node) == ("==", 1, 1)


def test_deeply_nested_operators_are_a_spec_error():
    with pytest.raises(SpecErrors) as info:
        expr("-" * 50_000 + "1 == 1")
    assert f"nested deeper than {MAX_DEPTH} levels" in info.value.render()
    with pytest.raises(SpecErrors):
        expr(" + ".join(["1"] * 50_000) + " == 1")
    assert shape(expr("-" * (MAX_DEPTH - 1) + "1 == 1"))[0] == "=="


def test_separators_collapse_and_keywords_glued_to_digits_still_read_as_before():
    from vmspec.language import parse_text

    spec = parse_text('machine m { ram 64MiB;; hugepages 2MiB x16 }\nscenario "s" { expect ram > 0;;; }\n', "x.vms")
    assert spec.items[0].settings[1].number == 16
    assert len(spec.items[1].steps) == 1
