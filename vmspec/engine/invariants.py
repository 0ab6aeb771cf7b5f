"""Self-checks of the engine's state: ``check_invariants(system)`` raises ``InvariantBroken``.

It walks the state (frames, page tables, VMAs, swap, memory groups, hugetlb pools, the TLB)
rather than re-reading the counters the operations keep; docs/engine.md, "Self-checks", lists
what must hold. No Linux counterpart (CONFIG_DEBUG_VM's checks are the nearest).
"""

from __future__ import annotations

from typing import NoReturn

import numpy as np

from vmspec.engine.errors import InvariantBroken
from vmspec.engine.frames import ACTIVE, ANON, FILE, PGTABLE, SHMEM, SWAPCACHE
from vmspec.engine.lruvec import (ACTIVE_ANON, ACTIVE_FILE, INACTIVE_ANON, INACTIVE_FILE,
                                  NOT_ON_LIST, NR_LISTS, UNEVICTABLE)
from vmspec.engine.swap import CLUSTER, SWP_FIRST, decode
from vmspec.engine.vma import W


def _fail(msg: str) -> NoReturn:
    raise InvariantBroken(msg)


def check_invariants(sysm) -> None:
    """Raise InvariantBroken if any invariant of the module docstring is violated."""
    fr = sysm.frames
    hw = fr.hw
    role = np.zeros(hw, np.int8)  # 0 unseen, 1 free, 2 table, 3 cache, 4 anon
    free = fr.free_list()
    if len(free) and (free.min() < 0 or free.max() >= hw):
        _fail("a frame on the free stack was never handed out")
    if len(np.unique(free)) != len(free):
        _fail("a frame is on the free stack twice")
    role[free] = 1
    live = [p for p in sysm.procs.values() if p.alive]
    refs = np.zeros(hw, np.int64)
    for p in sysm.procs.values():
        if not p.alive and (p.pt.pfn or p.pt.pmd or p.pt.pud or len(p.vmas) or p.pt.huge[21]
                            or p.pt.huge[30] or p.hresv):
            _fail(f"{p.name} is {p.status} but still has page tables, VMAs or reservations")
    for p in live:
        for f in p.pt.all_frames():
            if role[f]:
                _fail(f"table frame {f} of {p.name} is also {role[f]}")
            if not fr.flags[f] & PGTABLE:
                _fail(f"table frame {f} of {p.name} lacks the PGTABLE flag")
            role[f] = 2
    for cf in sysm.cache.files.values():
        n = 0
        for idx, f in cf.pages():
            n += 1
            if role[f]:
                _fail(f"cache frame {f} ({cf.key} page {idx}) is also role {role[f]}")
            if not fr.flags[f] & FILE or int(fr.owner[f]) != cf.fid or int(fr.index[f]) != idx:
                _fail(f"cache frame {f} has wrong flags/owner/index for {cf.key} page {idx}")
            role[f] = 3
        if n != cf.nr:
            _fail(f"file {cf.key} counts {cf.nr} cached pages but holds {n}")
    if sum(cf.nr for cf in sysm.cache.files.values()) != sysm.cache.nr:
        _fail("the page cache's total does not match its files")
    swaprefs = None
    if sysm.swapdev is not None:
        swaprefs = np.zeros(len(sysm.swapdev.count) + 1, np.int64)
    for p in live:
        _check_process(sysm, p, role, refs, swaprefs)
    if swaprefs is not None:
        _check_swap(sysm, role, swaprefs)
    unseen = np.flatnonzero(role == 0)
    if len(unseen):
        _fail(f"frames {unseen[:8].tolist()} are neither free, tables, cache nor mapped")
    if hw - len(free) != fr.used:
        _fail(f"used frames counter {fr.used} != {hw - len(free)} handed out and not freed")
    nonfree = role != 1
    bad = np.flatnonzero(nonfree & (refs != fr.mapcount[:hw]))
    if len(bad):
        f = int(bad[0])
        _fail(f"frame {f}: mapcount {int(fr.mapcount[f])} but {int(refs[f])} PTEs map it")
    if (fr.mapcount[:hw][role == 1] != 0).any() or (fr.flags[:hw][role == 1] != 0).any():
        _fail("a free frame has a mapcount or flags")
    if fr.charges.groups:
        cg_ids = fr.charges.cgid[:hw]
        if (cg_ids[role == 1] != 0).any() or (cg_ids[role == 2] != 0).any():
            _fail("a free frame or a page table is charged to a memory cgroup")
        for cid, cg in fr.charges.groups.items():
            n = int(np.count_nonzero(cg_ids == cid))
            if n != cg.usage:
                _fail(f"memory cgroup of {cg.name}: usage {cg.usage} but {n} frames charged")
    _check_lru(sysm, live, role)
    if sysm.check_pages:
        sysm.pagecheck.check()
    _check_rmap(sysm, live)
    _check_commit(sysm, live)
    _check_hugetlb(sysm, live)
    _check_tlb(sysm, live)


