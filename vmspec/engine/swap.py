"""The swap device: slots with use counts, the swap cache, swap entries in PTEs, readahead.

One swap area (``mm/swapfile.c``: ``swap_map``, 6.18's ``cluster_alloc_swap_entry`` for one CPU;
``mm/swap_state.c``: the swap cache, ``swap_cluster_readahead`` and ``__swapin_nr_pages``). A swap
entry in a PTE array is ``-2 - slot`` (``NONE`` is -1, ``ZERO`` -2): ``is_swap(v)`` is
``v <= SWP_FIRST``. Rules and measurements: docs/engine.md, "Swap device and swap entries".

Not modelled: several devices and priorities, discard, ``frag`` clusters, reclaiming cache-only
slots when the device is full (``swap_reclaim_full_clusters``), THP-sized slots, VMA-based
readahead (6.18's; cluster readahead approximates it).
"""

from __future__ import annotations

from collections import OrderedDict, deque

SWP_FIRST = -3  # PTE value of slot 1; slot s is -2 - s
CLUSTER = 512  # SWAPFILE_CLUSTER (HPAGE_PMD_NR with THP_SWAP)


def encode(slot: int) -> int:
    """Return the PTE value of a swap entry for ``slot``."""
    return -2 - slot


def decode(v):
    """Return the slot of a swap-entry PTE value (an int or a numpy array)."""
    return -2 - v


class SwapDevice:
    """One swap area: ``nslots`` usable slots (1..nslots), counts, swap cache, readahead state."""

    def __init__(self, nslots: int, page_cluster: int) -> None:
        self.nslots = nslots
        self.nclusters = (nslots + CLUSTER) // CLUSTER  # slots 0..nslots, slot 0 the header
        # per slot, grown a cluster at a time: swap PTEs pointing at it, its swap-cache frame
        self.count: list[int] = []
        self.cache: list[int] = []
        self.frame_slot: dict[int, int] = {}  # swap-cache frame -> its slot
        self.inuse = 0  # slots with a count or a cache page
        self.used_in: dict[int, int] = {}  # cluster -> slots in use (clusters ever used)
        self.fresh = 0  # clusters [fresh, nclusters) were never used
        self.freed: deque[int] = deque()  # free clusters that were used before, oldest first
        self.nonfull: OrderedDict[int, None] = OrderedDict()  # partly used, not current
        self.cur = -1  # the current cluster (percpu_cluster), -1: none
        self.cur_next = 0  # the slot to try next in it
        self.page_cluster = page_cluster
        self.ra_hits = 0
        self.prev_offset = 0
        self.last_ra = 0
        self.pswpin = 0  # pages read from the device (/proc/vmstat)
        self.pswpout = 0  # pages written to it
        self.content: dict[int, int] | None = None  # slot -> page contents (System.check_pages)

    # ---- slots -------------------------------------------------------------------------------

    @property
    def free(self) -> int:
        return self.nslots - self.inuse

    def full(self) -> bool:
        """Return True when more than half the slots are in use (``vm_swap_full``)."""
        return self.free * 2 < self.nslots

    def in_use(self, s: int) -> bool:
        """Return True if slot ``s`` has a swap PTE or a swap-cache page."""
        return s < len(self.count) and (self.count[s] != 0 or self.cache[s] >= 0)

    def cached(self, s: int) -> int:
        """Return the swap-cache frame of slot ``s``, or -1."""
        return self.cache[s] if s < len(self.cache) else -1

    def refs(self, s: int) -> int:
        """Return the swap PTEs pointing at slot ``s``."""
        return self.count[s] if s < len(self.count) else 0

    def _bounds(self, c: int) -> tuple[int, int]:
        return max(c * CLUSTER, 1), min((c + 1) * CLUSTER, self.nslots + 1)

    def _scan(self, c: int, start: int) -> int:
        """Return the first free slot of cluster ``c`` at or after ``start``, or 0."""
        lo, hi = self._bounds(c)
        count, cache = self.count, self.cache
        for s in range(max(lo, start), hi):
            if count[s] == 0 and cache[s] < 0:
                return s
        return 0

    def alloc(self) -> int:
        """Take a free slot in the documented cluster order; 0 if swap is full."""
        if self.inuse >= self.nslots:
            return 0
        s = 0
        if self.cur >= 0:
            s = self._scan(self.cur, self.cur_next)
            if not s:
                self._leave_current()
        if not s and self.nonfull:
            c, _ = self.nonfull.popitem(last=False)
            self.cur = c
            s = self._scan(c, 0)
        if not s:
            if self.fresh < self.nclusters:
                c = self.fresh
                self.fresh += 1
                self.count.extend([0] * CLUSTER)
                self.cache.extend([-1] * CLUSTER)
                self.used_in[c] = 0
            else:
                c = self.freed.popleft()
            self.cur = c
            s = self._bounds(c)[0]
        self.cur_next = s + 1
        self.used_in[s // CLUSTER] += 1
        self.inuse += 1
        return s

    def _leave_current(self) -> None:
        """The current cluster has no free slot past its cursor: file it by what it holds."""
        c, self.cur = self.cur, -1
        lo, hi = self._bounds(c)
        n = self.used_in[c]
        if n == 0:
            self.freed.append(c)
        elif n < hi - lo:
            self.nonfull[c] = None

    def _release(self, s: int) -> None:
        """Slot ``s`` lost its last count and its cache page: it is free again."""
        c = s // CLUSTER
        lo, hi = self._bounds(c)
        n = self.used_in[c]
        self.used_in[c] = n - 1
        self.inuse -= 1
        if n - 1 == 0:
            self.nonfull.pop(c, None)
            if c != self.cur:
                self.freed.append(c)
        elif n == hi - lo and c != self.cur:
            self.nonfull[c] = None

    def _maybe_free(self, s: int) -> None:
        if self.count[s] == 0 and self.cache[s] < 0:
            self._release(s)

    def dup(self, s: int) -> None:
        """Add one swap PTE's reference (``swap_duplicate``: fork copies a swap entry)."""
        self.count[s] += 1

    def put(self, s: int) -> None:
        """Drop one swap PTE's reference (``swap_free``); the caller handles the cache page."""
        self.count[s] -= 1
        self._maybe_free(s)

    def add_cache(self, s: int, f: int) -> None:
        """Make frame ``f`` the swap-cache page of slot ``s`` (the slot is in use already)."""
        self.cache[s] = f
        self.frame_slot[f] = s

    def new_cache_slot(self, f: int) -> int:
        """Allocate a slot for frame ``f`` and put ``f`` in the swap cache under it (the first
        half of ``add_to_swap``); 0 if swap is full."""
        s = self.alloc()
        if s:
            self.cache[s] = f
            self.frame_slot[f] = s
        return s

    def drop_cache(self, f: int) -> int:
        """Take frame ``f`` out of the swap cache; free its slot if nothing references it."""
        s = self.frame_slot.pop(f)
        self.cache[s] = -1
        self._maybe_free(s)
        return s

    def clusters_in_use(self) -> int:
        """Return how many clusters hold a used slot (for tests of the allocation order)."""
        return sum(1 for n in self.used_in.values() if n)

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
