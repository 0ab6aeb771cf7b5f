"""Overcommit accounting: which mappings are charged to Committed_AS, the commit limit, and
whether a new charge is allowed in each ``vm.overcommit_memory`` mode (Linux 6.18).

Counterparts: ``mm/mmap.c`` (``accountable_mapping``, MAP_NORESERVE in ``do_mmap``,
``init_user_reserve``, ``init_admin_reserve``), ``mm/shmem.c`` (``shmem_acct_size``), ``mm/util.c``
(``vm_commit_limit``, ``__vm_enough_memory``). Counts are pages. The caller decides when brk,
mprotect and fork charge and keeps Committed_AS. Rules: docs/engine.md, "mmap refusals".

Not modelled: the per-CPU counter's inexactness (``percpu_counter_read_positive``); hugetlbfs
reservations are accounted by ``vmspec.engine.hugetlb``.
"""

from __future__ import annotations

MODES = ("heuristic", "always", "never")  # vm.overcommit_memory 0, 1, 2
USER_RESERVE_MAX_KB = 1 << 17  # 128 MiB
ADMIN_RESERVE_MAX_KB = 1 << 13  # 8 MiB


def _check_mode(mode: str) -> None:
    """Raise ValueError unless ``mode`` is heuristic, always or never."""
    if mode not in MODES:
        raise ValueError(f"overcommit mode must be one of {', '.join(MODES)}, got {mode!r}")


def accountable(shared: bool, writable: bool, noreserve: bool, hugetlb: bool, mode: str, *,
                file: bool = False) -> bool:
    """Return whether mapping this region charges its size to Committed_AS.

    A private mapping is charged iff ``(vm_flags & (VM_NORESERVE|VM_SHARED|VM_WRITE)) ==
    VM_WRITE`` (``accountable_mapping``). An anonymous shared mapping is backed by a shmem file
    whose whole size ``shmem_acct_size`` charges unless VM_NORESERVE is set, whatever its
    protection (measured: +1 GiB for 1 GiB shared RW). ``file=True`` marks a file mapping; a
    shared one is never charged. MAP_NORESERVE sets VM_NORESERVE except in mode "never", where it
    is ignored. hugetlb has its own reservation.
    """
    _check_mode(mode)
    if hugetlb:
        return False
    if noreserve and mode != "never":
        return False
    if shared:
        return not file
    return writable


def commit_limit(ram_pages: int, hugetlb_pages: int, swap_pages: int, ratio: int, *,
                 overcommit_kbytes: int = 0, page_size: int = 4096) -> int:
    """Return CommitLimit in pages: ``(RAM - hugetlb) * ratio / 100 + swap`` (``vm_commit_limit``).

    A non-zero ``overcommit_kbytes`` replaces the ratio term, as in ``vm_commit_limit``.
    """
    if overcommit_kbytes:
        allowed = overcommit_kbytes // (page_size // 1024)
    else:
        allowed = (ram_pages - hugetlb_pages) * ratio // 100
    return allowed + swap_pages


def vm_enough_memory(pages: int, mode: str, *, committed: int, totalram_pages: int,
                     swap_pages: int, limit: int, total_vm_pages: int, user_reserve_pages: int,
                     admin_reserve_pages: int, cap_sys_admin: bool = True) -> bool:
    """Return whether charging ``pages`` more is allowed (``__vm_enough_memory``).

    ``committed`` is Committed_AS before this charge; Linux adds ``pages`` first and undoes it on
    failure, so the caller adds them only when this returns True. Mode "always": yes. Mode
    "heuristic": a single-request check, no unless ``pages <= totalram + swap``. Mode "never":
    ``committed + pages < limit - admin reserve (without CAP_SYS_ADMIN) - min(total_vm / 32,
    user reserve)``, where ``total_vm_pages`` is the process's size before the new mapping.
    """
    _check_mode(mode)
    if mode == "always":
        return True
    if mode == "heuristic":
        return pages <= totalram_pages + swap_pages
    allowed = limit
    if not cap_sys_admin:
        allowed -= admin_reserve_pages
    allowed -= min(total_vm_pages // 32, user_reserve_pages)
    return committed + pages < allowed


def reserves(free_bytes_at_boot: int, page_size: int = 4096) -> tuple[int, int]:
    """Return ``(user_reserve_pages, admin_reserve_pages)`` as set at boot.

    ``user_reserve_kbytes = min(free_kb / 32, 128 MiB)`` and ``admin_reserve_kbytes =
    min(free_kb / 32, 8 MiB)``, converted to pages as ``__vm_enough_memory`` does (kB >> 2).
    """
    free_kb = free_bytes_at_boot // 1024
    kb_per_page = page_size // 1024
    user_kb = min(free_kb // 32, USER_RESERVE_MAX_KB)
    admin_kb = min(free_kb // 32, ADMIN_RESERVE_MAX_KB)
    return user_kb // kb_per_page, admin_kb // kb_per_page
