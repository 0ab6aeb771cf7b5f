"""A simulated process: its address space, named regions, counters and OOM settings.

The parts of ``task_struct``/``mm_struct`` the language observes: VMAs and page tables, the brk
heap, the RSS counters (``MM_ANONPAGES``, ``MM_FILEPAGES``, ``MM_SHMEMPAGES``, ``MM_SWAPENTS``),
fault, cow, TLB and access counts, ``oom_score_adj``, the malloc arena, and the regions (names
bound to address ranges, which stay bound after munmap/free: docs/language.md, "Scenario steps").

Not modelled: threads, signals other than the fatal ones, credentials (every process is root).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vmspec.engine.errors import EINVAL
from vmspec.engine.layout import page_align
from vmspec.engine.pagetable import PageTable
from vmspec.engine.vma import VMAList

if TYPE_CHECKING:
    from vmspec.engine.malloc import Allocation, Arena
    from vmspec.engine.memcg import Memcg
    from vmspec.engine.rmap import Family


STATUSES = ("running", "exited", "oom_killed", "segfault", "sigbus")  # every Process.status


@dataclass(slots=True)
class Region:
    """A name bound to ``[start, start + length)``; ``via`` is "brk"/"mmap" for malloc/mmap results."""

    start: int
    length: int
    via: str | None = None
    alloc: Allocation | None = None  # the malloc Allocation, for free
    freed: bool = False

    @property
    def end(self) -> int:
        return self.start + self.length

    def span(self, start: int, end: int | None, page: int) -> tuple[int, int]:
        """Turn offsets into the region into ``[s, e)`` addresses: ``start`` must be page
        aligned (EINVAL), ``end`` (None: the region's end) rounds up to a page."""
        s = self.start + start
        if s % page:
            raise EINVAL(f"start {start:#x} is not page aligned (address {s:#x})")
        e = self.end if end is None else self.start + end
        return s, page_align(e, page)


@dataclass(slots=True)
class Process:
    """One process. Counters keep their values after it ends; sizes are read as 0 then."""

    name: str
    pid: int
    vmas: VMAList
    pt: PageTable
    arena: Arena  # glibc's malloc state (vmspec.engine.malloc)
    family: Family  # its fork family (vmspec.engine.rmap.Family), for anonymous rmap
    regions: dict[str, Region] = field(default_factory=dict)
    start_brk: int = 0
    brk: int = 0
    mmap_base: int = 0
    status: str = "running"  # one of STATUSES
    oom_score_adj: int = 0
    minor: int = 0
    major: int = 0
    cow: int = 0
    hits: int = 0
    misses: int = 0
    accesses: int = 0
    rss_anon: int = 0  # pages
    rss_file: int = 0
    rss_shmem: int = 0
    swapents: int = 0  # MM_SWAPENTS: swap entries in this process's PTEs
    committed: int = 0  # pages charged to Committed_AS by this process's VM_ACCOUNT VMAs
    walk_saved: int = 0  # walk levels not visited by misses on huge pages (1 per 2M, 2 per 1G)
    hresv: set = field(default_factory=set)  # addresses of private huge pages reserved, unfaulted
    memcg: Memcg | None = None  # the process's memory cgroup (vmspec.engine.memcg), None: the root
    thp_capable: bool = False  # some VMA may hold transparent huge pages (per-access paths)

    @property
    def alive(self) -> bool:
        return self.status == "running"

    @property
    def rss_pages(self) -> int:
        return self.rss_anon + self.rss_file + self.rss_shmem

    def region(self, name: str) -> Region:
        """Return the region bound to ``name`` (ValueError if it never was)."""
        r = self.regions.get(name)
        if r is None:
            raise ValueError(f"process {self.name!r} has no region {name!r}")
        return r

    def add_rss(self, kinds: tuple[int, int, int], sign: int = 1) -> None:
        """Add (``sign`` -1: take away) pages counted by kind, as ``rss_kinds`` counts them."""
        anon, file, shmem = kinds
        self.rss_anon += sign * anon
        self.rss_file += sign * file
        self.rss_shmem += sign * shmem
