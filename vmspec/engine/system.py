"""The engine's facade: one simulated machine with its processes (docs/engine-api.md).

Builds the subsystems once and holds them: frames and the LRU lists (``frames``, ``lruvec``), the
page cache, the swap device, the TLB, the reverse maps (``rmap``), reclaim (``vmscan``), the
textbook policies (``replacement``), the allocator that orchestrates allocate -> reclaim -> OOM
(``page_alloc``), THP, the fault handler and the MMU. The operations themselves live in the
modules named after their Linux files (``exec``, ``mmap``, ``mprotect``, ``madvise``, ``mlock``,
``libc``, ``fork``); this module binds process and region names to them, and inherits the
observables from ``procfs``.
"""

from __future__ import annotations

import numpy as np

from vmspec.engine import exec as exec_mm, libc, madvise as madvise_mm, mlock as mlock_mm, \
    mmap as mmap_mm, mprotect as mprotect_mm, oom, overcommit
from vmspec.engine import fork as fork_mm
from vmspec.engine.config import Image, MachineConfig
from vmspec.engine.cost import process_time
from vmspec.engine.errors import EINVAL, SIGBUS, SIGSEGV, Unsupported
from vmspec.engine.fault import FaultHandler
from vmspec.engine.frames import DIRTY, FrameTable
from vmspec.engine.hugetlb import SIZES as HUGE_SIZES, Hugetlb
from vmspec.engine.memcg import Memcg
from vmspec.engine.mmu import MMU
from vmspec.engine.page_alloc import PageAllocator, Watermarks, derive_watermarks
from vmspec.engine.pagecache import PageCache
from vmspec.engine.process import Process
from vmspec.engine.procfs import ProcFS
from vmspec.engine.replacement import Textbook
from vmspec.engine.rmap import RMap, VMAObserver
from vmspec.engine.swap import SwapDevice
from vmspec.engine.thp import THP
from vmspec.engine.tlb import TLB
from vmspec.engine.tlbref import TLBRef, TeeTLB
from vmspec.engine.vmscan import Reclaimer


RANDOM_CHUNK = 1 << 16  # pages drawn at a time by access_random


