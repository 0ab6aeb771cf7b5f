"""Faulting pages in on the kernel's behalf: MAP_POPULATE and mlock.

Linux: ``mm/gup.c`` (``__mm_populate``, ``populate_vma_page_range``: FOLL_WRITE iff the mapping
is private and writable, FOLL_TOUCH marks every page accessed), one GUP fault per page or per
huge page not yet mapped suitably.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vmspec.engine.errors import ENOMEM, SIGBUS
from vmspec.engine.frames import NONE
from vmspec.engine.hugetlb import SIZES as HUGE_SIZES
from vmspec.engine.pagetable import PTE_SHIFT
from vmspec.engine.process import Process
from vmspec.engine.swap import SWP_FIRST
from vmspec.engine.vma import VMA

if TYPE_CHECKING:
    from vmspec.engine.system import System


def populate_range(sysm: System, p: Process, s: int, e: int, ignore_errors: bool = True) -> None:
    """``__mm_populate``: GUP-fault every page of ``[s, e)``, writing iff private and writable.

    A fault past the end of a file stops that VMA; mmap ignores it (``mm_populate``), mlock
    reports ENOMEM (``__mlock_posix_error_return`` turns EFAULT into ENOMEM)."""
    for v in p.vmas.overlapping(s, e):
        try:
            _populate_vma(sysm, p, v, s, e)
        except SIGBUS:
            if not ignore_errors:
                raise ENOMEM("mlock could not fault in a page past the end of its file") from None


def _populate_vma(sysm: System, p: Process, v: VMA, s: int, e: int) -> None:
    """GUP faults for one VMA: bulk where ``fault_slice`` can, page by page elsewhere."""
    if not v.prot:
        return
    handler, mmu = sysm.handler, sysm.mmu
    fw = v.writable and not v.shared
    if v.hugetlb:  # one GUP fault per huge page not yet mapped suitably
        size = v.hugetlb
        shift = HUGE_SIZES[size]
        lo = max(s, v.start) & ~(size - 1)
        for hva in range(lo, min(e, v.end), size):
            leaf = p.pt.huge[shift].get(hva >> shift)
            if leaf is not None and (not fw or leaf[1]):
                continue
            sysm.hugetlb.fault(p, v, hva, fw, handler.table_alloc(p), mmu.invalidate_huge)
        return
    lo, hi = max(s, v.start), min(e, v.end)
    thp = sysm.thp if sysm.thp.vma_allows(v) else None
    for key in range(lo >> PTE_SHIFT, ((hi - 1) >> PTE_SHIFT) + 1):
        a = max(lo, key << PTE_SHIFT)
        b = min(hi, (key + 1) << PTE_SHIFT)
        leaf = p.pt.thp.get(key) if p.pt.thp else None
        if leaf is None and thp is not None and thp.suitable(p, v, key):
            if thp.fault(p, v, key, fw):  # one GUP fault maps the huge page
                _touch_huge(sysm, p, key)
                continue
        elif leaf is not None:  # an anonymous huge page or a page-cache folio's PMD
            if fw and not leaf.wr and not sysm.thp.wp_fault(p, v, key, leaf):
                pass  # split: the 4 KiB faults below copy the pages
            else:
                _touch_huge(sysm, p, key)
                continue
        pv = np.arange(a >> 12, b >> 12, dtype=np.int64)
        if not mmu.fault_slice(p, v, pv, fw):
            for vpn in pv.tolist():
                t = p.pt.pfn.get(vpn >> 9)
                i = vpn & 511
                if t is not None and t[i] != NONE and t[i] > SWP_FIRST and \
                        (not fw or p.pt.wr[vpn >> 9][i]):
                    continue
                handler.fault(p, v, vpn << 12, fw)
                if p.pt.thp and key in p.pt.thp:  # the fault mapped a page-cache folio by PMD
                    break
        if p.pt.thp and key in p.pt.thp:
            _touch_huge(sysm, p, key)
            continue
        if sysm.textbook is None:  # FOLL_TOUCH: mark_page_accessed on every page GUP returns
            t = p.pt.pfn.get(key)
            if t is not None:
                seg = t[pv & 511]
                sysm.reclaim.mark_accessed_many(seg[seg >= 0])


def _touch_huge(sysm: System, p: Process, key: int) -> None:
    """GUP's FOLL_TOUCH on a huge page (twolist: ``folio_mark_accessed``)."""
    leaf = p.pt.thp[key]
    if sysm.textbook is None and leaf.head >= 0:
        sysm.reclaim.mark_accessed(leaf.head, sysm.frames.cid_of(leaf.head))
