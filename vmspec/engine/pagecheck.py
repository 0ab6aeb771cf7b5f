"""A self-check that no page is lost: page contents followed through swap, the swap cache and
copy-on-write (``System(check_pages=True)``, used by the engine's property tests).

Each write to an anonymous page gives it a new content number, carried along as Linux carries
the data; ``check`` verifies that every page a process wrote still holds what it wrote
(docs/engine.md, "Self-checks"). No Linux counterpart; it costs the per-access path on every
access.
"""

from __future__ import annotations

import numpy as np

from vmspec.engine.errors import InvariantBroken
from vmspec.engine.frames import ANON, DIRTY, SWAPCACHE
from vmspec.engine.swap import SWP_FIRST, decode


class PageCheck:
    """The content numbers of one System (see the module docstring)."""

    def __init__(self, sysm) -> None:
        self.sysm = sysm
        fr = sysm.frames
        fr.content = np.zeros(len(fr.mapcount), np.int64)
        if sysm.swapdev is not None:
            sysm.swapdev.content = {}
        self.expected: dict[int, dict[int, int]] = {}  # pid -> vpn -> content number
        self.stamp = 0
        sysm.mmu.pagecheck = self

    def written(self, p, vpn: int) -> None:
        """One write access to ``p``'s page at ``vpn`` has just completed."""
        fr = self.sysm.frames
        f = self._frame(p, vpn)
        if f < 0 or not fr.flags[f] & ANON:
            return
        self.stamp += 1
        fr.content[f] = self.stamp
        self.expected.setdefault(p.pid, {})[vpn] = self.stamp

    @staticmethod
    def _frame(p, vpn: int) -> int:
        """The PTE (or huge PMD) value mapping ``p``'s page ``vpn`` (-1 if none)."""
        leaf = p.pt.thp.get(vpn >> 9) if p.pt.thp else None
        if leaf is not None:
            return int(leaf.subs[vpn & 511]) if leaf.head >= 0 else -2
        t = p.pt.pfn.get(vpn >> 9)
        return int(t[vpn & 511]) if t is not None else -1

    def forked(self, parent, child) -> None:
        """The child's pages hold what the parent's do."""
        if parent.pid in self.expected:
            self.expected[child.pid] = dict(self.expected[parent.pid])

    def forget(self, p, start: int, end: int) -> None:
        """``[start, end)`` of ``p`` was unmapped or zapped: its pages are gone (or zero)."""
        exp = self.expected.get(p.pid)
        if exp:
            lo, hi = start >> 12, (end + 4095) >> 12
            if hi - lo < len(exp):
                for vpn in range(lo, hi):
                    exp.pop(vpn, None)
            else:
                for vpn in [v for v in exp if lo <= v < hi]:
                    del exp[vpn]

    def check(self) -> None:
        """Raise InvariantBroken if a written page lost its contents."""
        sysm = self.sysm
        fr = sysm.frames
        sw = sysm.swapdev
        for p in sysm.procs.values():
            if not p.alive:
                continue
            for vpn, want in self.expected.get(p.pid, {}).items():
                v = self._frame(p, vpn)
                if v >= 0:
                    got = int(fr.content[v])
                elif v <= SWP_FIRST:
                    slot = decode(v)
                    c = sw.cached(slot)
                    got = int(fr.content[c]) if c >= 0 else sw.content.get(slot, 0)
                else:
                    got = 0
                if got != want:
                    raise InvariantBroken(
                        f"{p.name}: the page at {vpn << 12:#x} holds content {got}, but its last "
                        f"write left {want} (a page was lost)")
        if sw is None:
            return
        for f, slot in sw.frame_slot.items():
            if fr.flags[f] & DIRTY or not fr.flags[f] & SWAPCACHE:
                continue
            if any(q.pt.dirty[va >> 21][(va >> 12) & 511] for q, _, va in sysm.rmap.mappers(f)):
                continue
            if int(fr.content[f]) != sw.content.get(slot, 0):
                raise InvariantBroken(f"swap-cache page {f} is clean but differs from slot {slot}")
