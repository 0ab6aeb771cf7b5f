"""How well the engine agrees with the running kernel over the spec library: `vmspec diff` on
every spec, then a table per file of the observables compared after every step, how many were
equal, and how many differed (explained by docs/engine.md, or not), with the scenarios skipped
on this host. Also prints the median wall time of the whole diff over several runs.
Run with `python bench/bench_host_agreement.py [PATH ...] [--runs N]` (Linux; it starts real
processes, and reads no setting it does not restore)."""

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="*", default=[os.path.join(ROOT, "specs")])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from vmspec.checker.diff import diff
    from vmspec.checker.options import CheckOptions

    times, report = [], None
    for _ in range(args.runs):
        start = time.perf_counter()
        report = diff(args.paths, CheckOptions())
        times.append(time.perf_counter() - start)
    rows = defaultdict(lambda: [0, 0, 0, 0, 0, 0])  # scenarios run, skipped, compared, equal, explained, other
    for s in report.scenarios:
        row = rows[os.path.relpath(s.file, ROOT)]
        if s.status == "skipped":
            row[1] += 1
            continue
        row[0] += 1
        row[2] += s.compared
        row[3] += s.equal
        row[4] += sum(1 for d in s.differences if d.explained)
        row[5] += sum(1 for d in s.differences if not d.explained)
    print(f"host kernel: Linux {report.kernel}")
    head = f"{'file':34} {'run':>4} {'skip':>4} {'compared':>9} {'equal':>9} {'differ':>7} {'explained':>9} {'unexpl.':>7}"
    print(head)
    print("-" * len(head))
    total = [0] * 6
    for name in sorted(rows):
        r = rows[name]
        total = [a + b for a, b in zip(total, r)]
        print(f"{name:34} {r[0]:>4} {r[1]:>4} {r[2]:>9,} {r[3]:>9,} {r[2] - r[3]:>7,} {r[4]:>9,} {r[5]:>7,}")
    print("-" * len(head))
    print(f"{'all':34} {total[0]:>4} {total[1]:>4} {total[2]:>9,} {total[3]:>9,} {total[2] - total[3]:>7,} "
          f"{total[4]:>9,} {total[5]:>7,}")
    share = total[3] / total[2] if total[2] else 0
    print(f"agreement: {share:.2%} of {total[2]:,} readings equal; differences listed are the distinct "
          f"ones (a value that stays different is listed once)")
    print(f"vmspec diff over {len(report.scenarios)} scenarios: median {statistics.median(times):.2f} s "
          f"over {len(times)} runs")


if __name__ == "__main__":
    main()
