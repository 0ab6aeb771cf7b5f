"""The page-fault handler for one 4 KiB page, following ``handle_pte_fault`` (ENGINE-FACTS 4).

Rules (4.1-4.5): a read of never-touched private anonymous memory maps the shared zero page
read-only (``do_anonymous_page``, 1 minor, no RSS); a write allocates a zeroed frame (1 minor); a
write to the zero page allocates (``wp_page_copy``, 1 minor, not cow); a write to a write-protected
anonymous page copies it if another PTE maps it (``wp_page_copy``: 1 minor, cow) and otherwise
reuses it (``wp_page_reuse``: 1 minor, not cow). File pages (4.4): a read fault first maps
cache-resident neighbours in the aligned 16-page window (``do_fault_around``, fault_around_bytes
64 KiB, skipping readahead-marked pages), then ``filemap_fault``: a page not in the cache is a major
fault that reads a 32-page read-around window (``do_sync_mmap_readahead``) and marks page 24 of it;
finding a marked page starts the next 32-page window (``page_cache_async_ra``). A private write
copies the cache page (``do_cow_fault``/``wp_page_copy``: cow); a shared write dirties it. Regular
files use write-notify (read faults map shared pages read-only; the first write is a minor
``wp_page_shared`` fault); shmem (shared anonymous memory) maps writable at once and allocates
zeroed pages on a miss (minor). Beyond the end of the file is SIGBUS. Huge pages of hugetlb
mappings are faulted by ``vmspec.engine.hugetlb`` (4.7), not here. A swap entry is swapped in
(``_swap_in``, 4.6, 11.3). Not modelled: THP, ``mmap_miss``, userfaultfd, large folios.
"""

from __future__ import annotations

from typing import Callable

from vmspec.engine.errors import SIGBUS
from vmspec.engine.frames import (ANON, DIRTY, EXCL, FILE, NONE, READAHEAD, SHMEM, SWAPCACHE,
                                  ZERO, FrameTable)
from vmspec.engine.pagecache import RA_PAGES, CachedFile, PageCache
from vmspec.engine.process import Process
from vmspec.engine.swap import SWP_FIRST, decode
from vmspec.engine.vma import VMA

FAULT_AROUND_PAGES = 16  # fault_around_bytes = 65536 (4.4)