class System(ProcFS):
    """A simulated machine. See docs/engine-api.md for the operations and observables."""

    def __init__(self, machine: MachineConfig, *, reference_tlb: bool = False,
                 check_pages: bool = False) -> None:
        m = machine
        if m.page_size != 4096:
            raise Unsupported(f"page_size {m.page_size} is not modelled yet; use 4KiB")
        if m.paging_levels not in (4, 5):
            raise EINVAL(f"paging must be 4-level or 5-level, got {m.paging_levels}")
        if m.overcommit not in overcommit.MODES:
            raise EINVAL(f"overcommit must be heuristic, always or never, got {m.overcommit}")
        pool_bytes = sum(size * count for size, count in m.hugepages)
        if m.kernel + pool_bytes >= m.ram:
            raise EINVAL("kernel and the hugepages pools must leave some of ram free")
        self.machine = m
        self.page_size = m.page_size
        self.levels = m.paging_levels
        self.hugepage_pools = dict(m.hugepages)  # page size -> pages reserved at boot
        for size in self.hugepage_pools:
            if size not in HUGE_SIZES:
                raise EINVAL(f"hugepages size must be 2MiB or 1GiB, got {size}")
        self.hugetlb = Hugetlb(self.hugepage_pools, self._next_anon_vma)
        self.hugetlb_pages = pool_bytes // m.page_size
        # swap (vmspec.engine.swap): a freed swap-cache frame leaves the swap cache
        self.swapdev = SwapDevice(m.swap // m.page_size, m.page_cluster) if m.swap else None
        self.frames = FrameTable((m.ram - m.kernel - pool_bytes) // m.page_size,
                                 swap_hook=self.swapdev.drop_cache if self.swapdev else None)
        self.cache = PageCache()
        self.reference_tlb = reference_tlb
        # the TLB; under reference_tlb, driven in lockstep with the plain reference model
        self.tlb_model: TLB | TeeTLB = TeeTLB(TLB(m.tlb), TLBRef(m.tlb)) if reference_tlb \
            else TLB(m.tlb)
        self._anon_vma_ids = 0
        self._shmem_ids = 0
        self.procs: dict[str, Process] = {}
        self.by_pid: dict[int, Process] = {}
        self.committed_pages = 0
        self._next_pid = 1000
        self.totalram_pages = self.frames.total + self.hugetlb_pages  # MemTotal includes the pools
        self.user_reserve, self.admin_reserve = overcommit.reserves(m.ram - m.kernel, m.page_size)
        # The huge-PMD machinery exists whatever the ``thp`` setting: under ``never`` no
        # anonymous huge page is made, but an order-9 page-cache folio is still mapped by a PMD.
        # It reaches the other subsystems through this System when it acts, so every subsystem
        # below gets it at construction.
        self.thp = THP(self, m.thp)
        # reverse maps (an unmapped page changes its mappers' RSS), reclaim, the policy
        self.rmap = RMap(self.frames, self.cache, self.by_pid, self.tlb_model, self.mark_changed)
        managed = (m.ram - m.kernel) // m.page_size
        if m.watermarks is not None:
            self.watermarks = Watermarks(*(x // m.page_size for x in m.watermarks))
        else:
            self.watermarks = derive_watermarks(managed, m.thp != "never")
        self.reclaim = Reclaimer(self.frames, self.rmap, self.swapdev, self.cache,
                                 self.watermarks, m.swappiness,
                                 two_lists=m.replacement == "twolist", thp=self.thp)
        self.textbook = (Textbook(m.replacement, self.frames, self.rmap, self.swapdev, self.cache,
                                  thp=self.thp)
                         if m.replacement != "twolist" else None)
        self.page_alloc = PageAllocator(
            self.frames, self.watermarks, reclaim=self.reclaim if self.textbook is None else None,
            textbook=self.textbook, procs=self.procs, kill=self._kill, totalpages=self._totalpages,
            page_size=m.page_size)
        self.handler = FaultHandler(self.frames, self.cache, self.page_alloc.alloc,
                                    self.page_alloc.alloc_readahead, self._invalidate,
                                    self._next_anon_vma, swap=self.swapdev,
                                    put_slot=self.put_slot, ra_pages=m.readahead // m.page_size,
                                    alloc_ra_folio=self.page_alloc.alloc_readahead_folio,
                                    thp=self.thp)
        names = {lv.name for lv in m.tlb}
        self.mmu = MMU(self.frames, self.tlb_model, self.handler, hugetlb=self.hugetlb,
                       thp=self.thp, page_alloc=self.page_alloc,
                       tlb_holds={12: bool(names & {"l1", "l2"}), 21: bool(names & {"l1_2m", "l2"}),
                                  30: "l1_1g" in names},
                       policy=self.textbook if m.replacement in ("lru", "clock") else None,
                       young_on=self.textbook is None, dirty_on=self.swapdev is not None)
        self.check_pages = check_pages
        if check_pages:
            from vmspec.engine.pagecheck import PageCheck
            self.pagecheck = PageCheck(self)
        # what changed since an observer last asked (take_touched) and since the running totals
        # of time and accesses were last brought up to date (pid -> process)
        self._touched: dict[int, Process] = {}
        self._stale: dict[int, Process] = {}
        self._time_of: dict[int, int] = {}
        self._accesses_of: dict[int, int] = {}
        self._time_sum = self._accesses_sum = 0

    # ---- what changed ---------------------------------------------------------------------------

    def mark_changed(self, p: Process) -> None:
        """Note that ``p``'s counters (faults, TLB, accesses), RSS, swap entries or status may
        have changed. Every operation marks the process it acts for (``_proc``); engine code that
        changes another process must mark it too: a new process (spawn, fork), teardown (exit,
        OOM kill, fatal signal), and every PTE changed through the reverse map (swap-out and
        eviction of a page other processes map). docs/engine-api.md lists the places."""
        self._touched[p.pid] = p
        self._stale[p.pid] = p

    def take_touched(self) -> list[str]:
        """Return the names of the processes marked since the last call, in creation order, and
        start a new set: an observer reads only those to see what a step changed."""
        touched, self._touched = self._touched, {}
        return [q.name for pid, q in sorted(touched.items()) if self.procs.get(q.name) is q]

    def _totals(self) -> tuple[int, int]:
        """Return the simulated time and accesses of all processes, updating the running sums
        with the processes marked since the last call only."""
        lat, levels = self.machine.latency, self.levels
        for pid, q in self._stale.items():
            if self.procs.get(q.name) is not q:  # a child whose fork failed never counts
                continue
            t = process_time(lat, levels, q.accesses, q.hits, q.misses, q.minor, q.major,
                             q.walk_saved)
            self._time_sum += t - self._time_of.get(pid, 0)
            self._time_of[pid] = t
            self._accesses_sum += q.accesses - self._accesses_of.get(pid, 0)
            self._accesses_of[pid] = q.accesses
        self._stale.clear()
        return self._time_sum, self._accesses_sum

    # ---- internal helpers --------------------------------------------------------------------

    def _next_anon_vma(self) -> int:
        self._anon_vma_ids += 1
        return self._anon_vma_ids

    def _invalidate(self, p: Process, vpn: int) -> None:
        self.tlb_model.invalidate(p.pid, vpn, 12)

    def vma_observer(self, p: Process) -> VMAObserver:
        """Return the observer that keeps the files' i_mmap in step with ``p``'s VMAs."""
        return VMAObserver(p, self.cache)

    def next_shmem_id(self) -> int:
        """Return a new shmem object number (shared anonymous mappings)."""
        self._shmem_ids += 1
        return self._shmem_ids

    def _kill(self, q: Process) -> None:
        """Tear ``q`` down as the OOM killer's victim."""
        fork_mm.teardown(self, q, "oom_killed")

    def put_slot(self, slot: int) -> None:
        """Drop one swap PTE's reference to ``slot``; a swap-cache page nobody needs any more is
        freed with it (``free_swap_and_cache``)."""
        sw = self.swapdev
        assert sw is not None  # only a swap PTE holds a slot
        sw.put(slot)
        f = sw.cached(slot)
        if sw.refs(slot) == 0 and f >= 0 and self.frames.mapcount[f] == 0:
            self.frames.release(f)

    def _totalpages(self) -> int:
        return self.totalram_pages + self.machine.swap // self.page_size

    def _badness(self, p: Process) -> int | None:
        return oom.badness(p.rss_pages, p.swapents, p.pt.nbytes, p.oom_score_adj, self._totalpages(),
                           self.page_size)

    def _proc(self, name: str) -> Process:
        p = self.procs.get(name)
        if p is None:
            raise ValueError(f"no process named {name!r}")
        if not p.alive:
            raise ValueError(f"process {name!r} is not running ({p.status})")
        self.mark_changed(p)
        self.frames.charges.current = p.memcg  # pages this operation brings in are charged to its group
        return p

    def _signalled(self, p: Process, exc: BaseException) -> None:
        """Kill ``p`` for a fatal signal (SIGSEGV/SIGBUS) before the exception propagates."""
        if p.alive:
            fork_mm.teardown(self, p, "segfault" if isinstance(exc, SIGSEGV) else "sigbus")

    def _run(self, p: Process, fn, *args, **kw):
        """Run an access-making operation for ``p``; a fatal signal kills ``p``."""
        try:
            return fn(*args, **kw)
        except (SIGSEGV, SIGBUS) as exc:
            self._signalled(p, exc)
            raise

    def charge(self, p: Process | None, pages: int) -> bool:
        """Ask the overcommit policy for ``pages`` more committed pages (``__vm_enough_memory``)."""
        m = self.machine
        ok = overcommit.vm_enough_memory(
            pages, m.overcommit, committed=self.committed_pages,
            totalram_pages=self.totalram_pages, swap_pages=m.swap // self.page_size,
            limit=self.commit_limit_pages(), total_vm_pages=(p.vmas.total // self.page_size
                                                             if p else 0),
            user_reserve_pages=self.user_reserve, admin_reserve_pages=self.admin_reserve)
        if ok:
            self.committed_pages += pages
            if p is not None:
                p.committed += pages
        return ok

    def commit_limit_pages(self) -> int:
        m = self.machine
        return overcommit.commit_limit(self.totalram_pages, self.hugetlb_pages, m.swap // self.page_size,
                                       m.overcommit_ratio, page_size=self.page_size)

    # ---- operations --------------------------------------------------------------------------

    def spawn(self, name: str, image: Image | None = None, oom_score_adj: int = 0,
              oom_adj: int | None = None, memory_max: int | None = None) -> None:
        """Create a process from ``image`` (regions text/data/bss/heap/stack and one per lib)."""
        if name in self.procs:
            raise ValueError(f"a process named {name!r} already exists")
        if memory_max is not None and memory_max < self.page_size:
            raise EINVAL(f"memory_max must be at least one page, got {memory_max}")
        try:
            adj = oom.check_score_adj(oom_score_adj)
            if oom_adj is not None:
                adj = oom.oom_adj_to_score_adj(oom_adj)
        except ValueError as exc:
            raise EINVAL(str(exc)) from None
        pid = self._next_pid
        self._next_pid += 1
        p = exec_mm.spawn(self, name, pid, image)
        self.by_pid[pid] = p
        p.oom_score_adj = adj
        if memory_max is not None:
            cg = Memcg(len(self.frames.charges.groups) + 1, name, memory_max // self.page_size)
            self.frames.add_group(cg)
            p.memcg = cg
        self.procs[name] = p
        self.mark_changed(p)

    def mmap(self, proc: str, region: str, length: int, *, file: str | None = None,
             shared: bool = False, prot: str = "rw", hugetlb: int | None = None,
             populate: bool = False, noreserve: bool = False) -> None:
        """Map ``length`` bytes and bind ``region`` to them (see vmspec.engine.mmap for the rules)."""
        p = self._proc(proc)
        self._run(p, mmap_mm.mmap, self, p, region, length, file=file, shared=shared,
                  prot=prot, hugetlb=hugetlb, populate=populate, noreserve=noreserve)

    def munmap(self, proc: str, region: str, start: int = 0, end: int | None = None) -> None:
        """Unmap ``[start, end)`` of the region (end None: the region's end)."""
        p = self._proc(proc)
        r = p.region(region)
        mmap_mm.munmap_range(self, p, *r.span(start, end, self.page_size))

    def brk(self, proc: str, delta: int) -> None:
        """Move the program break by ``delta`` bytes (grow or shrink the heap region)."""
        p = self._proc(proc)
        mmap_mm.set_brk(self, p, p.brk + delta)

    def malloc(self, proc: str, region: str, size: int) -> None:
        """glibc malloc (``malloc.c``): brk heap or its own mapping; header writes are accesses."""
        p = self._proc(proc)
        self._run(p, libc.malloc, self, p, region, size)

    def free_region(self, proc: str, region: str) -> None:
        """glibc free of a malloc'd region (the name stays bound)."""
        p = self._proc(proc)
        self._run(p, libc.free, self, p, region)

    def access(self, proc: str, region: str, start: int, end: int, *, write: bool,
               stride: int | None = None) -> None:
        """One access per base page of ``[start, end)`` (or per stride), in address order."""
        p = self._proc(proc)
        r = p.region(region)
        self._run(p, self.mmu.access_range, p, r.start + start, r.start + end, bool(write),
                  stride)

    def _access_one(self, proc: str, va: int, write: bool) -> None:
        """Make one access at address ``va`` through the per-access reference path."""
        p = self._proc(proc)
        self._run(p, self.mmu.access_one, p, va, bool(write))

    def access_random(self, proc: str, region: str, count: int, *, seed: int = 0,
                      write: bool = False) -> None:
        """``count`` accesses at pages drawn by ``numpy.random.default_rng(seed).integers(0,
        npages, size=count)`` over the region's pages (npages = pages the region overlaps).

        The pages are drawn and run in chunks from the one generator, which yields exactly the
        sequence of a single draw, so host memory stays bounded whatever ``count`` is."""
        p = self._proc(proc)
        r = p.region(region)
        first = r.start >> 12
        npages = ((r.end - 1) >> 12) - first + 1 if r.length > 0 else 0
        if count <= 0:
            return
        if npages <= 0:
            raise EINVAL(f"region {region!r} is empty: no pages to access")
        rng = np.random.default_rng(seed)
        left = count
        while left:
            size = min(left, RANDOM_CHUNK)
            pages = rng.integers(0, npages, size=size) + first
            self._run(p, self.mmu.run, p, pages.tolist(), bool(write))
            left -= size

    def access_pages(self, proc: str, region: str, pages, *, write=False) -> None:
        """Access page numbers relative to the region, streamed (replay, format pages)."""
        p = self._proc(proc)
        r = p.region(region)
        first = r.start >> 12
        if isinstance(write, (bool, np.bool_)):
            self._run(p, self.mmu.run, p, (first + int(n) for n in pages), bool(write))
        else:
            self._run(p, self.mmu.run, p, ((first + int(n), bool(w)) for n, w in zip(pages, write)),
                      None)

    def access_addresses(self, proc: str, accesses) -> None:
        """Access ``(address, size, write)`` tuples, streamed (replay, lackey); a page in no VMA
        gets a 4 KiB anonymous private rw mapping at that page on first use."""
        p = self._proc(proc)

        def pages():
            for addr, size, wr in accesses:
                a, b = int(addr) >> 12, (int(addr) + max(int(size), 1) - 1) >> 12
                for vpn in range(a, b + 1):
                    yield vpn, bool(wr)

        self._run(p, self.mmu.run, p, pages(), None,
                  automap=lambda q, va: mmap_mm.automap(self, q, va))

    def madvise(self, proc: str, region: str, start: int, end: int | None, advice: str) -> None:
        """MADV_DONTNEED, HUGEPAGE, NOHUGEPAGE, WILLNEED or PAGEOUT over part of a region."""
        p = self._proc(proc)
        r = p.region(region)
        madvise_mm.madvise(self, p, *r.span(start, end, self.page_size), advice)

    def mprotect(self, proc: str, region: str, start: int, end: int | None, prot: str) -> None:
        """Change the protection of part of a region; takes effect at once (TLB invalidated)."""
        p = self._proc(proc)
        r = p.region(region)
        mprotect_mm.mprotect(self, p, *r.span(start, end, self.page_size), prot)

    def mlock(self, proc: str, region: str) -> None:
        """Set VM_LOCKED on the region and fault its pages in (``__mm_populate``)."""
        p = self._proc(proc)
        r = p.region(region)
        self._run(p, mlock_mm.mlock, self, p, r, True)

    def munlock(self, proc: str, region: str) -> None:
        """Clear VM_LOCKED on the region."""
        p = self._proc(proc)
        r = p.region(region)
        mlock_mm.mlock(self, p, r, False)

    def create_file(self, name: str, size: int) -> None:
        """Create a file in the simulated page cache, none of it cached."""
        if size < 0:
            raise EINVAL(f"file size must be >= 0, got {size}")
        self.cache.create(name, (size + self.page_size - 1) // self.page_size)

    def fork(self, parent: str, child: str) -> None:
        """Copy-on-write fork (``dup_mmap``, docs/engine.md "fork")."""
        if child in self.procs:
            raise ValueError(f"a process named {child!r} already exists")
        p = self._proc(parent)
        pid = self._next_pid
        self._next_pid += 1
        c = fork_mm.fork(self, p, child, pid)
        c.memcg = p.memcg  # a child joins its parent's memory cgroup
        self.procs[child] = c
        self.by_pid[pid] = c
        self.mark_changed(c)

    def exit(self, proc: str) -> None:
        """Exit: free every frame and table of the process."""
        p = self._proc(proc)
        fork_mm.teardown(self, p, "exited")

    def set_oom_score_adj(self, proc: str, value: int) -> None:
        """Write /proc/P/oom_score_adj (EINVAL outside [-1000, 1000])."""
        p = self._proc(proc)
        try:
            p.oom_score_adj = oom.check_score_adj(value)
        except ValueError as exc:
            raise EINVAL(str(exc)) from None

    def set_oom_adj(self, proc: str, value: int) -> None:
        """Write /proc/P/oom_adj (EINVAL outside [-17, 15]; stored as oom_score_adj)."""
        p = self._proc(proc)
        try:
            p.oom_score_adj = oom.oom_adj_to_score_adj(value)
        except ValueError as exc:
            raise EINVAL(str(exc)) from None

    def drop_caches(self) -> None:
        """Drop every clean page-cache page no PTE maps (echo 1 > drop_caches:
        ``invalidate_mapping_pages`` on every file; dirty pages stay, as no writeback is
        modelled)."""
        frames = self.frames
        fl, mc = frames.flags, frames.mapcount
        for cf in list(self.cache.files.values()):
            if cf.shmem:
                continue
            pages = cf.pages()
            k = 0
            while k < len(pages):
                idx, fr = pages[k]
                subs = frames.folios.get(frames.head_of(fr)) if frames.folios else None
                if subs is None:
                    if mc[fr] == 0 and not fl[fr] & DIRTY:
                        self.cache.drop(cf, idx)
                        frames.release(fr)
                    k += 1
                    continue
                if not mc[subs].any() and not (fl[subs] & DIRTY).any():  # a folio goes whole
                    for j in range(len(subs)):
                        self.cache.drop(cf, idx + j)
                    frames.release_folio(int(subs[0]))
                k += len(subs)

    def check_invariants(self) -> None:
        """Raise InvariantBroken if the engine's own state contradicts itself."""
        from vmspec.engine.invariants import check_invariants
        check_invariants(self)
