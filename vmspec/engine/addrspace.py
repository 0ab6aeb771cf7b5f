"""Address-space operations: spawn, mmap, munmap, brk, malloc/free, mprotect, madvise, mlock,
each as Linux does them to VMAs, page tables, frames and Committed_AS.

Counterparts: ``fs/binfmt_elf.c: load_elf_binary`` (spawn, ENGINE-FACTS 1), ``mm/mmap.c: do_mmap``
and ``__mm_populate`` (populate: GUP faults with FOLL_WRITE iff the mapping is private and
writable, ``populate_vma_page_range``; 4.1), ``do_vmi_munmap``/``unmap_region``/``free_pgtables``
(2.2), ``do_brk_flags``, ``mprotect_fixup``/``change_pte_range`` (an exclusive anonymous page is
made writable at once, ``can_change_pte_writable``), ``madvise_dontneed_single_vma`` with 6.18's
``CONFIG_PT_RECLAIM`` (2.2), ``apply_mlock_buf``/``populate``; overcommit charges per 7.1.
fork and exit (``dup_mmap``, ``exit_mmap``) live in ``vmspec.engine.fork``. The caller (System)
owns locking-free orchestration and the OOM policy. hugetlb mappings (``hugetlb_file_setup``,
``hugetlbfs_file_mmap``, ENGINE-FACTS 12.1, 4.7) go through ``vmspec.engine.hugetlb``: length
rounded up to the huge page size, placed huge-aligned, reserved at mmap (ENOMEM when the pool
cannot) unless MAP_NORESERVE, never charged to Committed_AS (7.1); munmap needs huge-page-aligned
cuts (``hugetlb_vm_op_split``: EINVAL). Not modelled: MAP_FIXED and hints, mremap,
stack growth, THP, mprotect/madvise/mlock of hugetlb mappings (Unsupported), MADV_PAGEOUT of shmem
(Unsupported), shmem accounting by inode lifetime beyond "freed when its last mapping goes".
"""

from __future__ import annotations

import numpy as np

from vmspec.engine.errors import EINVAL, ENOMEM, SIGBUS, Unsupported
from vmspec.engine.filemap import new_ra
from vmspec.engine.frames import ANON, DIRTY, EXCL, FILE, NONE, PGTABLE, SHMEM
from vmspec.engine.hugetlb import SIZES as HUGE_SIZES
from vmspec.engine.layout import (DEFAULT_MAP_WINDOW, DEFAULT_STACK, MMAP_MIN_ADDR, PMD_SIZE,
                                  image_layout, page_align)
from vmspec.engine.malloc import Arena
from vmspec.engine.pagetable import PTE_SHIFT, PageTable
from vmspec.engine.process import Process, Region
from vmspec.engine.rmap import Family
from vmspec.engine.swap import SWP_FIRST, decode
from vmspec.engine.vma import PROTS, R, VMA, VMAList, W, X
from vmspec.units import format_size

ADVICE = ("dontneed", "hugepage", "nohugepage", "willneed", "pageout")


# ---- small queries ------------------------------------------------------------------------------

def region(p: Process, name: str) -> Region:
    """Return the region ``name`` of ``p`` (ValueError if it was never bound)."""
    r = p.regions.get(name)
    if r is None:
        raise ValueError(f"process {p.name!r} has no region {name!r}")
    return r


def range_of(r: Region, start: int, end: int | None, page: int) -> tuple[int, int]:
    """Turn region offsets into ``[s, e)`` addresses: start must be page aligned, end rounds up."""
    s = r.start + start
    if s % page:
        raise EINVAL(f"start {start:#x} is not page aligned (address {s:#x})")
    e = r.end if end is None else r.start + end
    return s, page_align(e, page)


def vsz(p: Process) -> int:
    """Return VmSize in bytes."""
    return p.vmas.total


def frames_in(p: Process, start: int, end: int, thp: bool = True) -> np.ndarray:
    """Return the frames (not the zero page) mapped by ``p`` in ``[start, end)``, address order
    (``thp``: with the pages of huge PMDs)."""
    out = []
    for key in p.pt.keys_in(start, end):
        t = p.pt.pfn[key]
        lo = max(start, key << PTE_SHIFT)
        hi = min(end, (key + 1) << PTE_SHIFT)
        i0 = (lo >> 12) & 511
        i1 = (((hi - 1) >> 12) & 511) + 1  # every page a byte of [lo, hi) is in
        seg = t[i0:i1]
        out.append(seg[seg >= 0])
    if thp and p.pt.thp:
        out.append(thp_frames_in(p, start, end))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def thp_leaves_in(p: Process, start: int, end: int) -> list[int]:
    """Return the keys (va >> 21) of the huge PMDs of ``p`` that a byte of ``[start, end)`` is
    in, ascending."""
    if not p.pt.thp or end <= start:
        return []
    lo, hi = start >> 21, (end - 1) >> 21
    if hi - lo + 1 <= len(p.pt.thp):
        return [k for k in range(lo, hi + 1) if k in p.pt.thp]
    return sorted(k for k in p.pt.thp if lo <= k <= hi)


