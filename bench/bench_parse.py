"""Benchmark the language layer: parse + static checks (``load()``), and import cold start.

Prints medians of 5 runs of ``load()`` on generated specs of typical steps: 10,000 lines
(target < 1 s), 1 MB, and 10 MB (1 run unless ``--runs-10mb N``; the target is time linear in
size), of 10,000 machines each extending the one before (linear: was 67 s), and of
``python -c "import vmspec.language"`` in a fresh interpreter (< 0.3 s).
Run: ``python bench/bench_parse.py [--quick]`` (``--quick`` skips the 10 MB spec).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SCENARIO = """\
scenario "case {n}" on box seed {n} {{
    spawn parent image server memory_max 64MiB
    parent: buf = mmap 1MiB populate
    parent: heap2 = malloc 100KiB
    parent: write buf[0..64KiB] stride 4KiB
    fork parent as child
    child: write buf[0..64KiB]
    child: access buf random 1000 seed 7 write
    parent: madvise buf[0..64KiB] dontneed
    expect rss(parent) == 1MiB and faults(parent).minor == 256
    expect shared(parent, child) == 1MiB - 64KiB
    expect tlb(child).hit_rate >= 50% and time(child) < 10ms
    always swap_used == 0
    exit child
}}
"""
HEADER = """\
machine box {{ ram 1GiB; swap 256MiB; thp madvise }}
image server {{ text 2MiB; data 256KiB; bss 128KiB; lib libc 2MiB }}
"""


def make_spec(lines: int) -> str:
    """Return a spec of about ``lines`` lines made of typical scenarios."""
    per = SCENARIO.count("\n")
    return HEADER.format() + "\n".join(SCENARIO.format(n=i) for i in range(lines // per))


def make_spec_bytes(size: int) -> str:
    """Return a spec of typical scenarios of about ``size`` bytes."""
    per = len(SCENARIO.format(n=100_000)) + 1
    return make_spec(SCENARIO.count("\n") * max(1, size // per))


def make_extends_chain(machines: int) -> str:
    """Return ``machines`` machines, each extending the one before, and a scenario on the last."""
    lines = ["machine m0 { ram 1GiB }"]
    lines += [f"machine m{i} extends m{i - 1} {{ swap {i} pages }}" for i in range(1, machines)]
    lines.append(f'scenario "s" on m{machines - 1} {{ spawn p }}')
    return "\n".join(lines) + "\n"


def median_load(text: str, runs: int = 5) -> float:
    """Return the median wall time of load() on ``text`` written to a temporary file."""
    from vmspec.language import load

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.vms")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        warm = os.path.join(tmp, "warm.vms")
        with open(warm, "w", encoding="utf-8") as fh:
            fh.write(make_spec(100))
        load(warm, root=tmp)  # compile the grammar once, outside the timing
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            load(path, root=tmp)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_cold_start(runs: int = 5) -> float:
    """Return the median wall time of a fresh ``python -c "import vmspec.language"``."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import vmspec.language"], check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the figures."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10 MB spec")
    parser.add_argument("--runs-10mb", type=int, default=1, help="runs of the 10 MB load [1]")
    args = parser.parse_args()
    text = make_spec(10_000)
    print(f"load() of {text.count(chr(10)) + 1} lines ({len(text) // 1024} KiB): "
          f"median of 5 {median_load(text):.3f} s (target < 1 s)", flush=True)
    for megabytes, runs in ((1, 5), (10, args.runs_10mb)):
        if megabytes == 10 and args.quick:
            continue
        text = make_spec_bytes(megabytes * 1_000_000)
        seconds = median_load(text, runs)
        print(f"load() of {len(text) / 1e6:.1f} MB ({text.count(chr(10)) + 1} lines): "
              f"median of {runs} {seconds:.3f} s ({seconds / len(text) * 1e6:.2f} s/MB)", flush=True)
    for machines in (1_000, 10_000):
        print(f"load() of {machines:,} chained `extends`: median of 5 "
              f"{median_load(make_extends_chain(machines)):.3f} s (linear in the machines)", flush=True)
    print(f"cold start `python -c 'import vmspec.language'`: median of 5 {median_cold_start():.3f} s "
          "(target < 0.3 s)")


if __name__ == "__main__":
    main()
