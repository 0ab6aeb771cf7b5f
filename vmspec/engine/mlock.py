"""mlock and munlock: VM_LOCKED on a range and the unevictable list.

Linux: ``mm/mlock.c`` (``apply_vma_lock_flags``, ``mlock_fixup``, ``mlock_folio``/
``munlock_folio``: a page's mlock count is one per locked mapping), then ``__mm_populate``.

Not modelled: mlock of hugetlb mappings (refused), MCL_FUTURE/mlockall, RLIMIT_MEMLOCK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmspec.engine.errors import ENOMEM
from vmspec.engine.gup import populate_range
from vmspec.engine.layout import page_align
from vmspec.engine.process import Process, Region

if TYPE_CHECKING:
    from vmspec.engine.system import System


def mlock(sysm: System, p: Process, r: Region, lock: bool) -> None:
    """mlock/munlock a region: set or clear VM_LOCKED; mlock then populates (``__mm_populate``)."""
    ps = sysm.page_size
    s, e = r.start & ~(ps - 1), page_align(r.end, ps)
    if e <= s:
        return
    p.vmas.refuse_hugetlb(s, e, "mlock" if lock else "munlock")
    if not p.vmas.covers(s, e):
        raise ENOMEM(f"m{'un' if not lock else ''}lock range {s:#x}-{e:#x} is not fully mapped")
    if p.pt.thp:
        sysm.thp.split_range(p, s, e)
    for v in p.vmas.split(s, e):
        if v.locked == lock:
            continue  # mlock_fixup: nothing changes for a VMA already so
        if lock:
            v.locked = True
            _mlock_pages(sysm, p, v.start, v.end, 1)
        else:
            munlock_pages(sysm, p, v.start, v.end)
            v.locked = False
    p.vmas.merge_around(s, e)
    if lock:
        populate_range(sysm, p, s, e, ignore_errors=False)


def _mlock_pages(sysm: System, p: Process, lo: int, hi: int, delta: int) -> None:
    """Add ``delta`` to the mlock count of every page ``p`` maps in ``[lo, hi)``, once per PTE
    and once per huge PMD (mlock moves them to the unevictable list, munlock back to their
    inactive list)."""
    lock = sysm.handler.lock
    for f in p.pt.frames_in(lo, hi, thp=False).tolist():
        lock(p, f, delta)
    for key in p.pt.thp_leaves_in(lo, hi):
        if p.pt.thp[key].head >= 0:
            lock(p, p.pt.thp[key].head, delta)


def munlock_pages(sysm: System, p: Process, lo: int, hi: int) -> None:
    """The pages ``p`` maps in ``[lo, hi)`` lose a VM_LOCKED mapping (munlock, munmap, exit)."""
    _mlock_pages(sysm, p, lo, hi, -1)
