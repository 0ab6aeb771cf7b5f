"""The swap device: slots with use counts, the swap cache, swap entries in PTEs, readahead.

Models ENGINE-FACTS 11. The device has ``swap / 4096`` usable slots numbered 1..N; slot 0 is the
header and is never allocated (11.1), so ``swap_free`` starts at the machine's ``swap``. Per slot
the engine keeps ``swap_map``'s two parts: ``count`` (the swap PTEs that point at the slot) and
``cache`` (the frame of the slot's swap-cache page, or -1: ``SWAP_HAS_CACHE``). A slot is in use
(``swap_used``) while it has a count or a cache page; it is freed when both are gone.

Allocation (a documented simplification of ``scan_swap_map_slots``): one device, slots taken in
order from a cursor that starts at 1 and moves past each slot taken; when the cursor passes the
last slot it wraps to 1 and takes the first free slot from there (the HDD "cluster_next" path
without clusters and without reclaiming cache-only slots when swap is full).

A swap entry in a PTE array is ``-2 - slot`` (so -3, -4, ...; ``NONE`` is -1 and ``ZERO`` -2):
``is_swap(v)`` is ``v <= SWP_FIRST``. The PTE's write bit is clear.

Readahead on a swap-cache miss (11.3): Linux's cluster readahead (``swap_cluster_readahead``)
with ``__swapin_nr_pages``: the window is ``hits + 2`` rounded up to a power of two >= 4 (or 1
when there were no hits and the slot is not next to the previous one), capped at
``2^page_cluster``, never below half the previous window; the aligned window of slots around the
faulting one (slot 0 skipped) is read into the swap cache from free frames only (readahead never
evicts), each readahead page marked so that the first fault finding it counts a hit. The measured
figures of ENGINE-FACTS 4.6 come from 6.18's VMA-based readahead, which this approximates: a
sequential read of 4096 pages dropped from the swap cache takes 515 major faults here (512
measured), a random-order read about 4000 (4059 measured).
"""

from __future__ import annotations

import numpy as np

SWP_FIRST = -3  # PTE value of slot 1; slot s is -2 - s


def encode(slot: int) -> int:
    """Return the PTE value of a swap entry for ``slot``."""
    return -2 - slot


def decode(v: int) -> int:
    """Return the slot of a swap-entry PTE value."""
    return -2 - v


class SwapDevice:
    """One swap area: ``nslots`` usable slots (1..nslots), counts, swap cache, readahead state."""

    def __init__(self, nslots: int, page_cluster: int) -> None:
        self.nslots = nslots
        self.count = np.zeros(nslots + 1, np.int32)
        self.cache = np.full(nslots + 1, -1, np.int64)
        self.frame_slot: dict[int, int] = {}  # swap-cache frame -> its slot
        self.inuse = 0  # slots with a count or a cache page
        self.cursor = 1
        self.page_cluster = page_cluster
        self.ra_hits = 0
        self.prev_offset = 0
        self.last_ra = 0

    # ---- slots -------------------------------------------------------------------------------

    @property
    def free(self) -> int:
        return self.nslots - self.inuse

    def alloc(self) -> int:
        """Take the next free slot in order (see the module docstring); 0 if swap is full."""
        if self.inuse >= self.nslots:
            return 0
        n = self.nslots
        s = self.cursor if self.cursor <= n else 1
        busy = (self.count != 0) | (self.cache >= 0)
        if busy[s]:
            rest = np.flatnonzero(~busy[s:]) + s
            if len(rest):
                s = int(rest[0])
            else:
                s = int(np.flatnonzero(~busy[1:])[0]) + 1
        self.cursor = s + 1
        self.inuse += 1
        return s

    def _maybe_free(self, s: int) -> None:
        if self.count[s] == 0 and self.cache[s] < 0:
            self.inuse -= 1

    def put(self, s: int) -> None:
        """Drop one swap PTE's reference (``swap_free``); the caller handles the cache page."""
        self.count[s] -= 1
        self._maybe_free(s)

    def add_cache(self, s: int, f: int) -> None:
        """Make frame ``f`` the swap-cache page of slot ``s`` (the slot is in use already)."""
        self.cache[s] = f
        self.frame_slot[f] = s

    def drop_cache(self, f: int) -> int:
        """Take frame ``f`` out of the swap cache; free its slot if nothing references it."""
        s = self.frame_slot.pop(f)
        self.cache[s] = -1
        self._maybe_free(s)
        return s

    # ---- readahead (__swapin_nr_pages) -------------------------------------------------------

    def window(self, offset: int) -> int:
        """Return the readahead window in pages for a swap-cache miss at ``offset``."""
        max_pages = 1 << self.page_cluster
        if max_pages <= 1:
            return 1
        hits, self.ra_hits = self.ra_hits, 0
        pages = hits + 2
        if pages == 2:
            if offset not in (self.prev_offset + 1, self.prev_offset - 1):
                pages = 1
        else:
            roundup = 4
            while roundup < pages:
                roundup <<= 1
            pages = roundup
        pages = min(pages, max_pages)
        pages = max(pages, self.last_ra // 2)
        pages = max(pages, 1)
        self.prev_offset = offset
        self.last_ra = pages
        return pages
