"""Reverse maps: from a frame to the PTEs that map it, without looking at every process.

``mm/rmap.c``: an anonymous page is found through its fork family (a :class:`Family`, Linux's
anon_vma tree), a page-cache page through its file's ``i_mmap`` (an :class:`IMmap`);
``referenced`` is ``folio_referenced`` and ``unmap`` is ``try_to_unmap``. Rules and costs:
docs/engine.md, "Reclaim" (*Reverse maps*).

Not modelled: KSM, migration entries, device-private pages.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from vmspec.engine.frames import ANON, DIRTY, FILE, SHMEM
from vmspec.engine.process import Process
from vmspec.engine.vma import X


class Family:
    """The live processes of one fork family, in creation order (pid -> Process)."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        self.members: dict = {}


class IMmap:
    """The VMAs that map one file, in every process (``address_space->i_mmap``)."""

    __slots__ = ("vmas",)

    def __init__(self) -> None:
        self.vmas: dict[int, tuple] = {}  # id(vma) -> (vma, process)

    def covering(self, idx: int):
        """Yield ``(vma, process, va)`` for every VMA whose file range holds page ``idx``."""
        for v, q in self.vmas.values():
            off = idx - v.pgoff
            if off >= 0:
                va = v.start + (off << 12)
                if va < v.end:
                    yield v, q, va


class VMAObserver:
    """Keeps the files' ``IMmap`` in step with one process's VMA list (``VMAList.observer``)."""

    __slots__ = ("proc", "cache")

    def __init__(self, proc, cache) -> None:
        self.proc = proc
        self.cache = cache

    def added(self, v) -> None:
        if v.file is not None and not v.hugetlb:
            self.cache.by_id[v.file].imap.vmas[id(v)] = (v, self.proc)

    def dropped(self, v) -> None:
        if v.file is not None and not v.hugetlb:
            cf = self.cache.by_id.get(v.file)
            if cf is not None:
                cf.imap.vmas.pop(id(v), None)


