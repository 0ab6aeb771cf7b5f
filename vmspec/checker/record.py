"""Record what a scenario's pictures need: the machine's and every process's memory over its steps.

A :class:`Recorder` is made only when a report asks for it (``vmspec check --html``, ``vmspec
show``); the runner then calls :meth:`Recorder.sample` after each step and :meth:`Recorder.settle`
after a step's checks. It keeps at most ``2 * points`` samples whatever the number of steps: every
``stride``-th step is sampled, and when the buffer fills, every other sample is dropped and the
stride doubles (so a million-step ``repeat`` costs a counter per step and a few thousand samples).
Violations are marked at the step where they appeared (never dropped), and the address-space map
of every running process is taken at the first failing step, else after the last step. The result
is a plain, JSON-ready dict (it crosses pytest-xdist and ``-j`` workers as is). There is no Linux
counterpart: it reads the engine's getters (/proc/PID/status, /proc/meminfo, smaps) and never
changes anything. Nothing here prints.
"""

from __future__ import annotations

import time

DEFAULT_POINTS = 1000  # samples kept: between DEFAULT_POINTS and 2x that per scenario
MAX_MARKS = 500  # violations marked on one timeline
MAX_MAPPINGS = 2000  # mappings shown per process
EXCERPT = 2  # source lines around a violation's line

SYSTEM_SERIES = ("free", "cached", "swap_used", "committed")
PROCESS_SERIES = ("rss_anon", "rss_file", "rss_shmem", "swap", "pagetables",
                  "minor", "major", "cow", "tlb_hits", "tlb_misses")


class Recorder:
    """Samples one scenario run; see the module docstring."""

    def __init__(self, points: int = DEFAULT_POINTS):
        self.points = max(2, points)
        self.stride = 1
        self.ordinal = 0  # steps seen so far (checks included)
        self.rows: list[tuple] = []  # (ordinal, file, line, text, iteration, system tuple, process tuples)
        self.last = None  # the record of the latest step if it was not sampled (for the final state)
        self.line = 0  # the line of the latest step
        self.seen = 0  # violations attributed so far
        self.marks: list[dict] = []
        self.maps: dict | None = None
        self.started = time.perf_counter()

    # ------------------------------------------------------------------ during the run
    def sample(self, run, record) -> None:
        """Note one executed step (its StepRecord); sample the state if this step is due."""
        self.ordinal += 1
        self.line = record.line
        if self.ordinal % self.stride:
            self.last = record
        else:
            self.last = None
            self.rows.append(self._row(run, self.ordinal, record))
            if len(self.rows) >= 2 * self.points:
                self.rows = self.rows[1::2]  # keep the even ordinals of the doubled stride
                self.stride *= 2
        if len(run.violations) != self.seen:
            self.settle(run)

    def _row(self, run, ordinal: int, record) -> tuple:
        # processes in spawn order (the runner only appends to it): a tuple, not a dict, so that
        # the cyclic GC can stop tracking the row
        counters = run.system.counters
        procs = tuple([counters(p) for p in run.spawned])
        return (ordinal, record.file, record.line, record.text, record.iteration, run.system.memory(), procs)

    def settle(self, run) -> None:
        """Mark violations that appeared since the last call at the step they belong to (the
        latest step on their line, else the step before) and take the map at the first one."""
        violations = run.violations
        if len(violations) == self.seen:
            return
        now = self.ordinal
        for v in violations[self.seen:]:
            if len(self.marks) < MAX_MARKS:
                at = now if v.line == self.line or now <= 1 else now - 1
                self.marks.append({"step": at, "file": v.file, "line": v.line, "kind": v.kind,
                                   "message": v.message})
        self.seen = len(violations)
        if self.maps is None:
            self.maps = self._maps(run, "at the first failing step")

    def _maps(self, run, when: str) -> dict:
        sys = run.system
        out = {}
        for p in run.spawned:
            rows = []
            for m in sys.mappings(p)[:MAX_MAPPINGS]:
                rows.append((f"{m.start:#014x}", f"{m.end:#014x}", m.end - m.start, m.prot, m.backing, m.region,
                             m.resident, m.swapped, m.huge))
            out[p] = {"status": sys.status(p), "mappings": tuple(rows)}
        return {"step": self.ordinal, "when": when, "procs": out}

    # ------------------------------------------------------------------ at the end
    def finish(self, run) -> dict:
        """Return the recording: samples as columns, marks, maps, final values and excerpts."""
        seconds = time.perf_counter() - self.started
        if self.last is not None:  # the final state is always drawn
            self.rows.append(self._row(run, self.ordinal, self.last))
        self.settle(run)
        if getattr(run, "system", None) is not None and self.maps is None:
            self.maps = self._maps(run, "after the last step")
        zero = (0,) * len(PROCESS_SERIES)
        procs = {}
        for i, p in enumerate(run.spawned):  # a process spawned after a sample reads 0 there
            cols = list(zip(*(row[6][i] if i < len(row[6]) else zero for row in self.rows)))
            if cols:
                procs[p] = dict(zip(PROCESS_SERIES, cols))
        system_cols = list(zip(*(row[5] for row in self.rows))) if self.rows else [()] * 4
        # Columns are tuples of numbers and strings, which Python's cyclic GC stops tracking: a
        # report of a thousand scenarios keeps all their recordings alive, and lists would make
        # every collection scan them again (measured: half of the recording's cost).
        return {
            "seconds": seconds,
            "steps": self.ordinal,
            "stride": self.stride,
            "x": tuple(row[0] for row in self.rows),
            "where": tuple(f"{row[1]}:{row[2]}" for row in self.rows),
            "text": tuple(row[3] + (f"  (repeat {row[4]})" if row[4] else "") for row in self.rows),
            "system": dict(zip(SYSTEM_SERIES, system_cols)),
            "procs": procs,
            "marks": tuple(self.marks),
            "maps": self.maps or {"step": 0, "when": "before any step", "procs": {}},
            "final": final_values(run) if getattr(run.resolved, "params", ()) else _final_time(run),
            "excerpts": _excerpts(run),
        }


