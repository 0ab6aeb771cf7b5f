"""Allocating a frame: watermarks, kswapd, direct reclaim, memory-cgroup charges and the OOM killer,
in the order the kernel tries them; the one place that orchestrates allocate -> reclaim -> OOM.

Counterparts: ``mm/page_alloc.c`` (``calculate_min_free_kbytes``, ``__setup_per_zone_wmarks``,
``__alloc_pages``, ``__alloc_pages_slowpath``, ``should_reclaim_retry``,
``__alloc_pages_may_oom``), ``mm/khugepaged.c`` (``set_recommended_min_free_kbytes``),
``mm/memcontrol.c`` (``try_charge_memcg``). Under a textbook policy there are no watermarks and
each page needed gives up one page. Rules and values: docs/engine.md, "Reclaim" (*Watermarks*,
*Allocation*), "Memory cgroups", "OOM".

Not modelled: zones and ``lowmem_reserve``, watermark boosting, compaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt
from typing import Callable

import numpy as np

from vmspec.engine import oom
from vmspec.engine.errors import OOMKilled
from vmspec.engine.frames import PGTABLE
from vmspec.engine.process import Process
from vmspec.engine.vmscan import MAX_RECLAIM_RETRIES

PAGEBLOCK_PAGES = 512  # pageblock_order = HUGETLB_PAGE_ORDER on x86-64
MIGRATE_PCPTYPES = 3
WATERMARK_SCALE_FACTOR = 10


@dataclass(frozen=True, slots=True)
class Watermarks:
    """The zone's watermarks in pages, and min_free_kbytes (0 when given by the machine)."""

    min: int
    low: int
    high: int
    min_free_kbytes: int = 0


