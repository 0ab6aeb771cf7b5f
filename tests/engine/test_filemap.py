"""Large page-cache folios and the PMDs that map them, through everything else the engine does:
reclaim and the textbook policies take a folio whole, drop_caches drops it whole, MADV_PAGEOUT
splits one it covers in part, fork does not copy a file PMD, mprotect and munmap clear one they
cut, a write splits it (private: copy-on-write of one page; shared: mapped again, writable), and
mlock makes a folio unevictable."""

from __future__ import annotations

import pytest

from vmspec.engine import MachineConfig, System

KiB, MiB = 1 << 10, 1 << 20


def machine(**kw) -> System:
    kw.setdefault("ram", 1 << 30)
    kw.setdefault("readahead", 8 * MiB)
    return System(MachineConfig(**kw), check_pages=True)


def read_file(s: System, size: int = 64 * MiB, proc: str = "p", shared: bool = False,
              prot: str = "r") -> None:
    if "f" not in s.cache.files:
        s.create_file("f", size)
    if proc not in s.procs:
        s.spawn(proc)
    s.mmap(proc, "m", size, file="f", shared=shared, prot=prot)
    s.access(proc, "m", 0, size, write=False)


def file_pmds(s: System, proc: str = "p") -> int:
    return sum(1 for leaf in s.procs[proc].pt.thp.values() if leaf.file)


def large_folios(s: System) -> int:
    return sum(1 for h in s.frames.folios if s.frames.flags[h] & 2)  # FILE


def test_reclaim_takes_a_large_folio_whole():
    """Reading 64 MiB of a file on a 48 MiB machine: reclaim frees cold folios whole (the cache
    never holds part of a folio), counts their pages, and its costs stay non-negative."""
    s = machine(ram=48 * MiB)
    read_file(s)
    assert s.cached < 48 * MiB and s.reclaim.counts.reclaimed > 0
    assert s.reclaim.counts.scanned >= s.reclaim.counts.reclaimed
    vec = s.frames.lists.vecs[0]
    assert vec.anon_cost >= 0 and vec.file_cost >= 0
    s.check_invariants()


@pytest.mark.parametrize("policy", ["fifo", "lru", "clock", "random"])
def test_a_textbook_policy_gives_up_a_large_folio_whole(policy):
    s = machine(ram=40 * MiB, replacement=policy)
    read_file(s)
    s.check_invariants()
    assert s.faults("p").major >= 1 and s.cached < 40 * MiB


def test_drop_caches_drops_unmapped_folios_whole():
    s = machine()
    read_file(s)
    folios = large_folios(s)
    assert folios > 0
    s.munmap("p", "m", 0, 32 * MiB)  # the first half's folios are unmapped
    s.drop_caches()
    s.check_invariants()
    assert s.cached == 32 * MiB and 0 < large_folios(s) < folios


def test_pageout_of_a_whole_mapping_frees_its_folios():
    s = machine()
    read_file(s)
    s.madvise("p", "m", 0, 64 * MiB, "pageout")
    s.check_invariants()
    assert (s.cached, s.rss("p"), file_pmds(s)) == (0, 0, 0)


def test_pageout_of_part_of_a_folio_splits_it():
    """MADV_PAGEOUT of 4 KiB inside a mapped 256 KiB folio: the folio is split into pages and
    only that page leaves the cache."""
    s = machine()
    read_file(s, size=16 * MiB)  # order-2 folios from page 2048 on
    before = s.cached
    s.madvise("p", "m", 8 * MiB + 4096, 8 * MiB + 8192, "pageout")
    s.check_invariants()
    assert s.cached == before - 4096 and s.thp_split_page == 1


def test_fork_does_not_copy_a_file_pmd_and_the_child_refaults():
    s = machine()
    read_file(s)
    assert file_pmds(s) == 12
    s.fork("p", "c")
    assert file_pmds(s, "c") == 0 and s.rss("c") == 0 and file_pmds(s) == 12
    s.access("c", "m", 62 * MiB, 64 * MiB, write=False)  # one fault maps the PMD again
    assert file_pmds(s, "c") == 1 and s.faults("c").minor == 1
    s.check_invariants()


def test_mprotect_of_part_of_a_pmd_clears_it():
    s = machine()
    read_file(s, prot="rw")
    s.mprotect("p", "m", 62 * MiB, 62 * MiB + 4096, "r")
    assert file_pmds(s) == 11 and s.thp_split_pmd == 1 and s.rss("p") == 62 * MiB
    s.access("p", "m", 62 * MiB, 64 * MiB, write=False)  # back through PTEs now
    assert file_pmds(s) == 11 and s.rss("p") == 64 * MiB
    s.check_invariants()


def test_munmap_of_part_of_a_pmd_clears_it_and_the_folio_stays_cached():
    s = machine()
    read_file(s)
    s.munmap("p", "m", 63 * MiB, 64 * MiB)
    assert file_pmds(s) == 11 and s.rss("p") == 62 * MiB and s.cached == 64 * MiB
    s.check_invariants()


def test_a_private_write_to_a_file_pmd_copies_one_page():
    """``do_huge_pmd_wp_page`` on a page-cache folio: the PMD is split (cleared) and the
    4 KiB copy-on-write copies the written page."""
    s = machine()
    read_file(s, prot="rw")
    minor = s.faults("p").minor
    s.access("p", "m", 62 * MiB, 62 * MiB + 1, write=True)
    f = s.faults("p")
    assert (f.minor - minor, f.cow, file_pmds(s), s.thp_split_pmd) == (1, 1, 11, 1)
    assert s.rss_anon("p") == 4 * KiB and s.rss_file("p") == 62 * MiB
    s.check_invariants()


def test_a_shared_write_to_a_file_pmd_maps_it_again_writable():
    s = machine()
    read_file(s, shared=True, prot="rw")
    minor = s.faults("p").minor
    s.access("p", "m", 62 * MiB, 64 * MiB, write=True)
    leaf = s.procs["p"].pt.thp[(s.procs["p"].regions["m"].start + 62 * MiB) >> 21]
    assert leaf.file and leaf.wr and leaf.dirty
    assert s.faults("p").minor - minor == 1 and file_pmds(s) == 12
    s.check_invariants()


def test_mlock_makes_large_folios_unevictable():
    s = machine()
    read_file(s)
    s.mlock("p", "m")
    assert s.unevictable == 64 * MiB
    s.munlock("p", "m")
    assert s.unevictable == 0
    s.check_invariants()


def test_a_file_pmd_is_one_2mib_tlb_entry():
    s = machine()
    read_file(s)
    misses = s.tlb("p").misses
    s.access("p", "m", 62 * MiB, 64 * MiB, write=False, stride=4096)  # 512 accesses
    assert s.tlb("p").misses - misses <= 1
