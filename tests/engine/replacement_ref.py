"""The scan-based reference for the textbook policies: what ``vmspec.engine.replacement`` must
choose, computed the slow way, by looking at every frame.

It keeps its own order of the pages (a tick taken each time a page is put on an inactive list:
arrival, an lru touch, a clock second chance, a putback) and, for each choice, collects every
candidate by scanning the frame table: a user page on an inactive list of the scope (the machine,
or one memory group), not pinned, anonymous only while swap has a free slot. Then:

* fifo, lru: the candidate with the smallest tick;
* clock: the first candidate (by tick) whose reference bit is clear, else the first candidate;
* random: candidates by tick, the one a copy of the policy's generator picks.
"""

from __future__ import annotations

import copy

import numpy as np

from vmspec.engine.frames import REFERENCED
from vmspec.engine.lruvec import INACTIVE_ANON, INACTIVE_FILE


class ReferenceChooser:
    """Watches one System's LRU adds and checks every choice of its textbook policy."""

    def __init__(self, sysm) -> None:
        self.sysm = sysm
        self.tick = 0
        self.order: dict[int, int] = {}
        self.choices = 0
        lists = sysm.frames.lists
        self.inner = lists.observer  # the random policy's index, told everything first
        lists.observer = self
        tb = sysm.textbook
        fast = tb.choose

        def choose(cid):
            want = self.reference(cid)
            got = fast(cid)
            if got != want:
                raise AssertionError(f"{tb.policy}: the policy chose frame {got}, the scanning "
                                     f"reference {want}")
            self.choices += 1
            return got
        tb.choose = choose

    def added(self, f: int, lid: int, cid: int, s: int) -> None:
        if self.inner is not None:
            self.inner.added(f, lid, cid, s)
        self.tick += 1
        self.order[f] = self.tick

    def removed(self, f: int, lid: int, cid: int, s: int) -> None:
        if self.inner is not None:
            self.inner.removed(f, lid, cid, s)

    def candidates(self, cid) -> list[int]:
        s = self.sysm
        fr = s.frames
        where = fr.lists.where[:fr.hw]
        ok = where == INACTIVE_FILE
        if s.swapdev is not None and s.swapdev.free > 0:
            ok |= where == INACTIVE_ANON
        if cid is not None:
            cids = fr.charges.cgid[:fr.hw] if fr.charges.groups else np.zeros(fr.hw, np.int32)
            ok &= cids == cid
        cand = [f for f in np.flatnonzero(ok).tolist() if f not in fr.pinned]
        return sorted(cand, key=lambda f: self.order[f])

    def reference(self, cid) -> int:
        tb = self.sysm.textbook
        cand = self.candidates(cid)
        if not cand:
            return -1
        if tb.policy in ("fifo", "lru"):
            return cand[0]
        if tb.policy == "clock":
            flags = self.sysm.frames.flags
            return next((f for f in cand if not flags[f] & REFERENCED), cand[0])
        rng = copy.deepcopy(tb.rng)
        return cand[int(rng.integers(len(cand)))]
