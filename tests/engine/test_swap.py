"""Swap and textbook page replacement (docs/engine.md "Swap and replacement"; mm/memory.c
do_swap_page, mm/swapfile.c, mm/oom_kill.c; docs/language.md: with fifo/lru/clock/random the fault counts equal the textbook's).

The textbook machines leave exactly K frames for user pages: ``kernel`` takes all of RAM but
K + 3 frames, and the 3 are the PTE, PMD and PUD tables of the one region touched (spawn without
an image faults nothing in). ``page_cluster 0`` turns swap readahead off, as OSTEP-style
exercises assume. Every textbook count is also computed by an independent simulator below.
"""

import numpy as np
import pytest

from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import OOMKilled

KiB, MiB = 1 << 10, 1 << 20
CLASSIC = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
BELADY = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]


def textbook(policy, k, *, swap=1 * MiB, page_cluster=0, pages=16):
    ram = 1 * MiB
    sysm = System(MachineConfig(ram=ram, swap=swap, replacement=policy, page_cluster=page_cluster,
                                kernel=ram - (k + 3) * 4 * KiB))
    sysm.spawn("p")
    sysm.mmap("p", "r", pages * 4 * KiB)
    return sysm


def faults(policy, refs, k, write=True):
    sysm = textbook(policy, k)
    sysm.access_pages("p", "r", refs, write=write)
    sysm.check_invariants()
    f = sysm.faults("p")
    return f.minor + f.major, f.major


# ---- independent reference simulators -----------------------------------------------------

def ref_fifo(refs, k):
    mem, n = [], 0
    for x in refs:
        if x not in mem:
            n += 1
            if len(mem) == k:
                mem.pop(0)
            mem.append(x)
    return n


def ref_lru(refs, k):
    mem, n = [], 0
    for x in refs:
        if x in mem:
            mem.remove(x)
        else:
            n += 1
            if len(mem) == k:
                mem.pop(0)
        mem.append(x)
    return n


def ref_clock(refs, k):
    slots, ref, hand, n = [], [], 0, 0
    for x in refs:
        if x in slots:
            ref[slots.index(x)] = 1
            continue
        n += 1
        if len(slots) < k:
            slots.append(x)
            ref.append(1)
            continue
        while ref[hand]:
            ref[hand] = 0
            hand = (hand + 1) % k
        slots[hand], ref[hand] = x, 1
        hand = (hand + 1) % k
    return n


def ref_random(refs, k):
    rng = np.random.default_rng(0)
    mem, n = [], 0  # arrival order
    for x in refs:
        if x in mem:
            continue
        n += 1
        if len(mem) == k:
            mem.pop(int(rng.integers(len(mem))))
        mem.append(x)
    return n


REFS = {"fifo": ref_fifo, "lru": ref_lru, "clock": ref_clock, "random": ref_random}


def test_classic_reference_string():
    """7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1 with 3 frames: FIFO 15 faults, LRU 12."""
    assert faults("fifo", CLASSIC, 3) == (15, 9)  # 6 first touches are minor, 9 swap-ins major
    assert faults("lru", CLASSIC, 3) == (12, 6)
    assert ref_fifo(CLASSIC, 3) == 15 and ref_lru(CLASSIC, 3) == 12
    assert faults("clock", CLASSIC, 3)[0] == ref_clock(CLASSIC, 3) == 14


def test_belady_anomaly_with_fifo():
    assert faults("fifo", BELADY, 3)[0] == 9
    assert faults("fifo", BELADY, 4)[0] == 10
    assert faults("lru", BELADY, 3)[0] == ref_lru(BELADY, 3) == 10
    assert faults("lru", BELADY, 4)[0] == ref_lru(BELADY, 4) == 8


@pytest.mark.parametrize("policy", ["fifo", "lru", "clock", "random"])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_random_traces_match_the_reference_simulators(policy, k):
    rng = np.random.default_rng(k)
    for n in (8, 12):
        refs = rng.integers(0, n, size=200).tolist()
        got, _ = faults(policy, refs, k)
        assert got == REFS[policy](refs, k), (policy, k, n)


