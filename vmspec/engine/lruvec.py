"""The LRU lists: per memory cgroup (and one for the machine) five lists of frames, O(1) per page.

``struct lruvec`` (``include/linux/mmzone.h``) and the list operations of ``mm/swap.c`` and
``include/linux/mm_inline.h`` (``folio_add_lru``, ``lruvec_del_folio``), plus mlock counts
(``mm/mlock.c``). Each list is a :class:`PageQueue` with lazy removal; reclaim
(``vmspec.engine.vmscan``) and the textbook policies (``vmspec.engine.replacement``) work on these
lists. Rules and costs: docs/engine.md, "Reclaim" (*Lists*).

Not modelled: per-CPU batches (``lru_add_drain``: every size is exact), zones, MGLRU
(``CONFIG_LRU_GEN``), ``PG_workingset`` and refault detection (``mm/workingset.c``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

INACTIVE_ANON, ACTIVE_ANON, INACTIVE_FILE, ACTIVE_FILE, UNEVICTABLE = 0, 1, 2, 3, 4
NR_LISTS = 5
EVICTABLE = (INACTIVE_ANON, ACTIVE_ANON, INACTIVE_FILE, ACTIVE_FILE)  # for_each_evictable_lru
NOT_ON_LIST = -1  # free, a page table, or not on any list
ISOLATED = -2  # taken off its list by reclaim for the moment (isolate_lru_folios)
LIST_NAMES = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")

_TRIM = 1024  # a list-backed head chunk drops its consumed prefix once it is this long


def is_file_list(lid: int) -> bool:
    """Return True for the file lists (``is_file_lru``)."""
    return lid in (INACTIVE_FILE, ACTIVE_FILE)


def is_active_list(lid: int) -> bool:
    """Return True for the active lists (``is_active_lru``)."""
    return lid in (ACTIVE_ANON, ACTIVE_FILE)


class PageQueue:
    """One list's frames, oldest first, with lazy removal (see the module docstring).

    ``chunks`` holds ``[frames, seqs, start]`` triples; ``frames``/``seqs`` are numpy arrays (a
    bulk add) or Python lists (single adds, appended in place); ``start`` is the first entry not
    consumed yet."""

    __slots__ = ("lid", "chunks", "tail", "entries")

    def __init__(self, lid: int) -> None:
        self.lid = lid
        self.chunks: deque[list] = deque()
        self.tail: list | None = None  # the last chunk if it is list-backed (appendable)
        self.entries = 0  # entries held, live or stale

    def push(self, f: int, s: int) -> None:
        """Append one frame as the newest entry."""
        c = self.tail
        if c is None:
            c = self.tail = [[], [], 0]
            self.chunks.append(c)
        c[0].append(f)
        c[1].append(s)
        self.entries += 1

    def push_front(self, f: int, s: int) -> None:
        """Put one frame before every entry (the oldest: reclaimed next)."""
        self.chunks.appendleft([[f], [s], 0])
        self.entries += 1

    def push_many(self, frames: np.ndarray, seqs: np.ndarray) -> None:
        """Append frames (in order) as the newest entries."""
        if len(frames):
            self.chunks.append([frames, seqs, 0])
            self.tail = None
            self.entries += len(frames)

    def _head(self) -> list | None:
        """Return the first chunk with entries left (list-backed), dropping consumed chunks."""
        chunks = self.chunks
        while chunks:
            c = chunks[0]
            fs = c[0]
            if c[2] < len(fs):
                if not isinstance(fs, list):
                    c[0], c[1] = fs[c[2]:].tolist(), c[1][c[2]:].tolist()
                    c[2] = 0
                elif c[2] >= _TRIM and c[2] * 2 >= len(fs):
                    del fs[:c[2]]
                    del c[1][:c[2]]
                    c[2] = 0
                return c
            chunks.popleft()
            if c is self.tail:
                self.tail = None
        return None

    def first(self, where: np.ndarray, seq: np.ndarray) -> int:
        """Return the oldest live frame without taking it, or -1 (stale entries ahead are dropped)."""
        lid = self.lid
        while True:
            c = self._head()
            if c is None:
                return -1
            fs, ss, i = c
            n = len(fs)
            while i < n:
                f = fs[i]
                if where[f] == lid and seq[f] == ss[i]:
                    c[2] = i
                    return f
                i += 1
                self.entries -= 1
            c[2] = i

    def live(self, where: np.ndarray, seq: np.ndarray):
        """Yield the live frames, oldest first (the caller must not change the queue meanwhile)."""
        lid = self.lid
        for fs, ss, start in self.chunks:
            if isinstance(fs, list):
                for i in range(start, len(fs)):
                    f = fs[i]
                    if where[f] == lid and seq[f] == ss[i]:
                        yield f
            else:
                part, ps = fs[start:], ss[start:]
                ok = (where[part] == lid) & (seq[part] == ps)
                yield from part[ok].tolist()

    def take(self, k: int, where: np.ndarray, seq: np.ndarray, large: dict) -> list[int]:
        """Remove and return live frames, oldest first, until they hold ``k`` pages (a huge
        folio's head holds 512: ``isolate_lru_folios`` counts base pages)."""
        out: list[int] = []
        lid = self.lid
        pages = 0
        while pages < k:
            c = self._head()
            if c is None:
                break
            fs, ss, i = c
            n = len(fs)
            while i < n and pages < k:
                f = fs[i]
                if where[f] == lid and seq[f] == ss[i]:
                    out.append(f)
                    pages += large.get(f, 1) if large else 1
                i += 1
                self.entries -= 1
            c[2] = i
        return out

    def compact(self, where: np.ndarray, seq: np.ndarray) -> None:
        """Drop every stale entry (one pass over the queue)."""
        fs, ss = [], []
        for f, s, start in self.chunks:
            fs.append(np.asarray(f[start:], dtype=np.int64))
            ss.append(np.asarray(s[start:], dtype=np.int64))
        self.chunks.clear()
        self.tail = None
        self.entries = 0
        if not fs:
            return
        f = np.concatenate(fs)
        s = np.concatenate(ss)
        ok = (where[f] == self.lid) & (seq[f] == s)
        self.push_many(f[ok], s[ok])


class LRUVec:
    """The lists of one memory cgroup (``cid`` >= 1) or of the machine (``cid`` 0), with the
    reclaim cost history ``get_scan_count`` balances on (``lruvec->anon_cost``/``file_cost``)."""

    __slots__ = ("cid", "queues", "count", "anon_cost", "file_cost")

    def __init__(self, cid: int) -> None:
        self.cid = cid
        self.queues = tuple(PageQueue(lid) for lid in range(NR_LISTS))
        self.count = [0] * NR_LISTS
        self.anon_cost = 0
        self.file_cost = 0

    def evictable_size(self) -> int:
        """Return the pages on the four evictable lists."""
        c = self.count
        return c[0] + c[1] + c[2] + c[3]


class LRULists:
    """Every LRU list of the machine and the per-frame list state.

    ``where[f]`` is the list frame ``f`` is on (``NOT_ON_LIST``, ``ISOLATED`` or a list id) and
    ``seq[f]`` the sequence number it was added with; the lruvec of a frame is its memory
    cgroup's (``cgid``, 0: the machine's). ``total`` sums each list over every lruvec (what
    /proc/meminfo shows). ``observer`` (the ``random`` policy) hears of every add and removal."""

    __slots__ = ("where", "seq", "vecs", "total", "tick", "front", "observer", "mlock", "large")

    def __init__(self, capacity: int) -> None:
        self.where = np.full(capacity, NOT_ON_LIST, np.int8)
        self.seq = np.zeros(capacity, np.int64)
        self.vecs: dict[int, LRUVec] = {0: LRUVec(0)}
        self.total = [0] * NR_LISTS
        self.tick = 0
        self.front = -1  # sequence numbers of pages put at the old end count down from here
        self.observer = None
        self.mlock: np.ndarray | None = None  # PTEs in VM_LOCKED VMAs mapping each frame
        self.large: dict[int, int] = {}  # a huge folio's head -> its pages (one entry counts 512)

    def grow(self, cap: int) -> None:
        """Grow the per-frame arrays to ``cap`` frames (FrameTable calls this as it grows)."""
        old = len(self.where)
        if cap <= old:
            return
        where = np.full(cap, NOT_ON_LIST, np.int8)
        where[:old] = self.where
        seq = np.zeros(cap, np.int64)
        seq[:old] = self.seq
        self.where, self.seq = where, seq
        if self.mlock is not None:
            m = np.zeros(cap, np.int32)
            m[:old] = self.mlock
            self.mlock = m

    def vec(self, cid: int) -> LRUVec:
        """Return the lruvec of memory cgroup ``cid`` (0: the machine's), creating it."""
        v = self.vecs.get(cid)
        if v is None:
            v = self.vecs[cid] = LRUVec(cid)
        return v

    # ---- single pages ------------------------------------------------------------------------

    def add(self, f: int, lid: int, cid: int) -> None:
        """Put frame ``f`` at the head (young end) of list ``lid`` of lruvec ``cid``."""
        s = self.tick
        self.tick = s + 1
        self.where[f] = lid
        self.seq[f] = s
        v = self.vecs[cid] if cid in self.vecs else self.vec(cid)
        q = v.queues[lid]
        q.push(f, s)
        n = self.large.get(f, 1) if self.large else 1
        v.count[lid] += n
        self.total[lid] += n
        if q.entries > 2 * v.count[lid] + _TRIM:
            q.compact(self.where, self.seq)
        if self.observer is not None:
            self.observer.added(f, lid, cid, s)

    def add_front(self, f: int, lid: int, cid: int) -> None:
        """Put frame ``f`` at the tail (old end) of a list: reclaim takes it next
        (``folio_rotate_reclaimable``; twolist only)."""
        s = self.front
        self.front = s - 1
        self.where[f] = lid
        self.seq[f] = s
        v = self.vec(cid)
        v.queues[lid].push_front(f, s)
        n = self.large.get(f, 1) if self.large else 1
        v.count[lid] += n
        self.total[lid] += n
        if self.observer is not None:
            self.observer.added(f, lid, cid, s)

    def remove(self, f: int, cid: int) -> int:
        """Take frame ``f`` off its list (if it is on one); return the list it was on."""
        lid = int(self.where[f])
        if lid < 0:
            self.where[f] = NOT_ON_LIST
            return lid
        self.where[f] = NOT_ON_LIST
        n = self.large.get(f, 1) if self.large else 1
        self.vecs[cid].count[lid] -= n
        self.total[lid] -= n
        if self.observer is not None:
            self.observer.removed(f, lid, cid, int(self.seq[f]))
        return lid

    def requeue(self, f: int, lid: int, cid: int) -> None:
        """Move frame ``f``, on list ``lid`` of lruvec ``cid``, to that list's head (an lru
        touch, a clock second chance): a new sequence number and a new entry, the old one stale."""
        s = self.tick
        self.tick = s + 1
        old = int(self.seq[f])
        self.seq[f] = s
        v = self.vecs[cid]
        q = v.queues[lid]
        q.push(f, s)
        if q.entries > 2 * v.count[lid] + _TRIM:
            q.compact(self.where, self.seq)
        if self.observer is not None:
            self.observer.removed(f, lid, cid, old)  # observers see a move as removal + add
            self.observer.added(f, lid, cid, s)

    def move(self, f: int, lid: int, cid: int) -> None:
        """Move frame ``f`` to the head of list ``lid`` (activation, deactivation, putback)."""
        self.remove(f, cid)
        self.add(f, lid, cid)

    # ---- many pages --------------------------------------------------------------------------

    def add_many(self, frames: np.ndarray, lid: int, cid: int) -> None:
        """Put ``frames`` (in order, oldest first) at the head of list ``lid`` of lruvec ``cid``."""
        n = len(frames)
        if not n:
            return
        seqs = np.arange(self.tick, self.tick + n, dtype=np.int64)
        self.tick += n
        self.where[frames] = lid
        self.seq[frames] = seqs
        v = self.vec(cid)
        q = v.queues[lid]
        q.push_many(np.asarray(frames, dtype=np.int64), seqs)
        v.count[lid] += n
        self.total[lid] += n
        if q.entries > 2 * v.count[lid] + _TRIM:
            q.compact(self.where, self.seq)
        if self.observer is not None:
            for f, s in zip(frames.tolist(), seqs.tolist()):
                self.observer.added(f, lid, cid, s)

    def remove_many(self, frames: np.ndarray, cids: np.ndarray | None) -> None:
        """Take ``frames`` off their lists (``cids``: their lruvecs, None: all the machine's)."""
        if not len(frames):
            return
        lids = self.where[frames]
        on = lids >= 0
        if self.observer is not None:
            for f, lid, cid in zip(frames[on].tolist(), lids[on].tolist(),
                                   (cids[on].tolist() if cids is not None else [0] * int(on.sum()))):
                self.observer.removed(f, lid, cid, int(self.seq[f]))
        self.where[frames] = NOT_ON_LIST
        if not on.any():
            return
        lids = lids[on]
        if cids is None or not cids[on].any():
            counts = np.bincount(lids, minlength=NR_LISTS)
            v = self.vecs[0]
            for lid in range(NR_LISTS):
                c = int(counts[lid])
                if c:
                    v.count[lid] -= c
                    self.total[lid] -= c
            return
        for cid, lid in zip(cids[on].tolist(), lids.tolist()):
            self.vecs[cid].count[lid] -= 1
            self.total[lid] -= 1

    # ---- mlock (the unevictable list) --------------------------------------------------------

    def mlock_one(self, f: int, delta: int, cid: int, home: int) -> None:
        """Add ``delta`` (+1 or -1) to frame ``f``'s mlock count (the PTEs of VM_LOCKED VMAs
        that map it): leaving 0 moves it to the unevictable list (``mlock_folio``), reaching 0
        moves it back to ``home``, the inactive list of its type (``munlock_folio``)."""
        m = self.mlock
        if m is None:
            m = self.mlock = np.zeros(len(self.where), np.int32)
        before = int(m[f])
        m[f] = before + delta
        if before == 0 and delta > 0:
            if self.where[f] >= 0 and self.where[f] != UNEVICTABLE:
                self.move(f, UNEVICTABLE, cid)
        elif before + delta == 0 and self.where[f] == UNEVICTABLE:
            self.move(f, home, cid)

    def mlock_add(self, f: int, n: int) -> None:
        """Add ``n`` to the mlock count of frame ``f``, already mlocked (a locked PMD split)."""
        assert self.mlock is not None  # allocated by the first mlock
        self.mlock[f] += n

    def is_mlocked(self, f: int) -> bool:
        """Return True if some PTE of a VM_LOCKED VMA maps frame ``f``."""
        return self.mlock is not None and bool(self.mlock[f])
