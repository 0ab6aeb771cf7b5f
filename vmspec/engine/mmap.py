"""mmap, munmap and brk: placing, charging and removing VMAs.

Linux: ``mm/mmap.c`` (``do_mmap`` without hints, ``do_brk_flags``, ``__thp_get_unmapped_area``),
``mm/vma.c`` (``do_vmi_munmap``), ``mm/hugetlb.c``/``fs/hugetlbfs`` for MAP_HUGETLB
(``hugetlb_get_unmapped_area``, ``hugetlbfs_file_mmap`` reservations), ``mm/util.c``
(``__vm_enough_memory`` through ``System.charge``).

Not modelled: MAP_FIXED and address hints, mremap, stack growth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmspec.engine import overcommit
from vmspec.engine.errors import EINVAL, ENOMEM
from vmspec.engine.filemap import new_ra
from vmspec.engine.gup import populate_range
from vmspec.engine.hugetlb import SIZES as HUGE_SIZES, SharedObject
from vmspec.engine.layout import DEFAULT_MAP_WINDOW, MMAP_MIN_ADDR, PMD_SIZE, page_align
from vmspec.engine.mlock import munlock_pages
from vmspec.engine.process import Process, Region
from vmspec.engine.vma import PROTS, R, VMA, W
from vmspec.engine.zap import free_unused_hugetlb, free_unused_shmem, release_tables, uncharge, zap
from vmspec.units import format_size

if TYPE_CHECKING:
    from vmspec.engine.system import System


def mmap(sysm: System, p: Process, name: str, length: int, *, file=None, shared=False, prot="rw",
         hugetlb=None, populate=False, noreserve=False) -> int:
    """``do_mmap`` without hints: check, charge, place top-down, bind the region; maybe populate."""
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
        return mmap_hugetlb(sysm, p, name, length, hugetlb, shared=shared, prot=prot,
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


def mmap_hugetlb(sysm: System, p: Process, name: str, length: int, size: int, *, shared: bool, prot: str,
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
        hl.objects[oid] = SharedObject(oid, size, resv=set() if noreserve else set(range(n)))
    elif not noreserve:
        p.hresv.update(range(addr, addr + hlen, size))
    p.vmas.insert(v)
    p.regions[name] = Region(addr, length, via="mmap")
    if populate:
        populate_range(sysm, p, addr, addr + hlen)
    return addr


def automap(sysm: System, p: Process, va: int) -> VMA | None:
    """Map a 4 KiB anonymous private rw page at ``va`` (lackey replay's first use of a page)."""
    page = va & ~4095
    if page < MMAP_MIN_ADDR or page >= DEFAULT_MAP_WINDOW:
        return None
    v = VMA(page, page + 4096, R | W)
    if not charge_vma(sysm, p, v, sysm.machine.overcommit):
        return None
    p.vmas.insert(v)
    return p.vmas.find(va)


def munmap_range(sysm: System, p: Process, s: int, e: int) -> None:
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
    release_tables(sysm, p.pt.free_tables(s, e, p.vmas.intersects))
    uncharge(sysm, p, gone)
    free_unused_shmem(sysm, [v.file for v in gone if v.shmem and v.file is not None])
    free_unused_hugetlb(sysm, gone)
    sysm.tlb_model.invalidate_range(p.pid, s, e)


def set_brk(sysm: System, p: Process, new: int) -> None:
    """``brk``: grow (accounted, needs a free page above) or shrink (unmap) the heap."""
    ps = sysm.page_size
    if new < p.start_brk:
        raise ENOMEM(f"brk below the start of the heap ({new - p.start_brk} bytes)")
    old_end, new_end = page_align(p.brk, ps), page_align(new, ps)
    if new_end > old_end:
        if p.vmas.intersects(old_end, new_end + ps):
            raise ENOMEM("brk would run into another mapping")
        v = VMA(old_end, new_end, R | W, name="heap")
        if not charge_vma(sysm, p, v, sysm.machine.overcommit):
            raise ENOMEM("overcommit refuses to grow the heap")
        p.vmas.insert(v)
    elif new_end < old_end:
        munmap_range(sysm, p, new_end, old_end)
    p.brk = new
    p.regions["heap"] = Region(p.start_brk, new - p.start_brk, via="brk")


def mmap_anon(sysm: System, p: Process, length: int) -> int:
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


def charge_vma(sysm: System, p: Process, v: VMA, mode: str) -> bool:
    """Charge a private writable VMA (VM_ACCOUNT) if the policy allows it."""
    if not overcommit.accountable(v.shared, v.writable, v.noreserve, bool(v.hugetlb), mode,
                                  file=v.file is not None and not v.shmem):
        return True
    if not sysm.charge(p, v.length >> 12):
        return False
    v.account = True
    return True
