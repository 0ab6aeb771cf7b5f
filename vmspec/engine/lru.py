"""Textbook page replacement (``replacement fifo | lru | clock | random``): one page given up for
each page needed once no frame is free (LANGUAGE.md, Machines; ENGINE-FACTS 11.2 for what giving
up an anonymous page does).

Candidates are the user pages in RAM: anonymous pages (while swap has a free slot, or the page
already has one in the swap cache), swap-cache pages nobody maps, and clean page-cache pages no
PTE maps. Never: page tables, hugetlb pages, pages of an mlocked VMA, a page pinned by the fault
in progress (the page a copy-on-write fault copies). Each policy orders the candidates by
``FrameTable.lru``:

* ``fifo``: the order pages came into RAM (``lru`` is stamped when a frame is handed out).
* ``lru``: the last access (every access re-stamps its page: the per-access paths and the
  sweep, which stamps a run of pages in access order); the least recently used page goes.
* ``clock``: ``lru`` is the page's place on the circle (arrival order; a page that replaces a
  victim takes the victim's place). The reference bit (``REFERENCED``) is set when a page comes
  in and on every access. The hand starts just past the last victim, clears set bits as it goes
  and stops at the first clear one, which is the victim; the hand then stays there, so the next
  search starts just past it (after the page that replaced it).
* ``random``: uniformly among the candidates in arrival order, drawn from
  ``numpy.random.default_rng(0)`` created with the machine (seed 0, not configurable).

Giving up a page (``evict``): an anonymous page gets a swap slot (the one it has in the swap
cache, else the next free one), every PTE mapping it becomes a swap entry (write bit clear,
MM_ANONPAGES -> MM_SWAPENTS, TLB entry invalidated) and the frame is freed at once (written out:
no writeback delay is modelled). An unmapped swap-cache page is just freed (its slot stays). A
page-cache page is unmapped from every PTE that maps it (found through the VMAs of the file),
written back if dirty (at once) and dropped; its next access is a file fault (major, with
read-around, ENGINE-FACTS 4.4). Shmem pages raise ``Unsupported`` when the algorithm picks them
(shmem swap is not modelled). Selection is O(frames in use) numpy work per eviction, the file
reverse map O(VMAs). No Linux counterpart: Linux uses ``twolist``.
"""

from __future__ import annotations

import numpy as np

from vmspec.engine.errors import Unsupported
from vmspec.engine.frames import ANON, EXCL, FILE, PGTABLE, REFERENCED, SHMEM, SWAPCACHE
from vmspec.engine.swap import encode

POLICIES = ("fifo", "lru", "clock", "random")


