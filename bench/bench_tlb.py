"""Benchmark the TLB: a 4,194,304-page sequential sweep (in one call, and in 512-page slices as
the MMU makes it, one per PTE table) and 1,000,000 random look-ups with fills.

Run: python bench/bench_tlb.py   (prints medians of 5 runs; asserts exact hit/miss counts)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vmspec.engine.config import DEFAULT_TLB  # noqa: E402
from vmspec.engine.tlb import TLB  # noqa: E402

PID = 7
BASE = 0x7F0000000  # a typical user-space VPN (va 0x7f0000000000)
SWEEP_PAGES = 4_194_304  # 16 GiB of 4 KiB pages
RANDOM_ACCESSES = 1_000_000
RUNS = 5


def bench_sweep(slice_pages: int) -> float:
    """Time a sweep over 16 GiB after warming the first 1536 pages, in slices of ``slice_pages``,
    including the final application of the pending run to the sets.

    The warm-up leaves l2 holding pages 0..1535 (all 128 sets full, 12 ways each) and l1 holding
    1472..1535. In the timed sweep, page v of the first 1536 is in l2 with exactly the pages above
    it in its set, all later in the sweep, so it hits; everything afterwards misses.
    """
    tlb = TLB(DEFAULT_TLB)
    assert tlb.sweep(PID, BASE, BASE + 1536, 12, False, True) == (0, 1536)
    tlb.lookup(PID, 0, 12, False)  # apply the warm-up
    writable = np.ones(SWEEP_PAGES, dtype=bool)
    writable[::3] = False
    hits = misses = 0
    t0 = time.perf_counter()
    for lo in range(0, SWEEP_PAGES, slice_pages):
        h, m = tlb.sweep(PID, BASE + lo, BASE + lo + slice_pages, 12, False,
                         writable[lo:lo + slice_pages])
        hits, misses = hits + h, misses + m
    tlb.lookup(PID, 0, 12, False)  # apply the run
    elapsed = time.perf_counter() - t0
    assert (hits, misses) == (1536, SWEEP_PAGES - 1536), (hits, misses)
    assert len(tlb.entries()["l2"]) == 1536
    return elapsed


def bench_random() -> tuple[float, int]:
    """Time 1M accesses at random pages (1/4 from a hot 1024-page set): lookup, fill on a miss."""
    rng = np.random.default_rng(1)
    cold = rng.integers(0, 1 << 22, RANDOM_ACCESSES)
    hot = rng.integers(0, 1024, RANDOM_ACCESSES)
    vpns = (np.where(rng.random(RANDOM_ACCESSES) < 0.25, hot, cold) + BASE).tolist()
    writes = (rng.random(RANDOM_ACCESSES) < 0.3).tolist()
    tlb = TLB(DEFAULT_TLB)
    lookup, fill = tlb.lookup, tlb.fill
    hits = 0
    t0 = time.perf_counter()
    for vpn, write in zip(vpns, writes):
        if lookup(PID, vpn, 12, write):
            hits += 1
        else:
            fill(PID, vpn, 12, True)
    return time.perf_counter() - t0, hits


def main() -> None:
    for slice_pages, label in ((SWEEP_PAGES, "one call"), (512, "512-page slices")):
        sweeps = [bench_sweep(slice_pages) for _ in range(RUNS)]
        print(f"sweep of {SWEEP_PAGES:,} pages, {label}: median "
              f"{statistics.median(sweeps) * 1e3:.2f} ms "
              f"(runs: {', '.join(f'{t * 1e3:.2f}' for t in sweeps)})")
    randoms = [bench_random() for _ in range(RUNS)]
    assert len({h for _, h in randoms}) == 1
    times = [t for t, _ in randoms]
    print(f"{RANDOM_ACCESSES:,} random lookups+fills: median {statistics.median(times):.3f} s "
          f"({randoms[0][1]:,} hits; runs: {', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
