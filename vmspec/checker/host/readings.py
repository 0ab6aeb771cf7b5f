"""What the host backend reads, and how: the engine facade's observables of the system, of each
process and of each region, answered from /proc for the scenario's own mappings (``procfs``).

``Readings`` is the reading half of :class:`~vmspec.checker.host.system.HostSystem` (which adds
the operations): everything here is read, never changed, and cached until the next operation
(``_gen``). What the kernel does not count (``faults(P).cow``, ``tlb``, ``time``) and what is
system-wide (MemFree, Committed_AS, the LRU lists, /proc/vmstat) without ``--host-allow meminfo``
raise NotObservable.
"""

from __future__ import annotations

import os
import time as _time
from fractions import Fraction

import numpy as np

from vmspec.checker.backend import NotObservable
from vmspec.checker.host import procfs
from vmspec.checker.host.kernel import meminfo, read_text, vmstat
from vmspec.checker.host.proc import Proc, Region
from vmspec.engine.config import MachineConfig
from vmspec.engine.layout import page_align

QUIET_BYTES = 64 << 10  # how far MemFree / Committed_AS may move with nothing running


class HostCounters:
    """``faults(P)`` on the host: min_flt and maj_flt; copy-on-write faults are not counted apart
    by the kernel."""

    __slots__ = ("minor", "major")

    def __init__(self, minor: int, major: int):
        self.minor, self.major = minor, major

    @property
    def cow(self):
        raise NotObservable("the kernel does not count copy-on-write faults apart from other minor faults")


