"""Engine benchmarks: print medians and assert the exact counts each run produced.

1. Write all of a fresh 16 GiB mapping on a 64 GiB machine (target < 2 s, < 1 GiB host memory).
2. The same under ``thp always``: 8,192 huge-page faults (target: no slower than 1.).
3. 1,000,000 random single-page accesses through the full path (target < 3 s).
Run: /work/.venv/bin/python bench/bench_engine.py [runs]
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

from vmspec.engine import MachineConfig, System

GiB = 1 << 30


def write_16g(thp: str) -> tuple[System, float]:
    """Write every page of a fresh 16 GiB mapping on a 64 GiB machine; return it and the time."""
    s = System(MachineConfig(ram=64 * GiB, thp=thp))
    s.spawn("p")
    s.mmap("p", "buf", 16 * GiB)
    t0 = time.perf_counter()
    s.access("p", "buf", 0, 16 * GiB, write=True)
    return s, time.perf_counter() - t0


def sweep_16g() -> float:
    s, dt = write_16g("madvise")
    f, tlb = s.faults("p"), s.tlb("p")
    assert (f.minor, f.major, f.cow) == (4_194_304, 0, 0), f
    assert (tlb.hits, tlb.misses) == (0, 4_194_304), tlb  # every page is new: every access walks
    # 8192 PTE tables (8 MiB) + 16 PMD tables + 1 PUD table (the mapping is 2 MiB aligned below
    # mmap_base, inside one 512 GiB PGD slot and spanning 16 or 17 1 GiB PUD entries).
    pmds = len(s.procs["p"].pt.pmd)
    assert s.pagetables("p") == (8192 + pmds + 1) * 4096 and pmds in (16, 17), s.pagetables("p")
    assert s.rss("p") == 16 * GiB
    return dt


def sweep_16g_thp() -> float:
    s, dt = write_16g("always")
    f, tlb = s.faults("p"), s.tlb("p")
    assert (f.minor, f.major, f.cow) == (8192, 0, 0), f
    assert (tlb.hits, tlb.misses) == (4_194_304 - 8192, 8192), tlb  # one walk per huge page
    assert s.huge("p", "buf") == 16 * GiB and s.rss("p") == 16 * GiB
    return dt


def random_1m() -> float:
    s = System(MachineConfig(ram=4 * GiB))
    s.spawn("p")
    s.mmap("p", "buf", 1 * GiB)
    t0 = time.perf_counter()
    s.access_random("p", "buf", 1_000_000, seed=42, write=True)
    dt = time.perf_counter() - t0
    f, tlb = s.faults("p"), s.tlb("p")
    assert tlb.hits + tlb.misses == 1_000_000
    assert f.minor == s.rss("p") // 4096 and f.major == 0
    return dt, (f.minor, tlb.hits, tlb.misses)


def main(runs: int = 3) -> None:
    a = [sweep_16g() for _ in range(runs)]
    print(f"write 16 GiB fresh (4,194,304 faults): median {statistics.median(a):.3f} s "
          f"(runs {', '.join(f'{x:.3f}' for x in a)})")
    h = [sweep_16g_thp() for _ in range(runs)]
    print(f"write 16 GiB fresh under thp always (8,192 faults): median {statistics.median(h):.3f} s"
          f" (runs {', '.join(f'{x:.3f}' for x in h)})")
    b = [random_1m() for _ in range(runs)]
    assert len({x[1] for x in b}) == 1, "random accesses are not deterministic"
    minor, hits, misses = b[0][1]
    print(f"1,000,000 random accesses over 1 GiB: median {statistics.median(x[0] for x in b):.3f} s"
          f" (faults {minor}, TLB hits {hits}, misses {misses})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak host RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
