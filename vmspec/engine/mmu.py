"""The MMU's side of an access: TLB lookup, page walk, fault, TLB fill, for one page or many.

What the hardware and ``handle_mm_fault`` (``mm/memory.c``) do per memory access, on three paths
that leave identical state: ``access_one`` (the reference, one page at a time), ``sweep`` (an
ascending run per PTE-table slice, vectorised with numpy, the TLB replayed with ``TLB.sweep``) and
``run`` (the tight per-access loop of random access and replay). Which path a slice takes and the
hugetlb and huge-PMD translations: docs/engine.md, "Accesses", "TLB", "hugetlb", "Transparent
huge pages".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from vmspec.engine.errors import EINVAL, SIGSEGV
from vmspec.engine.fault import FaultHandler
from vmspec.engine.frames import ANON, DIRTY, EXCL, NONE, PGTABLE, ZERO, FrameTable, rss_kinds
from vmspec.engine.process import Process
from vmspec.engine.swap import SWP_FIRST
from vmspec.engine.vma import R, VMA, W

if TYPE_CHECKING:
    from vmspec.engine.hugetlb import Hugetlb
    from vmspec.engine.page_alloc import PageAllocator
    from vmspec.engine.pagecheck import PageCheck
    from vmspec.engine.replacement import Textbook
    from vmspec.engine.thp import THP

SHIFT = 12


def _segv(p: Process, va: int, v: VMA | None, write: bool) -> SIGSEGV:
    if v is None:
        why = "no mapping there"
    else:
        why = f"the mapping does not allow {'writes' if write else 'reads'}"
    return SIGSEGV(f"{p.name}: {'write' if write else 'read'} at {va:#x}: {why}")


class MMU:
    """Access paths over one TLB, frame table and fault handler."""

    def __init__(self, frames: FrameTable, tlb, handler: FaultHandler, *, hugetlb: Hugetlb,
                 thp: THP, page_alloc: PageAllocator, tlb_holds: dict[int, bool],
                 policy: Textbook | None = None, young_on: bool = False,
                 dirty_on: bool = False) -> None:
        self.frames = frames
        self.tlb = tlb
        self.handler = handler
        self.hugetlb = hugetlb  # the machine's Hugetlb (pools and shared objects)
        self.thp = thp
        self.page_alloc = page_alloc  # for the room a bulk fault needs
        # page shift -> whether some TLB level holds entries of that size; False for 4 KiB when
        # the ``tlb`` setting lists neither l1 nor l2, so a repeated access to the page just
        # walked misses again
        self.tlb_holds = tlb_holds
        self.tlb_holds_4k = tlb_holds[12]
        # ``policy``: the textbook policy when every access must record itself (lru, clock);
        # ``young_on``: twolist reads the accessed bits; ``dirty_on``: with swap, a clean
        # swap-cache page mapped writable must be known dirty once written
        self.policy = policy
        self.young_on = young_on
        self.dirty_on = dirty_on
        self.pagecheck: PageCheck | None = None  # System(check_pages=True): writes stamp pages

    # ---- accessed and dirty bits, replacement bookkeeping --------------------------------------

    def _accessed(self, p: Process, vpn: int, write: bool) -> None:
        """After one access to the page at ``vpn``: the hardware sets the PTE's accessed bit
        (and dirty bit on a write), and a textbook policy records the access."""
        key, i = vpn >> 9, vpn & 511
        pt = p.pt
        if self.young_on:
            pt.young[key][i] = True
        if write and self.dirty_on:
            pt.dirty[key][i] = True
        if self.policy is not None:
            f = int(pt.pfn[key][i])
            if f >= 0:
                self.policy.touch(f)
        if write and self.pagecheck is not None:
            self.pagecheck.written(p, vpn)

    def _accessed_slice(self, p: Process, pv: np.ndarray, write: bool) -> None:
        """One access to each page of ``pv`` (one PTE table), in order (a sweep's slice)."""
        key = int(pv[0]) >> 9
        idx = pv & 511
        pt = p.pt
        if self.young_on:
            pt.young[key][idx] = True
        if write and self.dirty_on:
            pt.dirty[key][idx] = True
        if self.policy is not None:
            cur = pt.pfn[key][idx]
            self.policy.touch_many(cur[cur >= 0])
        if write and self.pagecheck is not None:
            for vpn in pv.tolist():
                self.pagecheck.written(p, vpn)

    # ---- hugetlb pages -----------------------------------------------------------------------

    def resolve_huge(self, p: Process, v: VMA, va: int, write: bool) -> bool:
        """Walk to a hugetlb leaf after a TLB miss, faulting if needed; return its write bit."""
        shift = 21 if v.hugetlb == 1 << 21 else 30
        p.walk_saved += 1 if shift == 21 else 2
        leaf = p.pt.huge[shift].get(va >> shift)
        if leaf is None or (write and not leaf[1]):
            self.hugetlb.fault(p, v, va, write, self.handler.table_alloc(p), self.invalidate_huge)
            leaf = p.pt.huge[shift][va >> shift]
        return leaf[1]

    def invalidate_huge(self, p: Process, hvpn: int, shift: int) -> None:
        """Drop ``p``'s TLB entry for the huge page ``hvpn`` of size ``1 << shift``."""
        self.tlb.invalidate(p.pid, hvpn, shift)

    def access_huge(self, p: Process, v: VMA, va: int, write: bool, n: int = 1) -> None:
        """Make ``n`` accesses in one huge page of hugetlb VMA ``v`` starting at ``va``: the first
        looks the TLB up (walk, fault, fill on a miss), the others reuse the entry it left."""
        if not v.prot & (W if write else R):
            p.accesses += 1
            p.misses += 1
            raise _segv(p, va, v, write)
        shift = 21 if v.hugetlb == 1 << 21 else 30
        hvpn = va >> shift
        p.accesses += 1
        if self.tlb.lookup(p.pid, hvpn, shift, write):
            p.hits += 1
        else:
            p.misses += 1
            self.tlb.fill(p.pid, hvpn, shift, self.resolve_huge(p, v, va, write))
        rest = n - 1
        if rest <= 0:
            return
        p.accesses += rest
        if self.tlb_holds[shift]:
            p.hits += rest
        else:  # nothing holds this size: every access walks (the page is mapped by now)
            p.misses += rest
            p.walk_saved += rest * (1 if shift == 21 else 2)

    # ---- one access --------------------------------------------------------------------------

    def resolve(self, p: Process, va: int, write: bool) -> bool:
        """Walk after a TLB miss, faulting if needed; return the PTE's write bit afterwards."""
        v = p.vmas.find(va)
        if v is None or not v.prot & (W if write else R):
            raise _segv(p, va, v, write)
        key = va >> 21
        t = p.pt.pfn.get(key)
        if t is not None:
            i = (va >> SHIFT) & 511
            f = t[i]
            if f >= 0 or f == ZERO:  # present (not NONE, not a swap entry)
                w = p.pt.wr[key][i]
                if not write or w:
                    return bool(w)
        self.handler.fault(p, v, va, write)
        t = p.pt.pfn.get(key)
        if t is None:  # the fault mapped a page-cache folio by its PMD
            return p.pt.thp[key].wr
        return bool(p.pt.wr[key][(va >> SHIFT) & 511])

    def _fill(self, p: Process, va: int, write: bool, w: bool) -> None:
        """Fill the TLB after a walk: a 4 KiB entry, or a 2 MiB one if a fault just mapped a
        huge PMD there (then the access is recorded on the PMD); record the access."""
        key = va >> 21
        if p.pt.thp and key in p.pt.thp and key not in p.pt.pfn:
            leaf = p.pt.thp[key]
            p.walk_saved += 1
            self.tlb.fill(p.pid, key, 21, leaf.wr)
            leaf.young = True
            if write:
                leaf.dirty = True
            if self.policy is not None:
                self.policy.touch(leaf.head)
            if write and self.pagecheck is not None:
                self.pagecheck.written(p, va >> SHIFT)
            return
        self.tlb.fill(p.pid, va >> SHIFT, SHIFT, w)
        if self.young_on or self.dirty_on or self.policy is not None or self.pagecheck:
            self._accessed(p, va >> SHIFT, write)

    def access_one(self, p: Process, va: int, write: bool) -> None:
        """Make one access at ``va``: TLB lookup, and on a miss walk, maybe fault, fill."""
        if p.vmas.nhuge:
            v = p.vmas.find(va)
            if v is not None and v.hugetlb:
                self.access_huge(p, v, va, write)
                return
        if (p.pt.thp or p.thp_capable) and self.access_thp(p, va, write, 1):
            return
        p.accesses += 1
        vpn = va >> SHIFT
        if self.tlb.lookup(p.pid, vpn, SHIFT, write):
            p.hits += 1
            if self.young_on or self.dirty_on or self.policy is not None or self.pagecheck:
                self._accessed(p, vpn, write)
        else:
            p.misses += 1
            self._fill(p, va, write, self.resolve(p, va, write))

    # ---- transparent huge pages ---------------------------------------------------------------

    def access_thp(self, p: Process, va: int, write: bool, n: int,
                   vpns: np.ndarray | None = None) -> int:
        """Make ``n`` accesses in one 2 MiB range starting at ``va`` if a huge PMD maps it, or
        may map it (an empty PMD of a VMA that allows a huge page there): the first looks the
        TLB up with the 2 MiB page size (a miss walks one level fewer, maybe faults, fills), the
        others hit the entry it left. Return how many accesses were made: 0 if the range is not
        huge, 1 if the fault fell back to 4 KiB pages (the rest are the caller's)."""
        pt = p.pt
        key = va >> 21
        leaf = pt.thp.get(key) if pt.thp else None
        if leaf is None:
            if key in pt.pfn:
                return 0
            v = p.vmas.find(va)
            if v is None or not self.thp.suitable(p, v, key):
                return 0
        else:
            v = p.vmas.find(va)
        if v is None or not v.prot & (W if write else R):
            p.accesses += 1
            p.misses += 1
            raise _segv(p, va, v, write)
        pid = p.pid
        p.accesses += 1
        if leaf is not None and self.tlb.lookup(pid, key, 21, write):
            p.hits += 1
        else:
            p.misses += 1
            if leaf is None:
                self.tlb.lookup(pid, key, 21, write)  # nothing maps it: a miss
                if not self.thp.fault(p, v, key, write):
                    self._fallback(p, va, write)
                    return 1
                leaf = pt.thp[key]
            elif write and not leaf.wr:
                if not self.thp.wp_fault(p, v, key, leaf):
                    self._fallback(p, va, write)  # split: the 4 KiB copy-on-write of this page
                    return 1
            p.walk_saved += 1
            self.tlb.fill(pid, key, 21, leaf.wr)
        leaf.young = True
        if write:
            leaf.dirty = True
        rest = n - 1
        if rest > 0:
            p.accesses += rest
            if self.tlb_holds[21]:
                p.hits += rest
            else:
                p.misses += rest
                p.walk_saved += rest
        if self.policy is not None and leaf.head >= 0:
            self.policy.touch(leaf.head)
        if write and self.pagecheck is not None:
            for vpn in (vpns.tolist() if vpns is not None else [va >> SHIFT]):
                self.pagecheck.written(p, vpn)
        return n

    def _fallback(self, p: Process, va: int, write: bool) -> None:
        """The access whose huge-page fault fell back: 4 KiB fault and TLB fill (it already
        counted its access and its miss)."""
        self._fill(p, va, write, self.resolve(p, va, write))

    # ---- tight loop --------------------------------------------------------------------------

    def run(self, p: Process, items: Iterable, write: bool | None,
            automap: Callable | None = None) -> None:
        """Access pages in order: ``items`` are page numbers (all reads or all writes, as
        ``write`` says) or, with ``write`` None, ``(page, write)`` pairs. ``automap(p, va)`` maps
        an unmapped page instead of SIGSEGV (lackey replay)."""
        if p.vmas.nhuge or self.policy is not None or self.pagecheck is not None or \
                p.pt.thp or p.thp_capable:
            self._run_aware(p, items, write, automap)
            return
        lookup, fill, pid = self.tlb.lookup, self.tlb.fill, p.pid
        thp = p.pt.thp
        pfn, wrd, find, fault = p.pt.pfn, p.pt.wr, p.vmas.find, self.handler.fault
        young = p.pt.young if self.young_on else None
        dirty = p.pt.dirty if self.dirty_on else None
        pairs = write is None
        it = iter(items)
        hits = misses = acc = 0
        v = None
        wr = False if pairs else bool(write)
        try:
            for item in it:
                if pairs:
                    vpn, wr = item
                else:
                    vpn = item
                acc += 1
                if lookup(pid, vpn, SHIFT, wr):
                    hits += 1
                    if young is not None:
                        young[vpn >> 9][vpn & 511] = True
                    if wr and dirty is not None:
                        dirty[vpn >> 9][vpn & 511] = True
                    continue
                misses += 1
                va = vpn << SHIFT
                if v is None or not v.start <= va < v.end:
                    v = find(va)
                    if v is None and automap is not None:
                        v = automap(p, va)
                        pfn, wrd, find = p.pt.pfn, p.pt.wr, p.vmas.find
                if v is None or not v.prot & (W if wr else R):
                    raise _segv(p, va, v, wr)
                key = vpn >> 9
                t = pfn.get(key)
                if t is not None:
                    i = vpn & 511
                    f = t[i]
                    if f >= 0 or f == ZERO:
                        w = wrd[key][i]
                        if not wr or w:
                            fill(pid, vpn, SHIFT, bool(w))
                            if young is not None:
                                young[key][i] = True
                            if wr and dirty is not None:
                                dirty[key][i] = True
                            continue
                fault(p, v, va, wr)
                if thp:  # the fault mapped a page-cache folio by its PMD: go the aware way
                    self._fill(p, va, wr, thp[key].wr)
                    break
                fill(pid, vpn, SHIFT, bool(wrd[key][vpn & 511]))
            else:
                return
        finally:
            p.hits += hits
            p.misses += misses
            p.accesses += acc
        self._run_aware(p, it, write, automap)

    def _run_aware(self, p: Process, items: Iterable, write: bool | None,
                   automap: Callable | None) -> None:
        """``run`` for a process with hugetlb VMAs: find each access's VMA first, so that the TLB
        is looked up with the page size that maps it."""
        pairs = write is None
        wr = bool(write)
        for item in items:
            if pairs:
                vpn, wr = item
            else:
                vpn = item
            va = vpn << SHIFT
            if automap is not None and p.vmas.find(va) is None:
                automap(p, va)
            self.access_one(p, va, wr)

    # ---- sweeps ------------------------------------------------------------------------------

    def access_range(self, p: Process, a0: int, a1: int, write: bool,
                     stride: int | None) -> None:
        """Accesses over ``[a0, a1)``: one per page (``stride`` None), or one byte every
        ``stride`` bytes from ``a0``, in address order."""
        if a1 <= a0:
            return
        if stride is None:
            self.sweep(p, np.arange(a0 >> 12, ((a1 - 1) >> 12) + 1, dtype=np.int64), write)
            return
        if stride <= 0:
            raise EINVAL(f"stride must be > 0, got {stride}")
        n = (a1 - a0 + stride - 1) // stride
        last = a0 + (n - 1) * stride
        if stride <= 4096:
            pages = np.arange(a0 >> 12, (last >> 12) + 1, dtype=np.int64)
            bounds = ((pages + 1) << 12) - a0
            cum = np.minimum((bounds + stride - 1) // stride, n)
            self.sweep(p, pages, write, np.diff(cum, prepend=0))
        else:  # n >= 2 implies stride < a1 - a0 < 2**57, so the products fit in int64
            pages = (a0 + np.arange(n, dtype=np.int64) * stride) >> 12 if n > 1 else \
                np.array([a0 >> 12], dtype=np.int64)
            self.sweep(p, pages, write, None, contiguous=False)

    def sweep(self, p: Process, vpns: np.ndarray, write: bool, mult: np.ndarray | None = None,
              contiguous: bool = True) -> None:
        """Access ascending distinct pages ``vpns`` (``mult[k]`` accesses to page k, default 1)."""
        n = len(vpns)
        pos = 0
        while pos < n:
            vpn = int(vpns[pos])
            va = vpn << SHIFT
            v = p.vmas.find(va)
            if v is None or not v.prot & (W if write else R):
                self.access_one(p, va, write)  # misses and raises SIGSEGV
                raise AssertionError("an access outside every mapping did not fault")
            if v.hugetlb:
                size = v.hugetlb
                lim = min(v.end, (va & ~(size - 1)) + size) >> SHIFT
                end = pos + int(np.searchsorted(vpns[pos:], lim))
                n_acc = end - pos if mult is None else int(mult[pos:end].sum())
                self.access_huge(p, v, va, write, n_acc)
                pos = end
                continue
            if p.pt.thp or p.thp_capable:
                lim = ((vpn >> 9) + 1) << 9
                end = pos + int(np.searchsorted(vpns[pos:min(n, pos + 512)], lim))
                n_acc = end - pos if mult is None else int(mult[pos:end].sum())
                done = self.access_thp(p, va, write, n_acc, vpns[pos:end])
                if done == n_acc:
                    pos = end
                    continue
                if done:  # the first page fell back to 4 KiB: its other accesses, then the rest
                    for _ in range(0 if mult is None else int(mult[pos]) - 1):
                        self.access_one(p, va, write)
                    pos += 1
                    continue
            lim = min(v.end >> SHIFT, ((vpn >> 9) + 1) << 9)
            end = pos + int(np.searchsorted(vpns[pos:min(n, pos + 512)], lim))
            pv = vpns[pos:end]
            m = None if mult is None else mult[pos:end]
            if not self.fault_slice(p, v, pv, write):
                for k in range(len(pv)):
                    for _ in range(1 if m is None else int(m[k])):
                        self.access_one(p, int(pv[k]) << SHIFT, write)
            else:
                self._tlb_slice(p, pv, write, m, contiguous)
                if self.young_on or self.dirty_on or self.policy is not None or self.pagecheck:
                    self._accessed_slice(p, pv, write)
            pos = end

    def _tlb_slice(self, p: Process, pv: np.ndarray, write: bool, m, contiguous: bool) -> None:
        """Replay the TLB for a slice whose faults are done: ``TLB.sweep`` or a lookup/fill loop."""
        key = int(pv[0]) >> 9
        wr = p.pt.wr[key][pv & 511]
        if contiguous:
            hits, misses = self.tlb.sweep(p.pid, int(pv[0]), int(pv[-1]) + 1, SHIFT, write, wr)
        else:
            hits = misses = 0
            lookup, fill, pid = self.tlb.lookup, self.tlb.fill, p.pid
            for vpn, w in zip(pv.tolist(), wr.tolist()):
                if lookup(pid, vpn, SHIFT, write):
                    hits += 1
                else:
                    misses += 1
                    fill(pid, vpn, SHIFT, w)
        n = len(pv) if m is None else int(m.sum())
        # The accesses after a page's first one (strides below a page) find the entry its first
        # access left as most recently used, if some level holds 4 KiB entries.
        if self.tlb_holds_4k:
            p.hits += hits + n - len(pv)
            p.misses += misses
        else:
            p.hits += hits
            p.misses += misses + n - len(pv)
        p.accesses += n

    def fault_slice(self, p: Process, v: VMA, pv: np.ndarray, write: bool) -> bool:
        """Do the faults of pages ``pv`` (one VMA, one PTE table) in bulk; False if this slice
        must go page by page (file faults, write-notify, or not enough free frames)."""
        key = int(pv[0]) >> 9
        idx = pv & 511
        t = p.pt.pfn.get(key)
        if t is None:
            cur = np.full(len(pv), NONE, np.int64)
            cw = np.zeros(len(pv), np.bool_)
        else:
            cur = t[idx]
            cw = p.pt.wr[key][idx]
            if self.handler.swap is not None and (cur <= SWP_FIRST).any():
                return False  # swap-ins go page by page
        need = (cur == NONE) | ~cw if write else cur == NONE
        nneed = int(np.count_nonzero(need))
        if not nneed:
            return True
        anon = v.file is None
        if not anon and (v.shared or (cur[need] == NONE).any()):
            return False
        frames = self.frames
        room = self.page_alloc.room
        if not write:  # anonymous read faults: the zero page
            if t is None and not room(p.pt.missing(key), PGTABLE):
                return False
            t, w = p.pt.ensure(key, self.handler.table_alloc(p))
            sel = idx[need]
            t[sel] = ZERO
            w[sel] = False
            p.pt.young[key][sel] = True
            p.minor += nneed
            return True
        present = need & (cur >= 0)
        pf = cur[present]
        fl = frames.flags[pf]
        reuse = ((fl & ANON) != 0) & (((fl & EXCL) != 0) | (frames.mapcount[pf] == 1))
        copy_mask = present.copy()
        copy_mask[present] = ~reuse
        alloc_mask = need & ~present | copy_mask
        nalloc = int(np.count_nonzero(alloc_mask))
        tables = p.pt.missing(key) if t is None else 0
        if not room(nalloc + tables, ANON):
            return False
        t, w = p.pt.ensure(key, self.handler.table_alloc(p))
        lock = self.handler.lock if v.locked else None
        if nalloc:
            if not v.anon_vma:
                v.anon_vma = self.handler.next_anon_vma()
            old = cur[copy_mask]
            if len(old):
                if lock is not None:
                    for f in old.tolist():
                        lock(p, f, -1)
                frames.mapcount[old] -= 1
                _, nfile, nshm = rss_kinds(frames.flags[old])  # replaced by anonymous copies
                p.add_rss((nfile + nshm, -nfile, -nshm))
                p.cow += len(old)
            new = frames.alloc_many(nalloc, ANON | EXCL | DIRTY, p.pid, pv[alloc_mask])
            frames.mapcount[new] = 1
            t[idx[alloc_mask]] = new
            p.rss_anon += nalloc - len(old)
            if frames.content is not None and len(old):
                frames.content[t[idx[copy_mask]]] = frames.content[old]
            if lock is not None:
                for f in new.tolist():
                    lock(p, f, 1)
        if reuse.any():
            rf = pf[reuse]
            frames.flags[rf] |= EXCL | DIRTY
        sel = idx[need]
        w[sel] = True
        p.pt.young[key][sel] = True
        p.pt.dirty[key][sel] = True
        p.minor += nneed
        return True
