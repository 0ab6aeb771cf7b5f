"""What the machine shows of itself: the observables of the System, as /proc shows them.

Linux: ``fs/proc/meminfo.c`` (MemFree, Cached, SwapFree, Committed_AS, CommitLimit,
HugePages_*), ``mm/vmstat.c`` (the LRU list sizes, pswpin/pswpout, thp_* events),
``fs/proc/task_mmu.c`` (VmRSS and its anon/file/shmem parts, VmSwap, VmSize, VmPTE; smaps:
Pss, Rss, Swap, AnonHugePages), ``fs/proc/base.c`` (oom_score, oom_score_adj, oom_adj). The
System (``vmspec.engine.system``) is a ``ProcFS``: these methods read the state its operations
keep, and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from vmspec.engine import oom
from vmspec.engine.config import MachineConfig
from vmspec.engine.cost import process_time
from vmspec.engine.frames import FrameTable
from vmspec.engine.hugetlb import Hugetlb
from vmspec.engine.lruvec import (ACTIVE_ANON, ACTIVE_FILE, INACTIVE_ANON, INACTIVE_FILE,
                                  UNEVICTABLE)
from vmspec.engine.page_alloc import PageAllocator
from vmspec.engine.pagecache import PageCache
from vmspec.engine.process import Process
from vmspec.engine.swap import SwapDevice
from vmspec.engine.thp import THP


@dataclass(frozen=True, slots=True)
class Faults:
    """``faults(p)``: minor, major and copy-on-write fault counts."""

    minor: int = 0
    major: int = 0
    cow: int = 0


@dataclass(frozen=True, slots=True)
class TLBStats:
    """``tlb(p)``: hits and misses (each access is exactly one of them)."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> Fraction:
        total = self.hits + self.misses
        return Fraction(self.hits, total) if total else Fraction(0)


