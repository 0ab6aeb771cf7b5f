"""Tearing mappings down: zapping PTEs and huge PMDs, freeing page tables and the objects nobody
maps any more, uncharging Committed_AS.

Linux: ``mm/memory.c`` (``unmap_page_range``, ``zap_pte_range``, ``free_pgtables``), ``mm/shmem.c``
(a shmem object is freed with its last mapping), ``mm/hugetlb.c``, and ``vm_unacct_memory``
(``include/linux/mman.h``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

from vmspec.engine.frames import ANON, NONE, rss_kinds
from vmspec.engine.process import Process
from vmspec.engine.swap import SWP_FIRST, decode
from vmspec.engine.vma import VMA

if TYPE_CHECKING:
    from vmspec.engine.system import System


def zap(sysm: System, p: Process, start: int, end: int) -> None:
    """Clear the PTEs of ``[start, end)``: drop mapcounts, free anonymous frames nobody maps,
    drop swap entries; huge PMDs in the range are split or zapped first."""
    fr = sysm.frames
    pt = p.pt
    if sysm.check_pages:
        sysm.pagecheck.forget(p, start, end)
    if pt.huge[21] or pt.huge[30]:
        sysm.hugetlb.zap(p, start, end)
    if pt.thp:
        sysm.thp.split_range(p, start, end)
        for key in pt.thp_leaves_in(start, end):
            sysm.thp.zap_pmd(p, key)
    folios: list[int] = []
    for key, i0, i1 in pt.slices(start, end):
        seg = pt.pfn[key][i0:i1]
        mapped = seg[seg >= 0]
        if len(mapped):
            np.subtract.at(fr.mapcount, mapped, 1)
            fl = fr.flags[mapped]
            p.add_rss(rss_kinds(fl), -1)
            dead = mapped[((fl & ANON) != 0) & (fr.mapcount[mapped] == 0)]
            if fr.folios and len(dead):  # pages of huge folios: their folio decides
                heads = fr.heads_of(dead)
                large = heads >= 0
                if large.any():
                    folios.extend(heads[large].tolist())
                    dead = dead[~large]
            if len(dead):
                fr.release_many(dead)
        if p.swapents:
            slots = decode(seg[seg <= SWP_FIRST])
            p.swapents -= len(slots)
            for slot in slots.tolist():
                sysm.put_slot(slot)
        seg[:] = NONE
        pt.wr[key][i0:i1] = False
        pt.young[key][i0:i1] = False
        pt.dirty[key][i0:i1] = False
    if folios:
        sysm.thp.maybe_split(folios)


def release_tables(sysm: System, frames: list[int]) -> None:
    """Give freed page-table frames back to the allocator."""
    for f in frames:
        sysm.frames.release(f)


def free_unused_shmem(sysm: System, fids: list[int]) -> None:
    """Free shmem objects (and their pages and charge) that no VMA maps any more (i_mmap)."""
    for fid in sorted({f for f in fids if f in sysm.cache.by_id}):
        cf = sysm.cache.by_id[fid]
        if not cf.shmem or cf.imap.vmas:
            continue
        for f in sysm.cache.delete(cf):
            sysm.frames.release(f)
        sysm.committed_pages -= cf.charged


def free_unused_hugetlb(sysm: System, vmas: Iterable[VMA]) -> None:
    """Free the shared hugetlb objects of ``vmas`` that no live process maps any more."""
    oids = [v.hobj for v in vmas if v.hugetlb and v.shared]
    if oids:
        sysm.hugetlb.free_unused(oids, [q for q in sysm.procs.values() if q.alive])


def uncharge(sysm: System, p: Process, vmas: Iterable[VMA]) -> None:
    """Give back the Committed_AS charge of the accounted VMAs among ``vmas``."""
    pages = sum(v.length for v in vmas if v.account) >> 12
    p.committed -= pages
    sysm.committed_pages -= pages
