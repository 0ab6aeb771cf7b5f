"""Read what the kernel says about a process: /proc/PID/smaps, status, pagemap (and its
PAGEMAP_SCAN ioctl), oom files, and /proc/kpagecount for the frames behind a range
(``fs/proc/task_mmu.c``, ``fs/proc/page.c``).

Only the mappings a scenario made are counted (the agent program's own mappings are left out by
address), so a process's ``rss`` is the scenario's memory, not the agent's. Frame numbers in
pagemap need CAP_SYS_ADMIN; without it the readers that need them raise ``NotObservable``.
Ranges are read in chunks, so a large region costs bounded memory.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vmspec.checker.backend import NotObservable

PAGE = 4096
PRESENT = 1 << 63
SWAPPED = 1 << 62
FILE_OR_SHARED = 1 << 61
PFN_MASK = (1 << 55) - 1
CHUNK = 1 << 18  # pagemap entries read at a time (2 MiB of entries, 1 GiB of address space)
# PAGEMAP_SCAN (Linux 6.7+, include/uapi/linux/fs.h): the ranges of pages with given properties
PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg)
IS_PRESENT, IS_SWAPPED, IS_PFNZERO, IS_HUGE = 1 << 3, 1 << 4, 1 << 5, 1 << 6


@dataclass(slots=True)
class VMA:
    """One line of /proc/PID/smaps with the fields the host backend reads (sizes in bytes)."""

    start: int
    end: int
    perms: str
    offset: int
    inode: int
    path: str
    rss: int = 0
    anonymous: int = 0
    swap: int = 0
    anon_huge: int = 0
    hugetlb_bytes: int = 0  # Shared_Hugetlb + Private_Hugetlb
    kernel_page: int = PAGE

    @property
    def shmem(self) -> bool:
        """Shared anonymous memory (a shmem object): ``/dev/zero (deleted)`` or SysV."""
        return self.perms[3] == "s" and (self.path.startswith("/dev/zero") or self.path.startswith("/SYSV"))

    @property
    def file_backed(self) -> bool:
        return self.inode != 0 and not self.shmem

    @property
    def hugetlb(self) -> bool:
        return self.kernel_page > PAGE


def read_smaps(pid: int) -> list[VMA]:
    """Return every mapping of a process with its Rss, Anonymous, Swap and AnonHugePages."""
    out: list[VMA] = []
    with open(f"/proc/{pid}/smaps", "rb") as fh:
        data = fh.read().decode("ascii", "replace")
    cur: VMA | None = None
    for line in data.splitlines():
        head = line.split(None, 5)
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            lo, _, hi = head[0].partition("-")
            cur = VMA(int(lo, 16), int(hi, 16), head[1], int(head[2], 16), int(head[4]),
                      head[5] if len(head) > 5 else "")
            out.append(cur)
            continue
        if cur is None or len(head) < 2:
            continue
        key = head[0]
        if key == "Rss:":
            cur.rss = int(head[1]) * 1024
        elif key == "Anonymous:":
            cur.anonymous = int(head[1]) * 1024
        elif key == "Swap:":
            cur.swap = int(head[1]) * 1024
        elif key == "AnonHugePages:":
            cur.anon_huge = int(head[1]) * 1024
        elif key in ("Shared_Hugetlb:", "Private_Hugetlb:"):
            cur.hugetlb_bytes += int(head[1]) * 1024
        elif key == "KernelPageSize:":
            cur.kernel_page = int(head[1]) * 1024
    return out


def read_status(pid: int) -> dict[str, int]:
    """Return the kB fields of /proc/PID/status in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0]) * 1024
    return out


def read_int(path: str) -> int:
    """Return the integer in a /proc file."""
    with open(path) as fh:
        return int(fh.read().split()[0])


