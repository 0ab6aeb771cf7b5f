"""Virtual memory areas of one process: lookup, split, merge and top-down placement.

Models ``struct vm_area_struct`` and the parts of ``mm/mmap.c``/``mm/vma.c`` that decide where
mappings go and how they are cut: a sorted list searched with bisect (``find_vma``), splitting at
a page boundary (``__split_vma``) for partial munmap/mprotect/madvise/mlock, merging of adjacent
compatible areas (``vma_merge``: same flags, contiguous file offsets, compatible ``anon_vma``),
and ``arch_get_unmapped_area_topdown`` below ``mmap_base`` with 6.18's 2 MiB alignment of
anonymous mappings whose length is a multiple of 2 MiB (``__thp_get_unmapped_area``, ENGINE-FACTS
1.5) and the bottom-up fallback from TASK_SIZE/3. Not modelled: address hints, MAP_FIXED,
stack growth (the stack VMA has its full limit from the start), mremap.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace

from vmspec.engine.layout import DEFAULT_MAP_WINDOW, MMAP_MIN_ADDR, PMD_SIZE, STACK_GUARD_GAP

R, W, X = 1, 2, 4
PROTS = {"none": 0, "r": R, "rw": R | W, "rx": R | X, "rwx": R | W | X}


@dataclass(slots=True)
class VMA:
    """One mapping ``[start, end)``. ``file`` is a page-cache file key (a shmem object for shared
    anonymous memory, ``shmem`` True), ``pgoff`` the file page at ``start``; ``account`` is
    VM_ACCOUNT (charged to Committed_AS); ``anon_vma`` is 0 until an anonymous page is faulted in
    (then an id shared by the pieces of a split); ``thp`` records MADV_(NO)HUGEPAGE."""

    start: int
    end: int
    prot: int
    shared: bool = False
    file: object = None
    pgoff: int = 0
    shmem: bool = False
    locked: bool = False
    noreserve: bool = False
    account: bool = False
    hugetlb: int = 0  # huge page size in bytes of a hugetlb mapping, else 0
    hobj: int = 0  # the hugetlbfs file of a hugetlb mapping (one per mmap); pgoff counts its huge pages
    hugetlb_owner: bool = False  # HPAGE_RESV_OWNER: the process that mapped it (not a fork child)
    thp: str | None = None
    advice: str | None = None
    anon_vma: int = 0
    growsdown: bool = False
    name: str = ""
    ra: object = None  # the readahead state of the open file it maps (vmspec.engine.readahead)

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def writable(self) -> bool:
        return bool(self.prot & W)

    @property
    def anonymous(self) -> bool:
        """True for private anonymous memory (no file, not shmem)."""
        return self.file is None

    def file_page(self, va: int, shift: int = 12) -> int:
        """Return the file page index mapped at ``va``."""
        return self.pgoff + ((va - self.start) >> shift)


def mergeable(a: VMA, b: VMA, shift: int = 12) -> bool:
    """Return True if ``b`` directly follows ``a`` and both may be one VMA (``vma_merge``)."""
    if a.end != b.start:
        return False
    if (a.prot, a.shared, a.file, a.shmem, a.locked, a.noreserve, a.account, a.hugetlb, a.hobj,
            a.thp, a.growsdown) != (b.prot, b.shared, b.file, b.shmem, b.locked, b.noreserve,
                                    b.account, b.hugetlb, b.hobj, b.thp, b.growsdown):
        return False
    if a.hobj and a.pgoff + (a.length // a.hugetlb) != b.pgoff:
        return False
    if a.growsdown:
        return False
    if a.file is not None and (a.pgoff + (a.length >> shift) != b.pgoff or a.ra is not b.ra):
        return False  # another open of the file is another struct file: no merge
    return a.anon_vma == b.anon_vma or not a.anon_vma or not b.anon_vma


class VMAList:
    """The VMAs of one process, sorted by start."""

    __slots__ = ("vmas", "_starts", "shift", "nhuge", "observer")

    def __init__(self, shift: int = 12) -> None:
        self.vmas: list[VMA] = []
        self._starts: list[int] = []
        self.shift = shift
        self.nhuge = 0  # hugetlb VMAs in the list (access paths take the page-size-aware route)
        # told of every VMA object that joins or leaves the list (the files' i_mmap,
        # vmspec.engine.rmap.VMAObserver): ``added(vma)``, ``dropped(vma)``
        self.observer = None

    def attach(self, observer) -> None:
        """Tell ``observer`` of every VMA now in the list and of every later change."""
        self.observer = observer
        for v in self.vmas:
            observer.added(v)

    def detach(self) -> None:
        """Tell the observer every VMA is gone (exit) and stop telling it anything."""
        if self.observer is not None:
            for v in self.vmas:
                self.observer.dropped(v)
        self.observer = None

    def _reindex(self) -> None:
        self.vmas.sort(key=lambda v: v.start)
        self._starts = [v.start for v in self.vmas]
        self.nhuge = sum(1 for v in self.vmas if v.hugetlb)

    def __iter__(self):
        return iter(self.vmas)

    def __len__(self) -> int:
        return len(self.vmas)

    def copy(self) -> VMAList:
        """Return a deep copy (fork)."""
        new = VMAList(self.shift)
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
        if self.observer is not None:
            self.observer.added(vma)
        self._reindex()
        return self.merge_around(vma.start, vma.end)

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
                if self.observer is not None:
                    self.observer.added(tail)
                self._reindex()
        return self.overlapping(start, end)

    def remove(self, start: int, end: int) -> list[VMA]:
        """Unmap ``[start, end)`` from the list; return the removed pieces."""
        gone = self.split(start, end)
        if gone:
            if self.observer is not None:
                for v in gone:
                    self.observer.dropped(v)
            ids = {id(v) for v in gone}
            self.vmas = [v for v in self.vmas if id(v) not in ids]
            self._reindex()
        return gone

    def merge_around(self, start: int, end: int) -> VMA | None:
        """Merge compatible neighbours among the VMAs touching ``[start, end]``; return the VMA at start."""
        i = max(bisect_right(self._starts, start) - 2, 0)
        j = i
        out: list[VMA] = self.vmas[:i]
        while j < len(self.vmas):
            v = self.vmas[j]
            if out and v.start <= end and mergeable(out[-1], v, self.shift):
                prev = out[-1]
                prev.end = v.end
                prev.anon_vma = prev.anon_vma or v.anon_vma
                if self.observer is not None:
                    self.observer.dropped(v)
            else:
                out.append(v)
            j += 1
        self.vmas = out
        self._reindex()
        return self.find(start)

    def get_unmapped_area(self, length: int, high: int, page: int, thp_align: bool,
                          align: int = 0) -> int | None:
        """Pick an address for a new mapping top-down below ``high``, else bottom-up (None: no room).

        With ``thp_align`` the search first asks for ``length + 2 MiB`` and places the mapping at
        ``round_down(gap_end - length, 2 MiB)``, as 6.18's ``__thp_get_unmapped_area`` ends up
        doing for a top-down layout (ENGINE-FACTS 1.5). ``align`` (a huge page size) places a
        hugetlb mapping on that boundary."""
        if length <= 0 or length > DEFAULT_MAP_WINDOW - MMAP_MIN_ADDR:
            return None
        if thp_align:
            end = self._topdown_gap(length + PMD_SIZE, high)
            if end is not None:
                return (end - length) & ~(PMD_SIZE - 1)
        if align > page:
            # vm_unmapped_area with an align_mask (hugetlb_get_unmapped_area): a gap of
            # length + align - PAGE_SIZE, placed at its top rounded down; bottom-up: rounded up.
            end = self._topdown_gap(length + align - page, high)
            if end is not None:
                return (end - length) & ~(align - 1)
            low = self._bottomup(length + align - page,
                                 (DEFAULT_MAP_WINDOW // 3 + page - 1) & ~(page - 1))
            return None if low is None else (low + align - 1) & ~(align - 1)
        end = self._topdown_gap(length, high)
        if end is not None:
            return end - length
        return self._bottomup(length, (DEFAULT_MAP_WINDOW // 3 + page - 1) & ~(page - 1))

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