class FaultHandler:
    """Resolves one fault. ``alloc(proc, flags, owner, index)`` is the system's allocator (it may
    reclaim or OOM-kill, and raises if the faulting process dies); ``invalidate(proc, vpn)`` drops
    a TLB entry when a present PTE changes frame (``ptep_clear_flush``)."""

    def __init__(self, frames: FrameTable, cache: PageCache, alloc: Callable, free_alloc: Callable,
                 invalidate: Callable, next_anon_vma: Callable[[], int]) -> None:
        self.frames = frames
        self.cache = cache
        self.alloc = alloc
        self.free_alloc = free_alloc  # (flags, owner, index) -> frame or -1, never reclaims
        self.invalidate = invalidate
        self.next_anon_vma = next_anon_vma
        self.swap = None  # the machine's SwapDevice, if it has swap
        self.put_slot = None  # System.put_slot

    def table_alloc(self, p: Process) -> Callable[[int], int]:
        """Return the page-table page allocator for ``p`` (a table is a frame: ENGINE-FACTS 2.2)."""
        from vmspec.engine.frames import PGTABLE
        return lambda level: self.alloc(p, PGTABLE, p.pid, level)

    def fault(self, p: Process, v: VMA, va: int, write: bool) -> None:
        """Handle a fault at ``va`` (present-but-write-protected or not present) and count it."""
        key = va >> 21
        i = (va >> 12) & 511
        t = p.pt.pfn.get(key)
        if t is None:
            t, w = p.pt.ensure(key, self.table_alloc(p))
        else:
            w = p.pt.wr[key]
        f = int(t[i])
        if f <= SWP_FIRST:
            self._swap_in(p, v, t, w, i, va, decode(f), write)
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
            return
        cf = self.cache.by_id[v.file]
        if f == NONE:
            idx = v.file_page(va)
            if idx >= cf.npages:
                raise SIGBUS(f"access at {va:#x} is beyond the end of the mapped file")
            if not write:
                self._read_fault(p, v, t, w, i, va, cf, idx)
            elif not v.shared:
                self._cow_fault(p, v, t, w, i, va, cf, idx)
            else:
                fr, major = self._get_page(p, cf, idx)
                self._map_file(p, cf, t, w, i, fr, True)
                self.frames.flags[fr] |= DIRTY
                self._count(p, major)
            return
        if v.shared:  # wp_page_shared: write-notify on a clean shared page
            w[i] = True
            self.frames.flags[f] |= DIRTY
        else:
            self._wp_private(p, v, t, w, i, va, f)
        p.minor += 1

    def _swap_in(self, p: Process, v: VMA, t, w, i: int, va: int, slot: int, write: bool) -> None:
        """``do_swap_page`` (ENGINE-FACTS 4.6, 11.3): a swap-cache hit is minor; a miss reads the
        page (major) plus a readahead window into the swap cache. The PTE's reference to the slot
        goes (``swap_free``). A page no other PTE or swap entry shares is mapped exclusive and,
        as 6.18 does, writable even on a read fault (if the VMA allows writes); its slot and
        swap-cache entry are freed on a write fault, when swap is more than half full
        (``vm_swap_full``) or in an mlocked VMA (``should_try_to_free_swap``), else kept
        (SwapCached). A shared page is mapped read-only, and a write then copies it (cow) within
        the same fault."""
        sw = self.swap
        fl = self.frames.flags
        mc = self.frames.mapcount
        fr = int(sw.cache[slot])
        if fr >= 0:
            major = False
            if fl[fr] & READAHEAD:
                fl[fr] &= 0xFFFF & ~READAHEAD
                sw.ra_hits += 1
        else:
            major = True
            fr = self.free_alloc(ANON | SWAPCACHE, p.pid, va >> 12)
            if fr < 0:
                fr = self.alloc(p, ANON | SWAPCACHE, p.pid, va >> 12)
            sw.add_cache(slot, fr)
            self._swap_readahead(slot)
        self._anon_vma(v)
        self.frames.owner[fr] = p.pid
        self.frames.index[fr] = va >> 12
        t[i] = fr
        mc[fr] += 1
        p.rss_anon += 1
        p.swapents -= 1
        self.put_slot(slot)  # the cache page keeps the slot in use
        if sw.count[slot] == 0 and mc[fr] == 1:
            fl[fr] |= EXCL
            w[i] = v.writable
            if write or sw.free * 2 < sw.nslots or v.locked:
                sw.drop_cache(fr)
                fl[fr] &= 0xFFFF & ~SWAPCACHE
                fl[fr] |= DIRTY
        else:
            w[i] = False
            if write:
                self._wp_private(p, v, t, w, i, va, fr, shared=True)
        self._count(p, major)

    def _swap_readahead(self, slot: int) -> None:
        """``swap_cluster_readahead``: read the in-use slots of the aligned window around
        ``slot`` into the swap cache, from free frames only, each marked for a readahead hit."""
        sw = self.swap
        mask = sw.window(slot) - 1
        if not mask:
            return
        lo, hi = max(slot & ~mask, 1), min(slot | mask, sw.nslots)
        for o in range(lo, hi + 1):
            if o == slot or sw.count[o] == 0 or sw.cache[o] >= 0:
                continue
            fr = self.free_alloc(ANON | SWAPCACHE | READAHEAD, 0, -1)
            if fr < 0:
                return
            sw.add_cache(o, fr)

    @staticmethod
    def _count(p: Process, major: bool) -> None:
        if major:
            p.major += 1
        else:
            p.minor += 1

    def _anon_vma(self, v: VMA) -> None:
        if not v.anon_vma:
            v.anon_vma = self.next_anon_vma()

    def _new_anon(self, p: Process, v: VMA, t, w, i: int, va: int) -> int:
        """Map a fresh zeroed anonymous frame at slot ``i``."""
        if not v.anon_vma:
            v.anon_vma = self.next_anon_vma()
        fr = self.free_alloc(ANON | EXCL | DIRTY, p.pid, va >> 12)  # the common case: a free frame
        if fr < 0:
            fr = self.alloc(p, ANON | EXCL | DIRTY, p.pid, va >> 12)
        self.frames.mapcount[fr] = 1
        t[i] = fr
        w[i] = True
        p.rss_anon += 1
        return fr

    def _wp_private(self, p: Process, v: VMA, t, w, i: int, va: int, f: int,
                    shared: bool = False) -> None:
        """Write to a write-protected private page: reuse an exclusive anon page, else copy it
        (``shared``: a swap entry elsewhere still refers to the page, so it is copied)."""
        fl = self.frames.flags
        mc = self.frames.mapcount
        if not shared and fl[f] & ANON and (fl[f] & EXCL or mc[f] == 1):
            fl[f] |= EXCL | DIRTY
            w[i] = True
            return
        self._anon_vma(v)
        self.frames.pinned.add(f)  # the page being copied is not reclaimable meanwhile
        try:
            fr = self.alloc(p, ANON | EXCL | DIRTY, p.pid, va >> 12)
        finally:
            self.frames.pinned.discard(f)
        if int(t[i]) != f:  # the OOM killer changed this PTE: cannot happen for a live process
            raise AssertionError("PTE changed during a copy-on-write allocation")
        mc[f] -= 1
        if fl[f] & ANON and mc[f] == 0 and (
                not fl[f] & SWAPCACHE or not self.swap.count[self.swap.frame_slot[f]]):
            # The allocation OOM-killed the page's other mapper, or this was the last mapper of a
            # swap-cache page no swap entry needs: the copy goes ahead (the decision was taken
            # before allocating, as in wp_page_copy) and the old page is freed. A swap-cache page
            # that swap entries still refer to stays in the swap cache.
            self.frames.release(f)
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
        self.invalidate(p, va >> 12)

    def _map_file(self, p: Process, cf: CachedFile, t, w, i: int, fr: int, writable: bool) -> None:
        t[i] = fr
        w[i] = writable
        self.frames.mapcount[fr] += 1
        if cf.shmem:
            p.rss_shmem += 1
        else:
            p.rss_file += 1

    def _read_fault(self, p: Process, v: VMA, t, w, i: int, va: int, cf: CachedFile, idx: int) -> None:
        """``do_read_fault``: fault-around first, then ``filemap_fault`` if still unmapped."""
        writable = v.shared and v.writable and cf.shmem
        self._fault_around(p, v, t, w, i, va, cf, writable)
        if int(t[i]) != NONE:
            p.minor += 1
            return
        fr, major = self._get_page(p, cf, idx)
        self._map_file(p, cf, t, w, i, fr, writable)
        self._count(p, major)

    def _cow_fault(self, p: Process, v: VMA, t, w, i: int, va: int, cf: CachedFile, idx: int) -> None:
        """``do_cow_fault``: allocate the private copy, read the file page, copy (cow)."""
        self._anon_vma(v)
        fr = self.alloc(p, ANON | EXCL | DIRTY, p.pid, va >> 12)
        self.frames.mapcount[fr] = 1
        t[i] = fr  # claim the slot before reading (the page lock in Linux)
        self.frames.pinned.add(fr)
        try:
            _, major = self._get_page(p, cf, idx)
        except BaseException:
            if p.alive:
                t[i] = NONE
                self.frames.mapcount[fr] = 0
                self.frames.release(fr)
            raise
        finally:
            self.frames.pinned.discard(fr)
        w[i] = True
        p.rss_anon += 1
        p.cow += 1
        self._count(p, major)

    def _fault_around(self, p: Process, v: VMA, t, w, i: int, va: int, cf: CachedFile,
                      writable: bool) -> None:
        """Map cache-resident, unmarked pages of the aligned 16-page window (``do_fault_around``)."""
        vma_off = (va - v.start) >> 12
        lo = max(i & ~(FAULT_AROUND_PAGES - 1), i - min(i, vma_off))
        hi = min(lo + FAULT_AROUND_PAGES, 512, i + (v.length >> 12) - vma_off)
        base = v.file_page(va) - i
        fl = self.frames.flags
        for j in range(lo, hi):
            if t[j] != NONE:
                continue
            idx = base + j
            if idx >= cf.npages:
                break
            fr = cf.lookup(idx)
            if fr < 0 or fl[fr] & READAHEAD:
                continue
            self._map_file(p, cf, t, w, j, fr, writable)

    def _get_page(self, p: Process, cf: CachedFile, idx: int) -> tuple[int, bool]:
        """``filemap_fault``/``shmem_fault``: return the cache frame of ``idx`` and whether it was major."""
        fr = cf.lookup(idx)
        fl = self.frames.flags
        if fr >= 0:
            if fl[fr] & READAHEAD:
                fl[fr] &= 0xFFFF & ~READAHEAD
                self._async_readahead(cf, idx)
            return fr, False
        if cf.shmem:
            fr = self.alloc(p, FILE | SHMEM | DIRTY, cf.fid, idx)
            self.cache.add(cf, idx, fr)
            return fr, False
        fr = self.alloc(p, FILE, cf.fid, idx)
        self.cache.add(cf, idx, fr)
        start = max(0, idx - RA_PAGES // 2)
        cf.ra_start, cf.ra_size, cf.ra_async = start, RA_PAGES, RA_PAGES // 4
        self._read_window(cf, start, start + RA_PAGES, start + RA_PAGES - RA_PAGES // 4, idx)
        return fr, True

    def _async_readahead(self, cf: CachedFile, idx: int) -> None:
        """``page_cache_async_ra``: push the window forward by 32 pages, marking its first page."""
        if idx == cf.ra_start + cf.ra_size - cf.ra_async:
            start = cf.ra_start + cf.ra_size
        else:
            start = idx + 1
            while start < cf.npages and start < idx + RA_PAGES and cf.lookup(start) >= 0:
                start += 1
        cf.ra_start, cf.ra_size, cf.ra_async = start, RA_PAGES, RA_PAGES
        self._read_window(cf, start, start + RA_PAGES, start, -1)

    def _read_window(self, cf: CachedFile, start: int, end: int, mark: int, skip: int) -> None:
        """Read missing pages of ``[start, end)`` into the cache from free frames only (readahead
        never reclaims or OOM-kills here); the newly read page at ``mark`` gets PG_readahead."""
        end = min(end, cf.npages)
        for j in range(start, end):
            if j == skip or cf.lookup(j) >= 0:
                continue
            fr = self.free_alloc(FILE, cf.fid, j)
            if fr < 0:
                return
            self.cache.add(cf, j, fr)
            if j == mark:
                self.frames.flags[fr] |= READAHEAD
