"""The page-fault handler for one 4 KiB page: ``handle_pte_fault`` (``mm/memory.c``).

Anonymous faults (``do_anonymous_page``, the zero page), copy-on-write (``wp_page_copy``,
``wp_page_reuse``), write-notify on shared file pages (``wp_page_shared``) and swap-in
(``do_swap_page``); a file page whose PTE is none goes to ``vmspec.engine.filemap``, hugetlb faults
to ``vmspec.engine.hugetlb``, huge PMDs to ``vmspec.engine.thp``. Rules: docs/engine.md,
"Faults", "Swap device and swap entries", "Reclaim" (accessed bits).

Not modelled: userfaultfd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from vmspec.engine.filemap import FileMap
from vmspec.engine.frames import (ANON, DIRTY, EXCL, FILE, NONE, PGTABLE, READAHEAD, SHMEM,
                                  SWAPCACHE, ZERO, FrameTable, lru_type)
from vmspec.engine.pagecache import DEFAULT_RA_PAGES, PageCache
from vmspec.engine.process import Process
from vmspec.engine.swap import SWP_FIRST, decode
from vmspec.engine.vma import VMA

if TYPE_CHECKING:
    from vmspec.engine.thp import THP


class FaultHandler:
    """Resolves one fault. ``alloc(proc, flags, owner, index)`` is the machine's allocator (it
    may reclaim or OOM-kill, and raises if the faulting process dies); ``alloc_ra(flags, owner,
    index)`` allocates a readahead page or returns -1 (``alloc_ra_folio(flags, owner, indexes)``
    a large one, or None); ``invalidate(proc, vpn)`` drops a TLB entry when a present PTE
    changes frame (``ptep_clear_flush``)."""

    def __init__(self, frames: FrameTable, cache: PageCache, alloc: Callable, alloc_ra: Callable,
                 invalidate: Callable, next_anon_vma: Callable[[], int], swap=None,
                 put_slot: Callable | None = None, ra_pages: int = DEFAULT_RA_PAGES,
                 alloc_ra_folio: Callable | None = None, *, thp: THP) -> None:
        self.frames = frames
        self.cache = cache
        self.alloc = alloc
        self.alloc_ra = alloc_ra
        self.invalidate = invalidate
        self.next_anon_vma = next_anon_vma
        self.swap = swap  # the machine's SwapDevice, if it has swap
        self.thp = thp  # the machine's transparent huge pages
        self.put_slot = put_slot  # drops one swap PTE's reference (free_swap_and_cache)
        self.ra_pages = ra_pages  # the file device's readahead window (bdi->ra_pages)
        self.filemap = FileMap(self, alloc_ra_folio or (lambda flags, owner, index: None))

    def table_alloc(self, p: Process) -> Callable[[int], int]:
        """Return the page-table page allocator for ``p`` (a table is a frame)."""
        return lambda level: self.alloc(p, PGTABLE, p.pid, level)

    def lock(self, p: Process, f: int, delta: int) -> None:
        """A PTE or PMD of a VM_LOCKED VMA now maps (+1) or no longer maps (-1) frame ``f``
        (a huge folio counts its locked mappings at its head)."""
        fr = self.frames
        f = fr.head_of(f)
        fr.lists.mlock_one(f, delta, fr.cid_of(f), lru_type(int(fr.flags[f])))

    def fault(self, p: Process, v: VMA, va: int, write: bool) -> None:
        """Handle a fault at ``va`` (present-but-write-protected or not present) and count it."""
        key = va >> 21
        i = (va >> 12) & 511
        pt = p.pt
        t = pt.pfn.get(key)
        f = NONE if t is None else int(t[i])
        if f == NONE and v.file is not None:
            self.filemap.fault(p, v, va, write)  # may map the folio by PMD: no table first
            return
        if t is None:
            t, w = pt.ensure(key, self.table_alloc(p))
        else:
            w = pt.wr[key]
        if f <= SWP_FIRST:
            self._swap_in(p, v, t, w, i, va, decode(f), write)
            pt.young[key][i] = True
            return
        if v.file is None:
            if f == NONE:
                if write:
                    self._new_anon(p, v, t, w, i, va)
                else:
                    t[i] = ZERO
                    w[i] = False
            elif f == ZERO:
                self._new_anon(p, v, t, w, i, va)
                self.invalidate(p, va >> 12)
            else:
                self._wp_private(p, v, t, w, i, va, f)
            p.minor += 1
            self._touched(pt, key, i, write)
            return
        if v.shared:  # wp_page_shared: write-notify on a clean shared page
            w[i] = True
            self.frames.flags[f] |= DIRTY
        else:
            self._wp_private(p, v, t, w, i, va, f)
        p.minor += 1
        self._touched(pt, key, i, write)

    @staticmethod
    def _touched(pt, key: int, i: int, write: bool) -> None:
        """The access that took the fault: the PTE is young, and dirty after a write."""
        pt.young[key][i] = True
        if write:
            pt.dirty[key][i] = True

    def _swap_in(self, p: Process, v: VMA, t, w, i: int, va: int, slot: int, write: bool) -> None:
        """``do_swap_page``: a swap-cache hit is minor; a miss reads the page (major) plus a
        readahead window into the swap cache. The PTE's reference to the slot goes
        (``swap_free``). A page no other PTE or swap entry shares is mapped exclusive and, as
        6.18 does, writable even on a read fault (if the VMA allows writes); its slot and
        swap-cache entry are freed on a write fault, when swap is more than half full
        (``vm_swap_full``) or in an mlocked VMA (``should_try_to_free_swap``), else kept
        (SwapCached). A shared page is mapped read-only, and a write then copies it (cow) within
        the same fault."""
        sw = self.swap
        frames = self.frames
        fr = sw.cache[slot]  # a swap PTE points at it: the slot's state exists
        if fr >= 0:
            major = False
            if frames.flags[fr] & READAHEAD:
                frames.flags[fr] &= 0xFFFF & ~READAHEAD
                sw.ra_hits += 1
        else:
            major = True
            fr = self.alloc(p, ANON | SWAPCACHE, p.pid, va >> 12)
            sw.cache[slot] = fr
            sw.frame_slot[fr] = slot
            sw.pswpin += 1
            if frames.content is not None:
                self._copy_content_from_slot(fr, slot)
            if sw.page_cluster:
                self._pinned(fr, self._swap_readahead, slot)
        if not v.anon_vma:
            v.anon_vma = self.next_anon_vma()
        fl, mc = frames.flags, frames.mapcount  # after the allocations: the arrays may grow
        frames.owner[fr] = p.pid
        frames.index[fr] = va >> 12
        t[i] = fr
        n = int(mc[fr]) + 1
        mc[fr] = n
        p.rss_anon += 1
        p.swapents -= 1
        if v.locked:
            self.lock(p, fr, 1)
        sw.count[slot] -= 1  # swap_free: the cache page keeps the slot in use
        if n == 1 and sw.count[slot] == 0:
            flags = int(fl[fr]) | EXCL
            w[i] = v.writable
            if write or sw.full() or v.locked:
                sw.drop_cache(fr)
                flags = (flags & ~SWAPCACHE) | DIRTY
            fl[fr] = flags
        else:
            w[i] = False
            if write:
                self._wp_private(p, v, t, w, i, va, fr, shared=True)
        if major:
            p.major += 1
        else:
            p.minor += 1

    def _copy_content_from_slot(self, f: int, slot: int) -> None:
        content = self.frames.content
        if content is not None:
            content[f] = self.swap.content.get(slot, 0)

    def _swap_readahead(self, slot: int) -> None:
        """``swap_cluster_readahead``: read the in-use slots of the aligned window around
        ``slot`` into the swap cache, each marked for a readahead hit."""
        sw = self.swap
        mask = sw.window(slot) - 1
        if not mask:
            return
        lo, hi = max(slot & ~mask, 1), min(slot | mask, sw.nslots)
        for o in range(lo, hi + 1):
            if o == slot or not sw.refs(o) or sw.cached(o) >= 0:
                continue
            fr = self.alloc_ra(ANON | SWAPCACHE | READAHEAD, 0, -1)
            if fr < 0:
                return
            sw.add_cache(o, fr)
            sw.pswpin += 1
            self._copy_content_from_slot(fr, o)

    @staticmethod
    def _count(p: Process, major: bool) -> None:
        if major:
            p.major += 1
        else:
            p.minor += 1

    def anon_vma(self, v: VMA) -> None:
        if not v.anon_vma:
            v.anon_vma = self.next_anon_vma()

    def _new_anon(self, p: Process, v: VMA, t, w, i: int, va: int) -> int:
        """Map a fresh zeroed anonymous frame at slot ``i``."""
        if not v.anon_vma:
            v.anon_vma = self.next_anon_vma()
        fr = self.alloc(p, ANON | EXCL | DIRTY, p.pid, va >> 12)
        self.frames.mapcount[fr] = 1
        t[i] = fr
        w[i] = True
        p.rss_anon += 1
        if v.locked:
            self.lock(p, fr, 1)
        return fr

    def _wp_private(self, p: Process, v: VMA, t, w, i: int, va: int, f: int,
                    shared: bool = False) -> None:
        """Write to a write-protected private page: reuse an exclusive anon page, else copy it
        (``shared``: a swap entry elsewhere still refers to the page, so it is copied)."""
        frames = self.frames
        fl = frames.flags
        mc = frames.mapcount
        if not shared and fl[f] & ANON and (fl[f] & EXCL or mc[f] == 1):
            fl[f] |= EXCL | DIRTY
            w[i] = True
            return
        self.anon_vma(v)
        pin = frames.head_of(f) if frames.folios else f
        held = pin in frames.pinned
        frames.pinned.add(pin)  # the page being copied is not reclaimable meanwhile
        try:
            fr = self.alloc(p, ANON | EXCL | DIRTY, p.pid, va >> 12)
        finally:
            if not held:
                frames.pinned.discard(pin)
        if int(t[i]) != f:  # the OOM killer changed this PTE: cannot happen for a live process
            raise AssertionError("PTE changed during a copy-on-write allocation")
        fl, mc = frames.flags, frames.mapcount  # the allocation may have grown the arrays
        if frames.content is not None:
            frames.content[fr] = frames.content[f]
        if v.locked:
            self.lock(p, f, -1)
        mc[f] -= 1
        folio = frames.head_of(f) if frames.folios and fl[f] & ANON else -1
        if folio in frames.folios:
            pass  # a page of a huge folio: the folio is checked below, once the PTE changed
        elif fl[f] & ANON and mc[f] == 0 and (
                not fl[f] & SWAPCACHE or not self.swap.refs(self.swap.frame_slot[f])):
            # The allocation OOM-killed the page's other mapper, or this was the last mapper of a
            # swap-cache page no swap entry needs: the copy goes ahead (the decision was taken
            # before allocating, as in wp_page_copy) and the old page is freed. A swap-cache page
            # that swap entries still refer to stays in the swap cache.
            frames.release(f)
        elif fl[f] & FILE:
            if fl[f] & SHMEM:
                p.rss_shmem -= 1
            else:
                p.rss_file -= 1
            p.rss_anon += 1
        mc[fr] = 1
        t[i] = fr
        w[i] = True
        p.cow += 1
        if v.locked:
            self.lock(p, fr, 1)
        self.invalidate(p, va >> 12)
        if folio in frames.folios:
            self.thp.maybe_split([folio])  # the deferred split, at once

    def _pinned(self, f: int, fn, *args) -> None:
        """Run ``fn(*args)`` with frame ``f`` safe from reclaim (the faulting thread holds the
        folio locked and referenced while readahead allocates)."""
        pinned = self.frames.pinned
        if f in pinned:
            fn(*args)
            return
        pinned.add(f)
        try:
            fn(*args)
        finally:
            pinned.discard(f)