class RMap:
    """Reverse-map walks over the machine's frames (``by_pid`` holds every process ever made)."""

    __slots__ = ("frames", "cache", "by_pid", "tlb", "changed")

    def __init__(self, frames, cache, by_pid: dict, tlb, changed: Callable[[Process], None]) -> None:
        self.frames = frames
        self.cache = cache
        self.by_pid = by_pid
        self.tlb = tlb
        self.changed = changed  # told of each process whose PTEs an unmap changes

    def mappers(self, f: int) -> list[tuple]:
        """Return ``(process, vma or None, va)`` for every PTE that maps frame ``f``."""
        fr = self.frames
        if not fr.mapcount[f]:
            return []
        out = []
        if fr.flags[f] & ANON:
            vpn = int(fr.index[f])
            key, i = vpn >> 9, vpn & 511
            owner = self.by_pid[int(fr.owner[f])]
            for q in owner.family.members.values():
                t = q.pt.pfn.get(key)
                if t is not None and t[i] == f:
                    out.append((q, None, vpn << 12))
        else:
            cf = self.cache.by_id[int(fr.owner[f])]
            for v, q, va in cf.imap.covering(int(fr.index[f])):
                t = q.pt.pfn.get(va >> 21)
                if t is not None and t[(va >> 12) & 511] == f:
                    out.append((q, v, va))
        pmds = len(self.pmd_mappers(fr.head_of(f))) if fr.folios else 0
        if len(out) + pmds != fr.mapcount[f]:
            raise AssertionError(f"frame {f}: mapcount {int(fr.mapcount[f])} but the reverse "
                                 f"map finds {len(out)} PTEs and {pmds} huge PMDs")
        return out

    def pmd_mappers(self, head: int) -> list[tuple]:
        """Return ``(process, va)`` for every PMD that maps large folio ``head`` (an anonymous
        huge page through its family, a page-cache folio through its file's i_mmap)."""
        fr = self.frames
        if head not in fr.folios:
            return []
        out: list[tuple] = []
        if fr.flags[head] & FILE:
            if len(fr.folios[head]) < 512:
                return out
            cf = self.cache.by_id[int(fr.owner[head])]
            for _v, q, va in cf.imap.covering(int(fr.index[head])):
                leaf = q.pt.thp.get(va >> 21) if q.pt.thp else None
                if leaf is not None and leaf.head == head:
                    out.append((q, va))
            return out
        key = int(fr.index[head]) >> 9
        for q in self.by_pid[int(fr.owner[head])].family.members.values():
            leaf = q.pt.thp.get(key) if q.pt.thp else None
            if leaf is not None and leaf.head == head:
                out.append((q, key << 21))
        return out

    def file_folio_ptes(self, head: int) -> list[tuple]:
        """Return ``(process, vma, key, lo, hi, frames)`` for every PTE-table slice
        ``[lo, hi)`` of a VMA that maps pages of page-cache folio ``head``, ``frames`` being the
        folio's pages those PTEs would hold."""
        fr = self.frames
        subs = fr.folios[head]
        first = int(fr.index[head])
        n = len(subs)
        cf = self.cache.by_id[int(fr.owner[head])]
        out = []
        for v, q in cf.imap.vmas.values():
            a = max(first, v.pgoff)
            b = min(first + n, v.pgoff + (v.length >> 12))
            if a >= b:
                continue
            va0 = v.start + ((a - v.pgoff) << 12)
            va1 = v.start + ((b - v.pgoff) << 12)
            for key in range(va0 >> 21, ((va1 - 1) >> 21) + 1):
                if key not in q.pt.pfn:
                    continue
                lo = max(va0, key << 21)
                hi = min(va1, (key + 1) << 21)
                i0, i1 = (lo >> 12) & 511, (((hi - 1) >> 12) & 511) + 1
                k0 = v.file_page(lo) - first
                out.append((q, v, key, i0, i1, subs[k0:k0 + i1 - i0]))
        return out

    def locked_ptes(self, subs) -> np.ndarray:
        """Count, for each page of a (just split) folio, the PTEs of VM_LOCKED VMAs mapping it."""
        fr = self.frames
        key = int(fr.index[int(subs[0])]) >> 9
        counts = np.zeros(len(subs), np.int32)
        for q in self.by_pid[int(fr.owner[int(subs[0])])].family.members.values():
            t = q.pt.pfn.get(key)
            if t is None:
                continue
            for v in q.vmas.overlapping(key << 21, (key + 1) << 21):
                if v.locked:
                    lo = max(v.start, key << 21) - (key << 21) >> 12
                    hi = min(v.end, (key + 1) << 21) - (key << 21) >> 12
                    counts[lo:hi] += t[lo:hi] == subs[lo:hi]
        return counts

    def referenced(self, f: int) -> tuple[int, bool]:
        """``folio_referenced``: count and clear the young bits of the PTEs (and huge PMDs)
        mapping ``f``; return the count and whether a young PTE was in a VM_EXEC VMA."""
        if f in self.frames.folios:
            if self.frames.flags[f] & FILE:
                return self._referenced_file_folio(f)
            return self._referenced_folio(f), False
        refs = 0
        exe = False
        for q, v, va in self.mappers(f):
            y = q.pt.young[va >> 21]
            i = (va >> 12) & 511
            if y[i]:
                y[i] = False
                refs += 1
                if v is not None and v.prot & X:
                    exe = True
        return refs, exe

    def _referenced_folio(self, head: int) -> int:
        fr = self.frames
        refs = 0
        for q, va in self.pmd_mappers(head):
            leaf = q.pt.thp[va >> 21]
            if leaf.young:
                leaf.young = False
                refs += 1
        subs = fr.folios[head]
        key = int(fr.index[head]) >> 9
        for q in self.by_pid[int(fr.owner[head])].family.members.values():
            t = q.pt.pfn.get(key)
            if t is not None:
                y = q.pt.young[key]
                hit = (t == subs) & y
                if hit.any():
                    refs += int(np.count_nonzero(hit))
                    y[hit] = False
        return refs

    def _referenced_file_folio(self, head: int) -> tuple[int, bool]:
        refs = 0
        exe = False
        for q, va in self.pmd_mappers(head):
            leaf = q.pt.thp[va >> 21]
            if leaf.young:
                leaf.young = False
                refs += 1
        for q, v, key, i0, i1, pages in self.file_folio_ptes(head):
            y = q.pt.young[key][i0:i1]
            hit = (q.pt.pfn[key][i0:i1] == pages) & y
            if hit.any():
                refs += int(np.count_nonzero(hit))
                y[hit] = False
                if v.prot & X:
                    exe = True
        return refs, exe

    def unmap_file_folio(self, head: int, thp) -> None:
        """``try_to_unmap`` of a page-cache folio: its PMDs and every PTE mapping a page of it
        (dirty bits move to the folio)."""
        for q, va in self.pmd_mappers(head):
            thp.zap_pmd(q, va >> 21)
        for f in self.frames.folios[head].tolist():
            if self.frames.mapcount[f]:
                self.unmap(f, -1)

    def unmap(self, f: int, entry: int, mappers: list | None = None) -> None:
        """``try_to_unmap``: make every PTE mapping ``f`` hold ``entry`` (a swap entry, or NONE
        for a file page), moving PTE dirty bits to the page and invalidating TLB entries."""
        fr = self.frames
        fl = int(fr.flags[f])
        anon = bool(fl & ANON)
        shm = bool(fl & SHMEM)
        dirty = False
        for q, _v, va in (self.mappers(f) if mappers is None else mappers):
            key, i = va >> 21, (va >> 12) & 511
            q.pt.pfn[key][i] = entry
            q.pt.wr[key][i] = False
            q.pt.young[key][i] = False
            d = q.pt.dirty[key]
            if d[i]:
                dirty = True
                d[i] = False
            if anon:
                q.rss_anon -= 1
                q.swapents += 1
            elif shm:
                q.rss_shmem -= 1
            else:
                q.rss_file -= 1
            self.changed(q)
            self.tlb.invalidate(q.pid, va >> 12, 12)
        if dirty and fl & (ANON | FILE):
            fr.flags[f] |= DIRTY
        fr.mapcount[f] = 0
