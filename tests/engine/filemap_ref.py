"""A reference model of Linux 6.18's mmap read faults on ext4, written independently of the
engine from the kernel source (``mm/filemap.c``, ``mm/readahead.c``, ``mm/memory.c``) and checked
against 443 measured runs: one file's page cache (folios, PG_readahead), ``file_ra_state``, the
readahead engine and the fault path of one read-only mapping, with instant I/O except that the
folios of an async readahead are still locked during the retry of the fault that started it.
tests/engine/test_filemap_oracle.py checks the engine against it on generated access sequences
(it knows no memory pressure, writes, forks or reclaim: the engine runs with plenty of RAM)."""

from __future__ import annotations

PAGE = 4096
PMD_NR = 512            # HPAGE_PMD_NR
PMD_ORDER = 9
MMAP_LOTSAMISS = 100    # mm/filemap.c
M64 = (1 << 64) - 1


def ilog2(x):
    return x.bit_length() - 1


def roundup_pow_of_two(x):
    return 1 << (x - 1).bit_length() if x > 1 else 1


def ffs(x):             # 1-based, 0 for 0 (C ffs)
    return (x & -x).bit_length() if x else 0


def lowbit(x):          # __ffs
    return (x & -x).bit_length() - 1


class Folio:
    __slots__ = ("index", "order", "ra")

    def __init__(self, index, order, ra):
        self.index, self.order, self.ra = index, order, ra

    @property
    def nr(self):
        return 1 << self.order

    @property
    def next(self):     # folio_next_index
        return self.index + (1 << self.order)


class PageCache:
    """address_space of one ext4 regular file (large folios, orders 0..9)."""

    def __init__(self, isize, large=True, max_order=PMD_ORDER):
        self.isize = isize
        self.npages = (isize + PAGE - 1) // PAGE
        self.slot = [None] * (self.npages + PMD_NR)   # index -> Folio
        self.large = large
        self.max_order = max_order if large else 0
        self.added = []                 # folios added since last reset

    def get(self, i):
        return self.slot[i] if 0 <= i < len(self.slot) else None

    def add(self, index, order, ra_mark):
        """filemap_add_folio: -EEXIST if any index of the range is taken."""
        n = 1 << order
        if any(self.slot[index + k] is not None for k in range(n)):
            return False
        f = Folio(index, order, ra_mark)
        for k in range(n):
            self.slot[index + k] = f
        self.added.append(f)
        return True

    def folios(self):
        out, i = [], 0
        while i < self.npages:
            f = self.slot[i]
            if f is None:
                i += 1
                continue
            out.append(f)
            i = f.next
        return out

    def next_miss(self, index, max_scan):       # page_cache_next_miss
        for k in range(max_scan):
            if self.get(index + k) is None:
                return index + k
        return index + max_scan

    def prev_miss(self, index, max_scan):       # page_cache_prev_miss
        """Highest gap in [index - max_scan + 1, index]; if none, the lowest
        index scanned; ULONG_MAX when the scan runs below 0 (xas_prev on a
        restarted xa_state loads index itself first)."""
        i = index
        for k in range(max_scan):
            if k:
                i -= 1
            if i < 0:
                return M64
            if self.get(i) is None:
                return i
        return i


class RAState:                                   # struct file_ra_state
    def __init__(self, ra_pages):
        self.start = self.size = self.async_size = 0
        self.order = 0
        self.mmap_miss = 0
        self.prev_pos = -1
        self.ra_pages = ra_pages


