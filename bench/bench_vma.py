"""Benchmarks of address-space scale and of scenarios with many processes or steps.

Each case prints the median of several runs of wall-clock time, and of this process's CPU time
(the machine is shared and noisy: CPU time shows what the code costs when other work slows the
clock), and checks what the run produced, so that a fast wrong answer cannot pass for a fast right
one:

1. mmap into a process that already has 100,000 unmergeable VMAs (target < 50 us per call).
2. A process with 2N unmergeable VMAs forks, N = 1,000 and 4,000 (target: x5.5 or less for x4 the
   VMAs, under 5 s at N = 4,000), as a spec run by the checker and as engine calls.
3. 20,000 unmergeable mmaps in a `repeat`; replaying 20,000 scattered pages of a lackey trace
   (no `into`: each new page gets its own 4 KiB VMA).
4. 100, 1,000 and 10,000 processes that each spawn, mmap and write 64 KiB (target < 10 s at
   10,000); 5,000 spawns.
5. 10,000 and 100,000 `malloc 64B` in a `repeat` (the target is time linear in the count).

Run: ``python bench/bench_vma.py [--runs N] [--quick] [case ...]`` (cases: mmap, fork, mmaps,
replay, procs, spawns, malloc; ``--quick`` drops the largest sizes).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

from vmspec.checker.options import CheckOptions
from vmspec.checker.session import check_file
from vmspec.engine import MachineConfig, System

GiB = 1 << 30
MACHINE = "machine box { ram 4GiB; swap 0 }\n"
OPTIONS = CheckOptions(timeout=None)


class Sample(float):
    """Wall-clock seconds of one run, with the CPU seconds it took in ``cpu``."""

    cpu: float

    def __new__(cls, wall: float, cpu: float) -> Sample:
        obj = super().__new__(cls, wall)
        obj.cpu = cpu
        return obj


def timed(fn, *args) -> Sample:
    t0, c0 = time.perf_counter(), time.process_time()
    fn(*args)
    return Sample(time.perf_counter() - t0, time.process_time() - c0)


def run_spec(text: str, files: dict[str, str] | None = None) -> tuple[Sample, list]:
    """Check a spec (written to a temporary directory) in this process; return (time, results)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in (files or {}).items():
            with open(os.path.join(tmp, name), "w") as fh:
                fh.write(content)
        path = os.path.join(tmp, "bench.vms")
        with open(path, "w") as fh:
            fh.write(text)
        t0, c0 = time.perf_counter(), time.process_time()
        results, errors = check_file(path, None, OPTIONS, tmp)
        dt = Sample(time.perf_counter() - t0, time.process_time() - c0)
    assert not errors, errors[0].rendered
    for r in results:
        assert r.status == "passed", [v.message for v in r.violations]
    return dt, results


def median(samples: list[Sample]) -> str:
    cpu = [x.cpu for x in samples]
    return (f"median {statistics.median(samples):.3f} s (runs {', '.join(f'{x:.3f}' for x in samples)}"
            f"; CPU median {statistics.median(cpu):.3f} s)")


# ---- 1. mmap with 100,000 VMAs -----------------------------------------------------------------

def unmergeable(s: System, proc: str, n: int) -> None:
    """Map ``n`` 4 KiB VMAs that cannot merge (protections alternate), placed top-down."""
    for i in range(n):
        s.mmap(proc, "v", 4096, prot="r" if i % 2 else "rw")


def case_mmap(runs: int, quick: bool) -> None:
    n = 20_000 if quick else 100_000
    s = System(MachineConfig(ram=4 * GiB))
    s.spawn("p")
    base = len(s.procs["p"].vmas)
    t0 = time.perf_counter()
    unmergeable(s, "p", n)
    build = time.perf_counter() - t0
    assert len(s.procs["p"].vmas) == base + n
    per_call = [timed(unmergeable, s, "p", 1000) for _ in range(max(runs, 5))]
    assert len(s.procs["p"].vmas) == base + n + 1000 * len(per_call)
    print(f"mmap with {n:,} VMAs: median {statistics.median(per_call) * 1000:.1f} us per call "
          f"(batches of 1,000: {', '.join(f'{x * 1000:.1f}' for x in per_call)}; CPU median "
          f"{statistics.median(x.cpu for x in per_call) * 1000:.1f} us; building them took "
          f"{build:.2f} s) [target < 50 us]")


# ---- 2. fork of 2N unmergeable VMAs -------------------------------------------------------------

def fork_spec(n: int) -> str:
    return (MACHINE + 'scenario "fork" on box {\n    spawn p\n'
            f"    repeat {n} {{\n        p: a = mmap 4KiB\n        p: b = mmap 4KiB r\n    }}\n"
            "    fork p as c\n"
            f"    expect vsz(c) == vsz(p) and vsz(p) >= {2 * n} pages\n}}\n")


