"""The TLB: set-associative, LRU-within-a-set translation caches tagged by process and page size.

The x86-64 data TLBs (an l1 level per page size backed by the shared STLB ``l2``) as
docs/engine.md, "TLB", states them; ``vmspec.engine.tlbref`` is the plain reference this module
is checked against. Each set is an insertion-ordered dict from (pid, shift, vpn) to the entry's
``writable`` bit, least recently used first. A sequential sweep is computed in closed form
(``TLB.sweep``) and applied to the sets lazily, so the MMU's consecutive per-PTE-table sweeps cost
O(1) each.

Not modelled: the kernel's flush policy (PCID/ASID limits, the range-flush ceiling), iTLBs,
page-walk caches, the hardware's accessed/dirty bit updates, 1 GiB STLB entries.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from vmspec.engine.config import TLBLevel

#: Page sizes (as shifts) that each level name holds.
LEVEL_SHIFTS: dict[str, tuple[int, ...]] = {
    "l1": (12,),
    "l1_2m": (21,),
    "l1_1g": (30,),
    "l2": (12, 21),
}
_L1_FOR_SHIFT = {12: "l1", 21: "l1_2m", 30: "l1_1g"}

#: A sweep that does not continue the previous one runs the per-page loop if it has at most
#: max(LOOP_SWEEP, entries // 3) pages: below that the loop is cheaper than opening a run, which
#: costs O(entries) (measured: crossover near 500 pages for the default 1636-entry TLB).
LOOP_SWEEP = 16

#: Sets with more ways than this use OrderedDict, whose LRU pop stays O(1) however many deletions
#: a set has seen (a plain dict's ``next(iter(d))`` skips the deleted slots at its front). Measured
#: per miss-and-touch: dict is faster up to 256 ways (1.22 vs 1.45 us), OrderedDict at 1536.
_BIG_SET = 512


class _Level:
    """One level's geometry and its sets (a list of ordered dicts, indexed by vpn mod nsets)."""

    __slots__ = ("name", "nsets", "ways", "shifts", "sets", "new_set")

    def __init__(self, spec: TLBLevel):
        self.name = spec.name
        self.ways = spec.ways
        self.nsets = spec.sets
        self.shifts = LEVEL_SHIFTS[spec.name]
        self.new_set = OrderedDict if spec.ways > _BIG_SET else dict
        self.sets: list = [self.new_set() for _ in range(self.nsets)]


class _Run:
    """A pending sweep: pages [start, stop) of one process and page size, accessed in order with
    one write flag, whose hits are decided but whose effect on the sets is not applied yet."""

    __slots__ = ("pid", "shift", "write", "start", "stop", "special", "next", "matches1",
                 "matches2", "hits1", "hits2", "l1_hits_by_set2", "chunks")

    def __init__(self, pid: int, shift: int, write: bool, start: int):
        self.pid, self.shift, self.write = pid, shift, write
        self.start = self.stop = start
        self.special: list[int] = []  # sorted vpns >= start that have a pre-run entry
        self.next = 0  # index in ``special`` of the first page not yet reached
        # Per set index: [(position LRU-first, vpn)] of the pre-run entries of (pid, shift,
        # vpn >= start), in the l1 level and in l2.
        self.matches1: dict[int, list[tuple[int, int]]] = {}
        self.matches2: dict[int, list[tuple[int, int]]] = {}
        self.hits1: dict[int, bool] = {}  # vpn -> writable bit of the l1 entry it hit
        self.hits2: dict[int, bool] = {}  # vpn -> writable bit of the l2 entry it hit
        self.l1_hits_by_set2: dict[int, list[int]] = {}  # l2 set -> l1 hits mapping to it
        # (first vpn, stop vpn, bool array or bool): writable bits of the run's latest pages.
        self.chunks: deque = deque()


def validate_levels(levels: tuple[TLBLevel, ...]) -> None:
    """Raise ValueError unless ``levels`` is a valid ``tlb`` setting (known, distinct names; ways
    dividing entries)."""
    seen = set()
    for lv in levels:
        if lv.name not in LEVEL_SHIFTS:
            raise ValueError(
                f"unknown TLB level {lv.name!r}; expected one of l1, l1_2m, l1_1g, l2"
            )
        if lv.name in seen:
            raise ValueError(f"TLB level {lv.name!r} is listed twice")
        seen.add(lv.name)
        if lv.ways < 1 or lv.entries < lv.ways or lv.entries % lv.ways:
            raise ValueError(
                f"TLB level {lv.name}: {lv.entries} entries {lv.ways}-way is not a whole number "
                "of sets; entries must be a positive multiple of ways"
            )