def _check_hugetlb(sysm, live) -> None:
    hl = sysm.hugetlb
    for size, pool in hl.pools.items():
        shift = 21 if size == 2 << 20 else 30
        free = pool.free_pages()
        if len(set(free)) != len(free) or len(free) != pool.free:
            _fail(f"{size >> 20} MiB pool: free count {pool.free} but free list holds {len(free)}")
        if not 0 <= pool.resv <= pool.free <= pool.total:
            _fail(f"{size >> 20} MiB pool: resv {pool.resv}, free {pool.free}, total {pool.total}")
        maps = [0] * pool.total
        resv = 0
        for p in live:
            resv += sum(1 for a in p.hresv
                        if (v := p.vmas.find(a)) is not None and v.hugetlb == size)
            for k, (page, w) in p.pt.huge[shift].items():
                va = k << shift
                v = p.vmas.find(va)
                if v is None or v.hugetlb != size:
                    _fail(f"{p.name}: a {size >> 20} MiB leaf at {va:#x} outside a hugetlb VMA of "
                          "that size")
                if w and not v.prot & W:
                    _fail(f"{p.name}: writable hugetlb leaf at {va:#x} in a read-only mapping")
                if (shift == 21 and va >> 30 not in p.pt.pmd) or va >> 39 not in p.pt.pud:
                    _fail(f"{p.name}: hugetlb leaf at {va:#x} without the table that holds it")
                if shift == 21 and va >> 21 in p.pt.ptf or shift == 30 and va >> 30 in p.pt.pmd:
                    _fail(f"{p.name}: a page table below the hugetlb leaf at {va:#x}")
                if v.shared:
                    obj = hl.objects.get(v.hobj)
                    idx = v.pgoff + ((va - v.start) >> shift)
                    if obj is None or obj.pages.get(idx) != page:
                        _fail(f"{p.name}: shared hugetlb leaf at {va:#x} is not its object's page")
                elif pool.shared[page]:
                    _fail(f"{p.name}: private hugetlb leaf at {va:#x} maps a shared object's page")
                maps[page] += 1
        held = set()
        for obj in hl.objects.values():
            if obj.size != size:
                continue
            resv += len(obj.resv)
            if obj.resv & set(obj.pages):
                _fail(f"shared hugetlb object {obj.oid}: a page is both reserved and allocated")
            for page in obj.pages.values():
                if pool.shared[page] != obj.oid:
                    _fail(f"shared hugetlb object {obj.oid} holds page {page} tagged otherwise")
                held.add(page)
        if resv != pool.resv:
            _fail(f"{size >> 20} MiB pool: resv {pool.resv} but mappings hold {resv} reservations")
        freeset = set(free)
        for page in range(pool.total):
            if maps[page] != pool.mapcount[page]:
                _fail(f"{size >> 20} MiB page {page}: mapcount {pool.mapcount[page]} but "
                      f"{maps[page]} leaves map it")
            in_use = page not in freeset
            if in_use != (page in held or maps[page] > 0):
                _fail(f"{size >> 20} MiB page {page}: {'in use' if in_use else 'free'} but "
                      f"{'un' if in_use else ''}referenced")


