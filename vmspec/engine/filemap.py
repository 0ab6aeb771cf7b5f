"""Faults on mapped files and the folios of the page cache, as Linux 6.18 does them on ext4.

Counterparts: ``filemap_fault``, ``filemap_map_pages``, ``do_sync_mmap_readahead`` and
``do_async_mmap_readahead`` (``mm/filemap.c``); ``do_read_fault``, ``do_cow_fault``,
``do_shared_fault``, ``do_fault_around``, ``finish_fault`` and ``do_set_pmd`` (``mm/memory.c``);
the fault retries of x86's ``do_user_addr_fault``. ``vmspec.engine.readahead`` decides which
folios are read. shmem (shared anonymous memory) faults are here too. Rules and measurements:
docs/engine.md, "File pages".

Not modelled: the time reads take (docs/engine.md, "Choice (I/O time)"), read(2)/write(2),
truncation, large shmem folios.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vmspec.engine.errors import SIGBUS
from vmspec.engine.frames import ANON, DIRTY, EXCL, FILE, NONE, PGTABLE, READAHEAD, SHMEM
from vmspec.engine.readahead import FileRA, async_ra, force_ra, ra_order

if TYPE_CHECKING:
    from vmspec.engine.pagecache import CachedFile
    from vmspec.engine.process import Process
    from vmspec.engine.vma import VMA

FAULT_AROUND_PAGES = 16  # fault_around_bytes = 65536
MMAP_LOTSAMISS = 100
HPAGE_NR = 512
VM_EXEC = 4  # vmspec.engine.vma.X


class Folio:
    """One page-cache folio: its head frame, first file page and size in pages."""

    __slots__ = ("head", "index", "nr")

    def __init__(self, head: int, index: int, nr: int) -> None:
        self.head, self.index, self.nr = head, index, nr

    @property
    def next(self) -> int:  # folio_next_index
        return self.index + self.nr


class CacheView:
    """``readahead.Cache`` over one file: reads folios into the cache with readahead
    allocations, keeping each new folio pinned (locked for its read) until ``release``."""

    __slots__ = ("fm", "cf", "npages", "added")

    def __init__(self, fm: FileMap, cf: CachedFile) -> None:
        self.fm = fm
        self.cf = cf
        self.npages = cf.npages
        self.added: list[int] = []

    def cached(self, index: int) -> bool:
        return self.cf.lookup(index) >= 0

    def next_miss(self, index: int, limit: int) -> int:
        """``page_cache_next_miss``: the first page from ``index`` not cached, looking at most
        ``limit`` pages ahead."""
        cf = self.cf
        for k in range(limit):
            if cf.lookup(index + k) < 0:
                return index + k
        return index + limit

    def add(self, index: int, order: int, mark: bool) -> bool:
        cf = self.cf
        n = 1 << order
        if any(cf.lookup(index + k) >= 0 for k in range(n)):
            return False  # filemap_add_folio: -EEXIST
        fm = self.fm
        frames = fm.frames
        if n == 1:
            f = fm.alloc_ra(FILE, cf.fid, index)
            if f < 0:
                return False
            fm.cache.add(cf, index, f)
        else:
            subs = fm.alloc_ra_folio(FILE, cf.fid, np.arange(index, index + n, dtype=np.int64))
            if subs is None:
                return False
            for k, g in enumerate(subs.tolist()):
                fm.cache.add(cf, index + k, g)
            f = int(subs[0])
        if mark:
            frames.flags[f] |= READAHEAD
        frames.pinned.add(f)
        self.added.append(f)
        return True

    def release(self) -> None:
        """The reads are done: the new folios may be reclaimed from now on."""
        pinned = self.fm.frames.pinned
        for f in self.added:
            pinned.discard(f)


class FileMap:
    """The file-fault paths of one machine. ``handler`` is its ``FaultHandler`` (allocation,
    mlock, TLB invalidation); ``alloc_ra_folio(flags, owner, index)`` allocates a large
    readahead folio or returns None."""

    def __init__(self, handler, alloc_ra_folio) -> None:
        self.handler = handler
        self.frames = handler.frames
        self.cache = handler.cache
        self.alloc_ra = handler.alloc_ra
        self.alloc_ra_folio = alloc_ra_folio
        self.thp = handler.thp  # the machine's THP: PMD leaves for order-9 folios
        self.pending: set[int] = set()  # folios under async readahead I/O during a retry
        self.prealloc = -1  # the PTE table preallocated for this fault (``vmf->prealloc_pte``)

    # ---- folios ------------------------------------------------------------------------------

    def folio_at(self, cf: CachedFile, index: int) -> Folio | None:
        """Return the cached folio holding page ``index`` of ``cf``, or None."""
        f = cf.lookup(index)
        if f < 0:
            return None
        frames = self.frames
        if frames.folios:
            h = frames.head_of(f)
            subs = frames.folios.get(h)
            if subs is not None:
                return Folio(h, int(frames.index[h]), len(subs))
        return Folio(f, index, 1)

    def frames_of(self, fo: Folio) -> np.ndarray:
        if fo.nr == 1:
            return np.array([fo.head], np.int64)
        return self.frames.folios[fo.head]

    # ---- the read fault --------------------------------------------------------------------

    def fault(self, p: Process, v: VMA, va: int, write: bool) -> None:
        """A fault at ``va`` of file VMA ``v`` whose PTE is none (no PMD leaf either): a read
        (``do_read_fault``), a private write (``do_cow_fault``) or a shared write
        (``do_shared_fault``), with x86's retries, counted once."""
        cf = self.cache.by_id[v.file]
        idx = v.file_page(va)
        if idx >= cf.npages:
            raise SIGBUS(f"access at {va:#x} is beyond the end of the mapped file")
        key = va >> 21
        pt = p.pt
        handler = self.handler
        pt.ensure_upper(2, key >> 9, handler.table_alloc(p))
        if key not in pt.pfn and key not in pt.thp:
            self.prealloc = handler.alloc(p, PGTABLE, p.pid, 1)
        tried = False
        vma_lock = True
        try:
            while True:
                if not write:
                    retry, major = self._read_attempt(p, v, cf, va, idx, tried)
                elif not v.shared:
                    retry, major = self._cow_attempt(p, v, cf, va, idx, tried)
                else:
                    retry, major = self._shared_attempt(p, v, cf, va, idx, tried)
                if not retry:
                    break
                if vma_lock:  # the per-VMA-lock attempt retries under mmap_lock
                    vma_lock = False
                    tried = tried or major
                else:
                    tried = True
        finally:
            self.pending = set()
            if self.prealloc >= 0:
                self.frames.release(self.prealloc)  # pte_free: the fault did not need it
                self.prealloc = -1
        if major or tried:  # mm_account_fault
            p.major += 1
        else:
            p.minor += 1

    def _read_attempt(self, p, v, cf, va: int, idx: int, tried: bool) -> tuple[bool, bool]:
        if self.fault_around(p, v, cf, va):
            return False, False
        retry, major, fo = self._filemap_fault(p, v, cf, idx, tried)
        if retry:
            return True, major
        self._finish_fault(p, v, cf, va, fo, False)
        return False, major

    def _cow_attempt(self, p, v, cf, va: int, idx: int, tried: bool) -> tuple[bool, bool]:
        """``do_cow_fault``: a new anonymous page, the file page read into it (cow)."""
        handler = self.handler
        frames = self.frames
        handler.anon_vma(v)
        new = handler.alloc(p, ANON | EXCL | DIRTY, p.pid, va >> 12)
        frames.pinned.add(new)
        try:
            retry, major, fo = self._filemap_fault(p, v, cf, idx, tried)
        except BaseException:  # an OOM kill (maybe of this process): the copy is nobody's
            frames.pinned.discard(new)
            frames.release(new)
            raise
        frames.pinned.discard(new)
        if retry:
            frames.release(new)
            return True, major
        if frames.content is not None:
            frames.content[new] = frames.content[cf.lookup(idx)]
        self._install(p, va >> 21)
        t, w = p.pt.pfn[va >> 21], p.pt.wr[va >> 21]
        i = (va >> 12) & 511
        frames.mapcount[new] = 1
        t[i] = new
        w[i] = True
        p.pt.young[va >> 21][i] = True
        p.pt.dirty[va >> 21][i] = True
        p.rss_anon += 1
        p.cow += 1
        if v.locked:
            handler.lock(p, new, 1)
        return False, major

    def _shared_attempt(self, p, v, cf, va: int, idx: int, tried: bool) -> tuple[bool, bool]:
        """``do_shared_fault``: find the page, make it writable (``page_mkwrite``: dirty), map
        it (the whole folio where it fits) writable and dirty."""
        retry, major, fo = self._filemap_fault(p, v, cf, idx, tried)
        if retry:
            return True, major
        self.frames.flags[self.frames_of(fo)] |= DIRTY
        self._finish_fault(p, v, cf, va, fo, True)
        return False, major

    # ---- filemap_map_pages -------------------------------------------------------------------

    def fault_around(self, p, v, cf, va: int) -> bool:
        """``do_fault_around``: map what the cache holds in the aligned 16-page window around
        ``va`` (clipped to the VMA and the page table); True if ``va`` got mapped."""
        i = (va >> 12) & 511
        vma_off = (va - v.start) >> 12
        lo = max(i & ~(FAULT_AROUND_PAGES - 1), i - min(i, vma_off))
        hi = min(lo + FAULT_AROUND_PAGES, 512, i + (v.length >> 12) - vma_off) - 1
        pg = v.file_page(va)
        return self.map_pages(p, v, cf, va, pg + lo - i, pg + hi - i)

    def map_pages(self, p, v, cf, va: int, start: int, end: int) -> bool:
        """``filemap_map_pages`` for file pages ``[start, end]``: map every cached, unlocked,
        unmarked folio there (a large one whole where it fits); True if ``va`` got mapped."""
        frames = self.frames
        fl = frames.flags
        file_end = cf.npages - 1
        end = min(end, file_end)
        hits: list[tuple[Folio, int]] = []
        i = start
        while i <= end:
            fo = self.folio_at(cf, i)
            if fo is None:
                i += 1
                continue
            if not fl[fo.head] & READAHEAD and fo.head not in self.pending:
                hits.append((fo, i))
            i = fo.next
        if not hits:
            return False
        key = va >> 21
        pt = p.pt
        first = hits[0][0]
        if (file_end >= first.next or cf.shmem) and key not in pt.pfn:
            if first.nr == HPAGE_NR and not cf.shmem and self.set_pmd(p, v, va, first, False):
                return True
            self._install(p, key)  # pmd_install
        if key not in pt.pfn:
            return False  # no page table: pte_offset_map_lock fails, ->fault maps the page
        t, w, y = pt.pfn[key], pt.wr[key], pt.young[key]
        writable = cf.shmem and v.shared and v.writable
        base = v.start - (v.pgoff << 12)  # address of file page 0 in this VMA
        vpn = va >> 12
        mapped = False
        miss = 0
        for fo, xi in hits:
            lo, hi = xi, min(fo.next - 1, end)
            if fo.nr > 1:
                a0 = base + (fo.index << 12)
                if ((file_end >= fo.next or cf.shmem) and fo.index >= v.pgoff
                        and fo.next <= v.pgoff + (v.length >> 12)
                        and a0 >> 21 == (a0 + (fo.nr << 12) - 1) >> 21):
                    lo, hi = fo.index, fo.next - 1  # the whole folio
            miss += hi - lo + 1
            subs = self.frames_of(fo)
            for k in range(lo, hi + 1):
                pv = (base >> 12) + k
                j = pv & 511
                if t[j] != NONE:
                    continue
                self._map_one(p, v, cf, t, w, j, int(subs[k - fo.index]), writable, False)
                y[j] = True  # x86's vm_page_prot carries _PAGE_ACCESSED
                mapped = mapped or pv == vpn
        ra = v.ra
        if ra is not None:
            ra.mmap_miss = max(0, ra.mmap_miss - miss)
        return mapped

    # ---- filemap_fault -----------------------------------------------------------------------

    def _filemap_fault(self, p, v, cf, idx: int, tried: bool) -> tuple[bool, bool, Folio]:
        """``filemap_fault`` (``shmem_fault`` for shmem): return (retry, major, folio)."""
        fo = self.folio_at(cf, idx)
        if cf.shmem:
            if fo is None:
                f = self.handler.alloc(p, FILE | SHMEM | DIRTY, cf.fid, idx)
                self.cache.add(cf, idx, f)
                fo = Folio(f, idx, 1)
            return False, False, fo
        if fo is not None:
            retry = False
            if not tried:
                retry = self._async_mmap_ra(v, cf, idx, fo)
            return retry, False, fo
        self._sync_mmap_ra(v, cf, idx)
        fo = self.folio_at(cf, idx)
        if fo is None:  # readahead did not bring it: __filemap_get_folio(FGP_CREAT), order 0
            f = self.handler.alloc(p, FILE, cf.fid, idx)
            self.cache.add(cf, idx, f)
            fo = Folio(f, idx, 1)
        return not tried, True, fo  # the lock was dropped for the read: retry

    def _sync_mmap_ra(self, v, cf, idx: int) -> None:
        """``do_sync_mmap_readahead``."""
        ra: FileRA = v.ra
        view = CacheView(self, cf)
        try:
            if v.thp == "hugepage":  # VM_HUGEPAGE: two PMD-sized folios (even with ra_pages 0)
                ra.size = 2 * HPAGE_NR
                ra.async_size = HPAGE_NR
                ra.order = 9
                ra_order(ra, view, idx & ~(HPAGE_NR - 1))
                return
            if not ra.ra_pages:
                return
            if ra.mmap_miss < MMAP_LOTSAMISS * 10:
                ra.mmap_miss += 1
            if ra.mmap_miss > MMAP_LOTSAMISS:
                return
            if v.prot & VM_EXEC:  # exec_folio_order() is 0 on x86; no async part
                first, last = v.pgoff, v.pgoff + (v.length >> 12)
                ra.order = 0
                ra.start = max(idx, first)
                ra.size = min(ra.start + ra.ra_pages, last) - ra.start
                ra.async_size = 0
            else:  # mmap read-around
                ra.start = max(0, idx - ra.ra_pages // 2)
                ra.size = ra.ra_pages
                ra.async_size = ra.ra_pages // 4
                ra.order = 0
            ra_order(ra, view, ra.start)
        finally:
            view.release()

    def _async_mmap_ra(self, v, cf, idx: int, fo: Folio) -> bool:
        """``do_async_mmap_readahead``: True if readahead ran (the fault retries)."""
        ra: FileRA = v.ra
        if not ra.ra_pages:
            return False
        if ra.mmap_miss:
            ra.mmap_miss -= 1
        fl = self.frames.flags
        if not fl[fo.head] & READAHEAD:
            return False
        fl[fo.head] &= 0xFFFF & ~READAHEAD
        view = CacheView(self, cf)
        pinned = self.frames.pinned
        held = fo.head in pinned
        pinned.add(fo.head)  # the fault holds a reference to the folio it found
        try:
            async_ra(ra, view, idx, fo.nr, ra.ra_pages)
        finally:
            if not held:
                pinned.discard(fo.head)
            view.release()
        self.pending = set(view.added)  # still under I/O when the fault retries
        return True

    # ---- finish_fault ------------------------------------------------------------------------

    def _finish_fault(self, p, v, cf, va: int, fo: Folio, write: bool) -> None:
        """``finish_fault``: map the faulting folio by PMD (order 9, aligned) or by PTEs, the
        whole folio where it fits in the VMA and the page table, else the one page."""
        key = va >> 21
        pt = p.pt
        needs_fallback = not cf.shmem and cf.npages < fo.next
        if key not in pt.pfn and key not in pt.thp:
            if not needs_fallback and fo.nr == HPAGE_NR and self.set_pmd(p, v, va, fo, write):
                return
            self._install(p, key)
        t, w, y = pt.pfn[key], pt.wr[key], pt.young[key]
        i = (va >> 12) & 511
        idx = v.file_page(va)
        off = idx - fo.index
        first, nr = i, 1
        if fo.nr > 1 and not needs_fallback:
            vma_off = (va - v.start) >> 12
            if not (vma_off < off or vma_off + fo.nr - off > v.length >> 12 or i < off
                    or i + fo.nr - off > 512) and (t[i - off:i - off + fo.nr] == NONE).all():
                first, nr = i - off, fo.nr
        writable = write or (cf.shmem and v.shared and v.writable)
        subs = self.frames_of(fo)
        base = off if nr == 1 else 0
        for k in range(nr):
            j = first + k
            self._map_one(p, v, cf, t, w, j, int(subs[base + k]), writable, write)
            y[j] = True
            if write:
                pt.dirty[key][j] = True

    def _map_one(self, p, v, cf, t, w, j: int, f: int, writable: bool, write: bool) -> None:
        t[j] = f
        w[j] = writable
        self.frames.mapcount[f] += 1
        if cf.shmem:
            p.rss_shmem += 1
        else:
            p.rss_file += 1
        if v.locked:
            self.handler.lock(p, f, 1)

    def _install(self, p, key: int) -> None:
        """Put a PTE table under PMD ``key``: the preallocated one if there is one."""
        pt = p.pt
        if key in pt.pfn:
            return
        if self.prealloc >= 0:
            pt.install(key, self.prealloc)
            self.prealloc = -1
        else:
            pt.ensure(key, self.handler.table_alloc(p))

    def set_pmd(self, p, v, va: int, fo: Folio, write: bool) -> bool:
        """``do_set_pmd``: map an order-9 folio by one PMD if the VMA can hold a huge page at
        ``va`` (``thp_vma_suitable_order``: the file offset agrees with the address modulo 2 MiB
        and the 2 MiB range lies inside the VMA; not MADV_NOHUGEPAGE). The machine's ``thp``
        setting does not matter: the folio exists already."""
        haddr = va & ~((1 << 21) - 1)
        if (v.thp == "nohugepage" or ((v.start >> 12) - v.pgoff) & (HPAGE_NR - 1)
                or haddr < v.start or haddr + (1 << 21) > v.end):
            return False
        self.thp.map_file_pmd(p, v, va >> 21, fo.head, write)
        return True

    # ---- MADV_WILLNEED -----------------------------------------------------------------------

    def willneed(self, v, lo: int, hi: int) -> None:
        """MADV_WILLNEED over ``[lo, hi)`` of file VMA ``v`` (``force_page_cache_ra``)."""
        cf = self.cache.by_id[v.file]
        first = v.file_page(lo)
        n = min(v.file_page(hi), cf.npages) - first
        if n <= 0:
            return
        view = CacheView(self, cf)
        try:
            force_ra(v.ra, view, first, n)
        finally:
            view.release()


def new_ra(ra_pages: int) -> FileRA:
    """The readahead state of a file opened for a mapping (``file_ra_state_init``)."""
    return FileRA(ra_pages)