class Readings:
    """The observables of a HostSystem (which provides ``machine``, ``session``, ``procs``,
    ``files``, ``frames``, ``_killed``, ``_gen``, ``_cache``, ``_baseline`` and ``_baseline_vm``)."""

    def _meminfo_delta(self, key: str, initial, counters: bool = False) -> int:
        """A system-wide /proc/meminfo (or, ``counters``, /proc/vmstat) value, as the engine's
        starting value plus the host's change since the scenario started: only with
        ``--host-allow meminfo`` (the user says the machine is quiet) and only if it looks quiet
        (``quiet_machine``)."""
        if "meminfo" not in self.session.allow.words:
            raise NotObservable(f"{key} is system-wide: it moves with every process of the machine "
                                "(--host-allow meminfo reads it on a quiet machine)")
        why = quiet_machine()
        if why is not None:
            raise NotObservable(why)
        now, then = (vmstat(), self._baseline_vm) if counters else (meminfo(), self._baseline)
        return int(initial(self.machine)) + now.get(key, 0) - then.get(key, 0)

    def _same_ram(self) -> None:
        host = self.session.kernel.mem_total
        machine = self.machine.ram - self.machine.kernel
        if machine != host:
            raise NotObservable(f"it depends on the machine's RAM ({machine >> 20} MiB), which is not "
                                f"the host's MemTotal ({host >> 20} MiB)")

    @property
    def ram(self) -> int:
        self._same_ram()
        return self.machine.ram

    @property
    def used(self) -> int:
        return self.machine.ram - self.free

    def _cached_bytes(self) -> int:
        total = 0
        for path, size in self.files.values():
            total += _cachestat(path, size)
        return total

    @property
    def cached(self) -> int:
        """The page cache of the scenario's files and of its shared anonymous memory (each shmem
        object once, through /proc/PID/map_files), by the cachestat system call."""
        total = self._cached_bytes()
        seen: set[int] = set()
        for p in self.procs.values():
            if not p.alive:
                continue
            for v in self._vmas(p):
                if v.shmem and v.inode not in seen:
                    seen.add(v.inode)
                    path = f"/proc/{p.agent.pid}/map_files/{v.start:x}-{v.end:x}"
                    try:
                        total += _cachestat(path, 0)
                    except OSError as exc:
                        raise NotObservable(f"the shared memory's page cache is read through {path}, "
                                            f"which is not readable here ({exc.strerror})") from None
        return total

    @property
    def swap_used(self) -> int:
        info = meminfo()
        return info.get("SwapTotal", 0) - info.get("SwapFree", 0)

    @property
    def swap_free(self) -> int:
        return meminfo().get("SwapFree", 0)

    @property
    def committed(self) -> int:
        return self._meminfo_delta("Committed_AS", lambda m: 0)

    @property
    def commit_limit(self) -> int:
        self._same_ram()
        return meminfo().get("CommitLimit", 0)

    # the LRU lists (/proc/meminfo) and swap and THP counts (/proc/vmstat): system-wide
    @property
    def active_anon(self) -> int:
        return self._meminfo_delta("Active(anon)", lambda m: 0)

    @property
    def inactive_anon(self) -> int:
        return self._meminfo_delta("Inactive(anon)", lambda m: 0)

    @property
    def active_file(self) -> int:
        return self._meminfo_delta("Active(file)", lambda m: 0)

    @property
    def inactive_file(self) -> int:
        return self._meminfo_delta("Inactive(file)", lambda m: 0)

    @property
    def unevictable(self) -> int:
        return self._meminfo_delta("Unevictable", lambda m: 0)

    @property
    def pswpin(self) -> int:
        return self._meminfo_delta("pswpin", lambda m: 0, counters=True)

    @property
    def pswpout(self) -> int:
        return self._meminfo_delta("pswpout", lambda m: 0, counters=True)

    @property
    def thp_fault_alloc(self) -> int:
        return self._meminfo_delta("thp_fault_alloc", lambda m: 0, counters=True)

    @property
    def thp_fault_fallback(self) -> int:
        return self._meminfo_delta("thp_fault_fallback", lambda m: 0, counters=True)

    @property
    def thp_split_pmd(self) -> int:
        return self._meminfo_delta("thp_split_pmd", lambda m: 0, counters=True)

    def hugepages_free(self, size: int) -> int:
        base = f"/sys/kernel/mm/hugepages/hugepages-{size >> 10}kB"
        if not os.path.isdir(base):
            return 0
        resv = int(read_text(f"{base}/resv_hugepages", "0"))
        if resv >= 1 << 63:  # the kernel prints its signed count as unsigned (seen at -3 on 6.18)
            resv -= 1 << 64
        return int(read_text(f"{base}/free_hugepages", "0")) - resv

    def hugepages_total(self, size: int) -> int:
        return int(read_text(f"/sys/kernel/mm/hugepages/hugepages-{size >> 10}kB/nr_hugepages", "0"))

    @property
    def killed(self) -> tuple[str, ...]:
        return tuple(self._killed)

    @property
    def oom_kills(self) -> int:
        return len(self._killed)

    @property
    def time(self) -> int:
        raise NotObservable("the host has no cost model (time is the engine's simulated time)")

    @property
    def accesses(self) -> int:
        return self._accesses

    # ================================================================ process observables
    def _cached(self, key, compute):
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._gen:
            return hit[1]
        value = compute()
        self._cache[key] = (self._gen, value)
        return value

    def _vmas(self, p: Proc) -> list[procfs.VMA]:
        """The scenario's mappings of ``p`` (the agent's own and the fence left out)."""
        return self._cached(("vmas", p.agent.pid), lambda: [
            v for v in procfs.read_smaps(p.agent.pid)
            if (v.start, v.end) not in p.own and "vmspec-fence" not in v.path])

    def _present(self, p: Proc, ranges: list[tuple[int, int]]) -> np.ndarray:
        """Frame numbers mapped in ``ranges`` of ``p`` (zero pages left out), cached per step."""
        key = ("pfns", p.agent.pid, tuple(ranges))
        return self._cached(key, lambda: procfs.present_pfns(p.agent.pid, ranges, self.frames.zero_pfns()))

    def _live(self, name: str) -> Proc | None:
        p = self.procs.get(name)
        return p if p is not None and p.alive else None

    def rss(self, name: str) -> int:
        p = self._live(name)
        return sum(v.rss for v in self._vmas(p) if not v.hugetlb) if p else 0

    def rss_anon(self, name: str) -> int:
        p = self._live(name)
        return sum(v.anonymous for v in self._vmas(p) if not v.hugetlb) if p else 0

    def rss_file(self, name: str) -> int:
        p = self._live(name)
        if p is None:
            return 0
        return sum(v.rss - v.anonymous for v in self._vmas(p) if v.file_backed and not v.hugetlb)

    def _scenario_ranges(self, p: Proc) -> list[tuple[int, int]]:
        return [(v.start, v.end) for v in self._vmas(p) if not v.hugetlb and (v.rss or v.swap)]

    def pss(self, name: str) -> Fraction:
        p = self._live(name)
        if p is None:
            return Fraction(0)
        pfns = self._present(p, self._scenario_ranges(p))
        return procfs.pss_of(self.frames.counts(pfns))

    def uss(self, name: str) -> int:
        p = self._live(name)
        if p is None:
            return 0
        pfns = self._present(p, self._scenario_ranges(p))
        return int(np.count_nonzero(self.frames.counts(pfns) == 1)) * self.page_size

    def swap(self, name: str) -> int:
        p = self._live(name)
        return sum(v.swap for v in self._vmas(p)) if p else 0

    def vsz(self, name: str) -> int:
        p = self._live(name)
        return sum(v.end - v.start for v in self._vmas(p)) if p else 0

    def pagetables(self, name: str) -> int:
        p = self._live(name)
        return procfs.read_status(p.agent.pid).get("VmPTE", 0) - p.pt_base if p else 0

    def faults(self, name: str) -> HostCounters:
        p = self.procs.get(name)
        return HostCounters(p.minor, p.major) if p else HostCounters(0, 0)

    def tlb(self, name: str):
        raise NotObservable("the kernel does not count TLB hits and misses per process")

    def oom_score(self, name: str) -> int:
        p = self._live(name)
        if p is None:
            return 0
        self._same_ram()
        return procfs.read_int(f"/proc/{p.agent.pid}/oom_score")

    def oom_score_adj(self, name: str) -> int:
        p = self.procs.get(name)
        if p is None:
            return 0
        self._read_oom(p)
        return p.oom_score_adj

    def oom_adj(self, name: str) -> int:
        p = self.procs.get(name)
        if p is None:
            return 0
        self._read_oom(p)
        return p.oom_adj_read

    def process_time(self, name: str) -> int:
        raise NotObservable("the host has no cost model (time is the engine's simulated time)")

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return bool(p and p.alive)

    def status(self, name: str) -> str:
        p = self.procs.get(name)
        if p is None:
            raise ValueError(f"no process named {name!r}")
        return p.status

    def exists(self, name: str) -> bool:
        return name in self.procs

    # ================================================================ region observables
    def _pages_of(self, r: Region) -> tuple[int, int]:
        """Every page a byte of the region is in."""
        if r.length <= 0:
            return r.start, r.start
        return r.start & ~4095, page_align(r.end, 4096)

    def _clip(self, p: Proc, start: int, end: int, hugetlb: bool | None) -> list[tuple[int, int]]:
        """The parts of [start, end) in mappings with pages (hugetlb ones, others, or both: None)."""
        out = []
        for v in self._vmas(p):
            if hugetlb is not None and v.hugetlb != hugetlb:
                continue
            if v.start < end and start < v.end and (v.rss or v.swap or v.hugetlb_bytes):
                out.append((max(start, v.start), min(end, v.end)))
        return out

    def resident(self, name: str, region: str) -> int:
        p = self._live(name)
        if p is None or region not in p.regions:
            return 0
        lo, hi = self._pages_of(p.regions[region])
        return procfs.count_entries(p.agent.pid, self._clip(p, lo, hi, False), procfs.PRESENT,
                                    self.frames.zero_pfns()) * self.page_size

    def swapped(self, name: str, region: str) -> int:
        p = self._live(name)
        if p is None or region not in p.regions:
            return 0
        lo, hi = self._pages_of(p.regions[region])
        return procfs.count_entries(p.agent.pid, self._clip(p, lo, hi, False), procfs.SWAPPED) * self.page_size

    def huge(self, name: str, region: str) -> int:
        """Bytes of hugetlb pages a byte of the region is in, plus its PMD-mapped THPs
        (AnonHugePages of the mappings the region covers)."""
        p = self._live(name)
        if p is None or region not in p.regions:
            return 0
        lo, hi = self._pages_of(p.regions[region])
        total = 0
        for v in self._vmas(p):
            if not (v.start < hi and lo < v.end):
                continue
            if v.hugetlb:
                size = v.kernel_page
                a, b = max(lo, v.start) // size * size, min(hi, v.end)
                pages = procfs.count_entries(p.agent.pid, [(a, b)], procfs.PRESENT)
                total += pages * self.page_size // size * size if pages else 0
            elif v.anon_huge:
                if lo <= v.start and v.end <= hi:
                    total += v.anon_huge
                else:
                    raise NotObservable("AnonHugePages is counted per mapping; this range covers part of one")
        return total

    def size(self, name: str, region: str) -> int:
        p = self.procs.get(name)
        if p is None or region not in p.regions:
            return 0
        return p.regions[region].length

    def via(self, name: str, region: str) -> str:
        p = self.procs.get(name)
        if p is None or region not in p.regions:
            return "none"
        return p.regions[region].via or "mmap"

    def has_region(self, name: str, region: str) -> bool:
        p = self.procs.get(name)
        return bool(p and region in p.regions)

    def _pfns(self, p: Proc, start: int, end: int) -> np.ndarray:
        """Frames mapped in [start, end), hugetlb pages included (as their 4 KiB frames)."""
        return np.unique(self._present(p, self._clip(p, start, end, None)))

    def shared_regions(self, p: str, r: str, q: str, s: str) -> int:
        a, b = self._live(p), self._live(q)
        if a is None or b is None or r not in a.regions or s not in b.regions:
            return 0
        fa = self._pfns(a, *self._pages_of(a.regions[r]))
        fb = self._pfns(b, *self._pages_of(b.regions[s]))
        return len(np.intersect1d(fa, fb, assume_unique=True)) * self.page_size

    def shared_processes(self, p: str, q: str) -> int:
        a, b = self._live(p), self._live(q)
        if a is None or b is None:
            return 0
        fa = self._pfns(a, 0, 1 << 57)
        fb = self._pfns(b, 0, 1 << 57)
        return len(np.intersect1d(fa, fb, assume_unique=True)) * self.page_size



