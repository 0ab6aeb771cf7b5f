"""Memory cgroups for ``spawn P memory_max SIZE`` (LANGUAGE.md; ENGINE-FACTS 8.1 memcg OOM).

A group holds P and every process forked from a member later. It limits the group's resident
user pages: anonymous pages, page-cache pages and swap-cache pages are charged to the group of
the process whose operation brought them into RAM (``FrameTable.cgid``), page tables are not
charged, and a page stays charged until its frame is freed (a page-cache page first faulted by a
member stays charged after the member exits, as in Linux). The charge is checked when a frame is
handed out while a member's operation runs: at the limit the allocation does not take a free
frame; the group gives up one of its own pages with the machine's textbook policy
(``vmspec.engine.lru``) or, under ``twolist``, drops its clean unmapped page-cache pages; if it
cannot, the OOM killer picks a victim among the group's running members with totalpages = the
limit (``constrained_alloc``, 8.1). Readahead stops at the limit. Nested groups and a group's
own swap limit are not modelled.
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
