"""Physical memory as numbered 4 KiB frames, with per-frame state in grow-on-demand arrays.

Models the page allocator's view of RAM: ``(ram - kernel) / page_size`` frames, each free or in
use as an anonymous page, a page-cache page (file or shmem) or a page-table page, with the state
Linux keeps in ``struct page`` that the engine needs: the mapcount (PTEs mapping the frame), flags
(anon, file, shmem, page table, dirty, PageAnonExclusive, readahead mark, and spare bits for the
LRU, mlock and the swap cache), an owner (pid of an anonymous or page-table frame, file id of a
page-cache frame), an index (virtual page of an anonymous frame, file page of a cache frame) and
an LRU stamp (arrival order, last access or clock position: ``vmspec.engine.lru``). Linux counterpart: ``mm/page_alloc.c`` (the free lists) and
``include/linux/mm_types.h`` (struct page), ENGINE-FACTS 2.2 for page tables taken from RAM.

Construction is O(1) in RAM size: arrays start small and double when a frame number beyond them is
handed out; freed frames go on a LIFO free stack and are reused before untouched frames. Host cost
is 26 bytes per frame ever used (plus the stack). Not modelled: zones, watermarks, buddy orders
(huge pages), the zero page (it is kernel memory: page tables hold the sentinel ``ZERO``).
"""

from __future__ import annotations

import numpy as np

NONE = -1  # "no frame" in a PTE array
ZERO = -2  # the shared zero page in a PTE array (never a frame of this table)

ANON = 1 << 0
FILE = 1 << 1  # in the page cache (a file page or a shmem page)
SHMEM = 1 << 2
PGTABLE = 1 << 3
DIRTY = 1 << 4
EXCL = 1 << 5  # PageAnonExclusive
READAHEAD = 1 << 6  # PG_readahead: the next fault here starts async readahead
MLOCKED = 1 << 7
ACTIVE = 1 << 8  # spare for the LRU lists (not used yet)
REFERENCED = 1 << 9  # the clock policy's reference bit (vmspec.engine.lru)
SWAPCACHE = 1 << 10  # in the swap cache (vmspec.engine.swap): the page also has a swap slot

_START = 1024


