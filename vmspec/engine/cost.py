"""The cost model: a process's simulated time from its counters, in exact integer nanoseconds.

No Linux counterpart; the formula (per access ``memory``, a TLB hit or a walk of so many levels,
each fault's latency; GUP faults of populate and mlock cost their fault only) is in
docs/engine.md, "Cost", and docs/language.md, ``latency``.
"""

from __future__ import annotations

from vmspec.engine.config import Latency


def process_time(lat: Latency, levels: int, accesses: int, hits: int, misses: int, minor: int,
                 major: int, walk_saved: int = 0) -> int:
    """Return a process's simulated time in ns from its counters."""
    return (accesses * lat.memory + hits * lat.tlb_hit
            + (misses * levels - walk_saved) * lat.walk_step
            + minor * lat.minor_fault + major * lat.major_fault)