def _count_congruent(lo: int, hi: int, x: int, nsets: int) -> int:
    """Count the integers u in [lo, hi) with u mod nsets == x (0 when hi <= lo)."""
    if hi <= lo:
        return 0
    return (x - lo) // nsets - (x - hi) // nsets


class TLB:
    """The engine's TLB: per-access ``lookup``/``fill``, bulk ``sweep``, and invalidation."""

    def __init__(self, levels: tuple[TLBLevel, ...]):
        validate_levels(levels)
        self.levels = tuple(levels)
        self._levels = {lv.name: _Level(lv) for lv in levels}
        self._loop_sweep = max(LOOP_SWEEP, sum(lv.entries for lv in levels) // 3)
        self._run: _Run | None = None
        self._last_sweep: tuple | None = None  # (pid, shift, write, stop) of the latest sweep
        # A run's last pages that can end up in some set lie within this many pages of its end:
        # a set keeps its last ``ways`` used pages, and l2 skips at most one l1 hit per l1 entry.
        self._span = max(
            [lv.sets * (lv.ways + sum(x.entries for x in levels)) for lv in levels] or [1]
        )
        # Per page shift: (l1 sets, l1 nsets, l1 ways, l2 sets, l2 nsets, l2 ways), None if absent.
        self._route: dict[int, tuple] = {}
        self._pair: dict[int, tuple[_Level | None, _Level | None]] = {}
        l2 = self._levels.get("l2")
        for shift, name in _L1_FOR_SHIFT.items():
            l1 = self._levels.get(name)
            second = l2 if shift in (12, 21) else None
            self._pair[shift] = (l1, second)
            self._route[shift] = (
                l1.sets if l1 else None,
                l1.nsets if l1 else 1,
                l1.ways if l1 else 0,
                second.sets if second else None,
                second.nsets if second else 1,
                second.ways if second else 0,
            )

    # ---- per access -------------------------------------------------------------------------

    def lookup(self, pid: int, vpn: int, shift: int, write: bool) -> bool:
        """Look one access up: True on a hit (LRU touch; an l2 hit refills l1), False on a miss
        (state unchanged; a permission-stale entry stays for ``fill`` to replace)."""
        if self._run is not None:
            self._apply_run()
        s1, n1, w1, s2, n2, _ = self._route[shift]
        key = (pid, shift, vpn)
        if s1 is not None:
            d = s1[vpn % n1]
            w = d.get(key)
            if w is not None and (w or not write):
                del d[key]
                d[key] = w
                return True
        if s2 is not None:
            d2 = s2[vpn % n2]
            w = d2.get(key)
            if w is not None and (w or not write):
                del d2[key]
                d2[key] = w
                if s1 is not None:
                    # Refill l1: replace a stale copy in place, else evict the LRU entry if full.
                    if d.pop(key, None) is None and len(d) >= w1:
                        del d[next(iter(d))]
                    d[key] = w
                return True
        return False

    def fill(self, pid: int, vpn: int, shift: int, writable: bool) -> None:
        """Insert the entry after a page walk, as most recently used, into the l1 level for
        ``shift`` and into l2 (replacing an existing entry for the page, else evicting the LRU)."""
        if self._run is not None:
            self._apply_run()
        s1, n1, w1, s2, n2, w2 = self._route[shift]
        key = (pid, shift, vpn)
        writable = bool(writable)
        if s1 is not None:
            d = s1[vpn % n1]
            if d.pop(key, None) is None and len(d) >= w1:
                del d[next(iter(d))]
            d[key] = writable
        if s2 is not None:
            d = s2[vpn % n2]
            if d.pop(key, None) is None and len(d) >= w2:
                del d[next(iter(d))]
            d[key] = writable

    # ---- sequential sweep -------------------------------------------------------------------

    def sweep(
        self, pid: int, start_vpn: int, stop_vpn: int, shift: int, write: bool, writable
    ) -> tuple[int, int]:
        """Access pages start_vpn..stop_vpn-1 in order, each a ``lookup`` followed on a miss by
        ``fill`` with that page's ``writable`` (a bool, or a bool array of one per page); return
        (hits, misses).

        Closed form, exact. The pages are distinct, so only pages whose entry existed before the
        sweep can hit, and each page's key is used once. LRU has the stack property: a set holds
        the ``ways`` distinct keys used most recently, where a use is an insertion, a touch or a
        stale replacement, and the initial content counts as uses in LRU-to-MRU order. Every page
        uses its l1 set (hit, l2 refill or fill); every page except l1 hits uses its l2 set. So a
        pre-existing entry for page v survives to v's turn iff the distinct keys used after it,
        (entries above it in its set) | (sweep pages before v that used the set), number fewer than
        ``ways``; l1 hits are decided first, l2 hits from them. Each set ends holding the last
        ``ways`` sweep pages that used it, after its surviving untouched entries.

        The sets are rebuilt lazily: a sweep that continues the previous one (same process, page
        size and write flag, starting where it stopped, as the MMU's per-PTE-table slices do)
        extends one pending run, whose hits are decided against the unchanged pre-run sets; any
        other operation applies the run first. Cost: O(entries) to start a run, O(1) plus O(ways)
        per pre-existing entry it reaches to extend it, O(sets x ways) to apply it. A short sweep
        that does not follow the previous sweep runs the per-page loop, which is cheaper.
        """
        n = stop_vpn - start_vpn
        if n <= 0:
            return (0, 0)
        if not isinstance(writable, (bool, np.bool_)):
            writable = np.asarray(writable, dtype=bool)
            if writable.shape != (n,):
                raise ValueError(
                    f"writable has shape {writable.shape}; expected ({n},), one bool per page"
                )
        lv1, lv2 = self._pair[shift]
        if lv1 is None and lv2 is None:
            return (0, n)  # nothing can hold this page size: every access walks
        run = self._run
        if run is not None and not (
            run.stop == start_vpn and run.pid == pid and run.shift == shift and run.write == write
        ):
            self._apply_run()
            run = None
        follows = self._last_sweep == (pid, shift, write, start_vpn)
        self._last_sweep = (pid, shift, write, stop_vpn)
        if run is None:
            if n <= self._loop_sweep and not follows:
                return self._sweep_loop(pid, start_vpn, stop_vpn, shift, write, writable)
            run = self._run = self._start_run(pid, start_vpn, shift, write)
        return self._extend_run(run, stop_vpn, writable)

    def _sweep_loop(self, pid, start_vpn, stop_vpn, shift, write, writable) -> tuple[int, int]:
        """Run a sweep page by page (the definition of ``sweep``; used for short sweeps)."""
        lookup, fill = self.lookup, self.fill
        const = writable if isinstance(writable, (bool, np.bool_)) else None
        hits = 0
        for i, vpn in enumerate(range(start_vpn, stop_vpn)):
            if lookup(pid, vpn, shift, write):
                hits += 1
            else:
                fill(pid, vpn, shift, bool(const) if const is not None else bool(writable[i]))
        return (hits, stop_vpn - start_vpn - hits)

    def _start_run(self, pid: int, start: int, shift: int, write: bool) -> _Run:
        """Open a pending run at ``start``: index the pre-existing entries it may reach."""
        run = _Run(pid, shift, write, start)
        lv1, lv2 = self._pair[shift]
        special = set()
        for lv, matches in ((lv1, run.matches1), (lv2, run.matches2)):
            if lv is None:
                continue
            for x, d in enumerate(lv.sets):
                found = None
                for j, k in enumerate(d):
                    if k[2] >= start and k[0] == pid and k[1] == shift:
                        if found is None:
                            found = matches[x] = []
                        found.append((j, k[2]))
                        special.add(k[2])
        run.special = sorted(special)
        return run

    def _extend_run(self, run: _Run, stop: int, writable) -> tuple[int, int]:
        """Extend the pending run to ``stop``: decide the hits of its new pages; return
        (hits, misses) for them."""
        start, a, pid, shift, write = run.stop, run.start, run.pid, run.shift, run.write
        n = stop - start
        span = self._span
        chunks = run.chunks
        if isinstance(writable, np.ndarray):
            if n > span:
                chunks.append((stop - span, stop, writable[n - span:].copy()))
            else:
                chunks.append((start, stop, writable.copy()))
        else:
            chunks.append((start, stop, bool(writable)))
        while len(chunks) > 1 and chunks[0][1] <= stop - span:
            chunks.popleft()  # no longer within reach of any set's final content
        run.stop = stop

        special, i = run.special, run.next
        if i >= len(special) or special[i] >= stop:
            return (0, n)
        lv1, lv2 = self._pair[shift]
        hits1, hits2, by_set2 = run.hits1, run.hits2, run.l1_hits_by_set2
        hits = 0
        while i < len(special) and special[i] < stop:
            v = special[i]
            i += 1
            key = (pid, shift, v)
            if lv1 is not None:
                x = v % lv1.nsets
                d = lv1.sets[x]
                w = d.get(key)
                if w is not None and (w or not write):
                    m = run.matches1[x]
                    jv = next(j for j, u in m if u == v)
                    above = len(d) - 1 - jv
                    both = sum(1 for j, u in m if j > jv and u < v)
                    if above + _count_congruent(a, v, x, lv1.nsets) - both < lv1.ways:
                        hits1[v] = w
                        hits += 1
                        if lv2 is not None:
                            by_set2.setdefault(v % lv2.nsets, []).append(v)
                        continue
            if lv2 is not None:
                y = v % lv2.nsets
                d = lv2.sets[y]
                w = d.get(key)
                if w is not None and (w or not write):
                    m = run.matches2[y]
                    jv = next(j for j, u in m if u == v)
                    above = len(d) - 1 - jv
                    both = sum(1 for j, u in m if j > jv and u < v and u not in hits1)
                    used = _count_congruent(a, v, y, lv2.nsets) - len(by_set2.get(y, ()))
                    if above + used - both < lv2.ways:
                        hits2[v] = w
                        hits += 1
        run.next = i
        return (hits, n - hits)

    def _apply_run(self) -> None:
        """Apply the pending run to the sets (each set: its surviving untouched entries, then the
        last ``ways`` pages of the run that used it)."""
        run, self._run = self._run, None
        if run is None:
            return
        t0 = max(run.start, run.stop - self._span)
        tail = np.empty(run.stop - t0, dtype=bool)  # writable bits of the run's last pages
        for lo, hi, data in run.chunks:
            if hi > t0:
                if isinstance(data, np.ndarray):
                    tail[max(lo, t0) - t0:hi - t0] = data[max(t0 - lo, 0):]
                else:
                    tail[max(lo, t0) - t0:hi - t0] = data
        lv1, lv2 = self._pair[run.shift]
        if lv1 is not None:
            self._apply_level(lv1, run, run.matches1, None, tail, t0)
        if lv2 is not None:
            self._apply_level(lv2, run, run.matches2, run.l1_hits_by_set2, tail, t0)

    def _apply_level(self, lv: _Level, run: _Run, matches, l1_hits_by_set, tail, t0) -> None:
        """Apply the run to the sets of one level; ``l1_hits_by_set`` (l2 only) lists per set the
        run's l1 hits, which did not use l2."""
        pid, shift, a, b = run.pid, run.shift, run.start, run.stop
        nsets, ways = lv.nsets, lv.ways
        hits1, hits2 = run.hits1, run.hits2
        own_hits = hits2 if l1_hits_by_set is not None else hits1
        other_hits = None if l1_hits_by_set is not None else hits2  # l2 hits refilled l1
        touched = range(nsets) if b - a >= nsets else [u % nsets for u in range(a, b)]
        empty: list[int] = []
        for x in touched:
            skip = l1_hits_by_set.get(x, empty) if l1_hits_by_set else empty
            used = _count_congruent(a, b, x, nsets) - len(skip)
            if used <= 0:
                continue  # every page of this set hit in l1: the l2 set is untouched
            last = b - 1 - (b - 1 - x) % nsets
            want = min(used, ways)
            old = lv.sets[x]
            m = matches.get(x)
            if not skip and (m is None or all(u >= b for _, u in m)):
                # No entry of this set is a page of the run: insert its last pages in place.
                first = last - (want - 1) * nsets
                if first < t0:
                    raise AssertionError("TLB run: page outside the kept writable window")
                keys = [(pid, shift, u) for u in range(first, last + 1, nsets)]
                values = tail[first - t0:last - t0 + 1:nsets].tolist()
                if other_hits:
                    for k, key in enumerate(keys):
                        w = other_hits.get(key[2])
                        if w is not None:
                            values[k] = w
                if want == ways:
                    lv.sets[x] = lv.new_set(zip(keys, values))
                else:
                    for _ in range(len(old) + want - ways):
                        del old[next(iter(old))]
                    old.update(zip(keys, values))
                continue
            pages: list[int] = []
            u = last
            while len(pages) < want:
                if not (skip and u in hits1):
                    pages.append(u)
                u -= nsets
            pages.reverse()
            new = lv.new_set()
            if used < ways:
                keep = [
                    (k, w)
                    for k, w in old.items()
                    if not (
                        k[0] == pid and k[1] == shift and a <= k[2] < b
                        and not (skip and k[2] in hits1)
                    )
                ]
                room = ways - used
                for k, w in keep[-room:] if room < len(keep) else keep:
                    new[k] = w
            for u in pages:
                w = own_hits.get(u)
                if w is None and other_hits:
                    w = other_hits.get(u)
                if w is None:
                    if u < t0:
                        raise AssertionError("TLB run: page outside the kept writable window")
                    w = bool(tail[u - t0])
                new[(pid, shift, u)] = w
            lv.sets[x] = new

    # ---- invalidation -----------------------------------------------------------------------

    def invalidate(self, pid: int, vpn: int, shift: int) -> None:
        """Drop the entry for one page from every level (INVLPG)."""
        if self._run is not None:
            self._apply_run()
        key = (pid, shift, vpn)
        for lv in self._pair[shift]:
            if lv is not None:
                lv.sets[vpn % lv.nsets].pop(key, None)

    def invalidate_range(self, pid: int, start_va: int, end_va: int) -> None:
        """Drop every entry of ``pid``, in every level, whose page overlaps bytes
        [start_va, end_va); costs O(entries in the TLB) however long the range."""
        if end_va <= start_va:
            return
        if self._run is not None:
            self._apply_run()
        for lv in self._levels.values():
            bounds = {s: (start_va >> s, ((end_va - 1) >> s) + 1) for s in lv.shifts}
            pages = sum(hi - lo for lo, hi in bounds.values())
            if pages <= lv.nsets * lv.ways:
                for s, (lo, hi) in bounds.items():
                    for vpn in range(lo, hi):
                        lv.sets[vpn % lv.nsets].pop((pid, s, vpn), None)
                continue
            for d in lv.sets:
                dead = [
                    k for k in d
                    if k[0] == pid and bounds[k[1]][0] <= k[2] < bounds[k[1]][1]
                ]
                for k in dead:
                    del d[k]

    def flush_pid(self, pid: int) -> None:
        """Drop every entry of ``pid`` from every level (fork's flush of the parent, exit)."""
        if self._run is not None:
            self._apply_run()
        for lv in self._levels.values():
            for d in lv.sets:
                dead = [k for k in d if k[0] == pid]
                for k in dead:
                    del d[k]

    # ---- inspection -------------------------------------------------------------------------

    def entries(self) -> dict[str, list[tuple[int, int, int, bool]]]:
        """Return every level's contents as (pid, shift, vpn, writable), set by set, LRU to MRU."""
        if self._run is not None:
            self._apply_run()
        return {
            name: [(k[0], k[1], k[2], w) for d in lv.sets for k, w in d.items()]
            for name, lv in self._levels.items()
        }

    def check_against(self, ref) -> None:
        """Raise AssertionError if this TLB's contents differ from ``ref`` (a ``TLBRef``)."""
        mine, theirs = self.entries(), ref.entries()
        if mine == theirs:
            return
        for name in sorted(set(mine) | set(theirs)):
            a, b = mine.get(name), theirs.get(name)
            if a != b:
                raise AssertionError(f"TLB level {name} differs from the reference:\n"
                                     f"  engine:    {a}\n  reference: {b}")