class FrameTable:
    """All frames of the machine: per-frame arrays plus a free stack and a high-water mark."""

    __slots__ = ("total", "mapcount", "flags", "owner", "index", "lru", "_stack", "_top", "hw",
                 "used", "cgid", "cur_cg", "cgs", "stamping", "tick", "arrive_flags", "pending_pos", "swap_hook", "pinned")

    def __init__(self, total: int) -> None:
        self.total = total
        n = min(_START, max(total, 1))
        self.mapcount = np.zeros(n, np.int32)
        self.flags = np.zeros(n, np.uint16)
        self.owner = np.zeros(n, np.int32)
        self.index = np.zeros(n, np.int64)
        self.lru = np.zeros(n, np.int64)
        self._stack = np.zeros(n, np.int64)
        self._top = 0  # frames on the free stack
        self.hw = 0  # frames [hw, total) have never been handed out
        self.used = 0
        # Replacement state (vmspec.engine.lru): ``lru[f]`` is stamped from ``tick`` when a frame
        # is handed out (arrival order); ``arrive_flags`` (REFERENCED under clock) is or-ed into
        # new frames' flags; ``pending_pos`` (clock) is a circle position the next frame takes
        # over from the page just evicted; ``swap_hook(f)`` takes a swap-cache frame out of the
        # swap cache when it is released; ``pinned`` frames are never chosen as victims.
        # memory cgroups (vmspec.engine.memcg): the group each frame is charged to (0: none),
        # the group of the process whose operation runs (None: unlimited), groups by id
        self.cgid = np.zeros(0, np.int32)  # grown with the others once a group exists
        self.cur_cg = None
        self.cgs: dict = {}
        self.stamping = False  # set for the textbook policies (twolist needs no arrival stamps)
        self.tick = 0
        self.arrive_flags = 0
        self.pending_pos = -1
        self.swap_hook = None
        self.pinned: set[int] = set()

    @property
    def free(self) -> int:
        """Return the number of free frames."""
        return self.total - self.used

    def _grow(self, need: int) -> None:
        """Grow the per-frame arrays so that frame numbers below ``need`` fit."""
        cap = len(self.mapcount)
        if need <= cap:
            return
        new = min(max(need, cap * 2), self.total)
        for name in ("mapcount", "flags", "owner", "index", "lru") + (("cgid",) if self.cgs else ()):
            old = getattr(self, name)
            arr = np.zeros(new, old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)

    def alloc(self, flags: int, owner: int, index: int) -> int:
        """Take one free frame (the last freed first) and set its state; -1 if none is free, or
        if the running process's memory cgroup is at its limit (user pages only)."""
        cg = self.cur_cg
        if cg is not None and not flags & PGTABLE:
            if cg.usage >= cg.limit:
                return -1
        else:
            cg = None
        if self._top:
            self._top -= 1
            f = int(self._stack[self._top])
        elif self.hw < self.total:
            f = self.hw
            self.hw += 1
            if f >= len(self.mapcount):
                self._grow(f + 1)
        else:
            return -1
        self.used += 1
        if self.stamping:
            self.flags[f] = flags | self.arrive_flags
            if self.pending_pos >= 0:
                self.lru[f] = self.pending_pos
                self.pending_pos = -1
            else:
                self.lru[f] = self.tick
            self.tick += 1
        else:
            self.flags[f] = flags
        self.owner[f] = owner
        self.index[f] = index
        self.mapcount[f] = 0
        if cg is not None:
            self.cgid[f] = cg.cid
            cg.usage += 1
        return f

    def alloc_many(self, n: int, flags: int, owner: int, index: np.ndarray) -> np.ndarray:
        """Take ``n`` frames in the order ``n`` calls of ``alloc`` would; the caller checks ``free``."""
        take = min(n, self._top)
        parts = []
        if take:
            parts.append(self._stack[self._top - take:self._top][::-1].copy())
            self._top -= take
        rest = n - take
        if rest:
            parts.append(np.arange(self.hw, self.hw + rest, dtype=np.int64))
            self.hw += rest
            self._grow(self.hw)
        out = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else \
            np.zeros(0, np.int64)
        self.used += n
        if self.stamping:
            self.flags[out] = flags | self.arrive_flags
            self.lru[out] = np.arange(self.tick, self.tick + n, dtype=np.int64)
            self.tick += n
        else:
            self.flags[out] = flags
        self.owner[out] = owner
        self.index[out] = index
        self.mapcount[out] = 0
        cg = self.cur_cg
        if cg is not None and not flags & PGTABLE:
            self.cgid[out] = cg.cid
            cg.usage += n
        return out

    def add_group(self, cg) -> None:
        """Register a memory cgroup; ``cgid`` is kept as long as the other arrays from now on."""
        if len(self.cgid) < len(self.mapcount):
            arr = np.zeros(len(self.mapcount), np.int32)
            arr[:len(self.cgid)] = self.cgid
            self.cgid = arr
        self.cgs[cg.cid] = cg

    def room(self, flags: int = 0) -> int:
        """Return how many frames ``alloc`` could hand out now (free frames, and the running
        process's memory cgroup's headroom for user pages)."""
        free = self.total - self.used
        cg = self.cur_cg
        if cg is not None and not flags & PGTABLE:
            return min(free, max(cg.limit - cg.usage, 0))
        return free

    def release(self, f: int) -> None:
        """Return one frame to the free stack."""
        if self.swap_hook is not None and self.flags[f] & SWAPCACHE:
            self.swap_hook(f)
        if self.cgs:
            cid = int(self.cgid[f])
            if cid:
                self.cgs[cid].usage -= 1
                self.cgid[f] = 0
        if self._top >= len(self._stack):
            self._grow_stack(self._top + 1)
        self._stack[self._top] = f
        self._top += 1
        self.used -= 1
        self.flags[f] = 0
        self.mapcount[f] = 0

    def release_many(self, frames: np.ndarray) -> None:
        """Return frames to the free stack in array order (as repeated ``release`` would)."""
        n = len(frames)
        if not n:
            return
        if self.swap_hook is not None:
            for f in frames[(self.flags[frames] & SWAPCACHE) != 0].tolist():
                self.swap_hook(f)
        if self.cgs:
            ids = self.cgid[frames]
            ids = ids[ids != 0]
            if len(ids):
                cids, counts = np.unique(ids, return_counts=True)
                for cid, c in zip(cids.tolist(), counts.tolist()):
                    self.cgs[cid].usage -= c
                self.cgid[frames] = 0
        if self._top + n > len(self._stack):
            self._grow_stack(self._top + n)
        self._stack[self._top:self._top + n] = frames
        self._top += n
        self.used -= n
        self.flags[frames] = 0
        self.mapcount[frames] = 0

    def _grow_stack(self, need: int) -> None:
        new = max(need, len(self._stack) * 2)
        arr = np.zeros(new, np.int64)
        arr[:self._top] = self._stack[:self._top]
        self._stack = arr

    def free_list(self) -> np.ndarray:
        """Return the frames on the free stack (for invariant checks)."""
        return self._stack[:self._top]
