"""The cost model: simulated time of a process from its counters (LANGUAGE.md, cost model).

Each access costs ``memory``, plus ``tlb_hit`` on a TLB hit or ``walk_step`` times the levels
walked on a miss, plus ``minor_fault`` or ``major_fault`` for each fault. A walk to a 4 KiB page
visits all paging levels (4, or 5 with 5-level paging); a walk to a 2 MiB hugetlb page stops at
the PMD, one level earlier, and to a 1 GiB page at the PUD, two earlier (``walk_saved`` counts
the levels skipped). Faults taken without
an access (``populate``, ``mlock``: GUP faults charged to the process, ENGINE-FACTS 4.1) cost their
fault latency but no memory or TLB time. Times are integer nanoseconds, exact.
"""

from __future__ import annotations

from vmspec.engine.config import Latency


def process_time(lat: Latency, levels: int, accesses: int, hits: int, misses: int, minor: int,
                 major: int, walk_saved: int = 0) -> int:
    """Return a process's simulated time in ns from its counters."""
    return (accesses * lat.memory + hits * lat.tlb_hit
            + (misses * levels - walk_saved) * lat.walk_step
            + minor * lat.minor_fault + major * lat.major_fault)
