"""fork and exit of an address space: ``dup_mmap``/``copy_page_range`` (``kernel/fork.c``,
``mm/memory.c``) and ``exit_mmap`` (``mm/mmap.c``).

fork copies the VMAs and the page tables of VMAs with anonymous pages, write-protecting private
PTEs in both processes; exit (and an OOM kill or a fatal signal) tears everything down with
``vmspec.engine.zap``'s helpers. Rules: docs/engine.md, "fork", "hugetlb", "Transparent huge
pages".
"""

from __future__ import annotations

from dataclasses import replace
import numpy as np

from vmspec.engine.mlock import munlock_pages
from vmspec.engine.zap import free_unused_hugetlb, free_unused_shmem, release_tables, zap
from vmspec.engine.errors import ENOMEM, Unsupported
from vmspec.engine.frames import ANON, EXCL, rss_kinds
from vmspec.engine.hugetlb import SIZES as HUGE_SIZES
from vmspec.engine.layout import page_align
from vmspec.engine.pagetable import PMD_SHIFT, PUD_SHIFT, P4D_SHIFT, PageTable
from vmspec.engine.process import Process
from vmspec.engine.swap import SWP_FIRST, decode
from vmspec.engine.vma import VMA, VMAList


def fork(sysm, p: Process, name: str, pid: int) -> Process:
    """``dup_mmap``: copy VMAs, charge VM_ACCOUNT ones, copy page tables of VMAs with anon pages
    (write-protecting private PTEs in both), flush the parent's TLB entries (``flush_tlb_mm``).

    hugetlb: the child owns no reservation (``reset_vma_resv_huge_pages``); a private hugetlb VMA
    with pages has its leaves copied write-protected in both (``copy_hugetlb_page_range``); a
    shared one has no anon_vma, so nothing is copied and the child faults the object's pages in
    again (1 minor each)."""
    for v in p.vmas:
        if v.hugetlb == 2 << 20 and v.shared and \
                page_align(v.start, 1 << 30) + (1 << 30) <= v.end:
            raise Unsupported(
                "fork of a shared 2 MiB hugetlb mapping that spans an aligned 1 GiB range: Linux "
                "shares its PMD table between the processes (huge_pmd_share); not modelled yet")
    c = Process(name, pid, p.vmas.copy(), PageTable(sysm.levels), p.arena.copy(), p.family,
                regions={k: replace(r) for k, r in p.regions.items()},
                start_brk=p.start_brk, brk=p.brk, mmap_base=p.mmap_base,
                oom_score_adj=p.oom_score_adj)
    for v in c.vmas:  # dup_mmap: vm_flags_clear(tmp, VM_LOCKED_MASK); mlock is not inherited
        v.locked = False
        v.hugetlb_owner = False
    c.vmas.attach(sysm.vma_observer(c))
    charged = 0
    for v in c.vmas:
        if v.account:
            if not sysm.charge(c, v.length >> 12):
                sysm.committed_pages -= charged
                c.vmas.detach()
                raise ENOMEM("overcommit refuses to duplicate the address space (fork)")
            charged += v.length >> 12
    c.family.members[c.pid] = c  # the child's PTEs are in the reverse map while they are copied
    c.thp_capable = p.thp_capable
    try:
        for v in p.vmas:
            if v.anon_vma:
                _copy_thp(sysm, p, c, v)
                _copy_tables(sysm, p, c, v)
                if v.hugetlb:
                    _copy_huge_leaves(sysm, p, c, v)
    except BaseException:  # OOM-killed while allocating the child's tables, or a refusal
        teardown(sysm, c, "exited")
        raise
    if sysm.check_pages:
        sysm.pagecheck.forked(p, c)
    sysm.tlb_model.flush_pid(p.pid)
    return c


def _copy_thp(sysm, p: Process, c: Process, v: VMA) -> None:
    """``copy_huge_pmd`` for every huge PMD of the VMA; the folios are pinned meanwhile, so the
    child's table allocations cannot reclaim (split) them."""
    if not p.pt.thp:
        return
    # a page-cache folio's PMD is not copied: the child faults it in again (copy_huge_pmd)
    keys = [k for k in p.pt.thp_leaves_in(v.start, v.end) if not p.pt.thp[k].file]
    heads = {p.pt.thp[k].head for k in keys} - {-2}
    pinned = sysm.frames.pinned
    new = heads - pinned
    pinned |= new
    try:
        for key in keys:
            sysm.thp.copy_pmd(p, c, key, p.pt.thp[key])
    finally:
        pinned -= new


