"""Textbook page replacement (``replacement fifo | lru | clock | random``) over the LRU lists.

When a frame is needed and none is free (or a memory cgroup is at its limit), exactly one page is
given up, chosen by the textbook algorithm, so fault counts equal the textbook's. The candidates
are the pages of ``vmspec.engine.lruvec``'s inactive lists. No Linux counterpart: Linux uses
``twolist`` (``vmspec.engine.vmscan``). The four policies, the candidates and the costs:
docs/engine.md, "Textbook replacement".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vmspec.engine.errors import Unsupported
from vmspec.engine.frames import ANON, DIRTY, FILE, REFERENCED, SHMEM, SWAPCACHE
from vmspec.engine.lruvec import INACTIVE_ANON, INACTIVE_FILE
from vmspec.engine.swap import encode

if TYPE_CHECKING:
    from vmspec.engine.thp import THP

POLICIES = ("fifo", "lru", "clock", "random")


class _Ranks:
    """Live sequence numbers in increasing order, with k-th lookup (a Fenwick tree over
    positions; positions are compacted when most of them are dead)."""

    __slots__ = ("pos", "seqs", "tree", "n")

    def __init__(self) -> None:
        self.pos: dict[int, int] = {}  # live seq -> position
        self.seqs: list[int] = []  # position -> seq (dead positions keep theirs)
        self.tree = [0]
        self.n = 0  # live entries

    def __len__(self) -> int:
        return self.n

    def _update(self, i: int, d: int) -> None:
        tree = self.tree
        i += 1
        while i < len(tree):
            tree[i] += d
            i += i & -i

    def add(self, s: int) -> None:
        if len(self.seqs) >= 2 * self.n + 1024:
            self._rebuild()
        i = len(self.seqs)
        self.seqs.append(s)
        self.pos[s] = i
        if i + 1 >= len(self.tree):
            self._rebuild(grow=True)
        else:
            self._update(i, 1)
        self.n += 1

    def remove(self, s: int) -> None:
        self._update(self.pos.pop(s), -1)
        self.n -= 1

    def suspend(self, s: int) -> None:
        """Leave ``s`` out of the order for a moment (``resume`` puts it back)."""
        self._update(self.pos[s], -1)
        self.n -= 1

    def resume(self, s: int) -> None:
        self._update(self.pos[s], 1)
        self.n += 1

    def _rebuild(self, grow: bool = False) -> None:
        live = sorted(self.pos)
        self.seqs = live
        self.pos = {s: i for i, s in enumerate(live)}
        size = max(1024, 2 * len(live) + 2)
        tree = [0] * (size + 1)
        for i in range(1, len(live) + 1):
            tree[i] = 1
        for i in range(1, size + 1):  # O(size) Fenwick build
            j = i + (i & -i)
            if j <= size:
                tree[j] += tree[i]
        self.tree = tree

    def kth(self, k: int) -> int:
        """Return the ``k``-th (from 0) live sequence number."""
        tree = self.tree
        i = 0
        step = 1 << (len(tree).bit_length())
        while step:
            j = i + step
            if j < len(tree) and tree[j] <= k:
                i = j
                k -= tree[j]
            step >>= 1
        return self.seqs[i]


class _RandomIndex:
    """The ``random`` policy's view of the lists: per lruvec (and one for the machine) the
    evictable pages in arrival order, all of them and the file ones alone."""

    def __init__(self) -> None:
        self.ranks: dict[tuple[int, bool], _Ranks] = {}
        self.frame_of: dict[int, int] = {}  # seq -> frame

    def _sets(self, lid: int, cid: int):
        file = lid == INACTIVE_FILE
        keys = [(-1, False), (cid, False)]
        if file:
            keys += [(-1, True), (cid, True)]
        for key in keys:
            r = self.ranks.get(key)
            if r is None:
                r = self.ranks[key] = _Ranks()
            yield r

    def added(self, f: int, lid: int, cid: int, s: int) -> None:
        if lid in (INACTIVE_ANON, INACTIVE_FILE):
            self.frame_of[s] = f
            for r in self._sets(lid, cid):
                r.add(s)

    def removed(self, f: int, lid: int, cid: int, s: int) -> None:
        if lid in (INACTIVE_ANON, INACTIVE_FILE):
            del self.frame_of[s]
            for r in self._sets(lid, cid):
                r.remove(s)


class Textbook:
    """The textbook policy of one machine: choosing and giving up one page."""

    def __init__(self, policy: str, frames, rmap, swap, cache, *, thp: THP) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.policy = policy
        self.frames = frames
        self.lists = frames.lists
        self.rmap = rmap
        self.swap = swap
        self.cache = cache
        self.rng = np.random.default_rng(0)
        self.thp = thp  # the machine's THP, to split a huge folio chosen as the victim
        self.index = None
        if policy == "random":
            self.index = self.lists.observer = _RandomIndex()
        if policy == "clock":
            frames.arrive_flags = REFERENCED

    # ---- accesses ----------------------------------------------------------------------------

    def touch(self, f: int) -> None:
        """Record one access to frame ``f`` (lru: to the young end; clock: the reference bit)."""
        if self.policy == "lru":
            lists = self.lists
            lid = lists.where[f]
            if lid == INACTIVE_ANON or lid == INACTIVE_FILE:
                lists.requeue(f, int(lid), self.frames.cid_of(f))
        elif self.policy == "clock":
            self.frames.flags[f] |= REFERENCED

    def touch_many(self, frames: np.ndarray) -> None:
        """Record one access to each of ``frames``, in order (a sweep's slice)."""
        if self.policy == "lru":
            for f in frames.tolist():
                self.touch(f)
        elif self.policy == "clock":
            self.frames.flags[frames] |= REFERENCED

    # ---- choosing ----------------------------------------------------------------------------

    def _anon_ok(self) -> bool:
        return self.swap is not None and self.swap.free > 0

    def _heads(self, cid: int | None):
        """Yield ``(seq, frame, list)`` of the oldest unpinned candidate of each list in scope."""
        lists = self.lists
        where, seq = lists.where, lists.seq
        pinned = self.frames.pinned
        lids = (INACTIVE_ANON, INACTIVE_FILE) if self._anon_ok() else (INACTIVE_FILE,)
        vecs = lists.vecs.values() if cid is None else (lists.vecs[cid],)
        for vec in vecs:
            for lid in lids:
                q = vec.queues[lid]
                if not vec.count[lid]:
                    continue
                if not pinned:
                    f = q.first(where, seq)
                else:
                    f = next((x for x in q.live(where, seq) if x not in pinned), -1)
                if f >= 0:
                    yield int(seq[f]), f, lid, vec.cid

    def choose(self, cid: int | None) -> int:
        """Return the victim frame (among memory cgroup ``cid``'s pages if it is not None), or
        -1 if no page can be given up."""
        if self.policy == "random":
            return self._choose_random(cid)
        lists = self.lists
        if cid is not None and not self.frames.pinned and self.policy != "clock":
            vec = lists.vecs[cid]  # the common case: one lruvec, nothing pinned
            where, seq = lists.where, lists.seq
            ff = vec.queues[INACTIVE_FILE].first(where, seq) if vec.count[INACTIVE_FILE] else -1
            if self._anon_ok() and vec.count[INACTIVE_ANON]:
                fa = vec.queues[INACTIVE_ANON].first(where, seq)
                if ff < 0 or (fa >= 0 and seq[fa] < seq[ff]):
                    return fa
            return ff
        while True:
            best = min(self._heads(cid), default=None)
            if best is None:
                return -1
            _, f, lid, vcid = best
            if self.policy != "clock" or not self.frames.flags[f] & REFERENCED:
                return f
            self.frames.flags[f] &= 0xFFFF & ~REFERENCED  # second chance: behind the hand
            lists.requeue(f, lid, vcid)

    def _choose_random(self, cid: int | None) -> int:
        idx = self.index
        assert idx is not None  # the random policy keeps its index from construction
        key = (-1 if cid is None else cid, not self._anon_ok())
        r = idx.ranks.get(key)
        if r is None:
            return -1
        seq = self.lists.seq
        pinned = [int(seq[f]) for f in self.frames.pinned if int(seq[f]) in r.pos]
        for s in pinned:
            r.suspend(s)
        try:
            if not len(r):
                return -1
            return idx.frame_of[r.kth(int(self.rng.integers(len(r))))]
        finally:
            for s in pinned:
                r.resume(s)

    # ---- giving up one page ------------------------------------------------------------------

    def evict_one(self, cid: int | None = None) -> bool:
        """Give up one page chosen by the policy (one of memory cgroup ``cid``'s if it is not
        None); False if there is none to give up."""
        f = self.choose(cid)
        if f < 0:
            return False
        self.evict(f)
        return True

    def evict(self, f: int) -> None:
        """Give up frame ``f``: a file page is unmapped, written back if dirty and dropped; an
        anonymous page gets a swap slot (its swap-cache slot, else a new one), every PTE mapping
        it becomes a swap entry, it is written if dirty, and its frame is freed at once."""
        fr = self.frames
        if fr.folios and f in fr.folios:
            if not fr.flags[f] & ANON:  # a large page-cache folio goes whole (docs/engine.md)
                if fr.mapcount[fr.folios[f]].any():
                    self.rmap.unmap_file_folio(f, self.thp)
                cf = self.cache.by_id[int(fr.owner[f])]
                first = int(fr.index[f])
                for k in range(len(fr.folios[f])):
                    self.cache.drop(cf, first + k)  # dirty pages are written back first
                fr.release_folio(f)
                return
            self.thp.split_folio(f)  # its other pages join the young end; this one goes
        fl = int(fr.flags[f])
        if fl & FILE:
            if fl & SHMEM:
                raise Unsupported(
                    f"replacement {self.policy} chose a shmem page (shared anonymous memory): "
                    "swapping shmem pages out is not modelled yet (use private anonymous "
                    "memory, or give the machine more ram)")
            if fr.mapcount[f]:
                self.rmap.unmap(f, -1)
            cf = self.cache.by_id[int(fr.owner[f])]
            self.cache.drop(cf, int(fr.index[f]))  # a dirty page is written back first
            fr.release(f)
            return
        sw = self.swap
        if fl & SWAPCACHE:
            slot = sw.frame_slot[f]
        else:
            slot = sw.new_cache_slot(f)
            fl |= SWAPCACHE | DIRTY
            fr.flags[f] = fl
        if fr.mapcount[f]:
            mappers = self.rmap.mappers(f)
            self.rmap.unmap(f, encode(slot), mappers)
            for _ in mappers:
                sw.dup(slot)
        if fr.flags[f] & DIRTY:
            sw.pswpout += 1
            if sw.content is not None:
                sw.content[slot] = int(fr.content[f])
        fr.release(f)  # written out and dropped: the release takes it out of the swap cache
