"""The page tables of one process: PTE tables as numpy arrays, upper levels as table frames.

x86-64 4- and 5-level paging (``__handle_mm_fault``'s ``p4d_alloc``/``pud_alloc``/``pmd_alloc``/
``pte_alloc``, ``free_pgtables`` and 6.18's ``CONFIG_PT_RECLAIM`` in ``mm/memory.c``). A PTE table
is a dict entry keyed by ``va >> 21`` holding an ``int64[512]`` of frame numbers (``NONE``,
``ZERO``, a frame, or a swap entry ``-2 - slot``) and ``bool[512]`` write, accessed and dirty
bits; hugetlb leaves live in ``huge[21]``/``huge[30]``, transparent huge PMDs in ``thp``.
``nbytes`` is VmPTE (``mm->pgtables_bytes``). Rules: docs/engine.md, "Page tables".
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from vmspec.engine.frames import NONE
from vmspec.engine.swap import SWP_FIRST, decode

PTE_SHIFT, PMD_SHIFT, PUD_SHIFT, P4D_SHIFT = 21, 30, 39, 48  # span of one table at each level
TABLE_BYTES = 4096


class PageTable:
    """All page tables of one address space. Upper levels map a table key to the table's frame."""

    __slots__ = ("levels", "pfn", "wr", "young", "dirty", "ptf", "pmd", "pud", "p4d", "huge",
                 "thp", "deposit")

    def __init__(self, levels: int) -> None:
        self.levels = levels
        self.pfn: dict[int, np.ndarray] = {}  # va >> 21 -> frames of the 512 PTEs
        self.wr: dict[int, np.ndarray] = {}  # va >> 21 -> write bit of the 512 PTEs
        self.young: dict[int, np.ndarray] = {}  # va >> 21 -> accessed bit (_PAGE_ACCESSED)
        self.dirty: dict[int, np.ndarray] = {}  # va >> 21 -> dirty bit (_PAGE_DIRTY)
        self.ptf: dict[int, int] = {}  # va >> 21 -> frame holding the PTE table
        self.pmd: dict[int, int] = {}  # va >> 30 -> frame holding the PMD table
        self.pud: dict[int, int] = {}  # va >> 39 -> frame holding the PUD table
        self.p4d: dict[int, int] = {}  # va >> 48 -> frame holding the P4D table (5-level)
        # hugetlb leaves: shift -> {va >> shift: (huge page id, writable)}
        self.huge: dict[int, dict[int, tuple[int, bool]]] = {21: {}, 30: {}}
        # transparent huge pages (vmspec.engine.thp): va >> 21 -> PMDLeaf, and the PTE table
        # deposited with each (pgtable_trans_huge_deposit), counted in VmPTE
        self.thp: dict = {}
        self.deposit: dict[int, int] = {}

    @property
    def nbytes(self) -> int:
        """Return VmPTE in bytes: PUD, PMD and PTE tables (``pgtables_bytes``; P4D tables are not
        accounted in ``pgtables_bytes``)."""
        return TABLE_BYTES * (len(self.ptf) + len(self.deposit) + len(self.pmd) + len(self.pud))

    @property
    def nframes(self) -> int:
        """Return how many frames the tables take (every table but the PGD, P4D included)."""
        return len(self.ptf) + len(self.deposit) + len(self.pmd) + len(self.pud) + len(self.p4d)

    def missing(self, key: int) -> int:
        """Return how many tables a fault under PTE-table ``key`` would allocate."""
        if key in self.ptf:
            return 0
        n = 1 + (key >> 9 not in self.pmd) + (key >> 18 not in self.pud)
        if self.levels == 5:
            n += key >> 27 not in self.p4d
        return n

    def ensure(self, key: int, alloc: Callable[[int], int]) -> tuple[np.ndarray, np.ndarray]:
        """Return the PTE arrays for ``key``, allocating missing tables top-down with ``alloc(level)``."""
        t = self.pfn.get(key)
        if t is not None:
            return t, self.wr[key]
        if self.levels == 5 and key >> 27 not in self.p4d:
            self.p4d[key >> 27] = alloc(4)
        if key >> 18 not in self.pud:
            self.pud[key >> 18] = alloc(3)
        if key >> 9 not in self.pmd:
            self.pmd[key >> 9] = alloc(2)
        self.ptf[key] = alloc(1)
        t = np.full(512, NONE, np.int64)
        w = np.zeros(512, np.bool_)
        self.pfn[key] = t
        self.wr[key] = w
        self.young[key] = np.zeros(512, np.bool_)
        self.dirty[key] = np.zeros(512, np.bool_)
        return t, w

    def install(self, key: int, frame: int) -> None:
        """Put the (preallocated) table ``frame`` under PMD ``key``, whose upper tables exist."""
        self.ptf[key] = frame
        self.pfn[key] = np.full(512, NONE, np.int64)
        self.wr[key] = np.zeros(512, np.bool_)
        self.young[key] = np.zeros(512, np.bool_)
        self.dirty[key] = np.zeros(512, np.bool_)

    def ensure_upper(self, level: int, key: int, alloc: Callable[[int], int]) -> None:
        """Make sure the level-``level`` table with ``key`` (2 PMD, 3 PUD, 4 P4D) and its parents exist."""
        if self.levels == 5 and level <= 3 and key >> (9 * (4 - level)) not in self.p4d:
            self.p4d[key >> (9 * (4 - level))] = alloc(4)
        if level <= 2 and key >> 9 not in self.pud:
            self.pud[key >> 9] = alloc(3)
        table = {2: self.pmd, 3: self.pud, 4: self.p4d}[level]
        if key not in table:
            table[key] = alloc(level)

    def keys_in(self, start: int, end: int) -> list[int]:
        """Return the PTE-table keys with a table that intersect ``[start, end)``, ascending."""
        lo, hi = start >> PTE_SHIFT, (end - 1) >> PTE_SHIFT
        if hi - lo + 1 <= len(self.pfn):
            return [k for k in range(lo, hi + 1) if k in self.pfn]
        return sorted(k for k in self.pfn if lo <= k <= hi)

    def slices(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Yield ``(key, i0, i1)`` for every PTE table that intersects ``[start, end)``, in address
        order: slots ``[i0, i1)`` of table ``key`` are the pages a byte of the range is in (an
        unaligned start or end takes its whole page; an empty range, none). The one walk over a
        range's PTEs."""
        if end <= start:
            return
        for key in self.keys_in(start, end):
            lo = max(start, key << PTE_SHIFT)
            hi = min(end, (key + 1) << PTE_SHIFT)
            yield key, (lo >> 12) & 511, (((hi - 1) >> 12) & 511) + 1

    # ---- what a range maps ----------------------------------------------------------------------

    def frames_in(self, start: int, end: int, thp: bool = True) -> np.ndarray:
        """Return the frames (not the zero page) mapped in ``[start, end)``, address order
        (``thp``: with the pages of huge PMDs)."""
        out = []
        for key, i0, i1 in self.slices(start, end):
            seg = self.pfn[key][i0:i1]
            out.append(seg[seg >= 0])
        if thp and self.thp:
            out.append(self.thp_frames_in(start, end))
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def swap_entries_in(self, start: int, end: int) -> np.ndarray:
        """Return the swap slots of the swap entries in ``[start, end)``, address order."""
        out = []
        for key, i0, i1 in self.slices(start, end):
            seg = self.pfn[key][i0:i1]
            out.append(decode(seg[seg <= SWP_FIRST]))
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def thp_leaves_in(self, start: int, end: int) -> list[int]:
        """Return the keys (va >> 21) of the huge PMDs that a byte of ``[start, end)`` is in,
        ascending."""
        if not self.thp or end <= start:
            return []
        lo, hi = start >> 21, (end - 1) >> 21
        if hi - lo + 1 <= len(self.thp):
            return [k for k in range(lo, hi + 1) if k in self.thp]
        return sorted(k for k in self.thp if lo <= k <= hi)

    def thp_frames_in(self, start: int, end: int) -> np.ndarray:
        """Return the frames of the huge pages mapped by PMD in ``[start, end)``, address order."""
        out = []
        for key in self.thp_leaves_in(start, end):
            leaf = self.thp[key]
            if leaf.head < 0:
                continue
            lo = max(start, key << 21)
            hi = min(end, (key + 1) << 21)
            out.append(leaf.subs[(lo >> 12) & 511:(((hi - 1) >> 12) & 511) + 1])
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def thp_bytes_in(self, start: int, end: int) -> int:
        """Return the bytes of anonymous transparent huge pages (not the huge zero page) mapped
        by PMD that a byte of ``[start, end)`` is in (smaps AnonHugePages)."""
        return sum(1 << 21 for k in self.thp_leaves_in(start, end)
                   if self.thp[k].head >= 0 and not self.thp[k].file)

    def huge_pages_in(self, start: int, end: int) -> dict[int, set[int]]:
        """Return, per leaf shift (21, 30), the hugetlb page ids mapped that a byte of
        ``[start, end)`` is in."""
        out: dict[int, set[int]] = {}
        for shift, leaves in self.huge.items():
            lo, hi = start >> shift, (end - 1) >> shift
            out[shift] = {page for k, (page, _) in leaves.items() if lo <= k <= hi} \
                if end > start else set()
        return out

    def drop_pte_table(self, key: int) -> int:
        """Forget one (empty) PTE table and return its frame."""
        del self.pfn[key]
        del self.wr[key]
        del self.young[key]
        del self.dirty[key]
        return self.ptf.pop(key)

    def free_tables(self, start: int, end: int, in_use: Callable[[int, int], bool]) -> list[int]:
        """Free tables intersecting ``[start, end)`` whose whole span no VMA uses (``free_pgtables``).

        ``in_use(lo, hi)`` says whether a VMA intersects ``[lo, hi)``. Return the freed frames,
        lowest level first."""
        freed: list[int] = []
        for level, shift, table in ((1, PTE_SHIFT, self.ptf), (2, PMD_SHIFT, self.pmd),
                                    (3, PUD_SHIFT, self.pud), (4, P4D_SHIFT, self.p4d)):
            if not table:
                continue
            lo, hi = start >> shift, (end - 1) >> shift
            if hi - lo + 1 <= len(table):
                keys = [k for k in range(lo, hi + 1) if k in table]
            else:
                keys = sorted(k for k in table if lo <= k <= hi)
            for k in keys:
                if in_use(k << shift, (k + 1) << shift):
                    continue
                if level == 1:
                    freed.append(self.drop_pte_table(k))
                else:
                    freed.append(table.pop(k))
        return freed

    def all_frames(self) -> list[int]:
        """Return every table frame (exit)."""
        return [*self.ptf.values(), *self.deposit.values(), *self.pmd.values(), *self.pud.values(),
                *self.p4d.values()]