def _check_swap(sysm, role, swaprefs) -> None:
    """Each slot's count equals the swap PTEs pointing at it; the swap cache and the SWAPCACHE
    flags agree; unmapped swap-cache pages are a role of their own (5); slot 0 is never used;
    the clusters' use counts agree with their slots."""
    sw = sysm.swapdev
    fr = sysm.frames
    n = len(sw.count)
    count = np.array(sw.count, dtype=np.int64) if n else np.zeros(0, np.int64)
    cache = np.array(sw.cache, dtype=np.int64) if n else np.zeros(0, np.int64)
    if n and (count[0] or cache[0] >= 0):
        _fail("swap slot 0 (the header) is in use")
    refs = swaprefs[:n]
    if swaprefs[n:].any():
        _fail("a swap PTE points at a slot the device never handed out")
    bad = np.flatnonzero(count != refs)
    if len(bad):
        s = int(bad[0])
        _fail(f"swap slot {s}: count {int(count[s])} but {int(refs[s])} swap PTEs")
    cached = np.flatnonzero(cache >= 0)
    if len(cached) != len(sw.frame_slot):
        _fail("the swap cache and its frame index disagree in size")
    for s in cached.tolist():
        f = int(cache[s])
        if sw.frame_slot.get(f) != s:
            _fail(f"swap slot {s} caches frame {f}, which is indexed under another slot")
        if not fr.flags[f] & SWAPCACHE or not fr.flags[f] & ANON:
            _fail(f"swap-cache frame {f} lacks the ANON or SWAPCACHE flag")
        if role[f] == 0:
            if fr.mapcount[f]:
                _fail(f"unmapped swap-cache frame {f} has mapcount {int(fr.mapcount[f])}")
            role[f] = 5
        elif role[f] != 4:
            _fail(f"swap-cache frame {f} is also role {role[f]}")
    hw = fr.hw
    flagged = np.flatnonzero((fr.flags[:hw] & SWAPCACHE) != 0)
    if len(flagged) != len(cached):
        _fail(f"{len(flagged)} frames carry SWAPCACHE but the swap cache holds {len(cached)}")
    used = (count != 0) | (cache >= 0)
    if int(np.count_nonzero(used)) != sw.inuse:
        _fail(f"swap counts {sw.inuse} slots in use but {int(np.count_nonzero(used))} have a "
              "count or a cache page")
    for c, k in sw.used_in.items():
        if int(np.count_nonzero(used[c * CLUSTER:(c + 1) * CLUSTER])) != k:
            _fail(f"swap cluster {c} counts {k} slots in use, its slots say otherwise")
    if (count < 0).any():
        _fail("a swap slot has a negative count")


