"""A naive reference TLB: the rules of docs/engine.md, "TLB", written as plainly as possible.

``TLBRef`` defines what ``vmspec.engine.tlb.TLB`` implements fast; the tests compare the two, and
``TeeTLB`` feeds both the same calls inside the engine (``System(reference_tlb=True)``). Each set
is a list of ``[key, writable]`` pairs, least recently used first, searched linearly; a sweep is a
loop of look-ups and fills. Like the fast TLB it has no PCID/ASID limit and no range-flush ceiling.
"""

from __future__ import annotations

import numpy as np

from vmspec.engine.config import TLBLevel
from vmspec.engine.tlb import TLB

_L1_FOR_SHIFT = {12: "l1", 21: "l1_2m", 30: "l1_1g"}
_SHIFTS_OF_LEVEL = {"l1": (12,), "l1_2m": (21,), "l1_1g": (30,), "l2": (12, 21)}


class TLBRef:
    """Reference TLB: one list per set, linear search, no shortcuts."""

    def __init__(self, levels: tuple[TLBLevel, ...]):
        self.levels = tuple(levels)
        self.sets: dict[str, list[list]] = {lv.name: [[] for _ in range(lv.entries // lv.ways)] for lv in levels}
        self.ways = {lv.name: lv.ways for lv in levels}

    def _names(self, shift: int) -> tuple[str | None, str | None]:
        """Return (the l1 level for shift, l2 if it holds shift), each None when absent."""
        l1 = _L1_FOR_SHIFT[shift]
        return (
            l1 if l1 in self.sets else None,
            "l2" if "l2" in self.sets and shift in _SHIFTS_OF_LEVEL["l2"] else None,
        )

    def _set(self, name: str, vpn: int) -> list:
        sets = self.sets[name]
        return sets[vpn % len(sets)]

    @staticmethod
    def _find(entries: list, key: tuple) -> int:
        for i, (k, _) in enumerate(entries):
            if k == key:
                return i
        return -1

    def _insert(self, name: str, key: tuple, writable: bool) -> None:
        entries = self._set(name, key[2])
        i = self._find(entries, key)
        if i >= 0:
            del entries[i]
        elif len(entries) == self.ways[name]:
            del entries[0]
        entries.append([key, bool(writable)])

    def _hit(self, name: str, key: tuple, write: bool):
        """Touch and return the entry if level ``name`` translates the access, else None."""
        entries = self._set(name, key[2])
        i = self._find(entries, key)
        if i < 0:
            return None
        if write and not entries[i][1]:
            return None
        entry = entries.pop(i)
        entries.append(entry)
        return entry

    def lookup(self, pid: int, vpn: int, shift: int, write: bool) -> bool:
        """Look one access up: True on a hit, False on a miss."""
        key = (pid, shift, vpn)
        l1, l2 = self._names(shift)
        if l1 is not None and self._hit(l1, key, write) is not None:
            return True
        if l2 is not None:
            entry = self._hit(l2, key, write)
            if entry is not None:
                if l1 is not None:
                    self._insert(l1, key, entry[1])
                return True
        return False

    def fill(self, pid: int, vpn: int, shift: int, writable: bool) -> None:
        """Insert the page's entry into the l1 level for its size and into l2."""
        key = (pid, shift, vpn)
        for name in self._names(shift):
            if name is not None:
                self._insert(name, key, writable)

    def sweep(self, pid, start_vpn, stop_vpn, shift, write, writable) -> tuple[int, int]:
        """Access pages start_vpn..stop_vpn-1 in order, filling after each miss."""
        hits = misses = 0
        per_page = hasattr(writable, "__getitem__")
        for i, vpn in enumerate(range(start_vpn, stop_vpn)):
            if self.lookup(pid, vpn, shift, write):
                hits += 1
            else:
                misses += 1
                self.fill(pid, vpn, shift, bool(writable[i]) if per_page else bool(writable))
        return (hits, misses)

    def invalidate(self, pid: int, vpn: int, shift: int) -> None:
        """Remove the page's entries from every level."""
        for name in self.sets:
            for entries in self.sets[name]:
                entries[:] = [e for e in entries if e[0] != (pid, shift, vpn)]

    def invalidate_range(self, pid: int, start_va: int, end_va: int) -> None:
        """Remove every entry of pid whose page overlaps bytes [start_va, end_va)."""
        if end_va <= start_va:
            return  # an empty range overlaps nothing
        for name in self.sets:
            for entries in self.sets[name]:
                entries[:] = [
                    e for e in entries
                    if not (
                        e[0][0] == pid
                        and e[0][2] << e[0][1] < end_va
                        and (e[0][2] + 1) << e[0][1] > start_va
                    )
                ]

    def flush_pid(self, pid: int) -> None:
        """Remove every entry of pid."""
        for name in self.sets:
            for entries in self.sets[name]:
                entries[:] = [e for e in entries if e[0][0] != pid]

    def entries(self) -> dict[str, list[tuple[int, int, int, bool]]]:
        """Return each level's contents as (pid, shift, vpn, writable), set by set, LRU to MRU."""
        return {
            name: [(k[0], k[1], k[2], w) for entries in sets for k, w in entries]
            for name, sets in self.sets.items()
        }


class TeeTLB:
    """Drives the engine's TLB and a ``TLBRef`` with the same calls and fails on the first
    answer they disagree on: the TLB of ``System(reference_tlb=True)``. ``tlb`` and ``ref`` are
    the two it drives; ``entries`` are the engine TLB's."""

    def __init__(self, tlb: TLB, ref: TLBRef) -> None:
        self.tlb, self.ref = tlb, ref

    def lookup(self, pid, vpn, shift, write):
        a = self.tlb.lookup(pid, vpn, shift, write)
        b = self.ref.lookup(pid, vpn, shift, write)
        if a != b:
            raise AssertionError(f"TLB lookup of pid {pid} vpn {vpn:#x}: engine {a}, reference {b}")
        return a

    def fill(self, pid, vpn, shift, writable):
        self.tlb.fill(pid, vpn, shift, writable)
        self.ref.fill(pid, vpn, shift, writable)

    def sweep(self, pid, start_vpn, stop_vpn, shift, write, writable):
        res = self.tlb.sweep(pid, start_vpn, stop_vpn, shift, write, writable)
        hits = misses = 0
        for k, vpn in enumerate(range(start_vpn, stop_vpn)):
            if self.ref.lookup(pid, vpn, shift, write):
                hits += 1
            else:
                misses += 1
                w = writable if isinstance(writable, (bool, np.bool_)) else writable[k]
                self.ref.fill(pid, vpn, shift, bool(w))
        if res != (hits, misses):
            raise AssertionError(f"TLB sweep: engine {res}, reference {(hits, misses)}")
        return res

    def invalidate(self, pid, vpn, shift):
        self.tlb.invalidate(pid, vpn, shift)
        self.ref.invalidate(pid, vpn, shift)

    def invalidate_range(self, pid, start_va, end_va):
        self.tlb.invalidate_range(pid, start_va, end_va)
        self.ref.invalidate_range(pid, start_va, end_va)

    def flush_pid(self, pid):
        self.tlb.flush_pid(pid)
        self.ref.flush_pid(pid)

    def entries(self):
        return self.tlb.entries()
