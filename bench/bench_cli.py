"""Benchmark the command line: `vmspec --version` start-up (target < 0.3 s) and checking the
whole spec library. Prints medians of several runs; run with `python bench/bench_cli.py`."""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(args, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=ROOT, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if out.returncode not in (0, 1):
            raise SystemExit(f"vmspec {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
    return statistics.median(samples), out


def main():
    version, _ = timed(["--version"], 10)
    print(f"vmspec --version: median {version * 1000:.0f} ms over 10 runs (target < 300 ms)")
    check, out = timed(["check", "specs"], 5)
    print(f"vmspec check specs: median {check:.2f} s over 5 runs; {out.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