def write_int(path: str, value: int) -> None:
    """Write an integer to a /proc file; OSError carries the kernel's errno."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def pagemap(pid: int, start: int, end: int):
    """Yield (first page address, uint64 entries) chunks of /proc/PID/pagemap over [start, end)."""
    first, last = start // PAGE, (end + PAGE - 1) // PAGE
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    try:
        page = first
        while page < last:
            n = min(CHUNK, last - page)
            raw = os.pread(fd, n * 8, page * 8)
            yield page * PAGE, np.frombuffer(raw, dtype=np.uint64)
            page += n
    finally:
        os.close(fd)


def scan(pid: int, start: int, end: int, anyof: int) -> list[tuple[int, int, int]] | None:
    """Return (start, end, categories) of the pages of [start, end) with any of the ``anyof``
    properties (PAGEMAP_SCAN walks only populated page tables, so a sparse terabyte costs what
    its pages cost); None where the kernel has no PAGEMAP_SCAN."""
    import ctypes
    import fcntl

    class Arg(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64) for n in (
            "size", "flags", "start", "end", "walk_end", "vec", "vec_len", "max_pages",
            "category_inverted", "category_mask", "category_anyof_mask", "return_mask")]

    class Region(ctypes.Structure):
        _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("categories", ctypes.c_uint64)]

    out: list[tuple[int, int, int]] = []
    vec = (Region * 512)()
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    try:
        cur = start
        while cur < end:
            arg = Arg(ctypes.sizeof(Arg), 0, cur, end, 0, ctypes.addressof(vec), len(vec), 0, 0, 0,
                      anyof, IS_PRESENT | IS_SWAPPED | IS_PFNZERO | IS_HUGE)
            try:
                n = fcntl.ioctl(fd, PAGEMAP_SCAN, arg)
            except OSError:
                return None
            out.extend((int(vec[i].start), int(vec[i].end), int(vec[i].categories)) for i in range(n))
            if arg.walk_end <= cur:
                break
            cur = int(arg.walk_end)
    finally:
        os.close(fd)
    return out


class Frames:
    """Per-frame map counts from /proc/kpagecount, and the zero-page frames."""

    def __init__(self) -> None:
        self._zero: set[int] | None = None

    def zero_pfns(self) -> set[int]:
        """Return the frame numbers of the zero page and the huge zero page (if any is in use)."""
        if self._zero is None:
            self._zero = self._probe_zero()
        return self._zero

    @staticmethod
    def _probe_zero() -> set[int]:
        # Read never-written anonymous memory of our own: its PTE maps the zero page, and a read
        # of a 2 MiB-aligned MADV_HUGEPAGE range maps the huge zero page (when THP allows it).
        pfns: set[int] = set()
        small = mmap.mmap(-1, PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        try:
            small[0]  # noqa: B018 (the read is the point)
            pfn = _pfn_at(_mmap_address(small))
            if pfn:
                pfns.add(pfn)
        finally:
            small.close()
        big = mmap.mmap(-1, 4 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        try:
            addr = _mmap_address(big)
            huge = (addr + (2 << 20) - 1) & ~((2 << 20) - 1)
            try:
                big.madvise(mmap.MADV_HUGEPAGE, huge - addr, 2 << 20)
            except (AttributeError, OSError):
                pass
            big[huge - addr]  # noqa: B018
            pfn = _pfn_at(huge)
            if pfn and pfn not in pfns and pfn % 512 == 0:
                pfns.update(range(pfn, pfn + 512))  # the huge zero page's 512 frames
        finally:
            big.close()
        return pfns

    @staticmethod
    def counts(pfns: np.ndarray) -> np.ndarray:
        """Return kpagecount (map count) of each frame number."""
        return _per_pfn("/proc/kpagecount", pfns)


def _pfn_at(addr: int) -> int:
    """Return the frame number our own page at ``addr`` maps (0 if none or hidden)."""
    for _, entries in pagemap(os.getpid(), addr, addr + PAGE):
        e = int(entries[0])
        if e & PRESENT:
            return e & PFN_MASK
    return 0


def _mmap_address(m: mmap.mmap) -> int:
    """Return the address of a (writable) Python mmap object's mapping."""
    import ctypes

    ref = ctypes.c_char.from_buffer(m)
    try:
        return ctypes.addressof(ref)
    finally:
        del ref


