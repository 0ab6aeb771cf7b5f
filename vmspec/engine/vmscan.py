"""Page reclaim over the active/inactive lists (``replacement twolist``): kswapd, direct reclaim,
memory-cgroup reclaim and MADV_PAGEOUT.

``mm/vmscan.c`` of Linux 6.18 with ``CONFIG_LRU_GEN`` off: ``balance_pgdat``,
``do_try_to_free_pages``, ``shrink_node``, ``shrink_lruvec`` with ``get_scan_count``,
``shrink_active_list``, ``shrink_inactive_list``, ``shrink_folio_list`` with
``folio_check_references``, ``reclaim_pages``. Rules, choices (one CPU, one zone, kswapd run to
completion, instant writeback) and measurements: docs/engine.md, "Reclaim", "MADV_PAGEOUT".

Not modelled: workingset refault detection, MGLRU, slab shrinkers, compaction, watermark
boosting, the flusher threads; reclaiming a shmem page raises ``Unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from math import isqrt

from vmspec.engine.errors import Unsupported
from vmspec.engine.frames import ACTIVE, ANON, DIRTY, FILE, REFERENCED, SHMEM, SWAPCACHE, lru_type
from vmspec.engine.lruvec import (ACTIVE_ANON, ACTIVE_FILE, INACTIVE_ANON, INACTIVE_FILE, ISOLATED,
                                  UNEVICTABLE, LRUVec, is_active_list, is_file_list)
from vmspec.engine.swap import encode

if TYPE_CHECKING:
    from vmspec.engine.thp import THP

SHMEM_RECLAIM = ("reclaim reached a shmem page (shared anonymous memory): swapping shmem out is "
                 "not modelled yet (use private anonymous memory, or give the machine more ram)")
SWAP_CLUSTER_MAX = 32
DEF_PRIORITY = 12
MAX_RECLAIM_RETRIES = 16
DEACTIVATE_ANON, DEACTIVATE_FILE = 1, 2
RECLAIM, RECLAIM_CLEAN, KEEP, ACTIVATE = range(4)  # enum folio_references
SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE = range(4)


@dataclass(slots=True)
class ScanControl:
    """``struct scan_control``: one reclaim pass's goals and the state it carries."""

    nr_to_reclaim: int
    priority: int = DEF_PRIORITY
    target: int = 0  # memory cgroup being reclaimed (cgroup reclaim), 0: the machine
    kswapd: bool = False
    may_swap: bool = True
    may_writepage: bool = True
    nr_scanned: int = 0
    nr_reclaimed: int = 0
    may_deactivate: int = 0
    force_deactivate: bool = False
    skipped_deactivate: bool = False
    cache_trim_mode: bool = False
    cache_trim_mode_failed: bool = False
    no_cache_trim_mode: bool = False
    file_is_tiny: bool = False
    memcg_full_walk: bool = False
    anon_cost: int = 0
    file_cost: int = 0


@dataclass(slots=True)
class ReclaimStat:
    """What one ``shrink_folio_list`` call did (``struct reclaim_stat``)."""

    nr_pageout: int = 0
    nr_activate: int = 0


@dataclass(slots=True)
class ReclaimCounts:
    """Machine-wide reclaim counters (/proc/vmstat: pgscan, pgsteal, pgactivate, pgdeactivate;
    kswapd runs and direct reclaim stalls)."""

    scanned: int = 0
    reclaimed: int = 0
    activated: int = 0
    deactivated: int = 0
    kswapd_runs: int = 0
    direct_runs: int = 0


def inactive_is_low(inactive: int, active: int) -> bool:
    """``inactive_is_low``: the inactive list is below its share of the type's pages."""
    gb = (inactive + active) >> 18  # (30 - PAGE_SHIFT)
    ratio = isqrt(10 * gb) if gb else 1
    return inactive * ratio < active