class ProcFS:
    """The observables of a System: system-wide (MemFree, the LRU lists...), per process (RSS,
    faults, oom_score...) and per region (resident, swapped, huge...). Sizes are in bytes; a
    process that is not running reads 0."""

    # the state of the System these read
    machine: MachineConfig
    page_size: int
    levels: int
    frames: FrameTable
    cache: PageCache
    swapdev: SwapDevice | None
    hugetlb: Hugetlb
    page_alloc: PageAllocator
    thp: THP
    procs: dict[str, Process]
    committed_pages: int

    if TYPE_CHECKING:  # the System's own accounting
        def commit_limit_pages(self) -> int: ...
        def _totals(self) -> tuple[int, int]: ...
        def _totalpages(self) -> int: ...
        def _badness(self, p: Process) -> int | None: ...

    # ---- system observables ------------------------------------------------------------------

    @property
    def ram(self) -> int:
        return self.machine.ram

    @property
    def free(self) -> int:
        """MemFree in bytes (glibc's free() is ``free_region``)."""
        return self.frames.free * self.page_size

    @property
    def used(self) -> int:
        return self.machine.ram - self.frames.free * self.page_size

    @property
    def cached(self) -> int:
        return self.cache.nr * self.page_size

    @property
    def swap_used(self) -> int:
        """Slots with a swap PTE or a swap-cache page (SwapTotal - SwapFree)."""
        return self.swapdev.inuse * self.page_size if self.swapdev else 0

    @property
    def swap_free(self) -> int:
        return self.swapdev.free * self.page_size if self.swapdev else 0

    @property
    def committed(self) -> int:
        return self.committed_pages * self.page_size

    @property
    def commit_limit(self) -> int:
        return self.commit_limit_pages() * self.page_size

    def hugepages_free(self, size: int) -> int:
        """Huge pages of ``size`` neither in use nor reserved (sysfs free_hugepages minus
        resv_hugepages, ``mm/hugetlb.c``)."""
        pool = self.hugetlb.pools.get(size)
        return pool.available if pool else 0

    def hugepages_total(self, size: int) -> int:
        """The pool of ``size`` huge pages reserved at boot (``hugepages SIZE x N``)."""
        pool = self.hugetlb.pools.get(size)
        return pool.total if pool else 0

    @property
    def killed(self) -> tuple[str, ...]:
        """The processes the OOM killer has killed, in kill order."""
        return tuple(self.page_alloc.killed)

    @property
    def oom_kills(self) -> int:
        return self.page_alloc.oom_kills

    # LRU list sizes, like /proc/meminfo (summed over the machine and every memory group)

    @property
    def active_anon(self) -> int:
        return self.frames.lists.total[ACTIVE_ANON] * self.page_size

    @property
    def inactive_anon(self) -> int:
        return self.frames.lists.total[INACTIVE_ANON] * self.page_size

    @property
    def active_file(self) -> int:
        return self.frames.lists.total[ACTIVE_FILE] * self.page_size

    @property
    def inactive_file(self) -> int:
        return self.frames.lists.total[INACTIVE_FILE] * self.page_size

    @property
    def unevictable(self) -> int:
        return self.frames.lists.total[UNEVICTABLE] * self.page_size

    # counts, like /proc/vmstat

    @property
    def pswpin(self) -> int:
        return self.swapdev.pswpin if self.swapdev else 0

    @property
    def pswpout(self) -> int:
        return self.swapdev.pswpout if self.swapdev else 0

    # transparent huge pages (/proc/vmstat)

    @property
    def thp_fault_alloc(self) -> int:
        return self.thp.stats.fault_alloc

    @property
    def thp_fault_fallback(self) -> int:
        return self.thp.stats.fault_fallback

    @property
    def thp_split_pmd(self) -> int:
        return self.thp.stats.split_pmd

    @property
    def thp_split_page(self) -> int:
        return self.thp.stats.split_page

    @property
    def time(self) -> int:
        """Simulated time of all processes in ns (one process's: ``process_time``)."""
        return self._totals()[0]

    @property
    def accesses(self) -> int:
        return self._totals()[1]

    # ---- process observables -----------------------------------------------------------------

    def _live(self, name: str) -> Process | None:
        p = self.procs.get(name)
        return p if p is not None and p.alive else None

    def rss(self, p: str) -> int:
        q = self._live(p)
        return q.rss_pages * self.page_size if q else 0

    def rss_anon(self, p: str) -> int:
        q = self._live(p)
        return q.rss_anon * self.page_size if q else 0

    def rss_file(self, p: str) -> int:
        q = self._live(p)
        return q.rss_file * self.page_size if q else 0

    def rss_shmem(self, p: str) -> int:
        """RssShmem: resident shared-memory (shmem) pages in bytes; read-only, for reports."""
        q = self._live(p)
        return q.rss_shmem * self.page_size if q else 0

    def pss(self, p: str) -> Fraction:
        q = self._live(p)
        if q is None:
            return Fraction(0)
        mc = self.frames.mapcount[q.pt.frames_in(0, 1 << 57)]
        if not len(mc):
            return Fraction(0)
        counts = np.bincount(mc)  # pages per mapcount: linear, no sort (smaps_pte_range's walk)
        return sum((Fraction(self.page_size * int(c), v) for v, c in enumerate(counts.tolist())
                    if c), Fraction(0))

    def uss(self, p: str) -> int:
        q = self._live(p)
        if q is None:
            return 0
        return int(np.count_nonzero(self.frames.mapcount[q.pt.frames_in(0, 1 << 57)] == 1)) * self.page_size

    def swap(self, p: str) -> int:
        """VmSwap: the process's swap entries (MM_SWAPENTS) in bytes."""
        q = self._live(p)
        return q.swapents * self.page_size if q else 0

    def vsz(self, p: str) -> int:
        q = self._live(p)
        return q.vmas.total if q else 0

    def pagetables(self, p: str) -> int:
        q = self._live(p)
        return q.pt.nbytes if q else 0

    def faults(self, p: str) -> Faults:
        q = self.procs.get(p)
        return Faults(q.minor, q.major, q.cow) if q else Faults()

    def tlb(self, p: str) -> TLBStats:
        q = self.procs.get(p)
        return TLBStats(q.hits, q.misses) if q else TLBStats()

    def oom_score(self, p: str) -> int:
        q = self._live(p)
        if q is None:
            return 0
        return oom.oom_score(self._badness(q), self._totalpages())

    def oom_score_adj(self, p: str) -> int:
        q = self.procs.get(p)
        return q.oom_score_adj if q else 0

    def oom_adj(self, p: str) -> int:
        q = self.procs.get(p)
        return oom.score_adj_to_oom_adj(q.oom_score_adj) if q else 0

    def process_time(self, p: str) -> int:
        q = self.procs.get(p)
        if q is None:
            return 0
        return process_time(self.machine.latency, self.levels, q.accesses, q.hits, q.misses,
                            q.minor, q.major, q.walk_saved)

    def alive(self, p: str) -> bool:
        q = self.procs.get(p)
        return bool(q and q.alive)

    def status(self, p: str) -> str:
        q = self.procs.get(p)
        if q is None:
            raise ValueError(f"no process named {p!r}")
        return q.status

    def exists(self, p: str) -> bool:
        return p in self.procs

    # ---- region observables ------------------------------------------------------------------

    @staticmethod
    def _part(reg, start: int, end: int | None) -> tuple[int, int]:
        """Return the addresses of bytes ``[start, end)`` of a region (None: to its end),
        clipped to the region."""
        stop = reg.length if end is None else min(end, reg.length)
        return reg.start + min(start, stop), reg.start + stop

    def resident(self, p: str, r: str, start: int = 0, end: int | None = None) -> int:
        """Bytes of resident pages that a byte of the region (or of its bytes ``[start, end)``)
        is in."""
        q = self._live(p)
        if q is None or r not in q.regions:
            return 0
        lo, hi = self._part(q.regions[r], start, end)
        return len(q.pt.frames_in(lo, hi)) * self.page_size if hi > lo else 0

    def swapped(self, p: str, r: str, start: int = 0, end: int | None = None) -> int:
        """Bytes of the region's pages that are swap entries (smaps Swap), every page a byte of
        the region (or of its bytes ``[start, end)``) is in."""
        q = self._live(p)
        if q is None or r not in q.regions or not q.swapents:
            return 0
        lo, hi = self._part(q.regions[r], start, end)
        return len(q.pt.swap_entries_in(lo, hi)) * self.page_size if hi > lo else 0

    def huge(self, p: str, r: str, start: int = 0, end: int | None = None) -> int:
        """Bytes of huge pages mapped by a PMD or PUD entry that a byte of the region (or of its
        bytes ``[start, end)``) is in: hugetlb pages (smaps Shared/Private_Hugetlb; not in
        ``resident``) and transparent huge pages (smaps AnonHugePages; in ``resident`` too)."""
        q = self._live(p)
        if q is None or r not in q.regions:
            return 0
        lo, hi = self._part(q.regions[r], start, end)
        return sum(len(pages) << shift
                   for shift, pages in q.pt.huge_pages_in(lo, hi).items()) \
            + q.pt.thp_bytes_in(lo, hi)

    def size(self, p: str, r: str) -> int:
        q = self.procs.get(p)
        if q is None or r not in q.regions:
            return 0
        return q.regions[r].length

    def via(self, p: str, r: str) -> str:
        """Return "brk" or "mmap" for a bound region, "none" for a name not bound (yet), as the
        checker reads a process not spawned yet."""
        q = self.procs.get(p)
        if q is None or r not in q.regions:
            return "none"
        return q.regions[r].via or "mmap"

    def has_region(self, p: str, r: str) -> bool:
        q = self.procs.get(p)
        return bool(q and r in q.regions)

    def shared_regions(self, p: str, r: str, q: str, s: str) -> int:
        a, b = self._live(p), self._live(q)
        if a is None or b is None or r not in a.regions or s not in b.regions:
            return 0
        ra, rb = a.regions[r], b.regions[s]
        fa = np.unique(a.pt.frames_in(ra.start, ra.end))
        fb = np.unique(b.pt.frames_in(rb.start, rb.end))
        return (len(np.intersect1d(fa, fb, assume_unique=True)) * self.page_size
                + _shared_huge(a, ra.start, ra.end, b, rb.start, rb.end))

    def shared_processes(self, p: str, q: str) -> int:
        a, b = self._live(p), self._live(q)
        if a is None or b is None:
            return 0
        fa = np.unique(a.pt.frames_in(0, 1 << 57))
        fb = np.unique(b.pt.frames_in(0, 1 << 57))
        return (len(np.intersect1d(fa, fb, assume_unique=True)) * self.page_size
                + _shared_huge(a, 0, 1 << 57, b, 0, 1 << 57))

    def counters(self, p: str) -> tuple[int, ...]:
        """Return, in one call for a report's timeline, ``(rss_anon, rss_file, rss_shmem, swap,
        pagetables)`` in bytes (0 when not running) and ``(minor, major, cow, tlb hits, tlb
        misses)`` (kept after the process ends): what the getters of the same names return."""
        q = self.procs.get(p)
        if q is None:
            return (0,) * 10
        ps = self.page_size
        if q.alive:
            return (q.rss_anon * ps, q.rss_file * ps, q.rss_shmem * ps, q.swapents * ps, q.pt.nbytes,
                    q.minor, q.major, q.cow, q.hits, q.misses)
        return (0, 0, 0, 0, 0, q.minor, q.major, q.cow, q.hits, q.misses)

    def memory(self) -> tuple[int, int, int, int]:
        """Return ``(free, cached, swap_used, committed)`` in bytes, in one call for a report."""
        ps = self.page_size
        return (self.frames.free * ps, self.cache.nr * ps, self.swapdev.inuse * ps if self.swapdev else 0,
                self.committed_pages * ps)

    def mappings(self, p: str) -> list[Mapping]:
        """Return the mappings of running process ``p`` in address order (empty if not running),
        each with its protection (``r``, ``rw``, ``rx``, ``rwx``, ``none``), backing (``anon``,
        ``file``, ``shmem``, ``hugetlb``), the region name bound to its start (else the
        segment's), and the bytes resident, swapped and in huge pages. Read-only, for reports
        (like /proc/PID/smaps); costs O(mappings x regions + their page tables)."""
        q = self._live(p)
        if q is None:
            return []
        bound = [(r.start, r.end, name) for name, r in q.regions.items() if not r.freed]
        any_huge = any(q.pt.huge.values())
        out = []
        for v in q.vmas:
            inside = [(start, name) for start, end, name in bound if start <= v.start < end]
            region = max(inside)[1] if inside else v.name
            backing = ("hugetlb" if v.hugetlb else "shmem" if v.shmem else "file" if v.file is not None
                       else "anon")
            prot = "".join(c for c, bit in (("r", 1), ("w", 2), ("x", 4)) if v.prot & bit) or "none"
            huge = sum(len(pages) << shift
                       for shift, pages in q.pt.huge_pages_in(v.start, v.end).items()) if any_huge else 0
            if q.pt.thp:  # transparent huge pages count too, as in ``huge``
                huge += q.pt.thp_bytes_in(v.start, v.end)
            resident = len(q.pt.frames_in(v.start, v.end)) * self.page_size
            swapped = len(q.pt.swap_entries_in(v.start, v.end)) * self.page_size if q.swapents else 0
            out.append(Mapping(v.start, v.end, prot, backing, region, resident, swapped, huge))
        return out


@dataclass(frozen=True, slots=True)
class Mapping:
    """One mapping of a process as an address-space map shows it (like a /proc/PID/smaps entry):
    addresses ``[start, end)``, protection, backing, the region name, and bytes resident, swapped
    and in huge pages."""

    start: int
    end: int
    prot: str
    backing: str
    region: str
    resident: int
    swapped: int
    huge: int

    def __repr__(self) -> str:
        return (f"Mapping({self.start:#x}-{self.end:#x} {self.prot} {self.backing} {self.region!r} "
                f"resident={self.resident} swapped={self.swapped} huge={self.huge})")


def _shared_huge(a: Process, a0: int, a1: int, b: Process, b0: int, b1: int) -> int:
    """Bytes of hugetlb pages that both ``a`` (in ``[a0, a1)``) and ``b`` (in ``[b0, b1)``) map."""
    ha, hb = a.pt.huge_pages_in(a0, a1), b.pt.huge_pages_in(b0, b1)
    return sum(len(ha[shift] & hb[shift]) << shift for shift in ha)