@pytest.mark.parametrize("policy", ["fifo", "lru", "clock"])
def test_reads_of_untouched_pages_use_the_zero_page_and_take_no_frame(policy):
    """A first read maps the zero page (do_anonymous_page): no frame, nothing to give up."""
    sysm = textbook(policy, 2)
    sysm.access_pages("p", "r", [0, 1, 2, 3, 4], write=False)
    assert sysm.faults("p").minor == 5 and sysm.rss("p") == 0 and sysm.swap_used == 0


@pytest.mark.parametrize("policy", ["fifo", "lru", "clock", "random"])
def test_sweeps_under_pressure(policy):
    """The vectorised write sweep falls back page by page when frames run out; a loop over more
    pages than frames faults on every page under fifo, lru and clock."""
    sysm = textbook(policy, 3, pages=8)
    sysm.access("p", "r", 0, 8 * 4 * KiB, write=True)
    sysm.access("p", "r", 0, 8 * 4 * KiB, write=True)
    sysm.check_invariants()
    f = sysm.faults("p")
    assert f.minor == 8
    if policy != "random":
        assert f.major == 8
    assert sysm.rss("p") == 3 * 4 * KiB and sysm.swap("p") == 5 * 4 * KiB
    assert sysm.swapped("p", "r") == 5 * 4 * KiB and sysm.resident("p", "r") == 3 * 4 * KiB
    assert sysm.swap_used == 5 * 4 * KiB and sysm.swap_free == 1 * MiB - 5 * 4 * KiB


def test_lru_stamps_tlb_hits_and_sweeps():
    """Every access counts for lru, TLB hits included, and a sweep stamps in access order."""
    sysm = textbook("lru", 3)
    sysm.access("p", "r", 0, 3 * 4 * KiB, write=True)  # 0 1 2 via the sweep
    sysm.access_pages("p", "r", [0], write=True)  # TLB hit: 0 is now the most recent
    sysm.access_pages("p", "r", [3], write=True)  # gives up 1
    assert sysm.faults("p").major == 0
    sysm.access_pages("p", "r", [0, 2], write=True)
    assert sysm.faults("p").major == 0
    sysm.access_pages("p", "r", [1], write=True)
    assert sysm.faults("p").major == 1
    sysm.check_invariants()


def test_swap_slots_fork_exit_and_munmap():
    sysm = textbook("fifo", 3, pages=8)
    sysm.access_pages("p", "r", range(8), write=True)  # 5 pages go to slots 1..5
    refs = sysm.swapdev.refs
    assert [refs(s) for s in range(1, 7)] == [1, 1, 1, 1, 1, 0]
    sysm.fork("p", "c")  # needs no new frame here? page tables: let the policy make room
    sysm.check_invariants()
    assert sysm.swap("c") == sysm.swap("p") >= 5 * 4 * KiB
    assert [refs(s) for s in range(1, 6)] == [2] * 5  # swap_duplicate
    sysm.exit("c")
    sysm.check_invariants()
    assert [refs(s) for s in range(1, 6)] == [1] * 5
    used = sysm.swap_used
    assert used >= 5 * 4 * KiB
    sysm.munmap("p", "r")
    sysm.check_invariants()
    assert sysm.swap_used == 0 and sysm.swap("p") == 0 and sysm.swap_free == 1 * MiB


def test_slot_zero_is_the_header():
    sysm = textbook("fifo", 1, pages=2)
    sysm.access_pages("p", "r", [0, 1], write=True)
    assert sysm.swapdev.refs(0) == 0 and sysm.swapdev.refs(1) == 1