class Reclaimer:
    """The reclaim machinery of one machine (docs/engine.md, "Reclaim")."""

    def __init__(self, frames, rmap, swap, cache, watermarks, swappiness: int,
                 two_lists: bool = True, *, thp: THP) -> None:
        self.frames = frames
        self.lists = frames.lists
        self.rmap = rmap
        self.swap = swap  # SwapDevice or None
        self.cache = cache
        self.wm = watermarks
        self.swappiness = swappiness
        self.two_lists = two_lists  # False under a textbook policy: nothing is ever active
        self.thp = thp  # the machine's THP, to split a huge folio
        self.kswapd_failures = 0
        self.cursor = -1  # the shared memcg iterator position of partial walks
        self.counts = ReclaimCounts()

    # ---- sizes -------------------------------------------------------------------------------

    def _hier(self, vec: LRUVec, lid: int) -> int:
        """``lruvec_page_state``: the machine's lruvec counts every page (hierarchical)."""
        return self.lists.total[lid] if vec.cid == 0 else vec.count[lid]

    def _inactive_low(self, vec: LRUVec, inactive: int) -> bool:
        return inactive_is_low(self._hier(vec, inactive), self._hier(vec, inactive + 1))

    def can_reclaim_anon(self) -> bool:
        """``can_reclaim_anon_pages``: only while swap has a free slot."""
        return self.swap is not None and self.swap.free > 0

    def reclaimable(self) -> int:
        """``zone_reclaimable_pages``: file pages, and anonymous ones while swap has room."""
        t = self.lists.total
        n = t[INACTIVE_FILE] + t[ACTIVE_FILE]
        if self.can_reclaim_anon():
            n += t[INACTIVE_ANON] + t[ACTIVE_ANON]
        return n

    # ---- list moves --------------------------------------------------------------------------

    def _isolate(self, vec: LRUVec, lid: int, n: int) -> list[int]:
        """``isolate_lru_folios``: take up to ``n`` pages from the tail (old end) of a list."""
        lists = self.lists
        taken = vec.queues[lid].take(n, lists.where, lists.seq, lists.large)
        if taken:
            lists.where[taken] = ISOLATED
            pages = sum(lists.large.get(f, 1) for f in taken) if lists.large else len(taken)
            vec.count[lid] -= pages
            lists.total[lid] -= pages
            if lists.observer is not None:
                for f in taken:
                    lists.observer.removed(f, lid, vec.cid, int(lists.seq[f]))
        return taken

    def _putback(self, f: int, cid: int, tail: bool = False) -> None:
        """``move_folios_to_lru``: back on the list its flags say, at the head (or, after a write
        completes, the tail: ``folio_rotate_reclaimable``)."""
        lists = self.lists
        if lists.where[f] == ISOLATED:
            lists.where[f] = -1
        fl = int(self.frames.flags[f])
        if lists.is_mlocked(f):
            lid = UNEVICTABLE
        else:
            lid = lru_type(fl) + (1 if fl & ACTIVE else 0)
        if tail and self.two_lists:
            lists.add_front(f, lid, cid)
        else:
            lists.add(f, lid, cid)

    # ---- references --------------------------------------------------------------------------

    def check_references(self, f: int) -> int:
        """``folio_check_references``: the second chance of a mapped page."""
        refs, exe = self.rmap.referenced(f)
        fl = self.frames.flags
        old = int(fl[f])
        referenced_folio = bool(old & REFERENCED)
        file = old & FILE and not old & SHMEM
        if refs:
            fl[f] = old | REFERENCED
            if referenced_folio or refs > 1:
                return ACTIVATE
            if exe and file:
                return ACTIVATE
            return KEEP
        fl[f] = old & ~REFERENCED & 0xFFFF
        if referenced_folio and file:
            return RECLAIM_CLEAN
        return RECLAIM

    def mark_accessed(self, f: int, cid: int) -> None:
        """``folio_mark_accessed`` (a GUP touch): inactive unreferenced -> referenced ->
        active; active unreferenced -> referenced."""
        fl = self.frames.flags
        old = int(fl[f])
        lid = int(self.lists.where[f])
        if lid in (INACTIVE_ANON, INACTIVE_FILE) and old & REFERENCED:
            fl[f] = (old | ACTIVE) & ~REFERENCED & 0xFFFF
            self.lists.move(f, lid + 1, cid)
            self.counts.activated += 1
        elif not old & REFERENCED:
            fl[f] = old | REFERENCED

    def mark_accessed_many(self, frames) -> None:
        """``folio_mark_accessed`` on each of ``frames`` (GUP's FOLL_TOUCH: populate, mlock)."""
        fl = self.frames.flags
        fr = self.frames
        last = -1
        for f in frames.tolist():
            if fr.folios:
                f = fr.head_of(f)
                if f == last:
                    continue
                last = f
            old = int(fl[f])
            if not old & REFERENCED:
                fl[f] = old | REFERENCED
            else:
                self.mark_accessed(f, self.frames.cid_of(f))

    # ---- shrink_folio_list -------------------------------------------------------------------

    def shrink_folio_list(self, folios: list[int], cid: int, sc: ScanControl | None,
                          stat: ReclaimStat, ignore_references: bool = False) -> int:
        """Try to free each isolated page (oldest first); put back the ones that stay. Return
        how many were freed."""
        fr = self.frames
        flags = fr.flags
        lists = self.lists
        swap = self.swap
        freed = 0
        may_writepage = sc.may_writepage if sc is not None else True
        rotate: list[int] = []
        folios = list(folios)
        n = 0
        while n < len(folios):
            f = folios[n]
            n += 1
            large = fr.folios.get(f) if fr.folios else None
            if sc is not None:
                sc.nr_scanned += 1 if large is None else len(large)
            if lists.is_mlocked(f):
                self._putback(f, cid)
                continue
            if f in fr.pinned:
                self._putback(f, cid)
                continue
            ref = RECLAIM if ignore_references else self.check_references(f)
            if ref == ACTIVATE:
                self._activate(f, cid, stat)
                continue
            if ref == KEEP:
                self._putback(f, cid)
                continue
            if large is not None and flags[f] & ANON:  # a huge page to reclaim: split it first
                subs = self.thp.split_folio(f, isolated=True).tolist()
                folios[n - 1:n] = subs
                n -= 1
                if sc is not None:
                    sc.nr_scanned -= len(large)
                continue
            if large is not None:  # a large page-cache folio goes (or is written) whole
                if fr.mapcount[large].any():
                    self.rmap.unmap_file_folio(f, self.thp)
                if (flags[large] & DIRTY).any():
                    if ref == RECLAIM_CLEAN or not may_writepage:
                        self._putback(f, cid)
                        continue
                    flags[large] &= 0xFFFF & ~DIRTY
                    stat.nr_pageout += len(large)
                    rotate.append(f)
                    continue
                self._free_file_folio(f)
                freed += len(large)
                continue
            fl = int(flags[f])
            if fl & SHMEM:
                for g in folios[n - 1:]:
                    self._putback(g, cid)
                raise Unsupported(SHMEM_RECLAIM)
            slot = 0
            if fl & ANON:
                if fl & SWAPCACHE:
                    slot = swap.frame_slot[f]
                else:
                    slot = swap.new_cache_slot(f) if swap is not None else 0
                    if not slot:  # activate_locked_split
                        self._activate(f, cid, stat)
                        continue
                    fl |= SWAPCACHE | DIRTY
                    flags[f] = fl
            if fr.mapcount[f]:
                mappers = self.rmap.mappers(f)
                self.rmap.unmap(f, encode(slot) if slot else -1, mappers)
                for _ in range(len(mappers) if slot else 0):
                    swap.dup(slot)
                fl = int(flags[f])
            if fl & DIRTY:
                if ref == RECLAIM_CLEAN or not may_writepage:
                    self._putback(f, cid)
                    continue
                flags[f] = fl & ~DIRTY & 0xFFFF  # pageout: written at once (docs/engine.md)
                if slot:
                    swap.pswpout += 1
                    if swap.content is not None:
                        swap.content[slot] = int(fr.content[f])
                stat.nr_pageout += 1
                rotate.append(f)
                continue
            self._free(f, fl)
            freed += 1
        for f in reversed(rotate):
            self._putback(f, cid, tail=True)
        return freed

    def _activate(self, f: int, cid: int, stat: ReclaimStat) -> None:
        """``activate_locked``: give a swap-cache page's slot back when swap is more than half
        full, set PG_active and put the page back on its active list."""
        fr = self.frames
        fl = int(fr.flags[f])
        sw = self.swap
        if fl & SWAPCACHE and sw.full() and not sw.refs(sw.frame_slot[f]):
            sw.drop_cache(f)  # folio_free_swap
            fl = (fl & ~SWAPCACHE & 0xFFFF) | DIRTY
        if self.two_lists and not self.lists.is_mlocked(f):
            fl |= ACTIVE
            stat.nr_activate += 1
            self.counts.activated += 1
        fr.flags[f] = fl
        self._putback(f, cid)

    def _free_file_folio(self, head: int) -> None:
        """``__remove_mapping`` of a large page-cache folio: out of the cache, then freed."""
        fr = self.frames
        cf = self.cache.by_id[int(fr.owner[head])]
        first = int(fr.index[head])
        for k in range(len(fr.folios[head])):
            self.cache.drop(cf, first + k)
        fr.release_folio(head)

    def _free(self, f: int, fl: int) -> None:
        """``__remove_mapping`` and free: out of the swap cache or the page cache, then freed."""
        if fl & FILE:
            cf = self.cache.by_id[int(self.frames.owner[f])]
            self.cache.drop(cf, int(self.frames.index[f]))
        self.frames.release(f)

    # ---- the lists ---------------------------------------------------------------------------

    def shrink_inactive_list(self, n: int, vec: LRUVec, sc: ScanControl, lid: int) -> int:
        taken = self._isolate(vec, lid, n)
        if not taken:
            return 0
        large = self.lists.large
        nr_taken = sum(large.get(f, 1) for f in taken) if large else len(taken)  # pages
        stat = ReclaimStat()
        freed = self.shrink_folio_list(taken, vec.cid, sc, stat)
        self.counts.scanned += nr_taken
        self.counts.reclaimed += freed
        self.note_cost(vec, is_file_list(lid), stat.nr_pageout, nr_taken - freed)
        return freed

    def shrink_active_list(self, n: int, vec: LRUVec, sc: ScanControl, lid: int) -> None:
        """Deactivate the oldest active pages, keeping referenced executable file pages."""
        taken = self._isolate(vec, lid, n)
        if not taken:
            return
        flags = self.frames.flags
        file = is_file_list(lid)
        keep, down = [], []
        for f in taken:
            if self.lists.is_mlocked(f):
                self._putback(f, vec.cid)
                continue
            refs, exe = self.rmap.referenced(f)
            if refs and exe and file:
                keep.append(f)
                continue
            flags[f] &= 0xFFFF & ~ACTIVE
            down.append(f)
        for f in keep:
            self._putback(f, vec.cid)
        for f in down:
            self._putback(f, vec.cid)
        self.counts.deactivated += len(down)
        if keep:
            self.note_cost(vec, file, 0, len(keep))

    def shrink_list(self, lid: int, n: int, vec: LRUVec, sc: ScanControl) -> int:
        if is_active_list(lid):
            if sc.may_deactivate & (DEACTIVATE_FILE if is_file_list(lid) else DEACTIVATE_ANON):
                self.shrink_active_list(n, vec, sc, lid)
            else:
                sc.skipped_deactivate = True
            return 0
        return self.shrink_inactive_list(n, vec, sc, lid)

    def note_cost(self, vec: LRUVec, file: bool, nr_io: int, nr_rotated: int) -> None:
        """``lru_note_cost``: add to the list type's reclaim cost, here and in the machine's
        lruvec, halving both costs once they exceed a quarter of the lists."""
        cost = nr_io * SWAP_CLUSTER_MAX + nr_rotated
        vecs = (vec,) if vec.cid == 0 else (vec, self.lists.vecs[0])
        for v in vecs:
            if file:
                v.file_cost += cost
            else:
                v.anon_cost += cost
            size = sum(self._hier(v, lid) for lid in range(4))
            if v.file_cost + v.anon_cost > size // 4:
                v.file_cost //= 2
                v.anon_cost //= 2

    # ---- scan balance ------------------------------------------------------------------------

    def prepare_scan_control(self, sc: ScanControl) -> None:
        target = self.lists.vecs[sc.target]
        sc.anon_cost, sc.file_cost = target.anon_cost, target.file_cost
        if not sc.force_deactivate:
            sc.may_deactivate = 0
            if self._inactive_low(target, INACTIVE_ANON):
                sc.may_deactivate |= DEACTIVATE_ANON
            if self._inactive_low(target, INACTIVE_FILE):
                sc.may_deactivate |= DEACTIVATE_FILE
        else:
            sc.may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE
        file = self._hier(target, INACTIVE_FILE)
        sc.cache_trim_mode = bool(file >> sc.priority) and not sc.may_deactivate & DEACTIVATE_FILE \
            and not sc.no_cache_trim_mode
        if not sc.target:
            t = self.lists.total
            file = t[ACTIVE_FILE] + t[INACTIVE_FILE]
            sc.file_is_tiny = (file + self.frames.free <= self.wm.high
                               and not sc.may_deactivate & DEACTIVATE_ANON
                               and bool(t[INACTIVE_ANON] >> sc.priority))

    def get_scan_count(self, vec: LRUVec, sc: ScanControl) -> list[int]:
        """How many pages of each evictable list to scan at this priority."""
        sw = self.swappiness
        fraction = (0, 0)
        denominator = 1
        if not sc.may_swap or not self.can_reclaim_anon():
            balance = SCAN_FILE
        elif sc.target and not sw:
            balance = SCAN_FILE
        elif not sc.priority and sw:
            balance = SCAN_EQUAL
        elif sc.file_is_tiny:
            balance = SCAN_ANON
        elif sc.cache_trim_mode:
            balance = SCAN_FILE
        else:
            balance = SCAN_FRACT
            total = sc.anon_cost + sc.file_cost
            anon_cost = total + sc.anon_cost
            file_cost = total + sc.file_cost
            total = anon_cost + file_cost
            ap = sw * (total + 1) // (anon_cost + 1)
            fp = (200 - sw) * (total + 1) // (file_cost + 1)
            fraction = (ap, fp)
            denominator = ap + fp
        nr = [0, 0, 0, 0]
        for lid in range(4):
            file = lid >= INACTIVE_FILE
            scan = vec.count[lid] >> sc.priority
            if balance == SCAN_FRACT:
                scan = scan * fraction[file] // denominator
            elif balance in (SCAN_FILE, SCAN_ANON) and (balance == SCAN_FILE) != file:
                scan = 0
            nr[lid] = scan
        return nr

    # ---- lruvec, node ------------------------------------------------------------------------

    def shrink_lruvec(self, vec: LRUVec, sc: ScanControl) -> None:
        nr = self.get_scan_count(vec, sc)
        targets = list(nr)
        proportional = not sc.target and not sc.kswapd and sc.priority == DEF_PRIORITY
        reclaimed = 0
        while nr[INACTIVE_ANON] or nr[ACTIVE_FILE] or nr[INACTIVE_FILE]:
            for lid in range(4):
                if nr[lid]:
                    n = min(nr[lid], SWAP_CLUSTER_MAX)
                    nr[lid] -= n
                    reclaimed += self.shrink_list(lid, n, vec, sc)
            if reclaimed < sc.nr_to_reclaim or proportional:
                continue
            nr_file = nr[INACTIVE_FILE] + nr[ACTIVE_FILE]
            nr_anon = nr[INACTIVE_ANON] + nr[ACTIVE_ANON]
            if not nr_file or not nr_anon:
                break
            if nr_file > nr_anon:
                lru = INACTIVE_ANON
                percentage = nr_anon * 100 // (targets[0] + targets[1] + 1)
            else:
                lru = INACTIVE_FILE
                percentage = nr_file * 100 // (targets[2] + targets[3] + 1)
            nr[lru] = nr[lru + 1] = 0
            lru = INACTIVE_FILE if lru == INACTIVE_ANON else INACTIVE_ANON
            for x in (lru, lru + 1):
                scanned = targets[x] - nr[x]
                nr[x] = targets[x] * (100 - percentage) // 100
                nr[x] -= min(nr[x], scanned)
        sc.nr_reclaimed += reclaimed
        if self.swap is not None and self._inactive_low(vec, INACTIVE_ANON):
            self.shrink_active_list(SWAP_CLUSTER_MAX, vec, sc, ACTIVE_ANON)

    def _walk(self, sc: ScanControl) -> list[tuple[int, LRUVec]]:
        """The lruvecs a ``shrink_node`` visits, with their positions: the target group's, or
        every one (the machine's first, then the groups by creation), from just past the shared
        cursor for a partial walk (``mem_cgroup_iter`` with a reclaim cookie)."""
        if sc.target:
            return [(0, self.lists.vecs[sc.target])]
        vecs = list(enumerate(self.lists.vecs.values()))
        if sc.kswapd or sc.memcg_full_walk or len(vecs) == 1:
            return vecs
        start = self.cursor + 1 if self.cursor + 1 < len(vecs) else 0
        return vecs[start:]

    def shrink_node(self, sc: ScanControl) -> None:
        before = sc.nr_reclaimed
        self.prepare_scan_control(sc)
        partial = not sc.target and not sc.kswapd and not sc.memcg_full_walk
        for pos, vec in self._walk(sc):
            self.shrink_lruvec(vec, sc)
            if partial:
                self.cursor = pos
                if sc.nr_reclaimed >= sc.nr_to_reclaim:
                    break
        if sc.nr_reclaimed > before:
            self.kswapd_failures = 0
        elif sc.cache_trim_mode:
            sc.cache_trim_mode_failed = True

    # ---- entry points ------------------------------------------------------------------------

    def balance_pgdat(self) -> int:
        """kswapd: reclaim until free memory is above the high watermark (``balance_pgdat``);
        return the pages it freed."""
        if self.kswapd_failures >= MAX_RECLAIM_RETRIES:
            return 0
        self.counts.kswapd_runs += 1
        fr = self.frames
        high = self.wm.high
        sc = ScanControl(nr_to_reclaim=0, kswapd=True)
        while True:
            sc.priority = DEF_PRIORITY
            while sc.priority >= 1:
                if fr.free > high:
                    break
                before = sc.nr_reclaimed
                self._age_anon(sc)
                sc.nr_scanned = 0
                sc.nr_to_reclaim = max(high, SWAP_CLUSTER_MAX)
                self.shrink_node(sc)
                done = sc.nr_reclaimed - before
                if max(sc.nr_scanned, done) < sc.nr_to_reclaim or not done:
                    sc.priority -= 1
            if (not sc.nr_reclaimed and sc.priority < 1 and not sc.no_cache_trim_mode
                    and sc.cache_trim_mode_failed):
                sc.no_cache_trim_mode = True
                continue
            break
        if not sc.nr_reclaimed:
            self.kswapd_failures += 1
        return sc.nr_reclaimed

    def _age_anon(self, sc: ScanControl) -> None:
        """``kswapd_age_node``: rebalance the anon lists of every lruvec when inactive is low."""
        if self.swap is None or not self._inactive_low(self.lists.vecs[0], INACTIVE_ANON):
            return
        for vec in list(self.lists.vecs.values()):
            self.shrink_active_list(SWAP_CLUSTER_MAX, vec, sc, ACTIVE_ANON)

    def try_to_free_pages(self, target: int = 0, nr_pages: int = 1) -> int:
        """Direct reclaim (``do_try_to_free_pages``) of the machine, or of memory cgroup
        ``target``; return the pages freed."""
        self.counts.direct_runs += 1
        sc = ScanControl(nr_to_reclaim=max(nr_pages, SWAP_CLUSTER_MAX), target=target)
        while True:
            sc.priority = DEF_PRIORITY
            while sc.priority >= 0:
                sc.nr_scanned = 0
                self.shrink_node(sc)
                if sc.nr_reclaimed >= sc.nr_to_reclaim:
                    break
                sc.priority -= 1
            if sc.nr_reclaimed:
                return sc.nr_reclaimed
            if not sc.memcg_full_walk and not target and len(self.lists.vecs) > 1:
                sc.memcg_full_walk = True
                continue
            if sc.skipped_deactivate:
                sc.force_deactivate = True
                sc.skipped_deactivate = False
                continue
            return 0

    def reclaim_pages(self, frames: list[int]) -> None:
        """``reclaim_pages`` (MADV_PAGEOUT): page out the given pages, ignoring references."""
        lists = self.lists
        fr = self.frames
        by_cid: dict[int, list[int]] = {}
        for f in frames:
            cid = fr.cid_of(f)
            lid = int(lists.where[f])
            if lid < 0 or lid == UNEVICTABLE:
                continue
            lists.remove(f, cid)
            lists.where[f] = ISOLATED
            fr.flags[f] &= 0xFFFF & ~ACTIVE
            by_cid.setdefault(cid, []).append(f)
        for cid, pages in by_cid.items():
            self.shrink_folio_list(pages, cid, None, ReclaimStat(), ignore_references=True)
