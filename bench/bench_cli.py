"""Benchmark the command line's start-up: `vmspec --version` (target < 0.3 s), `vmspec check` of a
one-line spec (target < 0.25 s), and checking the whole spec library. Prints medians of several
runs, wall-clock and CPU (user + system of the child; the machine may be shared).

Each command runs once first, unmeasured, with bytecode writing allowed (``PYTHONDONTWRITEBYTECODE``
removed), so that the figures are those of an installed vmspec whose modules are compiled, not of
a first run. Run: ``python bench/bench_cli.py``.
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ONE_LINE = 'machine m { ram 64MiB }\nscenario "one" on m { spawn p }\n'


def timed(args, runs, cwd=ROOT):
    subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True, env=ENV)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True,
                             text=True, env=ENV)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if out.returncode not in (0, 1):
            raise SystemExit(f"vmspec {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
    return statistics.median(walls), statistics.median(cpus), out


def main():
    wall, cpu, _ = timed(["--version"], 10)
    print(f"vmspec --version: median {wall * 1000:.0f} ms over 10 runs, CPU {cpu * 1000:.0f} ms "
          "(target < 300 ms)")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "one.vms"), "w") as fh:
            fh.write(ONE_LINE)
        wall, cpu, out = timed(["check", "one.vms"], 10, cwd=tmp)
    assert "1 passed" in out.stdout, out.stdout
    print(f"vmspec check of a one-line spec: median {wall * 1000:.0f} ms over 10 runs, CPU "
          f"{cpu * 1000:.0f} ms (target < 250 ms)")
    wall, cpu, out = timed(["check", "specs"], 5)
    print(f"vmspec check specs: median {wall:.2f} s over 5 runs, CPU {cpu:.2f} s; "
          f"{out.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
