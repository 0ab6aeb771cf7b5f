"""Benchmark the HTML report (issue 14): what recording costs, and how fast a report opens.

1. Recording overhead: the same scenarios run in-process with and without ``record`` (what
   ``--html`` turns on), interleaved, medians of the process's CPU time over several runs: the spec library, a 1,000-step scenario and a
   100,000-step one (sampled). Without a report nothing is recorded: the runner makes no recorder.
2. Opening in headless Chromium (Debian's system package): a report of one 1,000-step scenario and
   of a 1,000-scenario suite; the page's load time (Navigation Timing, loadEventEnd), when plotly.js
   is compiled (while the page is idle), and the time to draw the first scenario's charts after
   opening it, medians; the first open in a fresh browser (no code cache) is shown apart.

Run with ``python bench/bench_html.py`` (needs plotly, and chromium for part 2).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "frontends"))

from vmspec.checker import check  # noqa: E402
from vmspec.checker.options import CheckOptions  # noqa: E402

LONG = """machine m {{ ram 256MiB; swap 64MiB; replacement lru }}

scenario "long story" {{
    spawn a memory_max 8MiB
    a: buf = mmap 32MiB
    fork a as b
    repeat {n} {{
        a: write buf[0..64KiB]
        b: write buf[4MiB..4160KiB]
        a: access buf random 16 write
        expect rss(a) <= 8MiB
    }}
}}
"""

SUITE_ITEM = """
scenario "s{i}" {{
    spawn p
    p: buf = mmap {kib}KiB
    p: write buf
    expect rss(p) == {kib}KiB{bad}
}}
"""


def write(path: str, text: str) -> str:
    with open(path, "w") as fh:
        fh.write(text)
    return path


def timed_check(paths, record: bool) -> float:
    # CPU time of this process: the machine is shared, and waiting for a CPU is not our cost
    start = time.process_time()
    check(paths, CheckOptions(record=record))
    return time.process_time() - start


def overhead(name: str, paths, runs: int = 11) -> None:
    timed_check(paths, True)  # warm up: grammar, imports
    offs, ons = [], []
    for _ in range(runs):  # interleaved, so that the shared machine's load hits both alike
        offs.append(timed_check(paths, False))
        ons.append(timed_check(paths, True))
    off, on = statistics.median(offs), statistics.median(ons)
    print(f"  {name}: {off * 1000:.0f} ms without, {on * 1000:.0f} ms with recording "
          f"(+{(on / off - 1) * 100:.1f}%), medians of {runs}")


def open_times(browser, page: str, runs: int = 5) -> tuple[float, float, float]:
    loads, readies, draws = [], [], []
    for _ in range(runs):
        browser.open("file://" + page)
        loads.append(browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        readies.append(browser.evaluate(  # plotly.js compiled while the page is idle
            "new Promise(resolve => (function poll() { if (window.Plotly) resolve(performance.now());"
            " else setTimeout(poll, 5); })())"))
        draws.append(browser.evaluate(
            "new Promise(resolve => { const t = performance.now(), d = document.getElementById('s0'); d.open = true;"
            " (function poll() { if (d.querySelectorAll('.chart .main-svg').length >= 8) resolve(performance.now() - t);"
            " else requestAnimationFrame(poll); })(); })"))
        assert browser.errors() == [], browser.errors()
    return statistics.median(loads), statistics.median(readies), statistics.median(draws)


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="vmspec-bench-html-")
    long_1k = write(os.path.join(tmp, "long1k.vms"), LONG.format(n=250))  # 3 + 250 x 4 steps
    long_100k = write(os.path.join(tmp, "long100k.vms"), LONG.format(n=25_000))
    suite = write(os.path.join(tmp, "suite.vms"), "machine m { ram 64MiB }\n" + "".join(
        SUITE_ITEM.format(i=i, kib=4 * (1 + i % 64), bad=" + 4KiB" if i % 50 == 0 else "") for i in range(1000)))
    print("recording overhead (vmspec check in-process):")
    overhead("specs/ (the spec library)", [os.path.join(ROOT, "specs")])
    overhead("a 1,000-step scenario", [long_1k])
    overhead("a 100,000-step scenario (timeline sampled)", [long_100k], runs=3)
    overhead("a 1,000-scenario suite", [suite])

    from vmspec.reporting import html

    pages = {}
    for name, path in (("1,000-step scenario", long_1k), ("1,000-scenario suite", suite)):
        report = check([path], CheckOptions(record=True))
        start = time.perf_counter()
        pages[name] = write(os.path.join(tmp, os.path.basename(path) + ".html"), html.render(report))
        print(f"  writing the report of the {name}: {(time.perf_counter() - start) * 1000:.0f} ms, "
              f"{os.path.getsize(pages[name]) / 1e6:.1f} MB")
    from chromium import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        print("no Chromium: skipping the open times (bash .ci/install-browser installs it)")
        return
    print("opening in headless Chromium (medians of 5; the first open of a session compiles plotly.js, later "
          "ones reuse V8's code cache):")
    for name, page in pages.items():
        with Browser(executable) as browser:
            first = open_times(browser, page, runs=1)
            load, ready, draw = open_times(browser, page)
        print(f"  {name}: page loaded in {load:.0f} ms, charts ready (plotly.js compiled) at {ready:.0f} ms, "
              f"a scenario's charts drawn {draw:.0f} ms after opening it; in a fresh browser: "
              f"{first[0]:.0f} / {first[1]:.0f} / {first[2]:.0f} ms")


if __name__ == "__main__":
    main()
