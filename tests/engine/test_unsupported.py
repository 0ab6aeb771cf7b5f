"""Machines with swap, hugetlbfs pools or a textbook replacement policy run every scenario that
never needs them exactly as a machine without; where something not modelled would decide the
outcome (swapping shared anonymous memory out), the engine says so with Unsupported instead of
guessing (docs/engine.md, "Not modelled yet")."""

import pytest

from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import OOMKilled, Unsupported

MiB = 1 << 20


def _touch(sysm, size):
    sysm.spawn("p")
    sysm.mmap("p", "b", size)
    sysm.access("p", "b", 0, size, write=True)


@pytest.mark.parametrize("extra", [{"swap": 64 * MiB}, {"replacement": "clock"}, {"replacement": "fifo"}])
def test_settings_that_only_matter_under_pressure(extra):
    plain, other = System(MachineConfig(ram=64 * MiB)), System(MachineConfig(ram=64 * MiB, **extra))
    for s in (plain, other):
        _touch(s, 8 * MiB)
    assert other.faults("p").minor == plain.faults("p").minor == 2048
    assert other.free == plain.free and other.rss("p") == plain.rss("p")


def test_running_out_of_memory_with_swap_and_twolist_swaps():
    """The default policy outgrows RAM through swap: reclaim writes the older pages out."""
    sysm = System(MachineConfig(ram=16 * MiB, swap=64 * MiB))
    _touch(sysm, 16 * MiB)
    assert sysm.swap("p") > 0 and sysm.rss("p") + sysm.swap("p") == 16 * MiB
    assert sysm.free > sysm.watermarks.min * 4096
    sysm.check_invariants()


def test_a_textbook_policy_without_swap_has_nothing_to_give_up():
    """Anonymous pages need a swap slot; with no swap and no page cache the OOM killer runs."""
    sysm = System(MachineConfig(ram=16 * MiB, replacement="lru"))
    with pytest.raises(OOMKilled):
        _touch(sysm, 16 * MiB)
    assert sysm.killed == ("p",)
    sysm.check_invariants()


def test_swap_counts_in_the_commit_limit_and_swap_free():
    sysm = System(MachineConfig(ram=64 * MiB, swap=64 * MiB, overcommit="never", overcommit_ratio=50))
    assert sysm.swap_free == 64 * MiB and sysm.swap_used == 0
    assert sysm.commit_limit == 32 * MiB + 64 * MiB  # mm/util.c vm_commit_limit


def test_hugepage_pools_are_reserved_at_boot():
    """mm/hugetlb.c: the pool's pages leave MemFree but stay in MemTotal; CommitLimit
    subtracts them (``vm_commit_limit``)."""
    sysm = System(MachineConfig(ram=64 * MiB, hugepages=((2 * MiB, 4), (1 << 30, 0)), overcommit="never"))
    assert sysm.hugepages_total(2 * MiB) == 4 and sysm.hugepages_free(2 * MiB) == 4
    assert sysm.hugepages_total(1 << 30) == 0 and sysm.hugepages_free(4096) == 0
    assert sysm.free == 64 * MiB - 8 * MiB and sysm.used == 8 * MiB
    assert sysm.commit_limit == (64 * MiB - 8 * MiB) // 2
    sysm.check_invariants()


def test_madvise_hugepage_only_where_a_huge_page_fits():
    sysm = System(MachineConfig(ram=64 * MiB))
    sysm.spawn("p")
    sysm.mmap("p", "small", 1 * MiB)
    sysm.madvise("p", "small", 0, 1 * MiB, "hugepage")  # no aligned 2 MiB inside: 4 KiB faults
    sysm.access("p", "small", 0, 1 * MiB, write=True)
    assert sysm.faults("p").minor == 256  # measured on 6.18: 1 MiB under MADV_HUGEPAGE
    sysm.mmap("p", "big", 4 * MiB)
    sysm.madvise("p", "big", 0, 4 * MiB, "hugepage")
    sysm.access("p", "big", 0, 4 * MiB, write=True)
    assert sysm.faults("p").minor == 256 + 2 and sysm.huge("p", "big") == 4 * MiB
    never = System(MachineConfig(ram=64 * MiB, thp="never"))
    never.spawn("p")
    never.mmap("p", "big", 4 * MiB)
    never.madvise("p", "big", 0, 4 * MiB, "hugepage")  # THP off: the advice changes nothing
    never.access("p", "big", 0, 4 * MiB, write=True)
    assert never.faults("p").minor == 1024 and never.huge("p", "big") == 0


def test_pageout():
    sysm = System(MachineConfig(ram=64 * MiB))
    sysm.spawn("p")
    sysm.mmap("p", "b", 1 * MiB)
    sysm.access("p", "b", 0, 1 * MiB, write=True)
    sysm.madvise("p", "b", 0, 1 * MiB, "pageout")  # no swap: anonymous pages stay
    assert sysm.rss("p") == 1 * MiB
    assert sysm.active_anon == 1 * MiB  # reclaim_pages found no swap: activate_locked
    swapping = System(MachineConfig(ram=64 * MiB, swap=64 * MiB))
    swapping.spawn("p")
    swapping.create_file("f", 1 * MiB)
    swapping.mmap("p", "b", 1 * MiB, file="f")
    swapping.access("p", "b", 0, 1 * MiB, write=False)
    assert swapping.cached == 1 * MiB and swapping.rss("p") == 1 * MiB
    swapping.madvise("p", "b", 0, 1 * MiB, "pageout")  # clean file pages: dropped at once
    assert swapping.cached == 0 and swapping.rss("p") == 0
    swapping.check_invariants()


def test_reclaim_reaching_shmem_is_unsupported():
    """Shared anonymous memory would go to swap through shmem_writeout: not modelled."""
    sysm = System(MachineConfig(ram=16 * MiB, swap=64 * MiB))
    sysm.spawn("p")
    sysm.mmap("p", "s", 8 * MiB, shared=True)
    sysm.access("p", "s", 0, 8 * MiB, write=True)
    sysm.mmap("p", "a", 16 * MiB)
    with pytest.raises(Unsupported, match="shmem"):
        sysm.access("p", "a", 0, 16 * MiB, write=True)
    with pytest.raises(Unsupported, match="shmem"):
        sysm.madvise("p", "s", 0, 8 * MiB, "pageout")


@pytest.mark.parametrize("op, what", [
    (lambda s: s.mprotect("p", "h", 0, None, "r"), "mprotect"),
    (lambda s: s.madvise("p", "h", 0, None, "dontneed"), "madvise dontneed"),
    (lambda s: s.mlock("p", "h"), "mlock"),
    (lambda s: s.munlock("p", "h"), "munlock"),
])
def test_changing_a_hugetlb_mapping_is_refused(op, what):
    sysm = System(MachineConfig(ram=64 * MiB, hugepages=((2 * MiB, 4),)))
    sysm.spawn("p")
    sysm.mmap("p", "h", 4 * MiB, hugetlb=2 * MiB)
    with pytest.raises(Unsupported, match=f"^{what} of a hugetlb mapping is not modelled yet$"):
        op(sysm)
