"""Linux's reclaim (``replacement twolist``, docs/engine.md "Reclaim"): watermarks, kswapd,
direct reclaim, the active/inactive lists and their second chance, swappiness, memory groups,
mlock, and the swap cluster allocator."""

from __future__ import annotations

import resource

import pytest

from vmspec.engine import MachineConfig, System
from vmspec.engine.page_alloc import derive_watermarks
from vmspec.engine.vmscan import inactive_is_low

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE = 4096


# ---- watermarks (mm/page_alloc.c, mm/khugepaged.c) ---------------------------------------------

@pytest.mark.parametrize("ram, thp, wm", [
    # calculate_min_free_kbytes: isqrt(ram_kB * 16) clamped to [128, 262144]. With THP on, one
    # zone: 512 * (2 + 3 * 3) = 5632 pages, capped at (managed - high) / 20; then
    # min = min_free_kbytes / 4, low = min + max(min / 4, managed * 10 / 10000), high likewise.
    (64 * MiB, True, (800, 1000, 1200, 3200)),  # 1024 kB; cap (16384 - 384) / 20 = 800 pages
    (128 * MiB, True, (1611, 2013, 2415, 6444)),  # 1448 kB; cap (32768 - 542) / 20 = 1611
    (1 * GiB, True, (5632, 7040, 8448, 22528)),  # 4096 kB < 5632 pages = 22528 kB
    (64 * GiB, True, (8192, 24969, 41746, 32768)),  # 32768 kB > 22528 kB; delta 16777
    (64 * MiB, False, (256, 320, 384, 1024)),
    (1 * GiB, False, (1024, 1286, 1548, 4096)),  # delta max(256, 262) = 262
])
def test_watermarks_follow_linux(ram, thp, wm):
    w = derive_watermarks(ram // PAGE, thp)
    assert (w.min, w.low, w.high, w.min_free_kbytes) == wm
    s = System(MachineConfig(ram=ram, thp="madvise" if thp else "never"))
    assert (s.watermarks.min, s.watermarks.low, s.watermarks.high) == wm[:3]


def test_watermarks_from_ram_minus_kernel_and_from_the_setting():
    s = System(MachineConfig(ram=1 * GiB + 64 * MiB, kernel=64 * MiB))
    assert s.watermarks.min == 5632
    t = System(MachineConfig(ram=64 * MiB, watermarks=(64 * KiB, 128 * KiB, 256 * KiB)))
    assert (t.watermarks.min, t.watermarks.low, t.watermarks.high) == (16, 32, 64)


def test_inactive_is_low_ratios():
    """mm/vmscan.c: inactive_ratio = int_sqrt(10 * GB), 1 below 1 GB (the table in the source:
    1 GB -> 3, 10 GB -> 10, 100 GB -> 31)."""
    gb = 1 << 18  # pages
    assert inactive_is_low(100, 101) and not inactive_is_low(100, 100)
    assert not inactive_is_low(gb // 4, 3 * gb // 4)  # 1 GB: ratio 3, 256Ki * 3 == 768Ki
    assert inactive_is_low(gb // 4 - 1, 3 * gb // 4 + 1)
    assert not inactive_is_low(gb, 10 * gb)  # 11 GB: ratio int_sqrt(110) = 10
    assert inactive_is_low(gb - 1, 10 * gb)


# ---- the lists (10.1, 10.5) ----------------------------------------------------------------------

def test_new_pages_go_inactive_and_mapped_retouches_move_nothing():
    """10.5 measured: 256 MiB of new anon memory lands on Inactive(anon); touching it again
    moves nothing (only PTE accessed bits, which only reclaim reads); a file read once lands on
    Inactive(file)."""
    s = System(MachineConfig(ram=1 * GiB))
    s.spawn("p")
    s.mmap("p", "a", 256 * MiB)
    s.access("p", "a", 0, 256 * MiB, write=True)
    assert s.inactive_anon == 256 * MiB and s.active_anon == 0  # measured +261828 kB
    s.access("p", "a", 0, 256 * MiB, write=True)
    s.access_random("p", "a", 10_000, seed=1)
    assert s.inactive_anon == 256 * MiB and s.active_anon == 0
    s.create_file("f", 128 * MiB)
    s.mmap("p", "m", 128 * MiB, file="f")
    s.access("p", "m", 0, 128 * MiB, write=False)
    assert s.inactive_file == 128 * MiB and s.active_file == 0  # measured +131076 kB
    s.access("p", "m", 0, 128 * MiB, write=False)
    assert s.active_file == 0  # mapped: no folio_mark_accessed
    s.check_invariants()


def test_mlock_moves_pages_to_unevictable_and_back():
    s = System(MachineConfig(ram=64 * MiB))
    s.spawn("p")
    s.mmap("p", "a", 1 * MiB)
    s.access("p", "a", 0, 1 * MiB, write=True)
    s.mlock("p", "a")
    assert s.unevictable == 1 * MiB and s.inactive_anon == 0
    s.check_invariants()
    s.munlock("p", "a")
    assert s.unevictable == 0 and s.inactive_anon == 1 * MiB
    s.mlock("p", "a")
    s.fork("p", "c")  # the child's mapping is not locked: the pages stay locked by p
    s.munlock("p", "a")
    assert s.unevictable == 0
    s.check_invariants()


# ---- kswapd and direct reclaim ------------------------------------------------------------------

def _machine(**kw):
    kw.setdefault("ram", 64 * MiB)
    return System(MachineConfig(**kw))


def test_kswapd_wakes_below_low_and_reclaims_to_high():
    s = _machine(swap=64 * MiB)
    s.create_file("f", 32 * MiB)
    s.spawn("p")
    s.mmap("p", "m", 32 * MiB, file="f")
    s.access("p", "m", 0, 32 * MiB, write=False)
    s.munmap("p", "m")  # 32 MiB of clean, unmapped cache
    wm = s.watermarks
    s.mmap("p", "a", 30 * MiB)
    s.access("p", "a", 0, 30 * MiB, write=True)
    c = s.reclaim.counts
    assert c.kswapd_runs >= 1 and c.direct_runs == 0
    assert s.free > wm.low * PAGE  # kswapd left more than high free, allocations took some
    assert s.swap_used == 0  # clean cache went first (cache_trim_mode), nothing swapped
    s.check_invariants()


def test_a_process_outgrows_ram_through_swap_and_keeps_every_page():
    s = System(MachineConfig(ram=64 * MiB, swap=256 * MiB), check_pages=True)
    s.spawn("p")
    s.mmap("p", "a", 128 * MiB)
    s.access("p", "a", 0, 128 * MiB, write=True)
    s.check_invariants()  # check_pages: what was written is in RAM or in a slot
    assert s.rss("p") + s.swap("p") == 128 * MiB and s.swap("p") >= 64 * MiB
    assert s.pswpout * PAGE >= s.swap("p") and s.oom_kills == 0
    s.access("p", "a", 0, 128 * MiB, write=False)  # everything comes back
    assert s.faults("p").major > 0 and s.oom_kills == 0
    s.check_invariants()


def test_thrashing_shows_major_faults_and_time():
    def run(size):
        s = _machine(swap=256 * MiB, page_cluster=0)
        s.spawn("p")
        s.mmap("p", "a", size)
        s.access("p", "a", 0, size, write=True)
        s.access_random("p", "a", 20_000, seed=3)
        return s.faults("p").major, s.process_time("p")
    fits, spills = run(32 * MiB), run(96 * MiB)
    assert fits[0] == 0 and spills[0] > 5_000
    assert spills[1] > fits[1] + spills[0] * 100_000  # 100 us per major fault


def test_mlocked_pages_stay_resident_under_pressure():
    s = _machine(swap=256 * MiB)
    s.spawn("p")
    s.mmap("p", "l", 8 * MiB)
    s.mlock("p", "l")
    s.mmap("p", "a", 96 * MiB)
    s.access("p", "a", 0, 96 * MiB, write=True)
    assert s.resident("p", "l") == 8 * MiB and s.unevictable == 8 * MiB
    assert s.swapped("p", "l") == 0 and s.swap("p") > 0
    s.check_invariants()


def test_swappiness_0_drops_clean_cache_before_anon():
    s = _machine(swap=256 * MiB, swappiness=0)
    s.create_file("f", 24 * MiB)
    s.spawn("p")
    s.mmap("p", "m", 24 * MiB, file="f")
    s.access("p", "m", 0, 24 * MiB, write=False)
    s.mmap("p", "a", 40 * MiB)
    s.access("p", "a", 0, 40 * MiB, write=True)
    assert s.swap_used == 0 and s.rss_file("p") < 24 * MiB
    s.check_invariants()


@pytest.mark.parametrize("swappiness, anon, file", [
    # SCAN_FRACT with no reclaim cost yet (anon_cost = file_cost = 0): ap = swappiness * 1 / 1,
    # fp = (200 - swappiness) * 1 / 1; each list's size >> priority, scaled by its fraction
    (0, (0, 0), (1024, 1024)),
    (60, (307, 307), (716, 716)),
    (100, (512, 512), (512, 512)),
    (200, (1024, 1024), (0, 0)),
])
def test_get_scan_count_balances_by_swappiness(swappiness, anon, file):
    from vmspec.engine.vmscan import ScanControl
    s = _machine(swap=64 * MiB, swappiness=swappiness)
    vec = s.frames.lists.vecs[0]
    vec.count[:4] = [4096, 4096, 4096, 4096]  # a view of the sizes only
    sc = ScanControl(nr_to_reclaim=32, priority=2)
    nr = s.reclaim.get_scan_count(vec, sc)
    assert (nr[0], nr[1]) == anon and (nr[2], nr[3]) == file


def test_without_swap_the_oom_killer_runs_only_when_nothing_is_reclaimable():
    s = _machine()
    s.create_file("f", 16 * MiB)
    s.spawn("big")
    s.mmap("big", "m", 16 * MiB, file="f")
    s.access("big", "m", 0, 16 * MiB, write=False)
    s.mmap("big", "a", 46 * MiB)
    s.access("big", "a", 0, 46 * MiB, write=True)  # the file pages make room: no kill
    assert s.oom_kills == 0 and s.rss_file("big") < 16 * MiB
    s.spawn("late")
    s.mmap("late", "a", 30 * MiB)
    s.access("late", "a", 0, 30 * MiB, write=True)
    assert s.killed == ("big",)
    assert s.free <= s.watermarks.high * PAGE + 40 * MiB
    s.check_invariants()


def test_a_group_reclaims_into_swap_before_a_group_oom():
    s = _machine(swap=64 * MiB)
    s.spawn("p", memory_max=4 * MiB)
    s.mmap("p", "a", 16 * MiB)
    s.access("p", "a", 0, 16 * MiB, write=True)
    assert s.alive("p") and s.rss("p") <= 4 * MiB and s.swap("p") >= 12 * MiB
    s.check_invariants()
    t = _machine()  # no swap: the group's anonymous pages cannot go
    t.spawn("p", memory_max=4 * MiB)
    t.mmap("p", "a", 16 * MiB)
    with pytest.raises(Exception) as exc:
        t.access("p", "a", 0, 16 * MiB, write=True)
    assert type(exc.value).__name__ == "OOMKilled" and t.killed == ("p",)


def test_dirty_file_pages_are_written_back_then_dropped():
    s = _machine(ram=32 * MiB)
    s.create_file("f", 8 * MiB)
    s.spawn("p")
    s.mmap("p", "m", 8 * MiB, file="f", shared=True)
    s.access("p", "m", 0, 8 * MiB, write=True)
    s.munmap("p", "m")
    s.drop_caches()
    assert s.cached == 8 * MiB  # dirty: drop_caches keeps them
    s.mmap("p", "a", 26 * MiB)
    s.access("p", "a", 0, 26 * MiB, write=True)
    assert s.cached < 8 * MiB and s.oom_kills == 0  # written back, then dropped
    s.check_invariants()


# ---- swap slots (mm/swapfile.c cluster allocator) ------------------------------------------------

def test_swap_slots_fill_clusters_in_order_and_reuse_partly_used_ones():
    s = System(MachineConfig(ram=64 * MiB, swap=8 * MiB))
    sw = s.swapdev

    def take(n):
        out = []
        for _ in range(n):
            x = sw.alloc()
            sw.dup(x)  # one swap PTE refers to it
            out.append(x)
        return out
    assert take(1000) == list(range(1, 1001))  # cluster 0 (slot 0 is the header), then 1
    for x in (5, 6, 7):
        sw.put(x)  # free again
    assert take(1) == [1001]  # the current cluster goes on
    assert take(22)[-1] == 1023  # to its end
    assert take(4) == [5, 6, 7, 1024]  # then the partly used cluster 0, then a free one
    assert sw.inuse == 1024  # 1027 taken, 3 freed


def test_a_huge_swap_device_costs_nothing_until_used():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = System(MachineConfig(ram=64 * GiB, swap=16 * (1 << 40)))  # 16 TiB
    s.spawn("p")
    s.mmap("p", "a", 1 * MiB)
    s.access("p", "a", 0, 1 * MiB, write=True)
    s.madvise("p", "a", 0, 1 * MiB, "pageout")
    assert s.swap("p") == 1 * MiB and len(s.swapdev.count) == 512
    s.check_invariants()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # kB