def thp_frames_in(p: Process, start: int, end: int) -> np.ndarray:
    """Return the frames of huge pages ``p`` maps by PMD in ``[start, end)``, address order."""
    out = []
    for key in thp_leaves_in(p, start, end):
        leaf = p.pt.thp[key]
        if leaf.head < 0:
            continue
        lo = max(start, key << 21)
        hi = min(end, (key + 1) << 21)
        out.append(leaf.subs[(lo >> 12) & 511:(((hi - 1) >> 12) & 511) + 1])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def swap_entries_in(p: Process, start: int, end: int) -> np.ndarray:
    """Return the swap slots of ``p``'s swap entries in ``[start, end)`` (every page a byte of
    the range is in), address order."""
    out = []
    for key in p.pt.keys_in(start, end):
        t = p.pt.pfn[key]
        lo = max(start, key << PTE_SHIFT)
        hi = min(end, (key + 1) << PTE_SHIFT)
        seg = t[(lo >> 12) & 511:(((hi - 1) >> 12) & 511) + 1]
        out.append(decode(seg[seg <= SWP_FIRST]))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def thp_bytes_in(p: Process, start: int, end: int) -> int:
    """Return the bytes of transparent huge pages (not the huge zero page) ``p`` maps by PMD
    that a byte of ``[start, end)`` is in (smaps AnonHugePages)."""
    return sum(1 << 21 for k in thp_leaves_in(p, start, end)
               if p.pt.thp[k].head >= 0 and not p.pt.thp[k].file)


def huge_pages_in(p: Process, start: int, end: int) -> dict[int, set[int]]:
    """Return, per leaf shift (21, 30), the hugetlb page ids ``p`` maps that a byte of
    ``[start, end)`` is in."""
    out: dict[int, set[int]] = {}
    for shift, leaves in p.pt.huge.items():
        lo, hi = start >> shift, (end - 1) >> shift
        out[shift] = {page for k, (page, _) in leaves.items() if lo <= k <= hi} if end > start \
            else set()
    return out


def mapcounts(sysm, p: Process) -> np.ndarray:
    """Return the mapcount of every frame ``p`` maps, one per PTE."""
    return sysm.frames.mapcount[frames_in(p, 0, 1 << 57)]


# ---- zapping and tables ---------------------------------------------------------------------

def zap(sysm, p: Process, start: int, end: int) -> None:
    """Clear the PTEs of ``[start, end)``: drop mapcounts, free anonymous frames nobody maps."""
    fr = sysm.frames
    if sysm.check_pages:
        sysm.pagecheck.forget(p, start, end)
    if p.pt.huge[21] or p.pt.huge[30]:
        sysm.hugetlb.zap(p, start, end)
    if p.pt.thp:
        sysm.thp.split_range(p, start, end)
        for key in thp_leaves_in(p, start, end):
            sysm.thp.zap_pmd(p, key)
    folios = []
    for key in p.pt.keys_in(start, end):
        t, w = p.pt.pfn[key], p.pt.wr[key]
        lo = max(start, key << PTE_SHIFT)
        hi = min(end, (key + 1) << PTE_SHIFT)
        i0 = (lo >> 12) & 511
        i1 = i0 + ((hi - lo) >> 12)
        seg = t[i0:i1]
        mapped = seg[seg >= 0]
        if len(mapped):
            np.subtract.at(fr.mapcount, mapped, 1)
            fl = fr.flags[mapped]
            anon = (fl & ANON) != 0
            shm = (fl & SHMEM) != 0
            n_anon = int(np.count_nonzero(anon))
            n_shm = int(np.count_nonzero(shm))
            p.rss_anon -= n_anon
            p.rss_shmem -= n_shm
            p.rss_file -= len(mapped) - n_anon - n_shm
            dead = mapped[anon & (fr.mapcount[mapped] == 0)]
            if fr.folios and len(dead):  # pages of huge folios: their folio decides
                heads = fr.heads_of(dead)
                large = heads >= 0
                if large.any():
                    folios.extend(heads[large].tolist())
                    dead = dead[~large]
            if len(dead):
                fr.release_many(dead)
        if p.swapents:
            slots = decode(seg[seg <= SWP_FIRST])
            p.swapents -= len(slots)
            for slot in slots.tolist():
                sysm.put_slot(slot)
        seg[:] = NONE
        w[i0:i1] = False
        p.pt.young[key][i0:i1] = False
        p.pt.dirty[key][i0:i1] = False
    if folios:
        sysm.thp.maybe_split(folios)


def _release_tables(sysm, frames: list[int]) -> None:
    for f in frames:
        sysm.frames.release(f)


def _table_alloc(sysm, current: Process, owner: Process):
    return lambda level: sysm.page_alloc.alloc(current, PGTABLE, owner.pid, level)


def _free_unused_shmem(sysm, fids) -> None:
    """Free shmem objects (and their pages and charge) that no VMA maps any more (i_mmap)."""
    for fid in sorted({f for f in fids if f in sysm.cache.by_id}):
        cf = sysm.cache.by_id[fid]
        if not cf.shmem or cf.imap.vmas:
            continue
        for f in sysm.cache.delete(cf):
            sysm.frames.release(f)
        sysm.committed_pages -= cf.charged


def _free_unused_hugetlb(sysm, vmas) -> None:
    """Free the shared hugetlb objects of ``vmas`` that no live process maps any more."""
    oids = [v.hobj for v in vmas if v.hugetlb and v.shared]
    if oids:
        sysm.hugetlb.free_unused(oids, [q for q in sysm.procs.values() if q.alive])