class Replacement:
    """The textbook policy of one machine."""

    def __init__(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.policy = policy
        self.hand = -1  # clock: the circle position of the last victim
        self.rng = np.random.default_rng(0)

    # ---- choosing ----------------------------------------------------------------------------

    def _candidates(self, sysm, excluded: set[int], cid: int = 0) -> np.ndarray:
        fr = sysm.frames
        hw = fr.hw
        fl = fr.flags[:hw]
        user = ((fl & (ANON | FILE)) != 0) & ((fl & PGTABLE) == 0)
        anon = (fl & ANON) != 0
        swap = sysm.swapdev
        if swap is None or swap.free == 0:
            anon_ok = (fl & SWAPCACHE) != 0 if swap is not None else np.zeros(hw, np.bool_)
            user &= ~anon | anon_ok
        # free frames have flags 0, so ``user`` excludes them
        if cid:
            user &= fr.cgid[:hw] == cid
        cand = np.flatnonzero(user)
        if excluded or fr.pinned:
            drop = np.fromiter(excluded | fr.pinned, np.int64)
            cand = cand[~np.isin(cand, drop)]
        return cand

    def choose(self, sysm, excluded: set[int], cid: int = 0) -> int:
        """Return the victim frame (among memory cgroup ``cid``'s pages if it is not 0), or -1
        if no page can be given up."""
        fr = sysm.frames
        cand = self._candidates(sysm, excluded, cid)
        if not len(cand):
            return -1
        stamp = fr.lru[cand]
        if self.policy in ("fifo", "lru"):
            return int(cand[int(np.argmin(stamp))])
        order = np.argsort(stamp, kind="stable")
        if self.policy == "random":
            return int(cand[order[int(self.rng.integers(len(cand)))]])
        # clock
        ring = cand[order]
        pos = stamp[order]
        start = int(np.searchsorted(pos, self.hand, side="right"))
        ring = np.concatenate((ring[start:], ring[:start]))
        ref = (fr.flags[ring] & REFERENCED) != 0
        clear = np.flatnonzero(~ref)
        j = int(clear[0]) if len(clear) else 0
        swept = ring[:j] if len(clear) else ring
        fr.flags[swept] &= np.uint16(0xFFFF & ~REFERENCED)
        return int(ring[j])

    # ---- giving up one page ------------------------------------------------------------------

    def evict_one(self, sysm, cid: int = 0) -> bool:
        """Give up one page chosen by the policy (one of memory cgroup ``cid``'s if it is not
        0); False if there is none to give up."""
        excluded: set[int] = set()
        while True:
            f = self.choose(sysm, excluded, cid)
            if f < 0:
                return False
            if self.evict(sysm, f):
                return True
            excluded.add(f)

    def evict(self, sysm, f: int) -> bool:
        """Give up frame ``f`` (see the module docstring); False if it must stay (mlocked)."""
        fr = sysm.frames
        fl = int(fr.flags[f])
        pos = int(fr.lru[f])
        if fl & FILE:
            if fl & SHMEM:
                raise Unsupported(
                    f"replacement {self.policy} chose a shmem page (shared anonymous memory): "
                    "swapping shmem pages out is not modelled yet (use private anonymous "
                    "memory, or give the machine more ram)")
            fid, idx = int(fr.owner[f]), int(fr.index[f])
            if fr.mapcount[f]:
                ptes = []
                for q in sysm.rmap_procs():
                    for v in q.vmas:
                        if v.file != fid or v.shmem or v.hugetlb:
                            continue
                        va = v.start + ((idx - v.pgoff) << 12)
                        if not v.start <= va < v.end:
                            continue
                        t = q.pt.pfn.get(va >> 21)
                        if t is not None and t[(va >> 12) & 511] == f:
                            if v.locked:
                                return False
                            ptes.append((q, va))
                if len(ptes) != fr.mapcount[f]:
                    raise AssertionError(f"file frame {f}: mapcount {int(fr.mapcount[f])} but "
                                         f"{len(ptes)} PTEs found")
                for q, va in ptes:  # try_to_unmap: the next access faults the page back in
                    q.pt.pfn[va >> 21][(va >> 12) & 511] = -1
                    q.pt.wr[va >> 21][(va >> 12) & 511] = False
                    q.rss_file -= 1
                    sysm.tlb_model.invalidate(q.pid, va >> 12, 12)
                fr.mapcount[f] = 0
            cf = sysm.cache.by_id[fid]
            sysm.cache.drop(cf, idx)  # a dirty page is written back first (no delay modelled)
            fr.release(f)
            self._moved_past(fr, pos)
            return True
        vpn = int(fr.index[f])
        mappers = []
        if fr.mapcount[f]:
            for q in sysm.rmap_procs():
                t = q.pt.pfn.get(vpn >> 9)
                if t is not None and t[vpn & 511] == f:
                    v = q.vmas.find(vpn << 12)
                    if v is not None and v.locked:
                        return False
                    mappers.append(q)
            if len(mappers) != fr.mapcount[f]:
                raise AssertionError(f"frame {f}: mapcount {int(fr.mapcount[f])} but "
                                     f"{len(mappers)} PTEs found at page {vpn:#x}")
        if not swap_out(sysm, f, mappers):
            return False
        fr.release(f)  # written out and dropped: the hook takes it out of the swap cache
        self._moved_past(fr, pos)
        return True

    def _moved_past(self, fr, pos: int) -> None:
        if self.policy == "clock":
            self.hand = pos
            fr.pending_pos = pos


def swap_out(sysm, f: int, mappers: list) -> bool:
    """Put anonymous frame ``f`` in the swap cache (its slot, else the next free one: 11.2) and
    turn the PTEs of ``mappers`` (each maps ``f`` at page ``index[f]``) into swap entries; the
    frame stays, unmapped, in the swap cache. False if swap has no free slot."""
    fr = sysm.frames
    swap = sysm.swapdev
    fl = int(fr.flags[f])
    if fl & SWAPCACHE:
        slot = swap.frame_slot[f]
    else:
        slot = swap.alloc()
        if not slot:
            return False
        swap.add_cache(slot, f)
        fr.flags[f] |= SWAPCACHE
    vpn = int(fr.index[f])
    e = encode(slot)
    i = vpn & 511
    for q in mappers:
        q.pt.pfn[vpn >> 9][i] = e
        q.pt.wr[vpn >> 9][i] = False
        q.rss_anon -= 1
        q.swapents += 1
        sysm.tlb_model.invalidate(q.pid, vpn, 12)
    swap.count[slot] += len(mappers)
    fr.mapcount[f] -= len(mappers)
    fr.flags[f] &= np.uint16(0xFFFF & ~EXCL)
    return True