def _check_process(sysm, p, role, refs, swaprefs=None) -> None:
    fr = sysm.frames
    pt = p.pt
    anon = filep = shm = 0
    nswap = 0
    for key, t in pt.pfn.items():
        if key not in pt.ptf or key not in pt.wr:
            _fail(f"{p.name}: PTE table {key:#x} without a frame or write bits")
        if key >> 9 not in pt.pmd or key >> 18 not in pt.pud:
            _fail(f"{p.name}: PTE table {key:#x} has no PMD/PUD table above it")
        if pt.levels == 5 and key >> 27 not in pt.p4d:
            _fail(f"{p.name}: PTE table {key:#x} has no P4D table above it")
        if not p.vmas.intersects(key << 21, (key + 1) << 21) and (t != -1).any():
            _fail(f"{p.name}: PTEs outside every VMA at {key << 21:#x}")
        w = pt.wr[key]
        mapped = t[t >= 0]
        if ((t == -1) & w).any():
            _fail(f"{p.name}: a PTE without a page has its write bit set at {key << 21:#x}")
        if ((t == -2) & w).any():
            _fail(f"{p.name}: the zero page is mapped writable at {key << 21:#x}")
        sw = t[t <= SWP_FIRST]
        if len(sw):
            if swaprefs is None:
                _fail(f"{p.name}: swap entries at {key << 21:#x} on a machine without swap")
            if ((t <= SWP_FIRST) & w).any():
                _fail(f"{p.name}: a swap entry has its write bit set at {key << 21:#x}")
            slots = decode(sw)
            if slots.max() > sysm.swapdev.nslots or slots.max() >= len(swaprefs):
                _fail(f"{p.name}: a swap entry beyond the device at {key << 21:#x}")
            np.add.at(swaprefs, slots, 1)
            nswap += len(sw)
        if len(mapped):
            np.add.at(refs, mapped, 1)
            fl = fr.flags[mapped]
            r = role[mapped]
            if ((r == 1) | (r == 2)).any():
                _fail(f"{p.name}: a PTE maps a free or page-table frame at {key << 21:#x}")
            is_anon = (fl & ANON) != 0
            if (is_anon & (r == 3)).any() or (~is_anon & (r != 3)).any():
                _fail(f"{p.name}: a PTE maps a frame whose kind contradicts the cache")
            role[mapped[is_anon]] = 4
            a = int(np.count_nonzero(is_anon))
            s = int(np.count_nonzero((fl & SHMEM) != 0))
            anon += a
            shm += s
            filep += len(mapped) - a - s
            for i in np.flatnonzero(t != -1).tolist():
                v = p.vmas.find((key << 21) + (i << 12))
                if v is None:
                    _fail(f"{p.name}: PTE at {(key << 21) + (i << 12):#x} outside every VMA")
                if w[i] and not v.prot & W:
                    _fail(f"{p.name}: writable PTE at {(key << 21) + (i << 12):#x} in a "
                          "mapping without write permission")
    for key, leaf in pt.thp.items():
        va = key << 21
        if key in pt.pfn:
            _fail(f"{p.name}: a huge PMD at {va:#x} has a PTE table below it")
        if (key in pt.deposit) == leaf.file:
            _fail(f"{p.name}: the huge PMD at {va:#x} has {'a' if leaf.file else 'no'} "
                  "deposited table")
        if key >> 9 not in pt.pmd or key >> 18 not in pt.pud:
            _fail(f"{p.name}: the huge PMD at {va:#x} has no PMD/PUD table above it")
        v = p.vmas.find(va)
        if leaf.file:
            if (v is None or v.start > va or v.end < va + (1 << 21) or v.file is None or v.shmem
                    or ((v.start >> 12) - v.pgoff) & 511):
                _fail(f"{p.name}: a page-cache PMD at {va:#x} outside a suitable file VMA")
        elif v is None or v.end < va + (1 << 21) or v.file is not None or v.shared or v.hugetlb:
            _fail(f"{p.name}: a huge PMD at {va:#x} outside a private anonymous VMA")
        if leaf.wr and not v.prot & W:
            _fail(f"{p.name}: a writable huge PMD at {va:#x} in a mapping without write")
        if leaf.head >= 0:
            subs = fr.folios.get(leaf.head)
            if subs is None or leaf.subs is not subs or len(subs) != 512:
                _fail(f"{p.name}: the huge PMD at {va:#x} maps no huge folio")
            want = np.arange(v.file_page(va), v.file_page(va) + 512) if leaf.file else \
                np.arange(key << 9, (key + 1) << 9)
            if (fr.index[subs] != want).any():
                _fail(f"{p.name}: huge folio {leaf.head} is not at the address mapping it")
            if leaf.file and int(fr.owner[leaf.head]) != v.file:
                _fail(f"{p.name}: the page-cache PMD at {va:#x} maps another file's folio")
            refs[subs] += 1
            if (role[subs] == 1).any() or (role[subs] == 2).any():
                _fail(f"{p.name}: a huge PMD maps a free or page-table frame")
            if leaf.file:
                filep += 512
            else:
                role[subs] = 4
                anon += 512
        elif leaf.wr or leaf.dirty:
            _fail(f"{p.name}: the huge zero page is mapped writable or dirty at {va:#x}")
    for key in pt.deposit:
        if key not in pt.thp:
            _fail(f"{p.name}: a deposited table at {key << 21:#x} without a huge PMD")
    if nswap != p.swapents:
        _fail(f"{p.name}: MM_SWAPENTS {p.swapents} but page tables hold {nswap} swap entries")
    if (anon, filep, shm) != (p.rss_anon, p.rss_file, p.rss_shmem):
        _fail(f"{p.name}: RSS counters anon/file/shmem {p.rss_anon}/{p.rss_file}/{p.rss_shmem}"
              f" but page tables hold {anon}/{filep}/{shm}")
    for k2 in pt.pmd:
        if k2 >> 9 not in pt.pud:
            _fail(f"{p.name}: PMD table {k2:#x} has no PUD table above it")
    for shift, table in ((21, pt.ptf), (30, pt.pmd), (39, pt.pud), (48, pt.p4d)):
        for k in table:
            if not p.vmas.intersects(k << shift, (k + 1) << shift):
                _fail(f"{p.name}: a page table at {k << shift:#x} (span 2^{shift}) outlived "
                      "every VMA in its span (free_pgtables should have freed it)")


