"""Memory cgroups for ``spawn P memory_max SIZE`` (``mm/memcontrol.c``): a group per such process
and its later children, with a limit and a usage in pages; ``Charges`` records the group each
frame is charged to.

Each group has its own LRU lists (``vmspec.engine.lruvec``); at the limit
``vmspec.engine.page_alloc`` reclaims from them, then OOM-kills inside the group. Rules:
docs/engine.md, "Memory cgroups".

Not modelled: nested groups, memory.high/low/min, a group's own swap limit, charges of page
tables and kernel memory.
"""

from __future__ import annotations

import numpy as np


class Memcg:
    """One memory cgroup: id (>= 1; 0 is the root, never limited), limit and usage in pages."""

    __slots__ = ("cid", "name", "limit", "usage")

    def __init__(self, cid: int, name: str, limit: int) -> None:
        self.cid = cid
        self.name = name
        self.limit = limit
        self.usage = 0

    @property
    def full(self) -> bool:
        return self.usage >= self.limit


class Charges:
    """Which group each frame is charged to, and the group the running operation charges.

    ``cgid`` (the group id of each frame, 0: none) exists only once a group does, and then grows
    with the frame table; ``current`` is the group of the process whose operation runs (set by
    the System for each operation: ``set_active_memcg`` in spirit), None for none."""

    __slots__ = ("cgid", "current", "groups")

    def __init__(self) -> None:
        self.cgid = np.zeros(0, np.int32)
        self.current: Memcg | None = None
        self.groups: dict[int, Memcg] = {}

    def add(self, cg: Memcg, frames: int) -> None:
        """Register ``cg``; ``cgid`` covers the ``frames`` frame numbers the table has now."""
        if len(self.cgid) < frames:
            arr = np.zeros(frames, np.int32)
            arr[:len(self.cgid)] = self.cgid
            self.cgid = arr
        self.groups[cg.cid] = cg

    def grow(self, old: int, new: int) -> None:
        """The frame table grew from ``old`` to ``new`` frames."""
        if self.groups:
            arr = np.zeros(new, np.int32)
            arr[:old] = self.cgid[:old]
            self.cgid = arr

    def group_for(self, user_page: bool) -> Memcg | None:
        """Return the group a new page is charged to now (page tables are never charged)."""
        return self.current if user_page else None

    def charge(self, frames: int | np.ndarray, cg: Memcg, n: int) -> None:
        """Charge ``n`` new frames (one frame number or an array) to ``cg``."""
        self.cgid[frames] = cg.cid
        cg.usage += n

    def cid_of(self, f: int) -> int:
        """Return the group frame ``f`` is charged to (0: none)."""
        return int(self.cgid[f]) if self.groups else 0

    def uncharge(self, f: int) -> int:
        """Uncharge a frame being freed; return the group it was charged to (0: none)."""
        if not self.groups:
            return 0
        cid = int(self.cgid[f])
        if cid:
            self.groups[cid].usage -= 1
            self.cgid[f] = 0
        return cid

    def uncharge_many(self, frames: np.ndarray) -> np.ndarray | None:
        """Uncharge frames being freed; return their groups (None while no group exists)."""
        if not self.groups:
            return None
        cids = self.cgid[frames].copy()
        ids = cids[cids != 0]
        if len(ids):
            gids, counts = np.unique(ids, return_counts=True)
            for cid, c in zip(gids.tolist(), counts.tolist()):
                self.groups[cid].usage -= c
            self.cgid[frames] = 0
        return cids
