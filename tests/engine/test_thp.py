"""Transparent huge pages (docs/engine.md, "Transparent huge pages"): the table measured on
Linux 6.18 (enabled=madvise, defrag=madvise, use_zero_page=1), each kernel number in a comment,
and the rules around it: splits, copy-on-write, reclaim, mlock, the TLB and the counters."""

from __future__ import annotations

import pytest

from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import ModelledFailure

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def machine(**kw) -> System:
    kw.setdefault("ram", 256 * MiB)
    check = kw.pop("check", False)
    s = System(MachineConfig(**kw), check_pages=check)
    s.spawn("p")
    return s


def madvised(s: System, size: int, name: str = "b") -> None:
    s.mmap("p", name, size)
    s.madvise("p", name, 0, size, "hugepage")


def test_write_an_aligned_madvised_region():
    s = machine()
    madvised(s, 8 * MiB)
    s.access("p", "b", 0, 8 * MiB, write=True)
    assert s.faults("p").minor == 4  # measured: 4 minor faults
    assert s.huge("p", "b") == 8 * MiB  # measured: AnonHugePages 8192 kB
    assert s.rss("p") == 8 * MiB  # measured: RSS +8 MiB
    assert s.thp_fault_alloc == 4 and s.thp_fault_fallback == 0
    assert s.inactive_anon == 8 * MiB  # one LRU entry per huge page, 512 pages each
    s.check_invariants()


def test_read_first_maps_the_huge_zero_page():
    s = machine()
    madvised(s, 8 * MiB)
    s.access("p", "b", 0, 8 * MiB, write=False)
    assert s.faults("p").minor == 4 and s.rss("p") == 0  # measured: 4 faults, RSS +0
    assert s.huge("p", "b") == 0  # the huge zero page is not AnonHugePages
    s.access("p", "b", 0, 8 * MiB, write=True)
    assert s.faults("p").minor == 8 and s.rss("p") == 8 * MiB  # measured: 4 more, +8 MiB
    assert s.huge("p", "b") == 8 * MiB and s.thp_fault_alloc == 4
    s.check_invariants()


def test_munmap_of_one_page_splits_its_huge_page():
    s = machine()
    madvised(s, 8 * MiB)
    s.access("p", "b", 0, 8 * MiB, write=True)
    s.munmap("p", "b", 2 * MiB, 2 * MiB + 4 * KiB)
    assert s.huge("p", "b") == 6 * MiB  # measured: AnonHugePages -2 MiB
    assert s.rss("p") == 8 * MiB - 4 * KiB  # measured: RSS -4 KiB
    assert s.thp_split_pmd == 1
    s.check_invariants()


def test_dontneed_of_part_splits_and_the_range_refaults_in_base_pages():
    s = machine()
    madvised(s, 8 * MiB)
    s.access("p", "b", 0, 8 * MiB, write=True)
    s.madvise("p", "b", 0, 1 * MiB, "dontneed")
    assert s.huge("p", "b") == 6 * MiB and s.rss("p") == 7 * MiB  # measured: -2 MiB, -1 MiB
    before = s.faults("p").minor
    s.access("p", "b", 0, 1 * MiB, write=True)
    assert s.faults("p").minor - before == 256  # measured: 256 faults
    s.check_invariants()


def test_fork_then_the_child_copies_per_base_page():
    s = machine(check=True)
    madvised(s, 8 * MiB)
    s.access("p", "b", 0, 8 * MiB, write=True)
    s.fork("p", "c")
    assert s.huge("c", "b") == 8 * MiB and s.rss("c") == 8 * MiB
    s.access("c", "b", 0, 8 * MiB, write=True)
    assert s.faults("c").minor == 2048 and s.faults("c").cow == 2048  # measured: 2048 minor
    assert s.huge("p", "b") == 8 * MiB and s.huge("c", "b") == 0  # the parent stays huge
    assert s.thp_split_pmd == 4
    s.check_invariants()
    s.exit("c")
    before = s.faults("p").minor
    s.access("p", "b", 0, 8 * MiB, write=True)  # exclusive again: reused at the PMD
    assert s.faults("p").minor - before == 4 and s.faults("p").cow == 0
    s.check_invariants()


def test_an_unaligned_region_gets_a_huge_page_where_one_fits():
    s = machine()
    s.mmap("p", "first", 1 * MiB)  # moves the next mapping's end off a 2 MiB boundary
    madvised(s, 3 * MiB)
    s.access("p", "b", 0, 3 * MiB, write=True)
    assert s.faults("p").minor == 257  # measured: 257 faults
    assert s.huge("p", "b") == 2 * MiB
    s.check_invariants()