def _final_time(run) -> dict[str, int]:
    """Return the simulated time only (all a scenario that is not parametrised shows)."""
    sys = getattr(run, "system", None)
    return {"time": int(sys.time)} if sys is not None else {}


def final_values(run) -> dict[str, int]:
    """Return the observables a curve across a parameter can plot, as plain integers (bytes,
    counts, nanoseconds), keyed as the language writes them."""
    sys = getattr(run, "system", None)
    if sys is None:
        return {}
    out = {"time": int(sys.time), "free": int(sys.free), "cached": int(sys.cached),
           "swap_used": int(sys.swap_used), "committed": int(sys.committed), "oom_kills": int(sys.oom_kills)}
    for p in run.spawned:
        f, t = sys.faults(p), sys.tlb(p)
        out.update({
            f"faults({p}).minor": f.minor, f"faults({p}).major": f.major, f"faults({p}).cow": f.cow,
            f"faults({p}).minor + faults({p}).major": f.minor + f.major,
            f"tlb({p}).hits": t.hits, f"tlb({p}).misses": t.misses, f"rss({p})": sys.rss(p),
            f"swap({p})": sys.swap(p), f"pagetables({p})": sys.pagetables(p), f"time({p})": sys.process_time(p),
        })
    return out


def _excerpts(run) -> dict[str, list]:
    """Return, for each violation's ``file:line``, the source lines around it (number, text)."""
    out: dict[str, list] = {}
    sources = run.program.sources
    for v in run.violations:
        key = f"{v.file}:{v.line}"
        if key in out or len(out) >= MAX_MARKS:
            continue
        lines = sources.get(v.file, "").splitlines()
        lo, hi = max(1, v.line - EXCERPT), min(len(lines), v.line + EXCERPT)
        out[key] = tuple((n, lines[n - 1]) for n in range(lo, hi + 1))
    return out


class StepStates:
    """Record the whole state after every step, or after one (``vmspec show``): the machine's
    counters, each process's sizes and counters, and its address-space map. The same calls as
    a :class:`Recorder`; costs a full map per kept step, so it is for one scenario at a time."""

    def __init__(self, only: int | None = None, limit: int = 10_000):
        self.only = only
        self.limit = limit
        self.ordinal = 0
        self.states: list[dict] = []
        self.seen = 0

    def sample(self, run, record) -> None:
        new = run.violations[self.seen:]
        self.seen = len(run.violations)
        self._attach([v for v in new if v.line != record.line])  # the step before broke them
        self.ordinal += 1
        if (self.only is None and len(self.states) < self.limit) or self.ordinal == self.only:
            self.states.append(self._state(run, record))
            self._attach([v for v in new if v.line == record.line])  # an expect checked here

    def settle(self, run) -> None:
        """Attach violations that appeared since the last step to that step's state."""
        new = run.violations[self.seen:]
        self.seen = len(run.violations)
        self._attach(new)

    def _attach(self, violations) -> None:
        if violations and self.states and self.states[-1]["step"] == self.ordinal:
            self.states[-1]["violations"] += [f"{v.file}:{v.line}: {v.message}" for v in violations]

    def _state(self, run, record) -> dict:
        sys = run.system
        procs = {}
        for p in run.spawned:
            f, t = sys.faults(p), sys.tlb(p)
            procs[p] = {
                "status": sys.status(p), "rss": sys.rss(p), "rss_anon": sys.rss_anon(p), "rss_file": sys.rss_file(p),
                "rss_shmem": sys.rss_shmem(p), "swap": sys.swap(p), "pagetables": sys.pagetables(p),
                "minor": f.minor, "major": f.major, "cow": f.cow, "tlb_hits": t.hits, "tlb_misses": t.misses,
                "mappings": [[m.start, m.end, m.prot, m.backing, m.region, m.resident, m.swapped, m.huge]
                             for m in sys.mappings(p)[:MAX_MAPPINGS]],
            }
        return {"step": self.ordinal, "file": record.file, "line": record.line, "text": record.text,
                "iteration": record.iteration, "changes": record.changes, "violations": [],
                "system": {"ram": int(sys.ram), "free": int(sys.free), "cached": int(sys.cached),
                           "swap_used": int(sys.swap_used), "committed": int(sys.committed),
                           "oom_kills": int(sys.oom_kills), "time": int(sys.time)},
                "procs": procs}

    def finish(self, run) -> dict:
        self.settle(run)
        return {"steps": self.ordinal, "states": self.states}