def _mult_frac(x: int, n: int, d: int) -> int:
    return (x // d) * n + (x % d) * n // d


def zone_watermarks(min_free_kbytes: int, managed: int) -> Watermarks:
    """``__setup_per_zone_wmarks`` for one zone of ``managed`` pages."""
    pages_min = min_free_kbytes >> 2  # PAGE_SHIFT - 10
    delta = max(pages_min >> 2, _mult_frac(managed, WATERMARK_SCALE_FACTOR, 10000))
    return Watermarks(pages_min, pages_min + delta, pages_min + 2 * delta, min_free_kbytes)


def derive_watermarks(managed: int, thp_enabled: bool) -> Watermarks:
    """min/low/high for one zone of ``managed`` 4 KiB pages, as Linux derives them at boot."""
    mfk = min(max(isqrt(managed * 4 * 16), 128), 262144)  # calculate_min_free_kbytes
    if thp_enabled:  # set_recommended_min_free_kbytes, one zone
        nr_zones = 1
        recommended = PAGEBLOCK_PAGES * nr_zones * 2
        recommended += PAGEBLOCK_PAGES * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
        free_buffer = managed - zone_watermarks(mfk, managed).high  # nr_free_buffer_pages
        recommended = min(recommended, max(free_buffer, 0) // 20) << 2
        mfk = max(mfk, recommended)
    return zone_watermarks(mfk, managed)


class PageAllocator:
    """Hands out frames for a process, reclaiming and OOM-killing as the machine's policy says.

    ``kill(victim)`` tears a process down as an OOM victim; ``procs`` are the processes in
    creation order (the OOM killer's list); ``totalpages()`` is RAM + swap pages."""

    def __init__(self, frames, watermarks: Watermarks, *, reclaim=None, textbook=None,
                 procs: dict, kill: Callable, totalpages: Callable[[], int],
                 page_size: int) -> None:
        self.frames = frames
        self.wm = watermarks
        self.reclaim = reclaim  # vmscan.Reclaimer under twolist
        self.textbook = textbook  # replacement.Textbook under fifo/lru/clock/random
        self.procs = procs
        self.kill = kill
        self.totalpages = totalpages
        self.page_size = page_size
        self.oom_kills = 0
        self.killed: list[str] = []

    # ---- frames for a process ------------------------------------------------------------------

    def alloc(self, p, flags: int, owner: int, index: int) -> int:
        """Take a frame for ``p``'s operation; raise OOMKilled if ``p`` is killed for it."""
        fr = self.frames
        if self.textbook is not None:
            return self._alloc_textbook(p, flags, owner, index)
        cg = fr.charges.group_for(not flags & PGTABLE)
        if cg is not None and cg.usage >= cg.limit:
            self._charge(p, cg)
        if fr.free <= self.wm.low:
            self._slowpath(p)
        f = fr.alloc(flags, owner, index)
        if f < 0:
            raise AssertionError("the allocator found room but no frame")
        return f

    def table_alloc(self, current: Process, owner: Process) -> Callable[[int], int]:
        """Return an allocator of page-table frames for ``owner``'s tables, taken in
        ``current``'s operation (fork allocates the child's tables in the parent's)."""
        return lambda level: self.alloc(current, PGTABLE, owner.pid, level)

    def _alloc_textbook(self, p, flags: int, owner: int, index: int) -> int:
        fr = self.frames
        tb = self.textbook
        while True:
            cg = fr.charges.group_for(not flags & PGTABLE)
            if cg is not None and cg.usage >= cg.limit:
                if not tb.evict_one(cg.cid):
                    self.oom(p, cg)
                continue
            f = fr.alloc(flags, owner, index)
            if f >= 0:
                return f
            if not tb.evict_one(None):
                self.oom(p, None)

    def _slowpath(self, p) -> None:
        """Make ``free > min`` (``__alloc_pages_slowpath``), reclaiming, then OOM-killing."""
        fr = self.frames
        wm = self.wm
        rc = self.reclaim
        rc.balance_pgdat()
        if fr.free > wm.min:
            return
        no_progress = 0
        while True:
            progress = rc.try_to_free_pages() > 0
            if fr.free > wm.min:
                return
            no_progress = 0 if progress else no_progress + 1
            if no_progress <= MAX_RECLAIM_RETRIES and rc.reclaimable() + fr.free > wm.min:
                continue
            if fr.free > wm.high:
                return
            self.oom(p, None)
            no_progress = 0
            rc.balance_pgdat()
            if fr.free > wm.min:
                return

    def _charge(self, p, cg) -> None:
        """``try_charge_memcg``: reclaim from the group until one more page fits, else a memcg
        OOM kill (which may be ``p``)."""
        retries = MAX_RECLAIM_RETRIES
        while cg.usage >= cg.limit:
            freed = self.reclaim.try_to_free_pages(target=cg.cid)
            if cg.usage < cg.limit or freed:
                continue
            if retries:
                retries -= 1
                continue
            self.oom(p, cg)
            retries = MAX_RECLAIM_RETRIES

    def alloc_readahead(self, flags: int, owner: int, index: int) -> int:
        """A readahead page (``__GFP_NORETRY``): -1 when none can be had without the OOM killer
        (textbook policies: free frames only; never past a group's limit)."""
        fr = self.frames
        rc = self.reclaim
        if rc is not None:
            cg = fr.charges.current
            if cg is not None and cg.usage >= cg.limit:
                rc.try_to_free_pages(target=cg.cid)
                if cg.usage >= cg.limit:
                    return -1
            if fr.free <= self.wm.low:
                rc.balance_pgdat()
                if fr.free <= self.wm.min:
                    rc.try_to_free_pages()
                    if fr.free <= self.wm.min:
                        return -1
        return fr.alloc(flags, owner, index)

    def alloc_readahead_folio(self, flags: int, owner: int, index) -> np.ndarray | None:
        """A large page-cache folio for readahead (``ra_alloc_folio``: ``__GFP_NORETRY``, no OOM
        killer): its ``len(index)`` frames, or None when they cannot be had after waking kswapd
        and, below the min watermark, one direct reclaim (a group at its limit reclaims once
        too); readahead then falls back to order-0 pages. Under a textbook policy only free
        frames make a folio."""
        fr = self.frames
        n = len(index)
        rc = self.reclaim
        if rc is None:
            if fr.room(flags) < n:
                return None
        else:
            cg = fr.charges.current
            if cg is not None and cg.limit - cg.usage < n:
                rc.try_to_free_pages(target=cg.cid, nr_pages=n)
                if cg.limit - cg.usage < n:
                    return None
            if fr.free - n < self.wm.low:
                rc.balance_pgdat()
                if fr.free - n < self.wm.min:
                    rc.try_to_free_pages(nr_pages=n)
                    if fr.free - n < self.wm.min:
                        return None
        return fr.alloc_folio(flags, owner, index)

    def alloc_huge(self, p, *, madvised: bool, owner: int, index):
        """A 512-page folio for a THP fault, or None to fall back to 4 KiB pages. Order 9 is
        costly: no OOM killer, and no kswapd (``GFP_TRANSHUGE_LIGHT``); it is taken when 512
        frames are free above the low watermark, else above min; a MADV_HUGEPAGE region may
        first reclaim directly once (defrag ``madvise``, ``vma_thp_gfp_mask``); a memory group
        needs room for all 512 pages (reclaiming once, if madvised). Under a textbook policy a
        huge page is made only of free frames (no page is given up for it)."""
        from vmspec.engine.frames import ANON, DIRTY, EXCL
        fr = self.frames
        n = 512
        if self.textbook is not None:
            if fr.room(ANON) < n:
                return None
        else:
            cg = fr.charges.current
            if cg is not None and cg.limit - cg.usage < n:
                if madvised:
                    self.reclaim.try_to_free_pages(target=cg.cid, nr_pages=n)
                if cg.limit - cg.usage < n:
                    return None
            if fr.free - n < self.wm.min:
                if madvised:
                    self.reclaim.try_to_free_pages(nr_pages=n)
                if fr.free - n < self.wm.min:
                    return None
        return fr.alloc_folio(ANON | EXCL | DIRTY, owner, index)

    def room(self, n: int, flags: int = 0) -> bool:
        """Return True if ``n`` frames can be handed out now without reclaim (a bulk fault)."""
        fr = self.frames
        if fr.room(flags) < n:
            return False
        return self.reclaim is None or fr.free - n >= self.wm.low

    # ---- the OOM killer ------------------------------------------------------------------------

    def oom(self, current, cg) -> None:
        """``out_of_memory`` (or ``mem_cgroup_out_of_memory`` for group ``cg``): kill the process
        with the highest badness among the running ones (the group's members), ``current`` if
        nobody is killable; raise OOMKilled if that is ``current``."""
        if cg is None:
            total = self.totalpages()
            cands = [q for q in self.procs.values() if q.alive]
        else:
            total = cg.limit
            cands = [q for q in self.procs.values() if q.alive and q.memcg is cg]
        scores = [(q.name, oom.badness(q.rss_pages, q.swapents, q.pt.nbytes, q.oom_score_adj,
                                       total, self.page_size)) for q in cands]
        victim = oom.select_victim(scores) or current.name
        q = self.procs[victim]
        self.kill(q)
        self.killed.append(victim)
        self.oom_kills += 1
        if q is current:
            why = "its memory cgroup reached memory_max" if cg is not None else "no free memory"
            raise OOMKilled(f"{victim} was killed by the OOM killer ({why})")
