"""Memory cgroups for ``spawn P memory_max SIZE`` (``mm/memcontrol.c``).

A group holds P and every process forked from a member later, and limits the group's resident
user pages: anonymous, page-cache and swap-cache pages are charged to the group of the process
whose operation brought them into RAM (``FrameTable.cgid``) until their frame is freed; page
tables are not charged. Each group has its own LRU lists (``vmspec.engine.lruvec``); at the limit
``vmspec.engine.page_alloc`` reclaims from them, then OOM-kills inside the group. Not modelled:
nested groups, memory.high/low/min, a group's own swap limit.
"""

from __future__ import annotations


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