def test_a_huge_page_deposits_a_page_table():
    s = machine()
    madvised(s, 4 * MiB)
    s.mmap("p", "near", 4 * KiB)
    s.access("p", "near", 0, 4 * KiB, write=True)  # the PUD and PMD tables exist now
    before = s.pagetables("p")
    s.access("p", "b", 0, 4 * MiB, write=True)
    assert s.faults("p").minor == 1 + 2  # measured: 2 faults
    assert s.pagetables("p") - before == 8 * KiB  # measured: VmPTE +8 kB


def test_a_hundred_mib_as_measured_in_the_fault_table():
    """The 25600-page HUGEPAGE row: write 50 faults (AnonHugePages 102400 kB), read 50 (huge
    zero page, AnonHugePages 0, VmPTE +200 kB), read then write 50 + 50."""
    for write_first in (True, False):
        s = machine()
        madvised(s, 100 * MiB)
        s.mmap("p", "near", 4 * KiB)
        s.access("p", "near", 0, 4 * KiB, write=True)
        pt = s.pagetables("p")
        s.access("p", "b", 0, 100 * MiB, write=write_first)
        assert s.faults("p").minor == 1 + 50
        assert s.huge("p", "b") == (100 * MiB if write_first else 0)
        if not write_first:
            assert s.pagetables("p") - pt == 200 * KiB and s.rss("p") == 4 * KiB
            s.access("p", "b", 0, 100 * MiB, write=True)
            assert s.faults("p").minor == 1 + 50 + 50 and s.huge("p", "b") == 100 * MiB


def test_thp_modes():
    for mode, huge in (("never", 0), ("madvise", 0), ("always", 8 * MiB)):
        s = machine(thp=mode)
        s.mmap("p", "b", 8 * MiB)  # no advice
        s.access("p", "b", 0, 8 * MiB, write=True)
        assert s.huge("p", "b") == huge, mode
        assert s.faults("p").minor == (4 if huge else 2048)
    s = machine(thp="always")
    s.mmap("p", "b", 8 * MiB)
    s.madvise("p", "b", 0, 8 * MiB, "nohugepage")
    s.access("p", "b", 0, 8 * MiB, write=True)
    assert s.huge("p", "b") == 0
    s.check_invariants()


def test_mprotect_and_mlock_of_part_split():
    s = machine(swap=64 * MiB)
    madvised(s, 8 * MiB)
    s.access("p", "b", 0, 8 * MiB, write=True)
    s.mprotect("p", "b", 0, 4 * MiB, "r")  # whole huge pages: no split
    assert s.huge("p", "b") == 8 * MiB and s.thp_split_pmd == 0
    s.mprotect("p", "b", 4 * MiB, 5 * MiB, "r")  # part of one: split
    assert s.huge("p", "b") == 6 * MiB and s.thp_split_pmd == 1
    s.mmap("p", "l", 4 * MiB)
    s.madvise("p", "l", 0, 4 * MiB, "hugepage")
    s.mlock("p", "l")
    assert s.huge("p", "l") == 4 * MiB and s.unevictable == 4 * MiB
    s.check_invariants()
    s.munlock("p", "l")
    assert s.unevictable == 0
    s.check_invariants()


def test_a_huge_page_falls_back_when_512_frames_cannot_be_had():
    """thp always without MADV_HUGEPAGE: no reclaim for a huge page (defrag madvise), so once
    512 frames above the min watermark are gone, faults fall back to 4 KiB pages."""
    s = machine(ram=16 * MiB, swap=64 * MiB, thp="always", check=True)
    s.mmap("p", "b", 16 * MiB)
    s.access("p", "b", 0, 16 * MiB, write=True)
    assert s.thp_fault_alloc == 7 and s.thp_fault_fallback == 1
    assert s.rss("p") + s.swap("p") == 16 * MiB and s.oom_kills == 0
    s.check_invariants()


def test_reclaim_splits_a_huge_page_and_swaps_its_pages():
    s = machine(ram=64 * MiB, swap=256 * MiB, check=True)
    madvised(s, 32 * MiB)
    s.access("p", "b", 0, 32 * MiB, write=True)
    s.mmap("p", "a", 48 * MiB)
    s.access("p", "a", 0, 48 * MiB, write=True)
    assert s.swap("p") > 0 and s.thp_split_pmd > 0
    s.check_invariants()
    s.access("p", "b", 0, 32 * MiB, write=False)  # every page comes back
    s.check_invariants()


