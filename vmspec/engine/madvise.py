"""madvise: MADV_DONTNEED, HUGEPAGE, NOHUGEPAGE, WILLNEED and PAGEOUT.

Linux: ``mm/madvise.c`` (``madvise_dontneed_single_vma`` with 6.18's ``CONFIG_PT_RECLAIM``,
``hugepage_madvise``, ``madvise_willneed``, ``madvise_cold_or_pageout_pte_range``).

Not modelled: the other advice values, MADV_PAGEOUT of shmem (refused), madvise of hugetlb
mappings (refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmspec.engine.errors import EINVAL, ENOMEM, Unsupported
from vmspec.engine.frames import ANON, FILE, NONE, SHMEM
from vmspec.engine.pagetable import PTE_SHIFT
from vmspec.engine.process import Process
from vmspec.engine.vma import VMA
from vmspec.engine.zap import zap

ADVICE = ("dontneed", "hugepage", "nohugepage", "willneed", "pageout")

if TYPE_CHECKING:
    from vmspec.engine.system import System


def madvise(sysm: System, p: Process, s: int, e: int, advice: str) -> None:
    """``madvise``: dontneed zaps (and reclaims emptied PTE tables, 6.18); the others record."""
    if advice not in ADVICE:
        raise EINVAL(f"advice must be one of {', '.join(ADVICE)}, got {advice!r}")
    if e <= s:
        return
    p.vmas.refuse_hugetlb(s, e, f"madvise {advice}")
    vmas = p.vmas.overlapping(s, e)
    holes = not p.vmas.covers(s, e)
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
        raise ENOMEM(f"madvise range {s:#x}-{e:#x} is not fully mapped")


def _pageout(sysm: System, p: Process, lo: int, hi: int) -> None:
    """MADV_PAGEOUT (``madvise_cold_or_pageout_pte_range`` then ``reclaim_pages``): every page
    of the range that only this process maps (``folio_likely_mapped_shared`` skips the others)
    goes through reclaim ignoring its references: an anonymous page gets a swap slot, its PTE
    becomes a swap entry and it is written, staying in the swap cache (written and clean); a
    page that is already in the swap cache and clean, or a clean file page, leaves RAM at once;
    a dirty file page is written back and stays cached. Swap entries are not touched; without
    swap (or once swap is full) anonymous pages are activated instead (twolist)."""
    fr = sysm.frames
    picked: list[int] = []
    if p.pt.thp:  # a huge page the range covers goes whole (reclaim splits it); others split
        sysm.thp.split_range(p, lo, hi)
        for key in p.pt.thp_leaves_in(lo, hi):
            leaf = p.pt.thp[key]
            if leaf.head >= 0 and (fr.mapcount[leaf.subs] == 1).all():
                if leaf.file:
                    picked.extend(leaf.subs.tolist())  # grouped back into the folio below
                else:
                    picked.append(leaf.head)
    for key, i0, i1 in p.pt.slices(lo, hi):
        seg = p.pt.pfn[key][i0:i1]
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


def _pageout_folios(sysm: System, picked: list[int]) -> list[int]:
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


def _willneed(sysm: System, v: VMA, lo: int, hi: int) -> None:
    """MADV_WILLNEED on a file: read at most max(io_pages, ra_pages) pages into the page cache
    (``force_page_cache_ra``, vmspec.engine.readahead)."""
    sysm.handler.filemap.willneed(v, lo, hi)
