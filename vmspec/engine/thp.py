"""Transparent huge pages: 2 MiB folios mapped by one PMD entry, the huge zero page, PMD splits and
folio splits (``mm/huge_memory.c`` of 6.18).

Eligibility (``thp_vma_allowable_order``, ``transhuge_vma_suitable``), huge faults
(``do_huge_pmd_anonymous_page``, ``do_huge_pmd_wp_page``), splits (``__split_huge_pmd``,
``split_huge_page``), and the PMD mappings of page-cache folios (``do_set_pmd``). Rules and
measurements: docs/engine.md, "Transparent huge pages".

Not modelled: khugepaged (nothing is collapsed), mTHP sizes, shmem huge pages, THP_SWAP, the
deferred split (it runs at once), physical contiguity (any 512 free frames make a huge page),
the huge zero page's own 2 MiB of kernel memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmspec.engine.frames import ACTIVE, DIRTY, EXCL, READAHEAD, REFERENCED, ZERO, lru_type
from vmspec.engine.lruvec import ISOLATED, UNEVICTABLE

HPAGE_NR = 512
PMD_SIZE = 1 << 21
HZERO = -2  # the huge zero page as a PMD leaf's folio


@dataclass(slots=True)
class PMDLeaf:
    """A PMD entry mapping a huge page: the folio's head frame (or HZERO) and its bits."""

    head: int
    wr: bool
    young: bool = True
    dirty: bool = False
    subs: np.ndarray | None = None  # the folio's frames (None for the huge zero page)
    file: bool = False  # an order-9 page-cache folio (``do_set_pmd``), not an anonymous THP


@dataclass(slots=True)
class THPStats:
    """/proc/vmstat: thp_fault_alloc, thp_fault_fallback, thp_split_pmd, thp_split_page."""

    fault_alloc: int = 0
    fault_fallback: int = 0
    split_pmd: int = 0
    split_page: int = 0