def test_pageout_of_a_whole_huge_page():
    s = machine(swap=64 * MiB, check=True)
    madvised(s, 4 * MiB)
    s.access("p", "b", 0, 4 * MiB, write=True)
    s.madvise("p", "b", 0, 4 * MiB, "pageout")
    assert s.swap("p") == 4 * MiB and s.huge("p", "b") == 0 and s.rss("p") == 0
    s.check_invariants()


def test_tlb_uses_2m_entries_and_walks_one_level_fewer():
    s = machine()
    madvised(s, 4 * MiB)
    s.access("p", "b", 0, 4 * MiB, write=True)
    t = s.tlb("p")
    assert (t.hits, t.misses) == (1022, 2)  # one miss per huge page
    s.access_random("p", "b", 1000, seed=1)
    assert s.tlb("p").misses == 2  # both 2 MiB entries stay in l1_2m
    lat = s.machine.latency
    walks = 2 * (s.levels - 1)
    assert s.process_time("p") == (2024 * lat.memory + 2022 * lat.tlb_hit + walks * lat.walk_step
                           + 2 * lat.minor_fault)


@pytest.mark.parametrize("mode", ["always", "madvise"])
def test_sweep_equals_per_access_path(mode):
    from tests.engine.ops import slow_access

    def run(slow):
        s = machine(thp=mode, swap=64 * MiB)
        madvised(s, 6 * MiB)
        s.mmap("p", "o", 3 * MiB)
        for reg, a, b, w in (("b", 0, 5 * MiB, False), ("b", 1 * MiB, 6 * MiB, True),
                             ("o", 0, 3 * MiB, True), ("b", 0, 6 * MiB, True)):
            if slow:
                slow_access(s, "p", reg, a, b, w, None)
            else:
                s.access("p", reg, a, b, write=w)
            s.check_invariants()
        f, t = s.faults("p"), s.tlb("p")
        return (f.minor, f.major, f.cow, s.rss("p"), s.huge("p", "b"), t.hits, t.misses,
                s.pagetables("p"), s.process_time("p"))
    assert run(False) == run(True)


def test_hugetlb_and_thp_in_one_scenario():
    s = machine(hugepages=((2 * MiB, 4),))
    s.mmap("p", "h", 4 * MiB, hugetlb=2 * MiB)
    madvised(s, 4 * MiB)
    s.access("p", "h", 0, 4 * MiB, write=True)
    s.access("p", "b", 0, 4 * MiB, write=True)
    assert s.huge("p", "h") == 4 * MiB and s.huge("p", "b") == 4 * MiB
    assert s.rss("p") == 4 * MiB  # hugetlb pages are not RSS, THP pages are
    s.check_invariants()


def _fill(s: System, proc: str, name: str, size: int, write: bool) -> None:
    try:
        s.mmap(proc, name, size)
        s.access(proc, name, 0, size, write=write)
    except ModelledFailure:
        pass


def test_a_new_huge_page_is_not_reclaimed_while_its_tables_are_allocated():
    """Found by the THP state machine: the table deposited with a new huge page was allocated
    after the folio, and that allocation could reclaim the folio (on the LRU already, mapped by
    nothing yet), leaving the PMD to map freed frames."""
    s = System(MachineConfig(ram=24 * MiB, swap=64 * MiB, thp="always", overcommit="always",
                             page_cluster=1), check_pages=True)
    s.spawn("p")
    for i, (huge, extra, write) in enumerate([(4, 0, False), (3, 77, True), (1, 0, True),
                                              (3, 77, True), (4, 0, True)]):
        _fill(s, "p", f"h{i}", huge * 2 * MiB + extra * 4096, write)
        s.check_invariants()
    s.exit("p")
    s.check_invariants()
    assert s.used == 0


def test_exit_of_a_process_whose_locked_huge_page_a_child_shares():
    """Found by the THP state machine: exit munlocked a VM_LOCKED VMA's huge page, then zapping
    its PMD munlocked it again (mlock count -1) when a fork child still mapped the folio."""
    s = System(MachineConfig(ram=8 * MiB, thp="always", overcommit="always"), check_pages=True)
    s.spawn("p")
    s.fork("p", "c1")
    _fill(s, "p", "h1", 4 * MiB, True)
    s.mlock("p", "h1")
    s.fork("p", "c2")
    _fill(s, "p", "h2", 6 * MiB, True)  # p is OOM-killed
    s.check_invariants()
    assert not s.alive("p") and s.oom_kills == 1