def _check_lru(sysm, live, role) -> None:
    """Every user page (mapped, cached or in the swap cache) is on exactly one LRU list of its
    memory group's lruvec, of its type (anon lists for anonymous, shmem and swap-cache pages),
    unevictable exactly when a VM_LOCKED PTE maps it, active exactly when PG_active is set (never
    under a textbook policy); free frames and page tables are on none; list sizes are exact and
    each queue holds each of its pages once."""
    fr = sysm.frames
    lists = fr.lists
    hw = fr.hw
    where = lists.where[:hw]
    user = (role == 3) | (role == 4) | (role == 5)
    weight = np.ones(hw, np.int64)
    tail = np.zeros(hw, np.bool_)
    for head, subs in fr.folios.items():
        n = len(subs)
        if fr.folios.head1 is None or (fr.heads_of(subs) != head).any() or int(subs[0]) != head:
            _fail(f"large folio {head}: its frames do not name it as their head")
        if lists.large.get(head) != n or n & (n - 1) or not 2 <= n <= 512:
            _fail(f"large folio {head} is not counted as its {n} pages on its list")
        kinds = fr.flags[subs] & (ANON | FILE | SHMEM)
        if (fr.owner[subs] != fr.owner[head]).any() or (kinds != kinds[0]).any() or \
                kinds[0] not in (ANON, FILE) or (kinds[0] == ANON and n != 512):
            _fail(f"large folio {head}: its frames disagree on owner or kind")
        if kinds[0] == FILE and ((fr.index[subs] != fr.index[head] + np.arange(n)).any()
                                 or int(fr.index[head]) % n):
            _fail(f"page-cache folio {head} is not {n} naturally aligned file pages")
        tail[subs[1:]] = True
        weight[head] = n
    if set(lists.large) != set(fr.folios):
        _fail("the LRU's huge entries and the huge folios disagree")
    if fr.folios.head1 is not None:
        lone = np.flatnonzero((fr.folios.head1[:hw] > 0) & ~tail)
        strays = [f for f in lone.tolist() if f not in fr.folios]
        if strays:
            _fail(f"frame {strays[0]} names head {fr.head_of(strays[0])} but is in no huge folio")
    if (where[tail] != NOT_ON_LIST).any():
        _fail("a tail page of a huge folio is on an LRU list of its own")
    user &= ~tail
    if (where[~user] != NOT_ON_LIST).any():
        f = int(np.flatnonzero(~user & (where != NOT_ON_LIST))[0])
        _fail(f"frame {f} (free or a page table) is on LRU list {int(lists.where[f])}")
    if (where[user] < 0).any():
        f = int(np.flatnonzero(user & (where < 0))[0])
        _fail(f"user page {f} is on no LRU list")
    fl = fr.flags[:hw]
    filetype = ((fl & FILE) != 0) & ((fl & SHMEM) == 0)
    base = np.where(filetype, INACTIVE_FILE, INACTIVE_ANON)
    ok = (where == base) | (where == base + 1) | (where == UNEVICTABLE)
    if (user & ~ok).any():
        f = int(np.flatnonzero(user & ~ok)[0])
        _fail(f"frame {f} (flags {int(fr.flags[f]):#x}) is on list {int(lists.where[f])} of "
              "the other type")
    active = (where == ACTIVE_ANON) | (where == ACTIVE_FILE)
    if (user & (active != ((fl & ACTIVE) != 0)) & (where != UNEVICTABLE)).any():
        _fail("PG_active and the active lists disagree")
    if sysm.textbook is not None and active.any():
        _fail("a page is on an active list under a textbook policy")
    locks = np.zeros(hw, np.int64)
    for p in live:
        for v in p.vmas:
            if v.locked and not v.hugetlb:
                fs = p.pt.frames_in(v.start, v.end, thp=False)
                if fr.folios.head1 is not None and len(fs):
                    heads = fr.heads_of(fs)
                    fs = np.where(heads >= 0, heads, fs)
                np.add.at(locks, fs, 1)
                for key in p.pt.thp_leaves_in(v.start, v.end):
                    if p.pt.thp[key].head >= 0:
                        locks[p.pt.thp[key].head] += 1
    mlock = lists.mlock[:hw] if lists.mlock is not None else np.zeros(hw, np.int32)
    bad = np.flatnonzero(locks != mlock)
    if len(bad):
        f = int(bad[0])
        _fail(f"frame {f}: mlock count {int(mlock[f])} but {int(locks[f])} VM_LOCKED PTEs map it")
    if (user & ((where == UNEVICTABLE) != (locks > 0))).any():
        f = int(np.flatnonzero(user & ((where == UNEVICTABLE) != (locks > 0)))[0])
        _fail(f"frame {f} is {'' if lists.where[f] == UNEVICTABLE else 'not '}unevictable but "
              f"{int(locks[f])} VM_LOCKED PTEs map it")
    cids = fr.charges.cgid[:hw] if fr.charges.groups else np.zeros(hw, np.int32)
    total = [0] * NR_LISTS
    for cid, vec in lists.vecs.items():
        for lid in range(NR_LISTS):
            mine = np.flatnonzero(user & (where == lid) & (cids == cid))
            pages = int(weight[mine].sum())
            if pages != vec.count[lid]:
                _fail(f"lruvec {cid} list {lid}: size {vec.count[lid]} but {pages} pages")
            total[lid] += pages
            queued = list(vec.queues[lid].live(lists.where, lists.seq))
            if sorted(queued) != mine.tolist():
                _fail(f"lruvec {cid} list {lid}: the queue holds {len(queued)} live entries for "
                      f"{len(mine)} pages")
            if vec.queues[lid].entries < len(queued):
                _fail(f"lruvec {cid} list {lid}: fewer entries counted than live")
    if total != lists.total:
        _fail(f"LRU totals {lists.total} but the lruvecs hold {total}")


