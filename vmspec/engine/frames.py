"""Physical memory as numbered 4 KiB frames, with per-frame state in grow-on-demand arrays.

The page allocator's free pool (``mm/page_alloc.c``: ``rmqueue``, ``free_unref_page``) and the
parts of ``struct page`` the engine needs: mapcount, flags, owner, index and LRU state (memory
cgroup charges are in ``vmspec.engine.memcg``, large folios in ``vmspec.engine.folio``).
Construction is O(1) in RAM size; freed frames go on a LIFO stack and are reused before untouched
ones. Watermarks, reclaim and the OOM killer live in ``vmspec.engine.page_alloc``.

Not modelled: zones (one per machine), buddy orders, the zero page's frame (kernel memory: page
tables hold the sentinel ``ZERO``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from vmspec.engine.folio import Folios
from vmspec.engine.lruvec import INACTIVE_ANON, INACTIVE_FILE, LRULists
from vmspec.engine.memcg import Charges, Memcg

NONE = -1  # "no frame" in a PTE array
ZERO = -2  # the shared zero page in a PTE array (never a frame of this table)

ANON = 1 << 0
FILE = 1 << 1  # in the page cache (a file page or a shmem page)
SHMEM = 1 << 2
PGTABLE = 1 << 3
DIRTY = 1 << 4
EXCL = 1 << 5  # PageAnonExclusive
READAHEAD = 1 << 6  # PG_readahead: the next fault here starts async readahead
REFERENCED = 1 << 7  # PG_referenced (twolist), the reference bit (textbook clock)
ACTIVE = 1 << 8  # PG_active: on an active list (twolist)
SWAPCACHE = 1 << 9  # in the swap cache (vmspec.engine.swap): the page also has a swap slot

_START = 1024


def lru_type(flags: int) -> int:
    """Return the inactive list a user page of ``flags`` belongs on: anonymous pages, shmem and
    the swap cache are swap-backed (the anon lists), other page-cache pages file-backed."""
    return INACTIVE_FILE if flags & FILE and not flags & SHMEM else INACTIVE_ANON


def rss_kinds(flags: np.ndarray) -> tuple[int, int, int]:
    """Return how many pages with these ``flags`` count as anonymous, file and shmem RSS
    (``MM_ANONPAGES``, ``MM_FILEPAGES``, ``MM_SHMEMPAGES``: ``mm_counter_file``)."""
    anon = int(np.count_nonzero(flags & ANON))
    shmem = int(np.count_nonzero(flags & SHMEM))
    return anon, len(flags) - anon - shmem, shmem


class FrameTable:
    """All frames of the machine: per-frame arrays, a free stack and a high-water mark."""

    __slots__ = ("total", "mapcount", "flags", "owner", "index", "_stack", "_top", "hw",
                 "used", "charges", "lists", "folios", "arrive_flags", "swap_hook", "pinned",
                 "content")

    def __init__(self, total: int, swap_hook: Callable[[int], object] | None = None) -> None:
        self.total = total
        n = min(_START, max(total, 1))
        self.mapcount = np.zeros(n, np.int32)
        self.flags = np.zeros(n, np.uint16)
        self.owner = np.zeros(n, np.int32)
        self.index = np.zeros(n, np.int64)
        self._stack = np.zeros(n, np.int64)
        self._top = 0  # frames on the free stack
        self.hw = 0  # frames [hw, total) have never been handed out
        self.used = 0
        # per concern: memory cgroup charges (vmspec.engine.memcg), the LRU lists
        # (vmspec.engine.lruvec), large folios (vmspec.engine.folio)
        self.charges = Charges()
        self.lists = LRULists(n)
        self.folios = Folios()
        self.arrive_flags = 0  # or-ed into a new user page's flags (the clock policy's bit)
        self.swap_hook = swap_hook  # takes a swap-cache frame out of the swap cache when freed
        self.pinned: set[int] = set()  # frames reclaim must not take (a copy-on-write source)
        self.content: np.ndarray | None = None  # page contents, when the System tracks them

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
        names = ("mapcount", "flags", "owner", "index") + \
            (("content",) if self.content is not None else ())
        for name in names:
            old = getattr(self, name)
            arr = np.zeros(new, old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)
        self.charges.grow(cap, new)
        self.folios.grow(cap, new)
        self.lists.grow(new)

    def alloc(self, flags: int, owner: int, index: int) -> int:
        """Take one free frame (the last freed first), set its state and put a user page on the
        LRU; -1 if none is free, or if the running process's memory cgroup is at its limit
        (user pages only)."""
        cg = self.charges.group_for(not flags & PGTABLE)
        if cg is not None and cg.usage >= cg.limit:
            return -1
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
        if self.content is not None:
            self.content[f] = 0
        self.owner[f] = owner
        self.index[f] = index
        self.mapcount[f] = 0
        cid = 0
        if cg is not None:
            cid = cg.cid
            self.charges.charge(f, cg, 1)
        if flags & (ANON | FILE):
            flags |= self.arrive_flags
            self.flags[f] = flags
            self.lists.add(f, lru_type(flags), cid)
        else:
            self.flags[f] = flags
        return f

    def alloc_many(self, n: int, flags: int, owner: int, index: np.ndarray,
                   lru: bool = True) -> np.ndarray:
        """Take ``n`` user-page frames in the order ``n`` calls of ``alloc`` would (on the LRU
        one by one unless ``lru`` is False); the caller checks ``room``."""
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
        if self.content is not None:
            self.content[out] = 0
        flags |= self.arrive_flags
        self.flags[out] = flags
        self.owner[out] = owner
        self.index[out] = index
        self.mapcount[out] = 0
        cg = self.charges.group_for(not flags & PGTABLE)
        cid = 0
        if cg is not None:
            cid = cg.cid
            self.charges.charge(out, cg, n)
        if lru:
            self.lists.add_many(out, lru_type(flags), cid)
        return out

    def alloc_folio(self, flags: int, owner: int, index: np.ndarray) -> np.ndarray:
        """Take ``len(index)`` frames (2 to 512) as one large folio, one LRU entry counting
        all its pages: a transparent huge page, or a page-cache folio of readahead. The caller
        checks ``room``. Return its frames in index order, the head first."""
        n = len(index)
        subs = self.alloc_many(n, flags, owner, index, lru=False)
        head = self.folios.add(subs, len(self.mapcount))
        self.lists.large[head] = n
        self.lists.add(head, lru_type(flags), self.cid_of(head))
        return subs

    def release_folio(self, head: int) -> None:
        """Free a large folio: its one LRU entry, then its frames."""
        lists = self.lists
        if lists.where[head] != -1:
            lists.remove(head, self.cid_of(head))  # one entry of len(subs) pages
        subs = self.folios.forget(head)
        del lists.large[head]
        self.release_many(subs)

    def head_of(self, f: int) -> int:
        """Return the head frame of ``f``'s large folio, or ``f`` for a page of its own."""
        return self.folios.head_of(f)

    def heads_of(self, frames: np.ndarray) -> np.ndarray:
        """Return each frame's large folio head, or -1 for a page of its own."""
        return self.folios.heads_of(frames)

    def add_group(self, cg: Memcg) -> None:
        """Register a memory cgroup: its charges and its own LRU lists."""
        self.charges.add(cg, len(self.mapcount))
        self.lists.vec(cg.cid)

    def cid_of(self, f: int) -> int:
        """Return the memory cgroup frame ``f`` is charged to (0: none)."""
        return self.charges.cid_of(f)

    def room(self, flags: int = 0) -> int:
        """Return how many frames ``alloc`` could hand out now (free frames, and the running
        process's memory cgroup's headroom for user pages)."""
        free = self.total - self.used
        cg = self.charges.group_for(not flags & PGTABLE)
        if cg is not None:
            return min(free, max(cg.limit - cg.usage, 0))
        return free

    def release(self, f: int) -> None:
        """Return one frame to the free stack (off its LRU list, out of the swap cache)."""
        fl = int(self.flags[f])
        if self.swap_hook is not None and fl & SWAPCACHE:
            self.swap_hook(f)
        cid = self.charges.uncharge(f)
        lists = self.lists
        if lists.where[f] != -1:
            lists.remove(f, cid)
        if lists.mlock is not None:
            lists.mlock[f] = 0
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
        self.lists.remove_many(frames, self.charges.uncharge_many(frames))
        if self.lists.mlock is not None:
            self.lists.mlock[frames] = 0
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
