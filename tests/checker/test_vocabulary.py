"""What explore draws from: the spec's names, sizes at the machine's limits, every kind of step."""

import collections

from vmspec.checker.vocabulary import KIND_ORDER, build_vocabulary, draw_steps, size_lit
from vmspec.language import ast, load

SPEC = """machine m { ram 64MiB; swap 32MiB; hugepages 2MiB x 4 }
image server { text 1MiB; data 64KiB; lib libc 2MiB }
file "data.bin" 4MiB
invariant "a": rss(app) <= 3MiB and resident(app.cache) < 1MiB
invariant "b": pagetables(db) <= 16KiB or db in killed
scenario "setup" on m {
    spawn web image server
    web: conns = malloc 64KiB
}
"""


def _vocab(tmp_path, monkeypatch, text=SPEC):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.vms").write_text(text)
    program = load("v.vms")
    return build_vocabulary(program, "m", program.invariants)


def test_names_come_from_the_invariants_then_the_files_scenarios(tmp_path, monkeypatch):
    vocab = _vocab(tmp_path, monkeypatch)
    assert vocab.wanted == ("app", "db") and vocab.processes == ("app", "db", "web")
    assert vocab.regions_of("app") == ("cache",) and vocab.region_names == ("conns",)
    assert vocab.images == (("server", (("text", 1 << 20), ("data", 64 << 10), ("libc", 2 << 20))),)
    assert vocab.files == (("data.bin", 4 << 20),) and vocab.huge == ((2 << 20, 4),)


def test_sizes_reach_the_machines_limits_and_the_invariants_constants(tmp_path, monkeypatch):
    vocab = _vocab(tmp_path, monkeypatch)
    MiB = 1 << 20
    for size in (64 * MiB, 64 * MiB + 4096, 96 * MiB, 32 * MiB, 3 * MiB, 3 * MiB + 4096, 10 * MiB):
        assert size in vocab.limits, size
    assert 16 * 1024 * 512 in vocab.limits  # page tables of 16KiB map 8MiB
    assert vocab.sizes[0] == 4096 and vocab.sizes[-1] >= 4 * 96 * MiB
    assert all(s % 4096 == 0 for s in vocab.sizes + vocab.limits + vocab.memory_max)


def test_every_kind_of_step_and_option_is_drawn(tmp_path, monkeypatch):
    vocab = _vocab(tmp_path, monkeypatch)
    seen = collections.Counter()
    for seed in range(400):
        for step in draw_steps(vocab, [seed * 31 + i for i in range(12)], seed):
            steps = step.body if isinstance(step, ast.Repeat) else (step,)
            if isinstance(step, ast.Repeat):
                seen["repeat"] += 1
            for s in steps:
                seen[type(s).__name__] += 1
                if isinstance(s, ast.Spawn):
                    seen.update(k for k in ("image", "oom_score_adj", "memory_max") if getattr(s, k) is not None)
                elif isinstance(s, ast.Mmap):
                    seen.update(k for k in ("file", "shared", "hugetlb", "populate", "noreserve") if getattr(s, k))
                    seen[f"prot {s.prot}"] += 1
                elif isinstance(s, ast.Access):
                    seen.update(k for k in ("range", "stride") if getattr(s, k) is not None)
                elif isinstance(s, ast.Madvise):
                    seen[s.advice] += 1
                elif isinstance(s, ast.Mlock):
                    seen["mlock" if s.lock else "munlock"] += 1
                elif isinstance(s, ast.Brk):
                    seen["brk -" if s.negative else "brk +"] += 1
    kinds = {"Spawn", "Fork", "Exit", "SetOom", "Mmap", "Malloc", "Free", "Brk", "Access", "RandomAccess",
             "Munmap", "Mprotect", "Madvise", "Mlock", "FileDecl", "DropCaches", "repeat"}
    options = {"image", "oom_score_adj", "memory_max", "file", "shared", "hugetlb", "populate", "noreserve",
               "prot r", "prot none", "prot rx", "prot rwx", "range", "stride", "dontneed", "hugepage",
               "nohugepage", "willneed", "pageout", "mlock", "munlock", "brk +", "brk -"}
    assert not (kinds | options) - set(seen), (kinds | options) - set(seen)
    assert len(KIND_ORDER) == 19


def test_drawn_scenarios_name_only_what_exists(tmp_path, monkeypatch):
    from vmspec.checker.trial import render
    from vmspec.language import load_scenarios

    vocab = _vocab(tmp_path, monkeypatch)
    program = load("v.vms")
    for seed in range(150):
        text = render("s", "m", draw_steps(vocab, [seed * 7 + i for i in range(12)], seed))
        load_scenarios(program, text, "drawn.vms")  # raises SpecErrors on a name that does not exist


def test_sizes_are_written_in_the_largest_exact_unit():
    assert [(x.amount, x.unit) for x in map(size_lit, (0, 4096, 1028 << 10, 3 << 20, 1 << 30, 100))] == [
        (0, "B"), (4, "KiB"), (1028, "KiB"), (3, "MiB"), (1, "GiB"), (100, "B")]