def _copy_tables(sysm, p: Process, c: Process, v: VMA) -> None:
    """``copy_page_range`` for one VMA: a child table for every parent table in its span."""
    alloc = sysm.page_alloc.table_alloc(p, c)
    fr = sysm.frames
    s, e = v.start, v.end
    pt = p.pt

    def keys(table, shift, lo, hi):  # the span's keys or the table's, whichever is fewer
        first, last = lo >> shift, (hi - 1) >> shift
        if last - first < len(table):
            return [k for k in range(first, last + 1) if k in table]
        return sorted(k for k in table if first <= k <= last)

    tops = keys(pt.p4d, P4D_SHIFT, s, e) if sysm.levels == 5 else [None]
    for k4 in tops:
        lo4, hi4 = (s, e) if k4 is None else (max(s, k4 << P4D_SHIFT), min(e, (k4 + 1) << P4D_SHIFT))
        if k4 is not None:
            c.pt.ensure_upper(4, k4, alloc)
        for k3 in keys(pt.pud, PUD_SHIFT, lo4, hi4):
            c.pt.ensure_upper(3, k3, alloc)
            lo3, hi3 = max(lo4, k3 << PUD_SHIFT), min(hi4, (k3 + 1) << PUD_SHIFT)
            for k2 in keys(pt.pmd, PMD_SHIFT, lo3, hi3):
                c.pt.ensure_upper(2, k2, alloc)
                lo2, hi2 = max(lo3, k2 << PMD_SHIFT), min(hi3, (k2 + 1) << PMD_SHIFT)
                for k1, i0, i1 in pt.slices(lo2, hi2):
                    ct, cw = c.pt.ensure(k1, alloc)
                    seg = pt.pfn[k1][i0:i1]
                    ct[i0:i1] = seg
                    if p.swapents:  # swap_duplicate: one more reference per copied entry
                        slots = decode(seg[seg <= SWP_FIRST])
                        for slot in slots.tolist():
                            sysm.swapdev.dup(slot)
                        c.swapents += len(slots)
                    if not v.shared:  # copy_present_pte: the child's PTE is old, keeps dirty
                        c.pt.dirty[k1][i0:i1] = pt.dirty[k1][i0:i1]
                    mapped = seg[seg >= 0]
                    if len(mapped):
                        np.add.at(fr.mapcount, mapped, 1)
                        fl = fr.flags[mapped]
                        c.add_rss(rss_kinds(fl))
                        if not v.shared:
                            fr.flags[mapped[(fl & ANON) != 0]] &= np.uint16(0xFFFF & ~EXCL)
                    if v.shared:
                        cw[i0:i1] = pt.wr[k1][i0:i1]
                    else:
                        pt.wr[k1][i0:i1] = False
                        cw[i0:i1] = False


def _copy_huge_leaves(sysm, p: Process, c: Process, v: VMA) -> None:
    """``copy_hugetlb_page_range`` for a private VMA: share every page, write-protected in both."""
    shift = HUGE_SIZES[v.hugetlb]
    pool = sysm.hugetlb.pool(v.hugetlb)
    src, dst = p.pt.huge[shift], c.pt.huge[shift]
    for k, (page, _) in list(src.items()):
        if v.start <= k << shift < v.end:
            src[k] = dst[k] = (page, False)
            pool.mapcount[page] += 1


def teardown(sysm, p: Process, status: str) -> None:
    """``exit_mmap``: zap everything, free every table, uncharge, flush; set the status."""
    for v in p.vmas:
        if v.locked:
            munlock_pages(sysm, p, v.start, v.end)
            v.locked = False  # so that zapping a huge PMD does not munlock its folio again
    zap(sysm, p, 0, 1 << 57)
    if p.hresv:
        sysm.hugetlb.unreserve_private(p, p.vmas, 0, 1 << 57)
    huge_shared = [v for v in p.vmas if v.hugetlb and v.shared]
    release_tables(sysm, p.pt.all_frames())
    p.pt = PageTable(sysm.levels)
    sysm.committed_pages -= p.committed
    p.committed = 0
    shm = [v.file for v in p.vmas if v.shmem and v.file is not None]
    p.vmas.detach()
    p.vmas = VMAList()
    p.status = status
    p.family.members.pop(p.pid, None)
    sysm.mark_changed(p)
    free_unused_shmem(sysm, shm)
    free_unused_hugetlb(sysm, huge_shared)
    sysm.tlb_model.flush_pid(p.pid)
