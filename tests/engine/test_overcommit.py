"""Overcommit accounting against mm/util.c (__vm_enough_memory, vm_commit_limit) and
mm/mmap.c (accountable_mapping), and tables measured on Linux 6.18."""

from __future__ import annotations

import pytest

from vmspec.engine.overcommit import accountable, commit_limit, reserves, vm_enough_memory

KB = 1024
GIB_PAGES = (1 << 30) // 4096
RAM_PAGES = 24684084 // 4  # MemTotal 24684084 kB, no swap (the measured machine)
LIMIT = commit_limit(RAM_PAGES, 0, 0, 50)
USER_RESERVE = 100403 // 4  # user_reserve_kbytes as measured, in pages
ADMIN_RESERVE = 8192 // 4


def enough(pages: int, mode: str, **kw: object) -> bool:
    """Ask vm_enough_memory about the measured machine."""
    args: dict = dict(committed=0, totalram_pages=RAM_PAGES, swap_pages=0, limit=LIMIT,
                      total_vm_pages=0, user_reserve_pages=USER_RESERVE,
                      admin_reserve_pages=ADMIN_RESERVE)
    args.update(kw)
    return vm_enough_memory(pages, mode, **args)


def mmap_charge(gib: int, mode: str, *, shared: bool = False, writable: bool = True,
                noreserve: bool = False) -> int | None:
    """Return the Committed_AS change of an anonymous mmap, or None for ENOMEM."""
    pages = gib * GIB_PAGES
    if not accountable(shared, writable, noreserve, False, mode):
        return 0
    return pages if enough(pages, mode) else None


def test_commit_limit_measured() -> None:
    # 7.2: 6171021 pages * 50 / 100 = 3085510 pages = 12342040 kB.
    assert LIMIT == 3085510 and LIMIT * 4 == 12342040


def test_commit_limit_hugetlb_swap_and_kbytes() -> None:
    assert commit_limit(1000, 200, 50, 50) == 450
    assert commit_limit(1000, 0, 0, 100) == 1000
    assert commit_limit(1000, 0, 7, 50, overcommit_kbytes=4000) == 1007


# Measured, mode 0: Committed_AS change in kB, None = ENOMEM.
@pytest.mark.parametrize(
    "gib, kw, change_kb",
    [(1, {}, 1048576), (1, {"writable": False}, 0), (1, {"shared": True}, 1048576),
     (1, {"noreserve": True}, 0), (23, {}, 24117248), (24, {}, None), (30, {}, None),
     (30, {"noreserve": True}, 0), (30, {"writable": False}, 0)],
)
def test_mode0_measured(gib: int, kw: dict, change_kb: int | None) -> None:
    charge = mmap_charge(gib, "heuristic", **kw)
    assert (None if charge is None else charge * 4) == change_kb


def test_mode0_is_a_single_request_check() -> None:
    assert enough(RAM_PAGES, "heuristic", committed=10 * RAM_PAGES)
    assert not enough(RAM_PAGES + 1, "heuristic")
    assert enough(RAM_PAGES + 10, "heuristic", swap_pages=10)


def test_mode1_always_ok() -> None:
    assert enough(100 * RAM_PAGES, "always", committed=100 * RAM_PAGES)


def test_mode2_largest_mapping_measured() -> None:
    # Measured, mode 2: Committed_AS 116676 kB; VmSize/32 = 572 kB; root (no admin reserve).
    # Largest private RW mmap ~ 12224788 kB = CommitLimit - Committed_AS - 572 kB - 1 page.
    committed = 116676 // 4
    total_vm = 572 * 32 // 4
    kw = dict(committed=committed, total_vm_pages=total_vm)
    largest = 12224788 // 4
    assert enough(largest, "never", **kw)
    assert not enough(largest + 1, "never", **kw)
    assert (LIMIT - committed) * 4 - largest * 4 == 576


def test_mode2_reserves() -> None:
    base = dict(committed=0, total_vm_pages=10**9)  # total_vm/32 exceeds the user reserve
    edge = LIMIT - USER_RESERVE - 1
    assert enough(edge, "never", **base) and not enough(edge + 1, "never", **base)
    assert not enough(edge, "never", cap_sys_admin=False, **base)
    assert enough(edge - ADMIN_RESERVE, "never", cap_sys_admin=False, **base)


def test_mode2_noreserve_is_ignored() -> None:
    # 7.2: MAP_NORESERVE of 2 x CommitLimit fails in mode 2.
    assert accountable(False, True, True, False, "never")
    assert not enough(2 * LIMIT, "never")


@pytest.mark.parametrize(
    "shared, writable, noreserve, hugetlb, mode, file, charged",
    [(False, True, False, False, "heuristic", False, True),   # anon private RW
     (False, False, False, False, "heuristic", False, False),  # anon private RO
     (True, True, False, False, "heuristic", False, True),    # anon shared RW: shmem
     (True, False, False, False, "heuristic", False, True),   # anon shared RO: shmem too
     (True, True, True, False, "heuristic", False, False),    # anon shared NORESERVE
     (True, True, True, False, "never", False, True),         # NORESERVE ignored in mode 2
     (False, True, False, False, "always", True, True),       # file private RW
     (True, True, False, False, "heuristic", True, False),    # file shared RW
     (False, False, False, False, "never", True, False),      # file private RO
     (False, True, False, True, "never", False, False)],      # hugetlb: own reservation
)
def test_accountable_table(shared: bool, writable: bool, noreserve: bool, hugetlb: bool,
                           mode: str, file: bool, charged: bool) -> None:
    assert accountable(shared, writable, noreserve, hugetlb, mode, file=file) is charged


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="heuristic, always, never"):
        accountable(False, True, False, False, "guess")
    with pytest.raises(ValueError):
        enough(1, "2")


def test_reserves() -> None:
    # 7.2: user_reserve_kbytes 100403 = free/32 at boot; admin capped at 8 MiB.
    assert reserves(100403 * 32 * KB) == (100403 // 4, 8192 // 4)
    assert reserves(64 << 30) == ((128 << 20) // 4096, (8 << 20) // 4096)
    assert reserves(32 << 20) == (256, 256)  # 1 MiB each: both below their caps
    assert reserves(0) == (0, 0)