class OpenFile:
    """struct file: page cache + its own file_ra_state (file_ra_state_init)."""

    def __init__(self, cache, ra_kb, io_pages):
        self.cache = cache
        self.ra = RAState(ra_kb // 4)
        self.io_pages = io_pages
        self.fmode_random = False

    # ---------------- mm/readahead.c ----------------
    def ra_unbounded(self, index, nr, lookahead):      # page_cache_ra_unbounded
        mark = nr - lookahead if lookahead <= nr else None
        for i in range(nr):
            if self.cache.get(index + i) is not None:
                continue
            self.cache.add(index + i, 0, i == mark)

    def do_page_cache_ra(self, index, nr, lookahead):  # do_page_cache_ra
        isize = self.cache.isize
        if isize == 0:
            return
        end_index = (isize - 1) >> 12
        if index > end_index:
            return
        if nr > end_index - index:
            nr = end_index - index + 1
        self.ra_unbounded(index, nr, lookahead)

    def force_ra(self, index, nr):                      # force_page_cache_ra
        max_pages = max(self.io_pages, self.ra.ra_pages)
        nr = min(nr, max_pages)
        while nr:
            chunk = min(512, nr)                        # 2 MiB chunks
            self.do_page_cache_ra(index, chunk, 0)
            index += chunk
            nr -= chunk

    @staticmethod
    def init_ra_size(size, mx):                         # get_init_ra_size
        n = roundup_pow_of_two(size)
        if n <= mx // 32:
            return n * 4
        if n <= mx // 4:
            return n * 2
        return mx

    @staticmethod
    def next_ra_size(cur, mx):                          # get_next_ra_size
        if cur < mx // 16:
            return 4 * cur
        if cur <= mx // 2:
            return 2 * cur
        return mx

    def ra_order(self, index):                          # page_cache_ra_order
        ra, c = self.ra, self.cache
        start = index
        limit = (c.isize - 1) >> 12
        mark = index + ra.size - ra.async_size
        err = False
        if not c.large:
            ra.order = 0
        else:
            limit = min(limit, index + ra.size - 1)
            new_order = min(c.max_order, ra.order)
            new_order = min(new_order, ilog2(ra.size))
            ra.order = new_order
            while index <= limit:
                order = new_order
                if index & ((1 << order) - 1):
                    order = lowbit(index)
                while order > 0 and index + (1 << order) - 1 > limit:
                    order -= 1
                m = mark & ~((1 << order) - 1)          # ra_alloc_folio
                if not c.add(index, order, index == m):
                    err = True
                    break
                index += 1 << order
            if not err:
                return
        if ra.size > index - start:                     # fallback:
            self.do_page_cache_ra(index, ra.size - (index - start), ra.async_size)

    def max_pages(self, req):                           # ractl_max_pages
        mp = self.ra.ra_pages
        if req > mp and self.io_pages > mp:
            mp = min(req, self.io_pages)
        return mp

    def sync_ra(self, index, req):                      # page_cache_sync_ra
        ra = self.ra
        forced = self.fmode_random
        if not ra.ra_pages:
            req = 1
            forced = True
        if forced:
            self.force_ra(index, req)
            return
        mp = self.max_pages(req)
        prev_index = (ra.prev_pos & M64) >> 12
        if not index or req > mp or ((index - prev_index) & M64) <= 1:
            ra.start = index
            ra.size = self.init_ra_size(req, mp)
            ra.async_size = ra.size - req if ra.size > req else ra.size >> 1
        else:
            miss = self.cache.prev_miss(index - 1, mp)
            contig = (index - miss - 1) & M64
            if contig <= req:
                self.do_page_cache_ra(index, req, 0)
                return
            if miss == M64:
                contig *= 2
            ra.start = index
            ra.size = min(contig + req, mp)
            ra.async_size = 1
        ra.order = 0
        self.ra_order(ra.start)

    def async_ra(self, index, folio, req):              # page_cache_async_ra
        ra = self.ra
        if not ra.ra_pages:
            return
        folio.ra = False                                # folio_clear_readahead
        mp = self.max_pages(req)
        expected = (ra.start + ra.size - ra.async_size) & ~(folio.nr - 1)
        if index == expected:
            ra.start += ra.size
            ra.size = max(ra.size, self.next_ra_size(ra.size, mp))
        else:
            start = self.cache.next_miss(index + 1, mp)
            if not start or start - index > mp:
                return
            ra.start = start
            ra.size = start - index + req
            ra.size = self.next_ra_size(ra.size, mp)
        ra.order += 2
        align = 1 << min(ra.order, ffs(mp) - 1)
        end = ra.start + ra.size
        aligned_end = end & ~(align - 1)
        if aligned_end > ra.start:
            ra.size -= end - aligned_end
        ra.async_size = ra.size
        self.ra_order(ra.start)



class Mapping:
    """One file VMA plus its page table, and the fault path."""

    def __init__(self, of, vm_start, pgoff, npages, shared=True,
                 rand=False, seq=False, hugepage=False):
        self.of, self.c = of, of.cache
        self.vm_start, self.pgoff, self.npages = vm_start, pgoff, npages
        self.shared = shared            # read faults: same path either way
        self.rand, self.seq, self.hugepage = rand, seq, hugepage
        self.pending = set()            # folios under async-readahead I/O
        self.pte = set()                # mapped virtual pages (PTE)
        self.pmd = set()                # PMD-mapped pmd indices
        self.ptable = set()             # pmd indices with a PTE table
        self.minflt = self.majflt = 0

    # helpers
    def vpage(self, pgoff):
        return self.vm_start + pgoff - self.pgoff

    def mapped(self, v):
        return v in self.pte or (v // PMD_NR) in self.pmd

    def rss_pages(self):
        return len(self.pte) + PMD_NR * len(self.pmd)

    def folio_within_vma(self, f):
        return f.index >= self.pgoff and f.next <= self.pgoff + self.npages

    def thp_suitable(self, v):                          # thp_vma_suitable_order
        if (self.vm_start - self.pgoff) % PMD_NR:
            return False
        h = v - v % PMD_NR
        return h >= self.vm_start and h + PMD_NR <= self.vm_start + self.npages

    def do_set_pmd(self, v, f):                          # mm/memory.c:5341
        if not self.thp_suitable(v) or f.order != PMD_ORDER:
            return False
        if (v // PMD_NR) in self.ptable:                 # !pmd_none
            return False
        self.pmd.add(v // PMD_NR)
        return True

    # ---------------- filemap_map_pages (mm/filemap.c:3812) ----------------
    def map_pages(self, v, start, end):
        c, ra = self.c, self.of.ra
        file_end = (c.isize + PAGE - 1) // PAGE - 1
        end = min(end, file_end)
        hits, i = [], start
        while i <= end:                                  # next_uptodate_folio
            f = c.get(i)
            if f is None:
                i += 1
                continue
            if not f.ra and f not in self.pending:      # skips PG_readahead,
                hits.append((f, i))                      # locked / !uptodate
            i = f.next
        miss = 0
        mapped_v = False
        pmdi = v // PMD_NR
        if hits:
            f0 = hits[0][0]
            cond = file_end >= f0.next
            if cond and pmdi not in self.ptable and f0.order == PMD_ORDER \
                    and self.do_set_pmd(v, f0):
                hits, mapped_v = [], True                # filemap_map_pmd
            elif cond and pmdi not in self.ptable:
                self.ptable.add(pmdi)                    # pmd_install
            if pmdi not in self.ptable:
                hits = []                                # pte_offset_map_lock fails
        for f, xi in hits:
            if f.order == 0:                             # filemap_map_order0_folio
                miss += 1
                pv = self.vpage(xi)
                if pv not in self.pte:
                    self.pte.add(pv)
                    mapped_v |= pv == v
                continue
            # filemap_map_folio_range (mm/filemap.c:3687)
            first, nr = xi, min(f.next - 1, end) - xi + 1
            a0 = self.vpage(f.index)
            if file_end >= f.next and self.folio_within_vma(f) and \
                    a0 // PMD_NR == (a0 + f.nr - 1) // PMD_NR:
                first, nr = f.index, f.nr
            for k in range(first, first + nr):
                miss += 1
                pv = self.vpage(k)
                if pv not in self.pte:
                    self.pte.add(pv)
                    mapped_v |= pv == v
        ra.mmap_miss = max(0, ra.mmap_miss - miss)
        return mapped_v

    def fault_around(self, v):                           # do_fault_around
        nr = 16                                          # fault_around_bytes 64K
        pte_off = v % PMD_NR
        vma_off = v - self.vm_start
        frm = max(pte_off - pte_off % nr, pte_off - min(pte_off, vma_off))
        to = min(frm + nr, PMD_NR, pte_off + self.npages - vma_off) - 1
        pg = self.pgoff + vma_off
        return self.map_pages(v, pg + frm - pte_off, pg + to - pte_off)

    # ---------------- readahead hooks of filemap_fault ----------------
    def sync_mmap_ra(self, index, tried):                # do_sync_mmap_readahead
        of, ra = self.of, self.of.ra
        fpin = not tried                                 # maybe_unlock_mmap_for_io
        if self.hugepage:
            ra.size = PMD_NR * (1 if self.rand else 2)
            ra.async_size = PMD_NR
            ra.order = PMD_ORDER
            of.ra_order(index & ~(PMD_NR - 1))
            return fpin
        if self.rand or not ra.ra_pages:
            return False
        if self.seq:
            of.sync_ra(index, ra.ra_pages)
            return fpin
        if ra.mmap_miss < MMAP_LOTSAMISS * 10:
            ra.mmap_miss += 1
        if ra.mmap_miss > MMAP_LOTSAMISS:
            return False
        ra.start = max(0, index - ra.ra_pages // 2)      # mmap read-around
        ra.size = ra.ra_pages
        ra.async_size = ra.ra_pages // 4
        ra.order = 0
        of.ra_order(ra.start)
        return fpin

    def async_mmap_ra(self, index, f, tried):            # do_async_mmap_readahead
        ra = self.of.ra
        if self.rand or not ra.ra_pages:
            return False
        if ra.mmap_miss:
            ra.mmap_miss -= 1
        if f.ra:
            self.c.added = []
            self.of.async_ra(index, f, ra.ra_pages)
            # The fault retries at once (VM_FAULT_RETRY); the readahead it
            # just submitted is still under I/O (locked) at that retry, so
            # its fault-around skips those folios (next_uptodate_folio).
            self.pending = set(self.c.added)
            return not tried
        return False

    def filemap_fault(self, v, tried):
        """returns (retry, major, folio)"""
        index = self.pgoff + (v - self.vm_start)
        f = self.c.get(index)
        major = fpin = False
        if f is not None:
            if not tried:
                fpin = self.async_mmap_ra(index, f, tried)
        else:
            major = True
            fpin = self.sync_mmap_ra(index, tried)
            f = self.c.get(index)
            if f is None:                                # FGP_CREAT, order 0
                self.c.add(index, 0, False)
                f = self.c.get(index)
                fpin = fpin or not tried                 # page_not_uptodate
        if fpin:
            return True, major, f
        return False, major, f

    def finish_fault(self, v, f):                        # mm/memory.c:5490
        c = self.c
        file_end = (c.isize + PAGE - 1) // PAGE
        needs_fallback = file_end < f.next
        pmdi = v // PMD_NR
        while True:
            if pmdi not in self.ptable and pmdi not in self.pmd:
                if not needs_fallback and f.order == PMD_ORDER and self.do_set_pmd(v, f):
                    return
                self.ptable.add(pmdi)
            nr, first = f.nr, v
            if needs_fallback:
                nr = 1
            elif nr > 1:
                idx = self.pgoff + (v - self.vm_start) - f.index
                vma_off = v - self.vm_start
                pte_off = v % PMD_NR
                if vma_off < idx or vma_off + (nr - idx) > self.npages or \
                        pte_off < idx or pte_off + (nr - idx) > PMD_NR:
                    nr = 1
                else:
                    first = v - idx
            if nr == 1:
                self.pte.add(v)
                return
            rng = range(first, first + nr)
            if any(p in self.pte for p in rng):
                needs_fallback = True
                continue
            self.pte.update(rng)
            return

    def handle_fault(self, v, tried):                    # do_read_fault
        if self.fault_around(v):
            return False, False
        retry, major, f = self.filemap_fault(v, tried)
        if retry:
            return True, major
        self.finish_fault(v, f)
        return False, major

    def touch(self, pgoff):
        """user read of one byte in file page pgoff (x86 do_user_addr_fault)."""
        v = self.vpage(pgoff)
        if self.mapped(v):
            return
        tried, vma_lock = False, True
        while True:
            retry, major = self.handle_fault(v, tried)
            if not retry:
                break
            if vma_lock:                                 # VMA_LOCK_RETRY
                vma_lock = False
                if major:
                    tried = True
            else:
                tried = True
        if major or tried:                               # mm_account_fault
            self.majflt += 1
        else:
            self.minflt += 1
        self.pending = set()            # I/O done before the next access

    def willneed(self, start_pg, n):                     # madvise_willneed
        self.of.force_ra(self.pgoff + start_pg, n)