def case_fork(runs: int, quick: bool) -> None:
    sizes = (1000, 4000) if not quick else (250, 1000)
    spec = {}
    for n in sizes:
        spec[n] = [run_spec(fork_spec(n))[0] for _ in range(runs)]
        print(f"spec: 2x{n:,} unmergeable VMAs, then fork: {median(spec[n])}")
    ratio = statistics.median(spec[sizes[1]]) / statistics.median(spec[sizes[0]])
    print(f"  ratio for x4 the VMAs: x{ratio:.2f} [target <= x5.5, < 5 s at N = 4,000]")
    for n in sizes:
        samples = []
        for _ in range(runs):
            s = System(MachineConfig(ram=4 * GiB))
            s.spawn("p")
            unmergeable(s, "p", 2 * n)
            samples.append(timed(s.fork, "p", "c"))
            assert s.vsz("c") == s.vsz("p") and len(s.procs["c"].vmas) == len(s.procs["p"].vmas)
        print(f"engine: fork of a process with {2 * n:,} unmergeable VMAs: {median(samples)}")


# ---- 3. many mmaps, scattered replay ----------------------------------------------------------------

def case_mmaps(runs: int, quick: bool) -> None:
    n = 5000 if quick else 10_000
    text = (MACHINE + 'scenario "mmaps" on box {\n    spawn p\n'
            f"    repeat {n} {{\n        p: a = mmap 4KiB\n        p: b = mmap 4KiB r\n    }}\n"
            f"    expect vsz(p) >= {2 * n} pages\n}}\n")
    samples = [run_spec(text)[0] for _ in range(runs)]
    print(f"spec: {2 * n:,} unmergeable mmaps in a repeat: {median(samples)}")


def case_replay(runs: int, quick: bool) -> None:
    n = 5000 if quick else 20_000
    rng = random.Random(7)
    pages = list(range(0x10000, 0x10000 + 2 * n, 2))  # every other page: no two VMAs merge
    rng.shuffle(pages)
    trace = "".join(f" S {p << 12:x},8\n" for p in pages)
    text = (MACHINE + 'scenario "replay" on box {\n    spawn p\n'
            '    p: replay "t.lackey" format lackey\n'
            f"    expect faults(p).minor == {n} and rss(p) == {n} pages\n}}\n")
    samples = [run_spec(text, {"t.lackey": trace})[0] for _ in range(runs)]
    print(f"spec: replay of {n:,} scattered pages (lackey, no into): {median(samples)}")
    contiguous = "".join(f" S {p << 12:x},8\n" for p in range(0x10000, 0x10000 + n))
    samples = [run_spec(text, {"t.lackey": contiguous})[0] for _ in range(runs)]
    print(f"spec: replay of {n:,} contiguous pages (lackey, no into): {median(samples)}")


# ---- 4. many processes ------------------------------------------------------------------------------

def procs_spec(n: int, work: bool = True) -> str:
    lines = [MACHINE, 'scenario "procs" on box {']
    for i in range(n):
        lines.append(f"    spawn p{i}")
        if work:
            lines.append(f"    p{i}: buf = mmap 64KiB")
            lines.append(f"    p{i}: write buf")
    if work:
        lines.append(f"    expect rss(p{n - 1}) == 64KiB and faults(p0).minor == 16")
    lines.append("}")
    return "\n".join(lines) + "\n"


def case_procs(runs: int, quick: bool) -> None:
    for n in (100, 1000) if quick else (100, 1000, 10_000):
        samples = [run_spec(procs_spec(n))[0] for _ in range(runs if n < 10_000 else max(1, runs // 2))]
        print(f"spec: {n:,} processes that spawn, mmap and write 64 KiB: {median(samples)}"
              + (" [target < 10 s]" if n == 10_000 else ""))


def case_spawns(runs: int, quick: bool) -> None:
    n = 1000 if quick else 5000
    samples = [run_spec(procs_spec(n, work=False))[0] for _ in range(runs)]
    print(f"spec: {n:,} spawns: {median(samples)}")


# ---- 5. malloc in a repeat ---------------------------------------------------------------------------

def case_malloc(runs: int, quick: bool) -> None:
    for n in (10_000, 100_000) if not quick else (2_000, 20_000):
        text = (MACHINE + 'scenario "malloc" on box {\n    spawn p\n'
                f"    repeat {n} {{\n        p: x = malloc 64B\n    }}\n"
                "    expect rss(p) > 0\n}\n")
        samples = [run_spec(text)[0] for _ in range(runs)]
        print(f"spec: {n:,} malloc 64B in a repeat: {median(samples)}")


CASES = {"mmap": case_mmap, "fork": case_fork, "mmaps": case_mmaps, "replay": case_replay,
         "procs": case_procs, "spawns": case_spawns, "malloc": case_malloc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", metavar="case", help=", ".join(CASES))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    for name in args.cases:
        if name not in CASES:
            ap.error(f"unknown case {name!r} (choose from {', '.join(CASES)})")
    run_spec(procs_spec(1))  # build the parser once, outside every figure
    for name in args.cases or CASES:
        CASES[name](args.runs, args.quick)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