def test_swap_in_after_fork_copies_on_write():
    """A slot two processes reference: the first swap-in maps the page read-only (shared), a
    write copies it (cow) and the other process's entry still reads the old page."""
    sysm = System(MachineConfig(ram=64 * MiB, swap=64 * MiB))
    sysm.spawn("p")
    sysm.mmap("p", "r", 64 * KiB)
    sysm.access("p", "r", 0, 64 * KiB, write=True)
    sysm.fork("p", "c")
    sysm.madvise("p", "r", 0, 64 * KiB, "pageout")  # shared with c: skipped
    assert sysm.swap("p") == 0
    sysm.exit("c")
    sysm.madvise("p", "r", 0, 64 * KiB, "pageout")
    assert sysm.swap("p") == 64 * KiB and sysm.rss("p") == 0
    sysm.fork("p", "d")
    assert sysm.swap("d") == 64 * KiB
    sysm.access("p", "r", 0, 4 * KiB, write=True)  # swap-cache hit, shared slot: copy
    f = sysm.faults("p")
    assert f.cow == 1 and f.major == 0
    sysm.check_invariants()
    sysm.access("d", "r", 0, 4 * KiB, write=False)  # the old page is still in the swap cache
    assert sysm.faults("d").minor == 1 and sysm.faults("d").major == 0
    sysm.check_invariants()


def test_pageout_measured_table():
    """Measured on Linux 6.18: 4096 pages, page-cluster 3 (swapin_readahead)."""
    sysm = System(MachineConfig(ram=256 * MiB, swap=256 * MiB))
    sysm.spawn("p")
    size = 4096 * 4 * KiB
    sysm.mmap("p", "r", size)
    sysm.access("p", "r", 0, size, write=True)
    free = sysm.free
    sysm.madvise("p", "r", 0, size, "pageout")
    assert sysm.swap("p") == 16 * MiB and sysm.rss("p") == 0 and sysm.swapped("p", "r") == 16 * MiB
    assert sysm.free == free  # still in the swap cache
    base = sysm.faults("p")
    sysm.access("p", "r", 0, size, write=False)  # swap-cache hits
    f = sysm.faults("p")
    assert (f.minor - base.minor, f.major - base.major) == (4096, 0)
    assert sysm.swap_used == 16 * MiB and sysm.swap("p") == 0  # read swap-in keeps the slots
    sysm.madvise("p", "r", 0, size, "pageout")  # clean swap-cache pages leave RAM at once
    assert sysm.free == free + 16 * MiB and sysm.swap("p") == 16 * MiB
    assert sysm.pswpout == 4096  # nothing written the second time
    base = sysm.faults("p")
    sysm.access("p", "r", 0, size, write=False)  # sequential: readahead, 2^3 pages at most
    f = sysm.faults("p")
    assert f.major - base.major == 515  # measured 512 (VMA readahead; here cluster readahead)
    assert f.minor - base.minor == 4096 - 515
    assert sysm.pswpin == 4096
    sysm.check_invariants()
    sysm.madvise("p", "r", 0, size, "pageout")
    base = sysm.faults("p")
    order = np.random.default_rng(1).permutation(4096)
    sysm.access_pages("p", "r", order, write=False)  # random order: the window collapses
    f = sysm.faults("p")
    assert 3900 < f.major - base.major <= 4096  # measured 4059
    sysm.check_invariants()


def test_a_page_written_after_a_read_swap_in_is_written_again():
    """6.18 maps a read swap-in writable (``do_swap_page``): the write that follows takes no fault but sets
    the PTE's dirty bit, which try_to_unmap moves to the page, so MADV_PAGEOUT writes it again
    and it stays in the swap cache (a clean one would leave RAM at once)."""
    sysm = System(MachineConfig(ram=256 * MiB, swap=256 * MiB))
    sysm.spawn("p")
    size = 1024 * 4 * KiB
    sysm.mmap("p", "r", size)
    sysm.access("p", "r", 0, size, write=True)
    sysm.madvise("p", "r", 0, size, "pageout")
    sysm.access("p", "r", 0, size, write=False)  # swap-cache hits, mapped writable
    minor = sysm.faults("p").minor
    sysm.access("p", "r", 0, size, write=True)  # no faults
    assert sysm.faults("p").minor == minor
    free = sysm.free
    sysm.madvise("p", "r", 0, size, "pageout")
    assert sysm.pswpout == 2 * 1024 and sysm.free == free  # written again, still cached
    sysm.check_invariants()


