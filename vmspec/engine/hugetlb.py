"""hugetlbfs: the persistent huge-page pools, their reservations, and hugetlb page faults.

Counterparts: ``mm/hugetlb.c`` (``hugetlb_reserve_pages``, ``alloc_hugetlb_folio``,
``hugetlb_fault``, ``hugetlb_no_page``, ``hugetlb_wp``, ``hugetlb_vm_op_close``),
``fs/hugetlbfs`` (``remove_inode_hugepages``), ``Documentation/admin-guide/mm/hugetlbpage.rst``.
A shared mapping's hugetlbfs inode is a ``SharedObject``. Rules and measurements: docs/engine.md,
"hugetlb".

Not modelled: surplus pages, pool resizing, subpools and quotas, NUMA nodes, hugetlb cgroups; PMD
sharing between processes (``huge_pmd_share``) and the owner's copy-on-write failure that unmaps
the page from children (``unmap_ref_private``) raise ``Unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmspec.engine.errors import SIGBUS, Unsupported

SIZES = {2 << 20: 21, 1 << 30: 30}  # huge page size -> shift (x86-64: 2M and 1G)


class HugePool:
    """One pool (``struct hstate``): ``total`` pages, ``free`` of them not in use, ``resv`` of
    those promised."""

    __slots__ = ("size", "total", "free", "resv", "_stack", "mapcount", "shared")

    def __init__(self, size: int, total: int) -> None:
        self.size = size
        self.total = total
        self.free = total
        self.resv = 0
        self._stack = list(range(total - 1, -1, -1))  # free page ids, next to hand out last
        self.mapcount = [0] * total  # leaf entries mapping each page
        self.shared = [0] * total  # shared object id holding the page, 0 for a private page

    @property
    def in_use(self) -> int:
        return self.total - self.free

    @property
    def available(self) -> int:
        """Pages neither in use nor reserved (what ``hugepages_free`` reads)."""
        return self.free - self.resv

    def reserve(self, n: int) -> bool:
        """Promise ``n`` free pages (mmap); False, changing nothing, if fewer are unpromised (12.1:
        ENOMEM at mmap when the pool cannot reserve)."""
        if self.resv + n > self.free:
            return False
        self.resv += n
        return True

    def unreserve(self, n: int) -> None:
        """Give back ``n`` unconsumed reservations (munmap, exit; ``hugetlb_acct_memory``)."""
        if n > self.resv:
            raise AssertionError(f"unreserving {n} huge pages but only {self.resv} are reserved")
        self.resv -= n

    def allocate(self, reserved: bool, obj: int = 0) -> int:
        """Take a page for a fault, consuming a reservation if ``reserved``; -1 if an unreserved
        request finds no free unreserved page (``alloc_hugetlb_folio``: SIGBUS)."""
        if reserved:
            if not self.resv:
                raise AssertionError("consuming a huge-page reservation that does not exist")
            self.resv -= 1
        elif self.free - self.resv <= 0:
            return -1
        self.free -= 1
        page = self._stack.pop()
        self.mapcount[page] = 0
        self.shared[page] = obj
        return page

    def release(self, page: int) -> None:
        """Return a page nobody maps to the pool (munmap, exit, last unmap of a shared object)."""
        self.free += 1
        self.mapcount[page] = 0
        self.shared[page] = 0
        self._stack.append(page)

    def free_pages(self) -> list[int]:
        """Return the free page ids (for invariant checks)."""
        return list(self._stack)


@dataclass(slots=True)
class SharedObject:
    """The hugetlbfs inode behind a MAP_SHARED|MAP_HUGETLB mapping: its pages by huge-page index
    and the indices still reserved and not yet allocated."""

    oid: int
    size: int
    pages: dict[int, int] = field(default_factory=dict)
    resv: set[int] = field(default_factory=set)


class Hugetlb:
    """Every pool of the machine and the shared hugetlb objects."""

    def __init__(self, pools: dict[int, int], next_anon_vma=None) -> None:
        self.next_anon_vma = next_anon_vma  # () -> a fresh anon_vma id (private faults set one)
        self.pools = {size: HugePool(size, n) for size, n in pools.items()}
        self.objects: dict[int, SharedObject] = {}
        self._ids = 0

    def pool(self, size: int) -> HugePool:
        """Return the pool of ``size`` (an empty one when the machine has none: the 2M and 1G
        hstates exist on this CPU whatever the pool sizes: docs/engine.md, "hugetlb")."""
        pool = self.pools.get(size)
        if pool is None:
            pool = self.pools[size] = HugePool(size, 0)
        return pool

    def new_id(self) -> int:
        """Return a fresh id for a hugetlb mapping's file (each MAP_HUGETLB mmap makes one)."""
        self._ids += 1
        return self._ids

    def fault(self, p, v, va: int, write: bool, table_alloc, invalidate) -> None:
        """Handle a hugetlb fault at ``va`` (``hugetlb_fault``) and count it (1 minor).

        ``table_alloc(level)`` allocates a page-table frame; ``invalidate(p, hvpn, shift)`` drops
        a TLB entry whose translation changes (COW)."""
        shift = SIZES[v.hugetlb]
        key = va >> shift
        hva = key << shift
        leaves = p.pt.huge[shift]
        pool = self.pool(v.hugetlb)
        leaf = leaves.get(key)
        if leaf is None:
            if shift == 21:
                p.pt.ensure_upper(2, va >> 30, table_alloc)
            else:
                p.pt.ensure_upper(3, va >> 39, table_alloc)
            if v.shared:
                obj = self.objects[v.hobj]
                idx = v.pgoff + ((hva - v.start) >> shift)
                page = obj.pages.get(idx)
                if page is None:
                    reserved = idx in obj.resv
                    page = pool.allocate(reserved, obj.oid)
                    if page < 0:
                        raise SIGBUS(f"{p.name}: no free {v.hugetlb >> 20} MiB huge page for the "
                                     f"fault at {va:#x} (noreserve mapping, pool exhausted)")
                    obj.resv.discard(idx)
                    obj.pages[idx] = page
                pool.mapcount[page] += 1
                leaves[key] = (page, v.writable)
            else:
                reserved = hva in p.hresv
                page = pool.allocate(reserved)
                if page < 0:
                    raise SIGBUS(f"{p.name}: no free unreserved {_size_name(v.hugetlb)} huge page "
                                 f"for the fault at {va:#x}")
                p.hresv.discard(hva)
                if not v.anon_vma and self.next_anon_vma is not None:
                    v.anon_vma = self.next_anon_vma()  # vmf_anon_prepare: fork copies the leaves
                pool.mapcount[page] = 1
                leaves[key] = (page, bool(write))  # a read maps read-only (hugetlb_no_page)
            p.minor += 1
            return
        page, writable = leaf
        if writable or not write:
            raise AssertionError("hugetlb fault on a leaf that already allows the access")
        if v.shared:
            raise AssertionError("a writable shared hugetlb mapping maps pages writable")
        # hugetlb_wp: reuse a page only this process maps, else copy it.
        if pool.mapcount[page] == 1:
            leaves[key] = (page, True)
            p.minor += 1
            return
        new = pool.allocate(False)
        if new < 0:
            if v.hugetlb_owner:
                raise Unsupported(
                    "a copy-on-write of a private hugetlb page by the process that mapped it, with "
                    "no free huge page: Linux then unmaps the page from the children "
                    "(unmap_ref_private); not modelled yet (give the pool one more page)")
            raise SIGBUS(f"{p.name}: no free unreserved {_size_name(v.hugetlb)} huge page for "
                         f"the copy-on-write at {va:#x}")
        pool.mapcount[page] -= 1
        pool.mapcount[new] = 1
        leaves[key] = (new, True)
        p.minor += 1
        p.cow += 1
        invalidate(p, key, shift)

    def zap(self, p, start: int, end: int) -> None:
        """Remove the leaf entries of ``p`` in ``[start, end)``; free private pages nobody maps."""
        for shift, leaves in p.pt.huge.items():
            if not leaves:
                continue
            pool = self.pool(1 << shift)
            dead = [k for k in leaves if start <= (k << shift) < end]
            for k in dead:
                page, _ = leaves.pop(k)
                pool.mapcount[page] -= 1
                if pool.mapcount[page] == 0 and not pool.shared[page]:
                    pool.release(page)

    def unreserve_private(self, p, vmas, start: int, end: int) -> None:
        """Give back ``p``'s unconsumed reservations for huge pages in ``[start, end)`` of the
        private hugetlb VMAs ``vmas`` (``hugetlb_vm_op_close``)."""
        for v in vmas:
            if not v.hugetlb or v.shared:
                continue
            lo, hi = max(start, v.start), min(end, v.end)
            gone = [a for a in p.hresv if lo <= a < hi]
            for a in gone:
                p.hresv.discard(a)
            if gone:
                self.pool(v.hugetlb).unreserve(len(gone))

    def free_unused(self, oids, live) -> None:
        """Free the shared objects ``oids`` that no live process maps any more: their pages go
        back to the pool and their unconsumed reservations are released (inode eviction)."""
        oids = {o for o in oids if o in self.objects}
        for q in live:
            for v in q.vmas:
                oids.discard(v.hobj)
        for oid in oids:
            obj = self.objects.pop(oid)
            pool = self.pool(obj.size)
            for page in obj.pages.values():
                if pool.mapcount[page]:
                    raise AssertionError("freeing a shared huge page that is still mapped")
                pool.release(page)
            pool.unreserve(len(obj.resv))


def _size_name(size: int) -> str:
    return "1 GiB" if size == 1 << 30 else "2 MiB"
