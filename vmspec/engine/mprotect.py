"""mprotect: new protections on a range of VMAs, their PTEs and the TLB.

Linux: ``mm/mprotect.c`` (``do_mprotect_pkey``, ``mprotect_fixup``: charging new write access,
``change_pte_range`` with ``can_change_pte_writable``: an exclusive anonymous page, or a dirty
shared one, is made writable at once).

Not modelled: mprotect of hugetlb mappings (refused), protection keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vmspec.engine.errors import EINVAL, ENOMEM
from vmspec.engine.frames import ANON, DIRTY, EXCL
from vmspec.engine.process import Process
from vmspec.engine.vma import PROTS, W
from vmspec.engine.zap import uncharge

if TYPE_CHECKING:
    from vmspec.engine.system import System


def mprotect(sysm: System, p: Process, s: int, e: int, prot: str) -> None:
    """``mprotect``: charge new write access, split, change PTE write bits, flush the range."""
    if prot not in PROTS:
        raise EINVAL(f"prot must be one of {', '.join(PROTS)}, got {prot!r}")
    if e <= s:
        return
    # do_mprotect_pkey changes VMA after VMA and stops with ENOMEM at the first hole: the part
    # before the hole keeps its new protection (nothing changes if the start is unmapped).
    p.vmas.refuse_hugetlb(s, e, "mprotect")
    full_end = e
    e = p.vmas.mapped_prefix(s, e)
    if e == s:
        raise ENOMEM(f"mprotect range {s:#x}-{full_end:#x} is not mapped at its start")
    _mprotect_mapped(sysm, p, s, e, prot)
    if e < full_end:
        raise ENOMEM(f"mprotect range {s:#x}-{full_end:#x} is not fully mapped (hole at {e:#x})")


def _mprotect_mapped(sysm: System, p: Process, s: int, e: int, prot: str) -> None:
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
        for key in p.pt.thp_leaves_in(v.start, v.end):
            sysm.thp.protect(p, key, bool(newp & W))
        if newp & W and not (v.account or v.shared or v.noreserve or v.hugetlb or v.writable):
            v.account = True
        elif not newp & W and v.account and v.file is None and not v.anon_vma:
            uncharge(sysm, p, [v])
            v.account = False
        v.prot = newp
        for key, i0, i1 in p.pt.slices(v.start, v.end):
            w = p.pt.wr[key]
            if not newp & W:
                w[i0:i1] = False
                continue
            seg = p.pt.pfn[key][i0:i1]
            present = seg >= 0
            fl = np.where(present, fr.flags[np.where(present, seg, 0)], 0)
            if v.shared:
                cf = sysm.cache.by_id.get(v.file) if v.file is not None else None
                ok = present if cf is not None and cf.shmem else present & ((fl & DIRTY) != 0)
            else:
                ok = present & ((fl & ANON) != 0) & ((fl & EXCL) != 0)
            w[i0:i1] = ok
    p.vmas.merge_around(s, e)
    sysm.tlb_model.invalidate_range(p.pid, s, e)
