"""Reclaim benchmarks (docs/engine.md, "Reclaim"): print medians and ratios taken in one run.

1. replay: 1,000,000 uniformly random page references (numpy seed 1) over 1,000 pages with a
   memory_max of 100 pages, as the spec
       machine m { ram 1GiB; swap 64MiB; page_cluster 0; thp never; replacement POLICY }
       spawn p memory_max 100 pages
       p: buf = mmap 1000 pages
       p: replay "u1m.pages" into buf write
   would run it, for lru, fifo, clock and twolist, against a bare OrderedDict LRU loop over the
   same references in the same run (targets: textbook policies at most 8x the bare loop, goal 3x;
   twolist within 2x of lru).
2. fill: one process writes 1.25 x RAM on `ram 256MiB; swap 512MiB` and on `ram 1GiB; swap 2GiB`,
   every policy (targets: at most 5.5x the time for 4x the pages; the 1 GiB twolist run < 15 s).
3. mlock head: a FIFO head of 100 / 400 / 1,600 mlocked pages costs nothing per fault.
4. a 16 TiB swap device: host memory follows the slots used, not the device size.

Run: python bench/bench_reclaim.py [--refs N] [--runs N] [--skip fill,...]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections import OrderedDict

import numpy as np

from vmspec.engine import MachineConfig, System

MiB, GiB = 1 << 20, 1 << 30
PAGE = 4096


def bare_lru(refs: list[int], k: int = 100) -> tuple[float, int]:
    t0 = time.perf_counter()
    cache: OrderedDict = OrderedDict()
    faults = 0
    for x in refs:
        if x in cache:
            cache.move_to_end(x)
        else:
            faults += 1
            if len(cache) >= k:
                cache.popitem(last=False)
            cache[x] = True
    return time.perf_counter() - t0, faults


def replay(policy: str, refs: list[int]) -> tuple[float, int]:
    s = System(MachineConfig(ram=GiB, swap=64 * MiB, page_cluster=0, thp="never",
                             replacement=policy))
    s.spawn("p", memory_max=100 * PAGE)
    s.mmap("p", "buf", 1000 * PAGE)
    t0 = time.perf_counter()
    s.access_pages("p", "buf", refs, write=True)
    dt = time.perf_counter() - t0
    f = s.faults("p")
    return dt, f.minor + f.major


def fill(policy: str, ram: int) -> tuple[float, int]:
    s = System(MachineConfig(ram=ram, swap=2 * ram, replacement=policy))
    s.spawn("p")
    size = ram + ram // 4
    s.mmap("p", "buf", size)
    t0 = time.perf_counter()
    s.access("p", "buf", 0, size, write=True)
    dt = time.perf_counter() - t0
    assert s.rss("p") + s.swap("p") == size and s.oom_kills == 0
    return dt, s.pswpout


def mlock_head(n: int) -> float:
    """Seconds per fault with ``n`` mlocked pages at the head of the FIFO order."""
    ram = 1 * MiB
    k = n + 64
    s = System(MachineConfig(ram=ram + k * PAGE + 64 * PAGE, kernel=ram + 60 * PAGE, swap=8 * MiB,
                             replacement="fifo", page_cluster=0))
    s.spawn("p")
    s.mmap("p", "locked", n * PAGE)
    s.mlock("p", "locked")
    s.mmap("p", "r", 1024 * PAGE)
    refs = np.random.default_rng(2).integers(0, 1024, size=2000).tolist()
    t0 = time.perf_counter()
    s.access_pages("p", "r", refs, write=True)
    dt = time.perf_counter() - t0
    f = s.faults("p")
    assert s.resident("p", "locked") == n * PAGE
    return dt / max(f.minor + f.major, 1)


def median(xs):
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--refs", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip", default="")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    if "replay" not in skip:
        refs = np.random.default_rng(1).integers(0, 1000, size=args.refs).tolist()
        base = [bare_lru(refs) for _ in range(args.runs)]
        b = median(x[0] for x in base)
        print(f"replay {args.refs:,} refs over 1,000 pages, 100 frames "
              f"(median of {args.runs}):")
        print(f"  bare OrderedDict LRU loop: {b:.3f} s, {base[0][1]:,} faults")
        times = {}
        for pol in ("lru", "fifo", "clock", "twolist"):
            runs = [replay(pol, refs) for _ in range(args.runs)]
            times[pol] = median(x[0] for x in runs)
            same = " (= the bare loop's)" if pol == "lru" and runs[0][1] == base[0][1] else ""
            print(f"  {pol:8s} {times[pol]:7.3f} s  {times[pol] / b:6.1f}x the bare loop  "
                  f"{runs[0][1]:,} faults{same}")
        print(f"  twolist / lru: {times['twolist'] / times['lru']:.2f}")
    if "fill" not in skip:
        print("fill: write 1.25 x RAM (swap 2 x RAM), median of", args.runs)
        for pol in ("twolist", "lru", "fifo", "clock", "random"):
            small = [fill(pol, 256 * MiB) for _ in range(args.runs)]
            big = [fill(pol, GiB) for _ in range(args.runs)]
            a, c = median(x[0] for x in small), median(x[0] for x in big)
            print(f"  {pol:8s} 256 MiB: {a:6.2f} s  1 GiB: {c:6.2f} s  ratio {c / a:4.2f} "
                  f"(pswpout {small[0][1]:,} / {big[0][1]:,})")
    if "mlock" not in skip:
        per = [median(mlock_head(n) for _ in range(args.runs)) for n in (100, 400, 1600)]
        print("mlocked FIFO head of 100 / 400 / 1,600 pages: "
              + " / ".join(f"{x * 1e6:.1f} us" for x in per) + " per fault")
    if "swap" not in skip:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        s = System(MachineConfig(ram=64 * GiB, swap=16 << 40))
        s.spawn("p")
        s.mmap("p", "a", 64 * MiB)
        s.access("p", "a", 0, 64 * MiB, write=True)
        s.madvise("p", "a", 0, 64 * MiB, "pageout")
        dt = time.perf_counter() - t0
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(f"16 TiB swap, 64 MiB paged out: {dt:.2f} s, peak host RSS grew {grew:.0f} MiB")


if __name__ == "__main__":
    main()