def test_write_fault_swap_in_frees_the_slot():
    sysm = System(MachineConfig(ram=64 * MiB, swap=64 * MiB))
    sysm.spawn("p")
    sysm.mmap("p", "r", 1 * MiB)
    sysm.access("p", "r", 0, 1 * MiB, write=True)
    sysm.madvise("p", "r", 0, 1 * MiB, "pageout")
    assert sysm.swap_used == 1 * MiB
    base = sysm.faults("p").minor
    sysm.access("p", "r", 0, 1 * MiB, write=True)
    assert sysm.faults("p").minor - base == 256 and sysm.swap_used == 0
    sysm.check_invariants()


def test_oom_badness_counts_swap_entries():
    """mm/oom_kill.c oom_badness: points = rss + swapents + page tables."""
    sysm = System(MachineConfig(ram=64 * MiB, swap=64 * MiB))
    sysm.spawn("p")
    sysm.mmap("p", "r", 1 * MiB)
    sysm.access("p", "r", 0, 1 * MiB, write=True)
    before = sysm._badness(sysm.procs["p"])
    sysm.madvise("p", "r", 0, 1 * MiB, "pageout")
    assert sysm._badness(sysm.procs["p"]) == before  # 256 rss pages became 256 swap entries


def test_out_of_swap_the_oom_killer_runs():
    sysm = textbook("fifo", 2, swap=8 * KiB, pages=6)  # heuristic overcommit: 6 <= 5 + 2
    with pytest.raises(OOMKilled):
        sysm.access_pages("p", "r", range(6), write=True)
    sysm.check_invariants()
    assert sysm.swap_used == 0


def test_mlocked_pages_are_not_given_up():
    sysm = textbook("fifo", 3, pages=8)
    sysm.mmap("p", "l", 4 * KiB)  # same PTE table as r
    sysm.mlock("p", "l")
    sysm.access_pages("p", "r", range(6), write=True)
    assert sysm.resident("p", "l") == 4 * KiB
    sysm.check_invariants()


def test_tlb_entries_of_given_up_pages_are_invalidated():
    sysm = textbook("fifo", 2)
    sysm.access_pages("p", "r", [0, 1, 0, 2, 0], write=True)
    # 0 was given up for 2; the next access to 0 must fault (major), not hit a stale entry
    assert sysm.faults("p").major == 1
    sysm.check_invariants()


def test_file_pages_are_given_up_by_the_policy_too():
    """A mapped file page is unmapped and dropped (written back first if dirty); reading it
    again is a major file fault."""
    ram = 1 * MiB
    sysm = System(MachineConfig(ram=ram, swap=1 * MiB, replacement="fifo", page_cluster=0,
                                kernel=ram - (3 + 3) * 4 * KiB))
    sysm.create_file("f", 4 * KiB)
    sysm.spawn("p")
    sysm.mmap("p", "m", 4 * KiB, file="f", shared=True)
    sysm.mmap("p", "r", 16 * KiB)  # same PTE table as m
    sysm.access("p", "m", 0, 4 * KiB, write=True)  # 1 major (not cached), dirty
    sysm.access_pages("p", "r", [0, 1, 2], write=True)  # the file page came first: it goes
    assert sysm.rss_file("p") == 0 and sysm.cached == 0 and sysm.swap_used == 0
    sysm.check_invariants()
    before = sysm.faults("p").major
    sysm.access("p", "m", 0, 4 * KiB, write=False)
    assert sysm.faults("p").major == before + 1
    sysm.check_invariants()


# ---- memory_max (memory cgroups) ------------------------------------------------------------

def test_memory_max_group_gives_up_its_own_pages():
    """A group at its limit gives up one of its own pages per page needed (fifo), even with
    free frames left; the other process keeps its pages; page tables are not charged."""
    sysm = System(MachineConfig(ram=64 * MiB, swap=64 * MiB, replacement="fifo", page_cluster=0))
    sysm.spawn("other")
    sysm.mmap("other", "o", 64 * KiB)
    sysm.access("other", "o", 0, 64 * KiB, write=True)
    sysm.spawn("p", memory_max=3 * 4 * KiB)
    sysm.mmap("p", "r", 64 * KiB)
    sysm.access_pages("p", "r", CLASSIC, write=True)
    f = sysm.faults("p")
    assert f.minor + f.major == 15  # the textbook FIFO count with 3 frames
    assert sysm.rss("p") == 12 * KiB and sysm.swap("p") == 12 * KiB
    assert sysm.rss("other") == 64 * KiB and sysm.swap("other") == 0
    sysm.check_invariants()