def _per_pfn(path: str, pfns: np.ndarray) -> np.ndarray:
    """Read one uint64 per frame number from a /proc/kpage* file, in runs of adjacent frames."""
    out = np.zeros(len(pfns), dtype=np.uint64)
    if not len(pfns):
        return out
    order = np.argsort(pfns, kind="stable")
    sorted_pfns = pfns[order]
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise NotObservable(f"{path} is not readable ({exc.strerror}); it needs root") from None
    try:
        values = np.zeros(len(pfns), dtype=np.uint64)
        n = len(sorted_pfns)
        breaks = np.flatnonzero(np.diff(sorted_pfns.astype(np.int64)) > 64) + 1
        bounds = [0, *breaks.tolist(), n]
        for a, b in zip(bounds, bounds[1:]):
            lo, hi = int(sorted_pfns[a]), int(sorted_pfns[b - 1])
            raw = np.frombuffer(os.pread(fd, (hi - lo + 1) * 8, lo * 8), dtype=np.uint64)
            values[a:b] = raw[sorted_pfns[a:b].astype(np.int64) - lo]
        out[order] = values
    finally:
        os.close(fd)
    return out


def _populated(pid: int, ranges: list[tuple[int, int]], anyof: int) -> list[tuple[int, int]]:
    """Narrow address ranges to the runs PAGEMAP_SCAN finds populated (all of them without it)."""
    out = []
    for start, end in ranges:
        runs = scan(pid, start, end, anyof)
        if runs is None:
            out.append((start, end))
        else:
            out.extend((a, b) for a, b, _ in runs)
    return out


def present_pfns(pid: int, ranges: list[tuple[int, int]], zero: set[int]) -> np.ndarray:
    """Return the frame numbers mapped in the given address ranges (zero pages left out),
    one per mapped page in address order; NotObservable without CAP_SYS_ADMIN."""
    parts = []
    for start, end in _populated(pid, ranges, IS_PRESENT):
        for _, entries in pagemap(pid, start, end):
            pres = entries[(entries & np.uint64(PRESENT)) != 0]
            pfns = (pres & np.uint64(PFN_MASK)).astype(np.int64)
            if len(pfns) and not pfns.any():
                raise NotObservable("page frame numbers in /proc/PID/pagemap need CAP_SYS_ADMIN")
            if zero:
                pfns = pfns[~np.isin(pfns, np.fromiter(zero, dtype=np.int64))]
            parts.append(pfns)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def count_entries(pid: int, ranges: list[tuple[int, int]], bit: int, zero: set[int] | None = None) -> int:
    """Return how many pages of the ranges have ``bit`` set in pagemap (present pages that map a
    zero page are left out when ``zero`` is given)."""
    total = 0
    for start, end in _populated(pid, ranges, IS_PRESENT if bit == PRESENT else IS_SWAPPED):
        for _, entries in pagemap(pid, start, end):
            hit = entries[(entries & np.uint64(bit)) != 0]
            if zero and bit == PRESENT:
                pfns = (hit & np.uint64(PFN_MASK)).astype(np.int64)
                hit = hit[~np.isin(pfns, np.fromiter(zero, dtype=np.int64))]
            total += len(hit)
    return total


def pss_of(counts: np.ndarray) -> Fraction:
    """Return the proportional set size of pages with these map counts."""
    if not len(counts):
        return Fraction(0)
    vals, n = np.unique(counts[counts > 0], return_counts=True)
    return sum((Fraction(PAGE * int(c), int(v)) for v, c in zip(vals, n)), Fraction(0))