def _check_rmap(sysm, live) -> None:
    """Each live process is in its fork family and no dead one is; each file's i_mmap holds
    exactly the file VMAs of the live processes; no PTE without a page is young or dirty."""
    members = {}
    for p in live:
        if p.family is None or p.family.members.get(p.pid) is not p:
            _fail(f"{p.name} is not in its fork family")
        for pid, q in p.family.members.items():
            members[pid] = q
    for pid, q in members.items():
        if not q.alive:
            _fail(f"{q.name} is {q.status} but still in a fork family")
    want = {}
    for p in live:
        for v in p.vmas:
            if v.file is not None and not v.hugetlb:
                want[id(v)] = (v.file, p.pid)
    have = {}
    for cf in sysm.cache.files.values():
        for key, (v, q) in cf.imap.vmas.items():
            have[key] = (cf.fid, q.pid)
    if want != have:
        _fail(f"i_mmap holds {len(have)} VMAs but the processes map files with {len(want)}")
    for p in live:
        for key, t in p.pt.pfn.items():
            gone = (t == -1) | (t <= SWP_FIRST)
            if (gone & p.pt.young[key]).any() or (gone & p.pt.dirty[key]).any():
                _fail(f"{p.name}: a PTE without a page is young or dirty at {key << 21:#x}")


def _check_commit(sysm, live) -> None:
    total = 0
    for p in live:
        mine = sum(v.length for v in p.vmas if v.account) >> 12
        if mine != p.committed:
            _fail(f"{p.name}: charged {p.committed} pages but its VM_ACCOUNT VMAs hold {mine}")
        total += mine
    total += sum(cf.charged for cf in sysm.cache.files.values() if cf.shmem)
    if total != sysm.committed_pages:
        _fail(f"Committed_AS is {sysm.committed_pages} pages but the VMAs account for {total}")


def _check_tlb(sysm, live) -> None:
    tlb = sysm.tlb_model
    if sysm.reference_tlb:
        try:
            tlb.tlb.check_against(tlb.ref)
        except AssertionError as exc:
            raise InvariantBroken(str(exc)) from None
    by_pid = {p.pid: p for p in live}
    for level, entries in tlb.entries().items():
        for pid, shift, vpn, writable in entries:
            p = by_pid.get(pid)
            if p is None:
                _fail(f"TLB {level} holds an entry of a process that is gone (pid {pid})")
            va = vpn << shift
            v = p.vmas.find(va)
            if shift == 21 and vpn in p.pt.thp:
                leaf = p.pt.thp[vpn]
                if v is None or not v.prot:
                    _fail(f"TLB {level}: {p.name} huge page {va:#x} is cached but not mapped")
                if writable and (not v.prot & W or not leaf.wr):
                    _fail(f"TLB {level}: {p.name} huge page {va:#x} is cached writable but is not")
                continue
            if shift != 12:
                leaf = p.pt.huge[shift].get(vpn)
                if v is None or v.hugetlb != 1 << shift or not v.prot or leaf is None:
                    _fail(f"TLB {level}: {p.name} huge page {va:#x} is cached but not mapped")
                if writable and (not v.prot & W or not leaf[1]):
                    _fail(f"TLB {level}: {p.name} huge page {va:#x} is cached writable but is not")
                continue
            t = p.pt.pfn.get(va >> 21)
            if v is None or not v.prot or t is None or t[(va >> 12) & 511] == -1 or \
                    t[(va >> 12) & 511] <= SWP_FIRST:
                _fail(f"TLB {level}: {p.name} page {va:#x} is cached but no longer mapped")
            if writable and (not v.prot & W or not p.pt.wr[va >> 21][(va >> 12) & 511]):
                _fail(f"TLB {level}: {p.name} page {va:#x} is cached writable but is not")