def test_memory_max_children_share_the_limit():
    sysm = System(MachineConfig(ram=64 * MiB, swap=64 * MiB, replacement="lru"))
    sysm.spawn("p", memory_max=64 * KiB)
    sysm.mmap("p", "r", 48 * KiB)
    sysm.access("p", "r", 0, 48 * KiB, write=True)
    sysm.fork("p", "c")
    sysm.access("c", "r", 0, 48 * KiB, write=True)  # 12 copies, 4 fit: 8 pages go to swap
    assert sysm.rss("p") + sysm.rss("c") - sysm.shared_processes("p", "c") <= 64 * KiB
    assert sysm.frames.charges.groups[1].usage == 16
    assert sysm.swap_used > 0
    sysm.check_invariants()


def test_memory_max_without_swap_oom_kills_inside_the_group():
    """8.1: a memcg OOM picks among the group's members (totalpages = the limit)."""
    sysm = System(MachineConfig(ram=64 * MiB, replacement="fifo"))
    sysm.spawn("big")
    sysm.mmap("big", "b", 1 * MiB)
    sysm.access("big", "b", 0, 1 * MiB, write=True)
    sysm.spawn("p", memory_max=64 * KiB)
    sysm.mmap("p", "r", 32 * KiB)
    sysm.access("p", "r", 0, 32 * KiB, write=True)
    sysm.fork("p", "c")
    sysm.mmap("c", "s", 64 * KiB)
    with pytest.raises(OOMKilled):
        sysm.access("c", "s", 0, 64 * KiB, write=True)
    assert sysm.killed == ("c",) and sysm.alive("big") and sysm.alive("p")
    sysm.check_invariants()
    assert sysm.frames.charges.groups[1].usage == 8


def test_memory_max_twolist_without_swap_drops_group_cache_then_kills():
    sysm = System(MachineConfig(ram=64 * MiB))
    sysm.create_file("f", 256 * KiB)
    sysm.spawn("p", memory_max=256 * KiB)
    sysm.mmap("p", "m", 256 * KiB, file="f")
    sysm.access("p", "m", 0, 4 * KiB, write=False)  # reads 32 pages around
    sysm.munmap("p", "m")
    sysm.mmap("p", "r", 240 * KiB)
    sysm.access("p", "r", 0, 240 * KiB, write=True)  # needs the cache pages back
    assert sysm.alive("p") and sysm.rss("p") == 240 * KiB
    sysm.check_invariants()
    sysm.mmap("p", "s", 64 * KiB)
    with pytest.raises(OOMKilled):
        sysm.access("p", "s", 0, 64 * KiB, write=True)
    sysm.check_invariants()


@pytest.mark.parametrize("policy", ["fifo", "lru", "clock", "random"])
@pytest.mark.parametrize("stride", [None, 1000, 5000])
def test_sweep_equals_per_access_path_under_pressure(policy, stride):
    """The vectorised sweep (bulk faults, bulk stamps) leaves the state the per-access path
    does, with the machine out of frames and pages going to swap and coming back."""
    from tests.engine.ops import slow_access

    def run(slow):
        sysm = textbook(policy, 6, pages=16)
        sysm.mmap("p", "s", 16 * 4 * KiB)
        steps = [("r", 0, 40 * KiB, True), ("s", 0, 24 * KiB, True), ("r", 8 * KiB, 64 * KiB, False),
                 ("s", 4 * KiB, 64 * KiB, True), ("r", 0, 64 * KiB, True)]
        for reg, a, b, write in steps:
            if slow:
                slow_access(sysm, "p", reg, a, b, write, stride)
            else:
                sysm.access("p", reg, a, b, write=write, stride=stride)
            sysm.check_invariants()
        f = sysm.faults("p")
        return (f.minor, f.major, sysm.rss("p"), sysm.swap("p"), sysm.swapped("p", "r"),
                sysm.resident("p", "s"), list(sysm.swapdev.count), sysm.tlb("p").hits,
                sysm.tlb("p").misses)

    assert run(False) == run(True)