class THP:
    """The huge-page machinery of one machine (``mode`` is the ``thp`` setting)."""

    def __init__(self, sysm, mode: str) -> None:
        self.sysm = sysm
        self.mode = mode
        self.stats = THPStats()

    # ---- eligibility -------------------------------------------------------------------------

    def vma_allows(self, v) -> bool:
        """``thp_vma_allowable_order`` for a VMA: the mode, its advice, anonymous private."""
        if self.mode == "never" or v.file is not None or v.shared or v.hugetlb:
            return False
        if v.thp == "nohugepage":
            return False
        return self.mode == "always" or v.thp == "hugepage"

    def suitable(self, p, v, key: int) -> bool:
        """A huge page may be faulted in at PMD ``key`` of VMA ``v`` now."""
        haddr = key << 21
        return (self.vma_allows(v) and v.start <= haddr and haddr + PMD_SIZE <= v.end
                and key not in p.pt.pfn and key not in p.pt.thp)

    # ---- faults ------------------------------------------------------------------------------

    def fault(self, p, v, key: int, write: bool, gup: bool = False) -> bool:
        """``do_huge_pmd_anonymous_page`` at an empty, suitable PMD: True if the PMD now maps
        the huge zero page or a huge page, False to fall back to 4 KiB pages."""
        sysm = self.sysm
        if not write:
            self._deposit(p, key)
            p.pt.thp[key] = PMDLeaf(HZERO, False)
            p.minor += 1
            return True
        subs = self._alloc_folio(p, v, key)
        if subs is None:
            return False
        pinned = sysm.frames.pinned
        pinned.add(int(subs[0]))  # not on the LRU in Linux until mapped: reclaim cannot take it
        try:
            self._deposit(p, key)
        except BaseException:
            pinned.discard(int(subs[0]))
            sysm.frames.release_folio(int(subs[0]))
            raise
        pinned.discard(int(subs[0]))
        self._map_new(p, v, key, subs)
        p.minor += 1
        if sysm.mmu.pagecheck is not None:
            sysm.frames.content[subs] = 0
        return True

    def _alloc_folio(self, p, v, key: int):
        sysm = self.sysm
        subs = sysm.page_alloc.alloc_huge(p, madvised=v.thp == "hugepage", owner=p.pid,
                                          index=np.arange(key << 9, (key + 1) << 9,
                                                          dtype=np.int64))
        if subs is None:
            self.stats.fault_fallback += 1
            return None
        self.stats.fault_alloc += 1
        if not v.anon_vma:
            v.anon_vma = sysm.handler.next_anon_vma()
        return subs

    def _deposit(self, p, key: int) -> None:
        """The PMD and PUD tables above the leaf, and the PTE table deposited with it."""
        alloc = self.sysm.handler.table_alloc(p)
        p.pt.ensure_upper(2, key >> 9, alloc)
        p.pt.deposit[key] = alloc(1)

    def _map_new(self, p, v, key: int, subs: np.ndarray) -> None:
        fr = self.sysm.frames
        fr.mapcount[subs] += 1
        p.pt.thp[key] = PMDLeaf(int(subs[0]), v.writable, True, True, subs)
        p.rss_anon += HPAGE_NR
        if v.locked:
            self.sysm.handler.lock(p, int(subs[0]), 1)

    def map_file_pmd(self, p, v, key: int, head: int, write: bool) -> None:
        """``do_set_pmd``: map the order-9 page-cache folio ``head`` by the PMD at ``key``
        (writable and dirty on a shared write fault, else read-only; no table is deposited on
        x86). The caller checked that the VMA can hold it there."""
        sysm = self.sysm
        subs = sysm.frames.folios[head]
        sysm.frames.mapcount[subs] += 1
        p.pt.thp[key] = PMDLeaf(head, bool(write and v.shared), True, bool(write), subs, True)
        p.rss_file += HPAGE_NR
        if v.locked:
            sysm.handler.lock(p, head, 1)

    def wp_fault(self, p, v, key: int, leaf: PMDLeaf) -> bool:
        """A write to a PMD without write permission (``do_huge_pmd_wp_page``): True if handled
        at the PMD, False after splitting it (the 4 KiB fault then handles the page; a
        page-cache folio's PMD is always split: ``wp_huge_pmd`` without ``huge_fault``)."""
        sysm = self.sysm
        fr = sysm.frames
        tlb = sysm.tlb_model
        if leaf.file:
            self.split_pmd(p, key)
            return False
        if leaf.head == HZERO:  # do_huge_zero_wp_pmd (6.18): a huge page for the write
            subs = self._alloc_folio(p, v, key)
            if subs is None:
                self.split_pmd(p, key)
                return False
            fr.mapcount[subs] += 1
            leaf.head, leaf.wr, leaf.young, leaf.dirty = int(subs[0]), True, True, True
            leaf.subs = subs
            p.rss_anon += HPAGE_NR
            if v.locked:
                sysm.handler.lock(p, leaf.head, 1)
            tlb.invalidate(p.pid, key, 21)
            p.minor += 1
            return True
        subs = fr.folios[leaf.head]
        if fr.flags[leaf.head] & EXCL or (fr.mapcount[subs] == 1).all():
            fr.flags[subs] |= EXCL | DIRTY  # reuse: only this PMD maps the folio
            leaf.wr, leaf.young, leaf.dirty = True, True, True
            tlb.invalidate(p.pid, key, 21)
            p.minor += 1
            return True
        self.split_pmd(p, key)
        return False

    # ---- splits ------------------------------------------------------------------------------

    def split_pmd(self, p, key: int) -> None:
        """``__split_huge_pmd``: 512 PTEs in the deposited table replace the PMD entry (a
        page-cache folio's PMD is only cleared: its pages fault back in through PTEs)."""
        self.sysm.mark_changed(p)  # reclaim splits the PMDs of other processes too
        pt = p.pt
        if pt.thp[key].file:
            self.zap_pmd(p, key)
            self.stats.split_pmd += 1
            return
        leaf = pt.thp.pop(key)
        pt.ptf[key] = pt.deposit.pop(key)
        if leaf.head == HZERO:
            t = np.full(512, ZERO, np.int64)
            w = np.zeros(512, np.bool_)
        else:
            t = self.sysm.frames.folios[leaf.head].copy()
            w = np.full(512, leaf.wr, np.bool_)
            v = p.vmas.find(key << 21)
            if v is not None and v.locked:  # one locked PMD mapping becomes 512 locked PTEs
                self.sysm.frames.lists.mlock_add(leaf.head, HPAGE_NR - 1)
        pt.pfn[key] = t
        pt.wr[key] = w
        pt.young[key] = np.full(512, leaf.young, np.bool_)
        pt.dirty[key] = np.full(512, leaf.dirty and leaf.head != HZERO, np.bool_)
        self.sysm.tlb_model.invalidate(p.pid, key, 21)
        self.stats.split_pmd += 1

    def split_range(self, p, start: int, end: int) -> None:
        """Split the PMDs that ``[start, end)`` cuts (``vma_adjust_trans_huge``)."""
        if not p.pt.thp or end <= start:
            return
        for cut in (start, end):
            key = cut >> 21
            if cut & (PMD_SIZE - 1) and key in p.pt.thp:
                self.split_pmd(p, key)

    def split_file_folio(self, head: int) -> np.ndarray:
        """``split_folio`` of a large page-cache folio that no VM_LOCKED VMA maps (MADV_PAGEOUT
        of part of it): its PMDs are cleared, and its pages become order-0 pages of the cache,
        each on the folio's list with its referenced/active state and its dirtiness; the
        readahead mark stays on the first. Return its pages in file order."""
        sysm = self.sysm
        fr = sysm.frames
        lists = fr.lists
        for q, va in sysm.rmap.pmd_mappers(head):
            self.split_pmd(q, va >> 21)
        subs = fr.folios[head]
        cid = fr.cid_of(head)
        lid = int(lists.where[head])
        if lid >= 0:
            lists.remove(head, cid)
        fr.folios.forget(head)
        del lists.large[head]
        keep = int(fr.flags[head]) & (REFERENCED | ACTIVE)
        dirty = DIRTY if (fr.flags[subs] & DIRTY).any() else 0
        clear = 0xFFFF & ~(REFERENCED | ACTIVE | READAHEAD | DIRTY)
        fr.flags[subs[1:]] = (fr.flags[subs[1:]] & clear) | keep | dirty
        fr.flags[head] |= dirty
        self.stats.split_page += 1
        if lid >= 0:
            lists.add_many(subs, lid, cid)
        return subs

    def split_folio(self, head: int, isolated: bool = False) -> np.ndarray:
        """``split_huge_page``: split every PMD that maps the folio, then make its 512 frames
        pages of their own; free the unmapped ones; put the others on the folio's list (or,
        for reclaim, leave them isolated). Return the pages still mapped, in address order."""
        sysm = self.sysm
        fr = sysm.frames
        lists = fr.lists
        subs = fr.folios[head]
        for q, va in sysm.rmap.pmd_mappers(head):
            self.split_pmd(q, va >> 21)
        cid = fr.cid_of(head)
        lid = int(lists.where[head])
        if lid >= 0:
            lists.remove(head, cid)
        locked = lists.is_mlocked(head)
        fr.folios.forget(head)
        del lists.large[head]
        fr.flags[subs] = fr.flags[head]
        self.stats.split_page += 1
        mc = fr.mapcount[subs]
        mapped, dead = subs[mc > 0], subs[mc == 0]
        if locked:
            lists.mlock[subs] = sysm.rmap.locked_ptes(subs)
        if len(dead):
            fr.release_many(dead)
        if isolated:
            lists.where[mapped] = ISOLATED
            return mapped
        fl = int(fr.flags[head]) if len(mapped) else 0
        home = lru_type(fl) + (1 if fl & ACTIVE else 0)
        if locked:
            held = lists.mlock[mapped] > 0
            lists.add_many(mapped[held], UNEVICTABLE, cid)
            lists.add_many(mapped[~held], home, cid)
        else:
            lists.add_many(mapped, home, cid)
        return mapped

    def maybe_split(self, heads) -> None:
        """After PTEs of folios' pages were zapped: free a folio nobody maps, split one that is
        partly unmapped (the deferred split, done at once)."""
        fr = self.sysm.frames
        for head in sorted(set(heads)):
            subs = fr.folios.get(head)
            if subs is None:
                continue
            mc = fr.mapcount[subs]
            if not mc.any():
                self.free_folio(head)
            elif not mc.all():
                self.split_folio(head)

    def free_folio(self, head: int) -> None:
        """Free a folio no PTE or PMD maps any more."""
        self.sysm.frames.release_folio(head)

    # ---- zap, fork, protect ------------------------------------------------------------------

    def zap_pmd(self, p, key: int) -> None:
        """Unmap the huge page at PMD ``key`` (munmap, MADV_DONTNEED, exit) and free the
        deposited table; the folio goes when nothing maps it."""
        sysm = self.sysm
        sysm.mark_changed(p)  # reclaim unmaps the folio PMDs of other processes too
        fr = sysm.frames
        pt = p.pt
        leaf = pt.thp.pop(key)
        if not leaf.file:
            fr.release(pt.deposit.pop(key))
        sysm.tlb_model.invalidate(p.pid, key, 21)
        if leaf.head == HZERO:
            return
        subs = fr.folios[leaf.head]
        fr.mapcount[subs] -= 1
        if leaf.dirty and leaf.file:
            fr.flags[subs] |= DIRTY
        v = p.vmas.find(key << 21)
        if v is not None and v.locked:
            sysm.handler.lock(p, leaf.head, -1)
        if leaf.file:
            p.rss_file -= HPAGE_NR  # the folio stays in the page cache
            return
        p.rss_anon -= HPAGE_NR
        self.maybe_split([leaf.head])

    def copy_pmd(self, p, c, key: int, leaf: PMDLeaf) -> None:
        """``copy_huge_pmd`` (fork): the child maps the same huge page (or the huge zero page),
        write-protected in both, with a deposited table of its own. The caller pins the folio,
        so the table allocations cannot reclaim it."""
        fr = self.sysm.frames
        alloc = self.sysm.handler.table_alloc(p)
        c.pt.ensure_upper(2, key >> 9, alloc)
        c.pt.deposit[key] = alloc(1)
        c.pt.thp[key] = PMDLeaf(leaf.head, False, False, leaf.dirty, leaf.subs)
        leaf.wr = False
        if leaf.head != HZERO:
            subs = fr.folios[leaf.head]
            fr.mapcount[subs] += 1
            fr.flags[subs] &= 0xFFFF & ~EXCL
            c.rss_anon += HPAGE_NR

    def protect(self, p, key: int, writable: bool) -> None:
        """``change_huge_pmd``: removing write clears it; adding write sets it only for a huge
        page only this PMD maps (``can_change_pmd_writable``)."""
        leaf = p.pt.thp[key]
        fr = self.sysm.frames
        if leaf.file:  # can_change_pmd_writable: a shared mapping's dirty PMD only
            v = p.vmas.find(key << 21)
            leaf.wr = bool(writable and leaf.dirty and v is not None and v.shared)
        elif not writable or leaf.head == HZERO:
            leaf.wr = False
        else:
            leaf.wr = bool(fr.flags[leaf.head] & EXCL)
