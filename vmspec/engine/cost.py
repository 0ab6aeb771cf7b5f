"""The cost model: simulated time of a process from its counters (LANGUAGE.md, cost model).

Each access costs ``memory``, plus ``tlb_hit`` on a TLB hit or ``walk_step`` times the levels
walked on a miss, plus ``minor_fault`` or ``major_fault`` for each fault. Every translation in the
engine is a 4 KiB page, so a walk visits all paging levels (4, or 5 with 5-level paging); when huge
pages arrive, a 2 MiB walk will stop one level earlier and a 1 GiB walk two. Faults taken without
an access (``populate``, ``mlock``: GUP faults charged to the process, ENGINE-FACTS 4.1) cost their
fault latency but no memory or TLB time. Times are integer nanoseconds, exact.
"""

from __future__ import annotations

from vmspec.engine.config import Latency


def process_time(lat: Latency, levels: int, accesses: int, hits: int, misses: int, minor: int,
                 major: int) -> int:
    """Return a process's simulated time in ns from its counters."""
    return (accesses * lat.memory + hits * lat.tlb_hit + misses * lat.walk_step * levels
            + minor * lat.minor_fault + major * lat.major_fault)
