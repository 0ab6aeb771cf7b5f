"""The reference VMA list: the rules of ``vmspec.engine.vma`` written as plainly as possible.

It defines what ``vmspec.engine.vma.VMAList`` does fast and is what the tests compare it with
(tests/engine/test_vma.py). The VMAs sit in one Python list sorted by start, rebuilt after every
change; ``find`` bisects, everything else scans: ``merge_around`` walks from the range's first VMA
to its end, and the unmapped-area searches walk the whole list from the top (top-down) or from
the bottom (bottom-up). Every operation is O(n) or worse, which is fine for a test oracle.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace

from vmspec.engine.layout import DEFAULT_MAP_WINDOW, MMAP_MIN_ADDR, STACK_GUARD_GAP
from vmspec.engine.vma import VMA, mergeable, unmapped_area


class VMAListRef:
    """The VMAs of one process in a plain list sorted by start (the reference)."""

    __slots__ = ("vmas", "_starts", "shift", "nhuge")

    def __init__(self, shift: int = 12) -> None:
        self.vmas: list[VMA] = []
        self._starts: list[int] = []
        self.shift = shift
        self.nhuge = 0  # hugetlb VMAs in the list (access paths take the page-size-aware route)

    def _reindex(self) -> None:
        self.vmas.sort(key=lambda v: v.start)
        self._starts = [v.start for v in self.vmas]
        self.nhuge = sum(1 for v in self.vmas if v.hugetlb)

    def __iter__(self):
        return iter(self.vmas)

    def __len__(self) -> int:
        return len(self.vmas)

    @property
    def total(self) -> int:
        """Return the bytes the VMAs span (VmSize)."""
        return sum(v.length for v in self.vmas)

    def copy(self) -> VMAListRef:
        """Return a deep copy (fork)."""
        new = VMAListRef(self.shift)
        new.vmas = [replace(v) for v in self.vmas]
        new._starts = list(self._starts)
        new.nhuge = self.nhuge
        return new

    def find(self, addr: int) -> VMA | None:
        """Return the VMA containing ``addr`` or None."""
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            v = self.vmas[i]
            if addr < v.end:
                return v
        return None

    def next_after(self, addr: int) -> VMA | None:
        """Return the first VMA starting after ``addr`` (the next one up), or None."""
        i = bisect_right(self._starts, addr)
        return self.vmas[i] if i < len(self.vmas) else None

    def overlapping(self, start: int, end: int) -> list[VMA]:
        """Return the VMAs intersecting ``[start, end)``, in address order."""
        i = max(bisect_right(self._starts, start) - 1, 0)
        out = []
        for v in self.vmas[i:]:
            if v.start >= end:
                break
            if v.end > start:
                out.append(v)
        return out

    def intersects(self, start: int, end: int) -> bool:
        """Return True if any VMA intersects ``[start, end)``."""
        return bool(self.overlapping(start, end))

    def insert(self, vma: VMA) -> VMA:
        """Add a VMA (the range must be free) and merge it with its neighbours; return the result."""
        self.vmas.append(vma)
        self._reindex()
        merged = self.merge_around(vma.start, vma.end)
        return merged if merged is not None else vma

    def split(self, start: int, end: int) -> list[VMA]:
        """Split VMAs so that none straddles ``start`` or ``end``; return those inside the range."""
        shift = self.shift
        for cut in (start, end):
            v = self.find(cut)
            if v is not None and v.start < cut:
                tail = replace(v, start=cut)
                if v.file is not None:
                    tail.pgoff = v.pgoff + ((cut - v.start) >> shift)
                elif v.hobj:
                    tail.pgoff = v.pgoff + (cut - v.start) // v.hugetlb
                v.end = cut
                self.vmas.append(tail)
                self._reindex()
        return self.overlapping(start, end)

    def remove(self, start: int, end: int) -> list[VMA]:
        """Unmap ``[start, end)`` from the list; return the removed pieces."""
        gone = self.split(start, end)
        if gone:
            ids = {id(v) for v in gone}
            self.vmas = [v for v in self.vmas if id(v) not in ids]
            self._reindex()
        return gone

    def merge_around(self, start: int, end: int) -> VMA | None:
        """Merge every VMA that starts in ``[start, end]`` into the VMA before it where the two are
        compatible (``vma_merge``); return the VMA at start."""
        out: list[VMA] = []
        for v in self.vmas:
            if out and start <= v.start <= end and mergeable(out[-1], v, self.shift):
                prev = out[-1]
                prev.end = v.end
                prev.anon_vma = prev.anon_vma or v.anon_vma
            else:
                out.append(v)
        self.vmas = out
        self._reindex()
        return self.find(start)

    def get_unmapped_area(self, length: int, high: int, page: int, thp_align: bool,
                          align: int = 0) -> int | None:
        """The placement rules of ``vma.unmapped_area`` over this list's plain gap searches."""
        return unmapped_area(length, high, page, thp_align, align, self._topdown_gap,
                             self._bottomup)

    def _gap_start(self, v: VMA) -> int:
        return v.start - STACK_GUARD_GAP if v.growsdown else v.start

    def _topdown_gap(self, length: int, high: int) -> int | None:
        """Return the end of the highest gap of at least ``length`` bytes below ``high``."""
        hi = high
        for v in reversed(self.vmas):
            lo_v = self._gap_start(v)
            if lo_v >= hi:
                continue
            if v.end >= hi:
                hi = lo_v
                continue
            if hi - max(v.end, MMAP_MIN_ADDR) >= length:
                return hi
            hi = lo_v
        if hi - MMAP_MIN_ADDR >= length:
            return hi
        return None

    def _bottomup(self, length: int, low: int) -> int | None:
        """Return the lowest address at or above ``low`` with ``length`` free bytes below the window."""
        addr = low
        for v in self.vmas:
            if v.end <= addr:
                continue
            if self._gap_start(v) - addr >= length:
                return addr
            addr = max(addr, v.end)
        if DEFAULT_MAP_WINDOW - addr >= length:
            return addr
        return None
