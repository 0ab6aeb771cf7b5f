"""The one table binding each observable word of the language to the engine getter behind it.

``rss(P)`` is ``System.rss(P)``, ``faults(P).cow`` is ``System.faults(P).cow``, and so on
(docs/language.md, Expressions; docs/engine-api.md). Each entry gives the value's kind. A process that
was never spawned, has exited or was killed reads 0 for its sizes; its counters keep their final
values (docs/language.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vmspec.checker.values import BOOL, COUNT, DURATION, PROCS, RATIO, SIZE, STATUS, VIA, Value
from vmspec.language import ast
from vmspec.units import format_size, size_bytes

NOT_SPAWNED = "not spawned yet"


@dataclass(frozen=True, slots=True)
class Binding:
    """How to read one observable: its kind, its argument shape and the getter."""

    kind: str
    args: str  # "", "P", "R" (P.R), "RR" (P.R, Q.R) or "PP", "S" (a size)
    get: Callable
    sized: bool = False  # a per-process size: reads 0 unless the process is running


def _system(name):
    return lambda system: getattr(system, name)


def _proc(name):
    return lambda system, p: getattr(system, name)(p)


def _field(name, field):
    return lambda system, p: getattr(getattr(system, name)(p), field)


def _region(name):
    return lambda system, p, r, *part: getattr(system, name)(p, r, *part)


class RangeError(ValueError):
    """A range in a region observable that the region does not hold."""


def _bytes_of(system, ref: ast.RegionRef, page_size: int) -> tuple[int, int]:
    """Return the byte offsets ``[start, end)`` that ``P.R[RANGE]`` names, as a step's range
    does (``[A]``: one byte); raise RangeError past the region's end."""
    rng = ref.range
    size = system.size(ref.process, ref.region)
    start = size_bytes(rng.start.amount, rng.start.unit, page_size) if rng.start is not None else 0
    if rng.single:
        end = start + 1
    else:
        end = size_bytes(rng.end.amount, rng.end.unit, page_size) if rng.end is not None else size
    if end > size:
        raise RangeError(f"{ref.process}.{ref.region} is {format_size(size)}; the range ends at {format_size(end)}")
    return start, end


TABLE: dict[tuple[str, str | None], Binding] = {}


def _bind(name: str, field: str | None, binding: Binding) -> None:
    TABLE[(name, field)] = binding


for _n in ("ram", "free", "used", "cached", "swap_used", "swap_free", "committed", "commit_limit",
           "active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable"):
    _bind(_n, None, Binding(SIZE, "", _system(_n)))
for _n in ("pswpin", "pswpout", "thp_fault_alloc", "thp_fault_fallback", "thp_split_pmd"):
    _bind(_n, None, Binding(COUNT, "", _system(_n)))
_bind("killed", None, Binding(PROCS, "", lambda s: tuple(s.killed)))
_bind("oom_kills", None, Binding(COUNT, "", _system("oom_kills")))
_bind("time", None, Binding(DURATION, "", _system("time")))
_bind("hugepages_free", None, Binding(COUNT, "S", lambda s, size: s.hugepages_free(size)))
_bind("hugepages_total", None, Binding(COUNT, "S", lambda s, size: s.hugepages_total(size)))

for _n in ("rss", "rss_anon", "rss_file", "pss", "uss", "swap", "vsz", "pagetables"):
    _bind(_n, None, Binding(SIZE, "P", _proc(_n), sized=True))
for _f in ("minor", "major", "cow"):
    _bind("faults", _f, Binding(COUNT, "P", _field("faults", _f)))
for _f in ("hits", "misses"):
    _bind("tlb", _f, Binding(COUNT, "P", _field("tlb", _f)))
_bind("tlb", "hit_rate", Binding(RATIO, "P", _field("tlb", "hit_rate")))
for _n in ("oom_score", "oom_score_adj", "oom_adj"):
    _bind(_n, None, Binding(COUNT, "P", _proc(_n)))
_bind("time", "P", Binding(DURATION, "P", _proc("process_time")))
_bind("alive", None, Binding(BOOL, "P", _proc("alive")))
_bind("status", None, Binding(STATUS, "P", _proc("status")))

for _n in ("resident", "swapped", "huge", "size"):
    _bind(_n, None, Binding(SIZE, "R", _region(_n), sized=True))
_bind("via", None, Binding(VIA, "R", _region("via")))
_bind("shared", "RR", Binding(SIZE, "RR", lambda s, p, r, q, t: s.shared_regions(p, r, q, t), sized=True))
_bind("shared", "PP", Binding(SIZE, "PP", lambda s, p, q: s.shared_processes(p, q), sized=True))


def lookup(obs: ast.Observable) -> Binding | None:
    """Find the binding for an observable as written (None if the word is unknown)."""
    if obs.name == "time" and obs.args:
        return TABLE.get(("time", "P"))
    if obs.name == "shared":
        if obs.args and isinstance(obs.args[0], ast.RegionRef):
            return TABLE.get(("shared", "RR"))
        return TABLE.get(("shared", "PP"))
    return TABLE.get((obs.name, obs.field))


def read(system, obs: ast.Observable, page_size: int) -> Value:
    """Read one observable from the engine as a typed Value."""
    binding = lookup(obs)
    if binding is None:  # the static checker rejects unknown words; this is a safety net
        raise KeyError(f"unknown observable {obs.name}")
    procs = [a.process if isinstance(a, ast.RegionRef) else a.name for a in obs.args
             if isinstance(a, (ast.RegionRef, ast.NameRef))]
    exists = getattr(system, "exists", None)
    if procs and exists is not None and not all(exists(p) for p in procs):
        if binding.kind == BOOL:
            return Value(BOOL, False)
        if binding.kind == STATUS:
            return Value(STATUS, NOT_SPAWNED)
        if binding.kind == VIA:
            return Value(VIA, "none")
        return Value(binding.kind, 0)
    if binding.sized and procs and not all(system.alive(p) for p in procs):
        return Value(binding.kind, 0)
    args: list = []
    for a in obs.args:
        if isinstance(a, ast.RegionRef):
            args += [a.process, a.region]
            if a.range is not None:  # resident/swapped/huge of P.R[RANGE]
                args += _bytes_of(system, a, page_size)
        elif isinstance(a, ast.NameRef):
            args.append(a.name)
        else:
            args.append(size_bytes(a.amount, a.unit, page_size))
    raw = binding.get(system, *args)
    if binding.kind in (BOOL,):
        raw = bool(raw)
    return Value(binding.kind, raw)