def _uncharge(sysm, p: Process, vmas) -> None:
    pages = sum(v.length for v in vmas if v.account) >> 12
    p.committed -= pages
    sysm.committed_pages -= pages


# ---- spawn ------------------------------------------------------------------------------------

def spawn(sysm, name: str, pid: int, image) -> Process:
    """Build a process from an image with randomisation off (ENGINE-FACTS 1); nothing resident."""
    ps = sysm.page_size
    sizes = {"text": 0, "data": 0, "bss": 0, "stack": DEFAULT_STACK}
    libs: list[tuple[str, int]] = []
    img_name = image.name if image is not None else None
    for seg in (image.segments if image is not None else ()):
        if seg.kind == "lib":
            libs.append((seg.lib or "lib", seg.size))
        elif seg.kind in sizes:
            sizes[seg.kind] = seg.size
        else:
            raise EINVAL(f"unknown image segment kind {seg.kind!r}")
    lay = image_layout(sizes["text"], sizes["data"], sizes["bss"], sizes["stack"], ps)
    p = Process(name, pid, VMAList(), PageTable(sysm.levels), mmap_base=lay.mmap_base,
                start_brk=lay.start_brk, brk=lay.start_brk)
    p.arena = Arena(ps, sysm.machine.mmap_threshold)
    p.family = Family()
    p.family.members[pid] = p
    p.vmas.attach(sysm.vma_observer(p))
    p.thp_capable = sysm.machine.thp == "always"  # bss, heap and stack may hold huge pages
    mode = sysm.machine.overcommit
    try:
        for kind, (start, length) in (("text", lay.text), ("data", lay.data), ("bss", lay.bss)):
            p.regions[kind] = Region(start, sizes[kind])
            if not length:
                continue
            if kind == "bss":
                v = VMA(start, start + length, R | W, name=kind)
            else:
                cf = sysm.cache.create((kind, img_name), length // ps)
                v = VMA(start, start + length, R | X if kind == "text" else R | W,
                        file=cf.fid, name=kind, ra=new_ra(sysm.handler.ra_pages))
            if v.writable and not _charge_vma(sysm, p, v, mode):
                raise ENOMEM(f"overcommit refuses the {kind} segment of image {img_name}")
            p.vmas.insert(v)
        p.regions["heap"] = Region(lay.start_brk, 0, via="brk")
        s0, slen = lay.stack
        p.vmas.insert(VMA(s0, s0 + slen, R | W, growsdown=True, name="stack"))
        p.regions["stack"] = Region(s0, sizes["stack"])
        for lib, size in libs:
            length = page_align(size, ps)
            cf = sysm.cache.create(("lib", lib), length // ps)
            addr = p.vmas.get_unmapped_area(length, p.mmap_base, ps, False) if length else None
            if addr is None:
                p.regions[lib] = Region(p.mmap_base, 0, via="mmap")
                continue
            p.vmas.insert(VMA(addr, addr + length, R | X, file=cf.fid, name=lib,
                              ra=new_ra(sysm.handler.ra_pages)))
            p.regions[lib] = Region(addr, size, via="mmap")
    except ENOMEM:
        sysm.committed_pages -= p.committed
        p.vmas.detach()
        raise
    return p


def _charge_vma(sysm, p: Process, v: VMA, mode: str) -> bool:
    """Charge a private writable VMA (VM_ACCOUNT) if the policy allows it."""
    from vmspec.engine import overcommit
    if not overcommit.accountable(v.shared, v.writable, v.noreserve, bool(v.hugetlb), mode,
                                  file=v.file is not None and not v.shmem):
        return True
    if not sysm.charge(p, v.length >> 12):
        return False
    v.account = True
    return True


# ---- mmap / munmap / brk --------------------------------------------------------------------

def mmap(sysm, p: Process, name: str, length: int, *, file=None, shared=False, prot="rw",
         hugetlb=None, populate=False, noreserve=False) -> int:
    """``do_mmap`` without hints: check, charge, place top-down, bind the region; maybe populate."""
    from vmspec.engine import overcommit
    ps = sysm.page_size
    if prot not in PROTS:
        raise EINVAL(f"prot must be one of {', '.join(PROTS)}, got {prot!r}")
    if length <= 0:
        raise EINVAL(f"mmap length must be > 0, got {length}")
    if hugetlb is not None:
        if file is not None:
            raise EINVAL("MAP_HUGETLB cannot be combined with a regular file")
        if hugetlb not in HUGE_SIZES:
            raise EINVAL(f"hugetlb page size must be 2MiB or 1GiB, got {hugetlb}")
        return _mmap_hugetlb(sysm, p, name, length, hugetlb, shared=shared, prot=prot,
                             populate=populate, noreserve=noreserve)
    if file is not None and file not in sysm.cache.files:
        raise EINVAL(f"no file named {file!r} (declare it with `file`/create_file first)")
    plen = page_align(length, ps)
    if plen > DEFAULT_MAP_WINDOW - MMAP_MIN_ADDR:
        raise ENOMEM(f"mmap of {length} bytes does not fit in the address space")
    mode = sysm.machine.overcommit
    nores = noreserve and mode != "never"
    shm = shared and file is None
    v = VMA(0, plen, PROTS[prot], shared=shared, noreserve=nores, shmem=shm)
    acct = overcommit.accountable(shared, v.writable, noreserve, False, mode,
                                  file=file is not None)
    pages = plen >> 12
    if acct and not sysm.charge(p, pages):
        if mode == "heuristic":  # __vm_enough_memory checks this one request, not a running total
            room = sysm.totalram_pages * ps + sysm.machine.swap
            raise ENOMEM(f"overcommit heuristic refuses a mapping of {format_size(plen)}: it allows one "
                         f"request of at most RAM + swap, {format_size(room)}")
        raise ENOMEM(f"overcommit ({mode}) refuses {format_size(plen)}: committed "
                     f"{format_size(sysm.committed_pages * ps)} of limit {format_size(sysm.commit_limit_pages() * ps)}")
    # 2 MiB-aligned placement (__thp_get_unmapped_area): an anonymous private mapping whose
    # length is a multiple of 2 MiB, and a file mapping (ext4's get_unmapped_area is
    # thp_get_unmapped_area) that spans a whole 2 MiB of the file (offset 0: 2 MiB or more)
    thp = (not shared and plen % PMD_SIZE == 0) if file is None else plen >= PMD_SIZE
    addr = p.vmas.get_unmapped_area(plen, p.mmap_base, ps, thp)
    if addr is None:
        if acct:
            sysm.committed_pages -= pages
            p.committed -= pages
        raise ENOMEM(f"no room for {length} bytes in the address space")
    v.start, v.end = addr, addr + plen
    if shm:
        cf = sysm.cache.create(("shmem", sysm.next_shmem_id()), pages, shmem=True)
        v.file = cf.fid
        if acct:  # shmem_acct_size: charged to the object, released when it is freed
            cf.charged = pages
            p.committed -= pages
    elif file is not None:
        v.file = sysm.cache.files[file].fid
        v.ra = new_ra(sysm.handler.ra_pages)  # each mmap opens the file afresh
    else:
        v.account = acct
    if file is not None:
        v.account = acct
    p.vmas.insert(v)
    if sysm.thp.vma_allows(v):
        p.thp_capable = True
    p.regions[name] = Region(addr, length, via="mmap")
    if populate:
        populate_range(sysm, p, addr, addr + plen)
    return addr


def _mmap_hugetlb(sysm, p: Process, name: str, length: int, size: int, *, shared: bool, prot: str,
                  populate: bool, noreserve: bool) -> int:
    """MAP_HUGETLB: ``ksys_mmap_pgoff`` rounds the length up to the huge page size and makes a
    hugetlbfs file; ``hugetlb_get_unmapped_area`` places it huge-aligned; ``hugetlbfs_file_mmap``
    reserves one pool page per huge page (ENOMEM if the pool cannot) unless MAP_NORESERVE, which
    hugetlb honours in every overcommit mode (``do_mmap``). Nothing is charged to Committed_AS."""
    hl = sysm.hugetlb
    hlen = page_align(length, size)
    if hlen > DEFAULT_MAP_WINDOW - MMAP_MIN_ADDR:
        raise ENOMEM(f"mmap of {length} bytes does not fit in the address space")
    addr = p.vmas.get_unmapped_area(hlen, p.mmap_base, sysm.page_size, False, align=size)
    if addr is None:
        raise ENOMEM(f"no room for {length} bytes in the address space")
    n = hlen // size
    pool = hl.pool(size)
    if not noreserve and not pool.reserve(n):
        raise ENOMEM(f"the {size >> 20} MiB hugetlb pool cannot reserve {n} pages: "
                     f"{pool.available} of {pool.total} are neither in use nor reserved")
    oid = hl.new_id()
    v = VMA(addr, addr + hlen, PROTS[prot], shared=shared, noreserve=noreserve, hugetlb=size,
            hobj=oid, hugetlb_owner=True)
    if shared:
        from vmspec.engine.hugetlb import SharedObject
        hl.objects[oid] = SharedObject(oid, size, resv=set() if noreserve else set(range(n)))
    elif not noreserve:
        p.hresv.update(range(addr, addr + hlen, size))
    p.vmas.insert(v)
    p.regions[name] = Region(addr, length, via="mmap")
    if populate:
        populate_range(sysm, p, addr, addr + hlen)
    return addr


def _refuse_hugetlb(p: Process, s: int, e: int, what: str) -> None:
    """Raise Unsupported if ``[s, e)`` touches a hugetlb mapping (``what`` is the operation)."""
    if p.vmas.nhuge and any(v.hugetlb for v in p.vmas.overlapping(s, e)):
        raise Unsupported(f"{what} of a hugetlb mapping is not modelled yet")


def automap(sysm, p: Process, va: int) -> VMA | None:
    """Map a 4 KiB anonymous private rw page at ``va`` (lackey replay's first use of a page)."""
    page = va & ~4095
    if page < MMAP_MIN_ADDR or page >= DEFAULT_MAP_WINDOW:
        return None
    v = VMA(page, page + 4096, R | W)
    if not _charge_vma(sysm, p, v, sysm.machine.overcommit):
        return None
    p.vmas.insert(v)
    return p.vmas.find(va)


def munmap_range(sysm, p: Process, s: int, e: int) -> None:
    """``do_vmi_munmap``: remove VMAs, zap PTEs, free unused tables, uncharge, flush the TLB."""
    if s % sysm.page_size:
        raise EINVAL(f"munmap start {s:#x} is not page aligned")
    if e <= s:
        raise EINVAL("munmap of an empty range")
    for v in p.vmas.overlapping(s, e) if p.vmas.nhuge else ():
        for cut in (s, e):
            if v.hugetlb and v.start < cut < v.end and cut % v.hugetlb:
                raise EINVAL(f"munmap would split a {v.hugetlb >> 20} MiB hugetlb mapping at "
                             f"{cut:#x}, which is not huge-page aligned (hugetlb_vm_op_split)")
    if p.pt.thp:
        sysm.thp.split_range(p, s, e)
    gone = p.vmas.remove(s, e)
    for v in gone:
        if v.locked:
            munlock_pages(sysm, p, v.start, v.end)
    zap(sysm, p, s, e)
    if p.hresv:
        sysm.hugetlb.unreserve_private(p, gone, s, e)
    _release_tables(sysm, p.pt.free_tables(s, e, p.vmas.intersects))
    _uncharge(sysm, p, gone)
    _free_unused_shmem(sysm, [v.file for v in gone if v.shmem])
    _free_unused_hugetlb(sysm, gone)
    sysm.tlb_model.invalidate_range(p.pid, s, e)


def set_brk(sysm, p: Process, new: int) -> None:
    """``brk``: grow (accounted, needs a free page above) or shrink (unmap) the heap."""
    ps = sysm.page_size
    if new < p.start_brk:
        raise ENOMEM(f"brk below the start of the heap ({new - p.start_brk} bytes)")
    old_end, new_end = page_align(p.brk, ps), page_align(new, ps)
    if new_end > old_end:
        if p.vmas.intersects(old_end, new_end + ps):
            raise ENOMEM("brk would run into another mapping")
        v = VMA(old_end, new_end, R | W, name="heap")
        if not _charge_vma(sysm, p, v, sysm.machine.overcommit):
            raise ENOMEM("overcommit refuses to grow the heap")
        p.vmas.insert(v)
    elif new_end < old_end:
        munmap_range(sysm, p, new_end, old_end)
    p.brk = new
    p.regions["heap"] = Region(p.start_brk, new - p.start_brk, via="brk")


# ---- malloc / free ----------------------------------------------------------------------------

def malloc(sysm, p: Process, name: str, size: int) -> None:
    """glibc malloc through the process's Arena; glibc's own stores become write accesses."""
    if size < 0:
        raise EINVAL(f"malloc size must be >= 0, got {size}")
    old_brk = p.brk
    alloc, heap = p.arena.malloc(size)
    try:
        if heap != p.brk - p.start_brk:
            set_brk(sysm, p, p.start_brk + heap)
        if alloc.via == "mmap":
            base = _mmap_anon(sysm, p, alloc.mmap_length)
        else:
            base = p.start_brk
    except ENOMEM:
        p.arena.undo_malloc()
        if p.brk != old_brk:
            set_brk(sysm, p, old_brk)
        raise
    p.regions[name] = Region(base + alloc.offset, size, via=alloc.via, alloc=alloc)
    one = sysm.mmu.access_one
    for off in alloc.heap_writes:
        one(p, p.start_brk + off, True)
    for off in alloc.writes:
        one(p, base + off, True)


def _mmap_anon(sysm, p: Process, length: int) -> int:
    """An anonymous private rw mapping with no region name (malloc's own chunk mapping)."""
    ps = sysm.page_size
    plen = page_align(length, ps)
    if not sysm.charge(p, plen >> 12):
        raise ENOMEM(f"overcommit refuses malloc's mapping of {length} bytes")
    addr = p.vmas.get_unmapped_area(plen, p.mmap_base, ps, plen % PMD_SIZE == 0)
    if addr is None:
        sysm.committed_pages -= plen >> 12
        p.committed -= plen >> 12
        raise ENOMEM("no room for malloc's mapping")
    v = VMA(addr, addr + plen, R | W, account=True)
    p.vmas.insert(v)
    if sysm.thp.vma_allows(v):
        p.thp_capable = True
    return addr


def free(sysm, p: Process, name: str) -> None:
    """glibc free: bookkeeping writes, then munmap of an mmapped chunk or a heap trim."""
    r = region(p, name)
    if r.alloc is None:
        raise EINVAL(f"{p.name}.{name} was not allocated with malloc")
    if r.freed:
        raise EINVAL(f"{p.name}.{name} was already freed (double free)")
    res = p.arena.free(r.alloc)
    r.freed = True
    for off in res.writes:
        sysm.mmu.access_one(p, p.start_brk + off, True)
    if res.munmap_length:
        start = r.start - r.alloc.offset
        munmap_range(sysm, p, start, start + page_align(res.munmap_length, sysm.page_size))
    if res.heap_end != p.brk - p.start_brk:
        set_brk(sysm, p, p.start_brk + res.heap_end)


# ---- accesses -----------------------------------------------------------------------------------

def access_range(sysm, p: Process, r: Region, start: int, end: int, write: bool,
                 stride: int | None) -> None:
    """Accesses over ``[start, end)`` of a region: one per page, or one byte every ``stride``."""
    if end <= start:
        return
    a0, a1 = r.start + start, r.start + end
    if stride is None:
        sysm.mmu.sweep(p, np.arange(a0 >> 12, ((a1 - 1) >> 12) + 1, dtype=np.int64), write)
        return
    if stride <= 0:
        raise EINVAL(f"stride must be > 0, got {stride}")
    n = (end - start + stride - 1) // stride
    last = a0 + (n - 1) * stride
    if stride <= 4096:
        pages = np.arange(a0 >> 12, (last >> 12) + 1, dtype=np.int64)
        bounds = ((pages + 1) << 12) - a0
        cum = np.minimum((bounds + stride - 1) // stride, n)
        mult = np.diff(cum, prepend=0)
        sysm.mmu.sweep(p, pages, write, mult)
    else:  # n >= 2 implies stride < end - start < 2**57, so the products fit in int64
        pages = (a0 + np.arange(n, dtype=np.int64) * stride) >> 12 if n > 1 else \
            np.array([a0 >> 12], dtype=np.int64)
        sysm.mmu.sweep(p, pages, write, None, contiguous=False)


def populate_range(sysm, p: Process, s: int, e: int, ignore_errors: bool = True) -> None:
    """``__mm_populate``: GUP-fault every page of ``[s, e)``, writing iff private and writable.

    A fault past the end of a file stops that VMA; mmap ignores it (``mm_populate``), mlock
    reports ENOMEM (``__mlock_posix_error_return`` turns EFAULT into ENOMEM)."""
    for v in p.vmas.overlapping(s, e):
        try:
            _populate_vma(sysm, p, v, s, e)
        except SIGBUS:
            if not ignore_errors:
                raise ENOMEM("mlock could not fault in a page past the end of its file") from None


def _populate_vma(sysm, p: Process, v: VMA, s: int, e: int) -> None:
    """GUP faults for one VMA: bulk where ``fault_slice`` can, page by page elsewhere."""
    if not v.prot:
        return
    handler, mmu = sysm.handler, sysm.mmu
    fw = v.writable and not v.shared
    if v.hugetlb:  # one GUP fault per huge page not yet mapped suitably (4.7)
        size = v.hugetlb
        shift = HUGE_SIZES[size]
        lo = max(s, v.start) & ~(size - 1)
        for hva in range(lo, min(e, v.end), size):
            leaf = p.pt.huge[shift].get(hva >> shift)
            if leaf is not None and (not fw or leaf[1]):
                continue
            sysm.hugetlb.fault(p, v, hva, fw, handler.table_alloc(p), mmu._invalidate_huge)
        return
    lo, hi = max(s, v.start), min(e, v.end)
    thp = sysm.thp if sysm.thp.vma_allows(v) else None
    for key in range(lo >> PTE_SHIFT, ((hi - 1) >> PTE_SHIFT) + 1):
        a = max(lo, key << PTE_SHIFT)
        b = min(hi, (key + 1) << PTE_SHIFT)
        leaf = p.pt.thp.get(key) if p.pt.thp else None
        if leaf is None and thp is not None and thp.suitable(p, v, key):
            if thp.fault(p, v, key, fw):  # one GUP fault maps the huge page
                _touch_huge(sysm, p, key)
                continue
        elif leaf is not None:  # an anonymous huge page or a page-cache folio's PMD
            if fw and not leaf.wr and not sysm.thp.wp_fault(p, v, key, leaf):
                pass  # split: the 4 KiB faults below copy the pages
            else:
                _touch_huge(sysm, p, key)
                continue
        pv = np.arange(a >> 12, b >> 12, dtype=np.int64)
        if not mmu.fault_slice(p, v, pv, fw):
            for vpn in pv.tolist():
                t = p.pt.pfn.get(vpn >> 9)
                i = vpn & 511
                if t is not None and t[i] != NONE and t[i] > SWP_FIRST and \
                        (not fw or p.pt.wr[vpn >> 9][i]):
                    continue
                handler.fault(p, v, vpn << 12, fw)
                if p.pt.thp and key in p.pt.thp:  # the fault mapped a page-cache folio by PMD
                    break
        if p.pt.thp and key in p.pt.thp:
            _touch_huge(sysm, p, key)
            continue
        if sysm.textbook is None:  # FOLL_TOUCH: mark_page_accessed on every page GUP returns
            t = p.pt.pfn.get(key)
            if t is not None:
                seg = t[pv & 511]
                sysm.reclaim.mark_accessed_many(seg[seg >= 0])


def _touch_huge(sysm, p: Process, key: int) -> None:
    """GUP's FOLL_TOUCH on a huge page (twolist: ``folio_mark_accessed``)."""
    leaf = p.pt.thp[key]
    if sysm.textbook is None and leaf.head >= 0:
        sysm.reclaim.mark_accessed(leaf.head, sysm.frames.cid_of(leaf.head))


# ---- mprotect / madvise / mlock -----------------------------------------------------------------

def _covered(p: Process, s: int, e: int) -> bool:
    return sum(min(e, v.end) - max(s, v.start) for v in p.vmas.overlapping(s, e)) == e - s


def _mapped_prefix(p: Process, s: int, e: int) -> int:
    """Return the end of the gap-free run of VMAs starting at ``s`` (``s`` itself if unmapped)."""
    at = s
    for v in p.vmas.overlapping(s, e):
        if v.start > at:
            break
        at = v.end
    return min(at, e)


def mprotect(sysm, p: Process, s: int, e: int, prot: str) -> None:
    """``mprotect``: charge new write access, split, change PTE write bits, flush the range."""
    if prot not in PROTS:
        raise EINVAL(f"prot must be one of {', '.join(PROTS)}, got {prot!r}")
    if e <= s:
        return
    # do_mprotect_pkey changes VMA after VMA and stops with ENOMEM at the first hole: the part
    # before the hole keeps its new protection (nothing changes if the start is unmapped).
    _refuse_hugetlb(p, s, e, "mprotect")
    full_end = e
    e = _mapped_prefix(p, s, e)
    if e == s:
        raise ENOMEM(f"mprotect range {s:#x}-{full_end:#x} is not mapped at its start")
    _mprotect_mapped(sysm, p, s, e, prot)
    if e < full_end:
        raise ENOMEM(f"mprotect range {s:#x}-{full_end:#x} is not fully mapped (hole at {e:#x})")


def _mprotect_mapped(sysm, p: Process, s: int, e: int, prot: str) -> None:
    """mprotect of a range that VMAs cover without a gap."""
    newp = PROTS[prot]
    mode = sysm.machine.overcommit
    need = 0
    if newp & W:
        for v in p.vmas.overlapping(s, e):
            if not (v.account or v.shared or v.noreserve or v.hugetlb or v.writable):
                need += min(e, v.end) - max(s, v.start)
    if need and not sysm.charge(p, need >> 12):
        raise ENOMEM(f"overcommit ({mode}) refuses making {need} bytes writable")
    fr = sysm.frames
    if p.pt.thp:
        sysm.thp.split_range(p, s, e)
    for v in p.vmas.split(s, e):
        for key in thp_leaves_in(p, v.start, v.end):
            sysm.thp.protect(p, key, bool(newp & W))
        if newp & W and not (v.account or v.shared or v.noreserve or v.hugetlb or v.writable):
            v.account = True
        elif not newp & W and v.account and v.file is None and not v.anon_vma:
            _uncharge(sysm, p, [v])
            v.account = False
        v.prot = newp
        for key in p.pt.keys_in(v.start, v.end):
            t, w = p.pt.pfn[key], p.pt.wr[key]
            lo, hi = max(v.start, key << PTE_SHIFT), min(v.end, (key + 1) << PTE_SHIFT)
            i0 = (lo >> 12) & 511
            i1 = i0 + ((hi - lo) >> 12)
            if not newp & W:
                w[i0:i1] = False
                continue
            seg = t[i0:i1]
            present = seg >= 0
            fl = np.where(present, fr.flags[np.where(present, seg, 0)], 0)
            if v.shared:
                cf = sysm.cache.by_id.get(v.file)
                ok = present if cf is not None and cf.shmem else present & ((fl & DIRTY) != 0)
            else:
                ok = present & ((fl & ANON) != 0) & ((fl & EXCL) != 0)
            w[i0:i1] = ok
    p.vmas.merge_around(s, e)
    sysm.tlb_model.invalidate_range(p.pid, s, e)


def madvise(sysm, p: Process, s: int, e: int, advice: str) -> None:
    """``madvise``: dontneed zaps (and reclaims emptied PTE tables, 6.18); the others record."""
    from vmspec.engine.errors import ENOMEM as _ENOMEM
    if advice not in ADVICE:
        raise EINVAL(f"advice must be one of {', '.join(ADVICE)}, got {advice!r}")
    if e <= s:
        return
    _refuse_hugetlb(p, s, e, f"madvise {advice}")
    vmas = p.vmas.overlapping(s, e)
    holes = not _covered(p, s, e)
    if advice == "dontneed":
        for v in vmas:
            if v.locked:
                raise EINVAL("MADV_DONTNEED on an mlocked range")
        for v in vmas:
            lo, hi = max(s, v.start), min(e, v.end)
            zap(sysm, p, lo, hi)
            for key in p.pt.keys_in(lo, hi):  # CONFIG_PT_RECLAIM: fully covered, now empty
                if key << PTE_SHIFT >= lo and (key + 1) << PTE_SHIFT <= hi and \
                        not (p.pt.pfn[key] != NONE).any():
                    sysm.frames.release(p.pt.drop_pte_table(key))
        sysm.tlb_model.invalidate_range(p.pid, s, e)
    elif advice in ("hugepage", "nohugepage"):
        # hugepage_madvise: VM_HUGEPAGE / VM_NOHUGEPAGE on the range; huge pages already there
        # stay (khugepaged, which would collapse the others later, is not modelled)
        if p.pt.thp:
            sysm.thp.split_range(p, s, e)
        for v in p.vmas.split(s, e):
            v.thp = advice
        p.vmas.merge_around(s, e)
        if advice == "hugepage" and sysm.thp.mode != "never":
            p.thp_capable = True
    else:
        if advice == "pageout":
            for v in vmas:
                if not v.locked:
                    _pageout(sysm, p, max(s, v.start), min(e, v.end))
        for v in vmas:
            v.advice = advice
            if advice == "willneed" and v.file is not None and not v.shmem:
                _willneed(sysm, v, max(s, v.start), min(e, v.end))
    if holes:
        raise _ENOMEM(f"madvise range {s:#x}-{e:#x} is not fully mapped")


def _pageout(sysm, p: Process, lo: int, hi: int) -> None:
    """MADV_PAGEOUT (``madvise_cold_or_pageout_pte_range`` then ``reclaim_pages``): every page
    of the range that only this process maps (``folio_likely_mapped_shared`` skips the others)
    goes through reclaim ignoring its references: an anonymous page gets a swap slot, its PTE
    becomes a swap entry and it is written, staying in the swap cache (written and clean); a
    page that is already in the swap cache and clean, or a clean file page, leaves RAM at once;
    a dirty file page is written back and stays cached. Swap entries are not touched; without
    swap (or once swap is full) anonymous pages are activated instead (twolist)."""
    fr = sysm.frames
    picked = []
    if p.pt.thp:  # a huge page the range covers goes whole (reclaim splits it); others split
        sysm.thp.split_range(p, lo, hi)
        for key in thp_leaves_in(p, lo, hi):
            leaf = p.pt.thp[key]
            if leaf.head >= 0 and (fr.mapcount[leaf.subs] == 1).all():
                if leaf.file:
                    picked.extend(leaf.subs.tolist())  # grouped back into the folio below
                else:
                    picked.append(leaf.head)
    for key in p.pt.keys_in(lo, hi):
        t = p.pt.pfn[key]
        a = max(lo, key << PTE_SHIFT)
        b = min(hi, (key + 1) << PTE_SHIFT)
        seg = t[(a >> 12) & 511:(((b - 1) >> 12) & 511) + 1]
        cand = seg[seg >= 0]
        picked.extend(cand[fr.mapcount[cand] == 1].tolist())
    if fr.folios and picked:
        picked = _pageout_folios(sysm, picked)
    if sysm.textbook is not None and sysm.swapdev is None:
        picked = [f for f in picked if not fr.flags[f] & ANON]
    if any(fr.flags[f] & SHMEM for f in picked):
        raise Unsupported("MADV_PAGEOUT of shared anonymous memory (shmem): swapping shmem "
                          "out is not modelled yet")
    sysm.reclaim.reclaim_pages(picked)


def _pageout_folios(sysm, picked: list[int]) -> list[int]:
    """The pages of large page-cache folios among ``picked``: a folio whose every page was
    picked goes to reclaim whole (its head); one the range covers only in part is split first
    (``madvise_cold_or_pageout_pte_range``: ``split_folio``) and its picked pages go alone."""
    fr = sysm.frames
    out: list[int] = []
    seen: dict[int, list[int]] = {}
    for f in picked:
        h = fr.head_of(f)
        if h in fr.folios and fr.flags[h] & FILE:
            seen.setdefault(h, []).append(f)
        else:
            out.append(f)
    for h, pages in seen.items():
        if len(pages) == len(fr.folios[h]):
            out.append(h)
        else:
            sysm.thp.split_file_folio(h)
            out.extend(pages)
    return out


def _willneed(sysm, v: VMA, lo: int, hi: int) -> None:
    """MADV_WILLNEED on a file: read at most max(io_pages, ra_pages) pages into the page cache
    (``force_page_cache_ra``, vmspec.engine.readahead)."""
    sysm.handler.filemap.willneed(v, lo, hi)


def mlock(sysm, p: Process, r: Region, lock: bool) -> None:
    """mlock/munlock a region: set or clear VM_LOCKED; mlock then populates (``__mm_populate``)."""
    ps = sysm.page_size
    s, e = r.start & ~(ps - 1), page_align(r.end, ps)
    if e <= s:
        return
    _refuse_hugetlb(p, s, e, "mlock" if lock else "munlock")
    if not _covered(p, s, e):
        raise ENOMEM(f"m{'un' if not lock else ''}lock range {s:#x}-{e:#x} is not fully mapped")
    if p.pt.thp:
        sysm.thp.split_range(p, s, e)
    for v in p.vmas.split(s, e):
        if v.locked == lock:
            continue  # mlock_fixup: nothing changes for a VMA already so
        if lock:
            v.locked = True
            _mlock_pages(sysm, p, v.start, v.end, 1)
        else:
            munlock_pages(sysm, p, v.start, v.end)
            v.locked = False
    p.vmas.merge_around(s, e)
    if lock:
        populate_range(sysm, p, s, e, ignore_errors=False)


def _mlock_pages(sysm, p: Process, lo: int, hi: int, delta: int) -> None:
    """Add ``delta`` to the mlock count of every page ``p`` maps in ``[lo, hi)``, once per PTE
    and once per huge PMD (mlock moves them to the unevictable list, munlock back to their
    inactive list)."""
    lock = sysm.handler.lock
    for f in frames_in(p, lo, hi, thp=False).tolist():
        lock(p, f, delta)
    for key in thp_leaves_in(p, lo, hi):
        if p.pt.thp[key].head >= 0:
            lock(p, p.pt.thp[key].head, delta)


def munlock_pages(sysm, p: Process, lo: int, hi: int) -> None:
    """The pages ``p`` maps in ``[lo, hi)`` lose a VM_LOCKED mapping (munlock, munmap, exit)."""
    _mlock_pages(sysm, p, lo, hi, -1)
