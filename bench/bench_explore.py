"""Benchmark `vmspec explore`: examples per second (and where an example's time goes), and the
time and examples it takes to break each invariant of the planted suite (tests/checker/planted.py).
Prints medians over several seeds; run with `python bench/bench_explore.py [SEEDS]` (default 5)."""

import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "checker"))

from planted import FALSE, SMALL, spec  # noqa: E402

from vmspec.checker.explore import explore  # noqa: E402
from vmspec.checker.options import CheckOptions  # noqa: E402
from vmspec.checker.trial import Trier  # noqa: E402
from vmspec.checker.vocabulary import build_vocabulary, draw_steps  # noqa: E402
from vmspec.language import load, load_scenarios, parse_text  # noqa: E402

HOLDS = SMALL + 'invariant "within ram": used <= ram\n'


def _load(directory, text):
    path = os.path.join(directory, "bench.vms")
    with open(path, "w") as fh:
        fh.write(text)
    return load(path)


def examples_per_second(directory, seeds, max_steps):
    """Explore an invariant that holds: every example runs, none stops the search."""
    program = _load(directory, HOLDS)
    rates = []
    for seed in seeds:
        start = time.perf_counter()
        result = explore(program, max_examples=200, max_steps=max_steps, seed=seed)
        rates.append(result.counts.examples / (time.perf_counter() - start))
    return statistics.median(rates)


def per_example_costs(directory, n=300):
    """Split one example's time: drawing it, rendering and checking it, running it."""
    program = _load(directory, HOLDS)
    vocab = build_vocabulary(program, "m", program.invariants)
    trier = Trier(program, "m", program.invariants, CheckOptions(max_accesses=1_000_000, timeout=10))
    start = time.perf_counter()
    drawn = [draw_steps(vocab, [i * 13 + j for j in range(12)], i) for i in range(n)]
    draw = (time.perf_counter() - start) / n
    texts = [trier.render(steps) for steps in drawn]
    start = time.perf_counter()
    for text in texts:
        load_scenarios(trier.program, text, trier.path)
    check = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for steps, text in zip(drawn, texts):
        trier.run(steps, text)
    run = (time.perf_counter() - start) / n - check
    # the runner's fixed cost: a one-step scenario (build the machine, run, report)
    one = parse_text('scenario "s" on m {\n    spawn p\n}\n', "s.vms").items[0].steps
    start = time.perf_counter()
    for _ in range(n):
        trier.run(one)
    fixed = (time.perf_counter() - start) / n
    return draw, check, run, fixed


def time_to_break(directory, seeds):
    rows = []
    for name, (machine, invariant, budget) in FALSE.items():
        program = _load(directory, spec(machine, invariant))
        times, found, total = [], [], []
        for seed in seeds:
            start = time.perf_counter()
            result = explore(program, max_examples=budget, seed=seed)
            total.append(time.perf_counter() - start)
            if result.findings:
                found.append(result.findings[0].found_at)
                times.append(total[-1])
        rows.append((name, budget, len(found), len(seeds), found, times, total))
    return rows


def main():
    seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        for steps in (3, 12):
            rate = examples_per_second(directory, seeds, steps)
            print(f"examples per second, an invariant that holds on 16MiB, --max-steps {steps}: median {rate:.0f}")
        draw, check, run, fixed = per_example_costs(directory)
        print(f"one example of up to 12 steps: draw {draw * 1e3:.2f} ms, render and check {check * 1e3:.2f} ms, "
              f"run {run * 1e3:.2f} ms; a one-step scenario costs {fixed * 1e3:.2f} ms in all")
        print(f"time to break each planted invariant (seeds {seeds.start}..{seeds.stop - 1}; search and shrinking):")
        for name, budget, ok, n, found, times, total in time_to_break(directory, seeds):
            median = f"{statistics.median(times):.2f} s" if times else "-"
            at = f"median example {statistics.median(found):.0f}" if found else ""
            print(f"  {name:22} broken by {ok}/{n} seeds within {budget} examples: {median}, {at} "
                  f"(all runs: median {statistics.median(total):.2f} s)")


if __name__ == "__main__":
    main()