_QUIET: tuple[float, str | None] | None = None


def quiet_machine() -> str | None:
    """Return why the machine is too busy for system-wide values, or None: MemFree and
    Committed_AS sampled five times 20 ms apart must not move by more than 64 KiB (the verdict
    is kept for 10 s)."""
    global _QUIET
    now = _time.monotonic()
    if _QUIET is not None and now - _QUIET[0] < 10:
        return _QUIET[1]
    samples = []
    for i in range(5):
        if i:
            _time.sleep(0.02)
        samples.append(meminfo())
    why = None
    for key in ("MemFree", "Committed_AS"):
        values = [sample.get(key, 0) for sample in samples]
        if max(values) - min(values) > QUIET_BYTES:
            why = (f"the machine is not quiet: {key} moved by {(max(values) - min(values)) >> 10} KiB in "
                   "0.1 s with nothing of the scenario running")
            break
    _QUIET = (now, why)
    return why


def pool_bytes(m: MachineConfig) -> int:
    return sum(size * n for size, n in m.hugepages)


def _cachestat(path: str, size: int) -> int:
    """Return the bytes of a file in the page cache (the cachestat syscall, Linux 6.5+)."""
    import ctypes

    class Range(ctypes.Structure):
        _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]

    class Stat(ctypes.Structure):
        _fields_ = [("nr_cache", ctypes.c_uint64), ("nr_dirty", ctypes.c_uint64),
                    ("nr_writeback", ctypes.c_uint64), ("nr_evicted", ctypes.c_uint64),
                    ("nr_recently_evicted", ctypes.c_uint64)]

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        rng, st = Range(0, 0), Stat()
        if libc.syscall(451, fd, ctypes.byref(rng), ctypes.byref(st), 0) != 0:
            raise NotObservable(f"cachestat failed ({os.strerror(ctypes.get_errno())}); it needs Linux 6.5")
        return int(st.nr_cache) * 4096
    finally:
        os.close(fd)


