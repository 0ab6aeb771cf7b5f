"""``vmspec explore``: search with Hypothesis for scenarios that break a file's invariants, shrink
each to a minimal one, and write them as a spec that ``vmspec check`` replays.

The search draws scenarios from the spec's own vocabulary (``vocabulary``): its process and region
names, its scenarios as prefixes, every kind of step, sizes that reach the machine's limits;
Hypothesis supplies one seed per example (deterministic for the search's seed, no database). Each
is run by the same runner as ``vmspec check`` (``trial``). The search stops when every targeted
invariant is broken, after ``max_examples`` examples, or at the deadline. Then each broken invariant's smallest scenario is shrunk (``shrink``) and the steps
that failed in it get their ``=> ERR``. ``jobs`` > 1 runs independent searches (seeds ``seed``,
``seed + 1``, ...) in worker processes and keeps, per invariant, the smallest scenario. Everything
is counted: examples, those that ended in a spec error, a step that is not modelled yet, a budget
or a bug in vmspec, and invariants whose names no example ever created (the search could not
have looked). Deterministic for a seed (no example database, no time-dependent decision), unless
a deadline cuts the search. Nothing here prints.
"""

from __future__ import annotations

import collections
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from pydantic import BaseModel, Field

from vmspec.checker.found import STDOUT, assemble
from vmspec.checker.options import CheckOptions
from vmspec.checker.results import Violation
from vmspec.checker.shrink import Shrinker
from vmspec.checker.trial import Trier, render
from vmspec.checker.vocabulary import build_vocabulary, expression_names, region_sizes, scenario_strategy
from vmspec.errors import UsageError

DEFAULT_MAX_EXAMPLES = 200
DEFAULT_MAX_STEPS = 12
DEFAULT_MAX_ACCESSES = 1_000_000
SCENARIO_TIMEOUT = 10.0  # seconds one example may run


# ----------------------------------------------------------------------------- results
class Finding(BaseModel):
    """A broken invariant and the minimal scenario that breaks it."""

    invariant: str  # its label
    stated_file: str
    stated_line: int
    expression: str
    title: str  # the scenario's title in the written spec
    scenario: str  # the scenario block as written in the spec
    steps: int  # steps of the scenario (those inside a repeat counted once)
    found_at: int  # the example (1-based, in its search) that first broke it
    seed: int  # the seed of the search that found this scenario
    shrink_runs: int  # scenarios run while shrinking it
    minimal: bool  # False when the deadline cut shrinking short
    violations: list[Violation] = Field(default_factory=list)  # what replaying the spec reports


class Unreached(BaseModel):
    """A targeted invariant whose names no example ever brought into existence."""

    invariant: str
    stated_file: str
    stated_line: int
    reason: str


class Closest(BaseModel):
    """How close the search came to breaking one comparison of an invariant nothing broke."""

    invariant: str
    detail: str  # the comparison and the values it had when closest: "rss(app) <= 60MiB: got 56MiB, expected <= 60MiB"


class Counts(BaseModel):
    """How the examples of the search(es) ended."""

    examples: int = 0  # scenarios drawn and tried (the shrinking runs are not counted here)
    spec_errors: int = 0  # ... that the language refused (a bug in explore's drawing)
    unsupported: int = 0  # ... that ended at a step that is not modelled yet
    budget: int = 0  # ... that ran out of --max-accesses or time
    internal_errors: int = 0  # ... that hit a bug in vmspec
    broken: int = 0  # distinct invariants broken
    shrink_runs: int = 0


class ExploreResult(BaseModel):
    """Everything one ``vmspec explore`` found and how it looked."""

    path: str
    machine: str
    seed: int
    jobs: int
    max_examples: int
    max_steps: int
    invariants: list[str]  # labels of the targeted invariants
    counts: Counts
    findings: list[Finding] = Field(default_factory=list)
    unreached: list[Unreached] = Field(default_factory=list)
    closest: list[Closest] = Field(default_factory=list)  # for each invariant not broken
    unsupported: list[tuple[str, int]] = Field(default_factory=list)  # why steps were refused, and how often
    internal_error: Optional[str] = None  # the first bug in vmspec hit, with its scenario
    spec_error: Optional[str] = None  # the first drawn scenario the language refused, with the reason
    timed_out: bool = False  # the --timeout cut the search or the shrinking short
    spec: str = ""  # the spec to replay: include, then each finding's scenario

    @property
    def found(self) -> bool:
        return bool(self.findings)

    def exit_code(self) -> int:
        """Return 2 if the search could not look at every targeted invariant or hit a bug in vmspec
        (a crash, or a drawn scenario the language refused), else 1 if it broke one, else 0."""
        if self.unreached or self.internal_error or self.spec_error:
            return 2
        return 1 if self.findings else 0


# ----------------------------------------------------------------------------- one search
@dataclass
class _Best:
    steps: tuple
    found_at: int
    seed: int
    shrink_runs: int = 0
    minimal: bool = True


@dataclass
class SearchOutcome:
    """What one search (one seed) found; picklable, to come back from a worker process."""

    counts: Counts = field(default_factory=Counts)
    best: dict[int, _Best] = field(default_factory=dict)  # targeted invariant -> its scenario
    reached: set[int] = field(default_factory=set)
    closest: dict[tuple[int, int], tuple[float, str]] = field(default_factory=dict)
    unsupported: collections.Counter = field(default_factory=collections.Counter)
    internal_error: str | None = None  # the message and the (shrunk) scenario of the first bug hit
    crash: tuple = ()  # the steps of that scenario, while searching
    spec_error: str | None = None
    timed_out: bool = False


class _Enough(Exception):
    """Stop the search: every target is broken, or the deadline passed."""


def _size_key(steps) -> tuple:
    return (len(steps), len(render("", "", steps)))


def _settings(max_examples: int):
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    # every setting that matters is given, so no loaded profile can change the search
    return settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
                    phases=(Phase.generate,), suppress_health_check=list(HealthCheck),
                    verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False)


def search(trier: Trier, vocab, seed: int, max_examples: int, max_steps: int,
           deadline: float | None = None, on_example: Callable[[int, int], None] | None = None) -> SearchOutcome:
    """Search for scenarios breaking ``trier``'s invariants, then shrink the smallest for each."""
    from hypothesis import given
    from hypothesis import seed as with_seed

    out = SearchOutcome()
    counts = out.counts
    wanted = len(trier.invariants)
    stopping = False

    def test(steps) -> None:
        nonlocal stopping
        if stopping:
            raise _Enough()
        trial = trier.run(steps)
        counts.examples += 1
        if trial.error:
            counts.spec_errors += 1
            if out.spec_error is None:
                out.spec_error = f"{trial.error}\n{trial.text}"
        elif trial.stopped == "unsupported":
            counts.unsupported += 1
            out.unsupported[trial.stop_message] += 1
        elif trial.stopped in ("budget", "timeout"):
            counts.budget += 1
        elif trial.stopped is not None:
            counts.internal_errors += 1
            if not out.crash:
                out.crash = tuple(steps[: trial.stopped_at + 1])
                out.internal_error = trial.stop_message
        out.reached |= trial.reached
        for k, at in trial.broken.items():
            steps_to = tuple(steps[: at + 1])
            best = out.best.get(k)
            if best is None or _size_key(steps_to) < _size_key(best.steps):
                out.best[k] = _Best(steps_to, best.found_at if best else counts.examples, seed)
        for key, (margin, detail) in trial.closest.items():
            if key not in out.closest or margin > out.closest[key][0]:
                out.closest[key] = (margin, detail)
        if on_example is not None:
            on_example(counts.examples, len(out.best))
        if len(out.best) == wanted or (deadline is not None and time.monotonic() > deadline):
            out.timed_out = len(out.best) < wanted
            stopping = True
            raise _Enough()

    runner = with_seed(seed)(_settings(max_examples)(given(scenario_strategy(vocab, max_steps, seed))(test)))
    try:
        runner()
    except _Enough:
        pass
    except BaseExceptionGroup as group:  # noqa: F821 - a builtin since Python 3.11
        if group.subgroup(_Enough) is None:
            raise
    for k in sorted(out.best):
        _shrink(trier, vocab, out, k, deadline)
    counts.shrink_runs = sum(b.shrink_runs for b in out.best.values())
    if out.crash:
        _shrink_crash(trier, vocab, out, deadline)
    return out


def _shrink_crash(trier: Trier, vocab, out: SearchOutcome, deadline: float | None) -> None:
    """Shrink the first scenario that hit a bug in vmspec, for the report (same kind of error)."""
    kind = out.internal_error.split(":")[0]

    def crashes(steps) -> int | None:
        trial = trier.run(steps)
        if trial.stopped == "internal" and trial.stop_message.split(":")[0] == kind:
            return trial.stopped_at
        return None

    shrinker = Shrinker(crashes, trier.render, trier.page, deadline, lambda s: region_sizes(vocab, s))
    steps = shrinker.shrink(out.crash)
    out.counts.shrink_runs += shrinker.runs
    out.internal_error = f"{trier.run(steps).stop_message}\n{render('crashes vmspec', trier.machine, steps)}"
    out.crash = ()


def _shrink(trier: Trier, vocab, out: SearchOutcome, k: int, deadline: float | None) -> None:
    best = out.best[k]

    def breaks(steps) -> int | None:
        trial = trier.run(steps)
        return trial.broken.get(k)

    shrinker = Shrinker(breaks, trier.render, trier.page, deadline, lambda s: region_sizes(vocab, s))
    steps = shrinker.shrink(best.steps)
    # the steps that failed (ENOMEM, SIGSEGV, OOM...) say so, so the replay reports only the break
    trial = trier.run(steps)
    if trial.failures:
        marked = tuple(s.model_copy(update={"expect_error": trial.failures[i]})
                       if i in trial.failures and s.expect_error is None else s for i, s in enumerate(steps))
        if trier.run(marked).broken.get(k) is not None:
            steps = marked
    best.steps, best.shrink_runs, best.minimal = steps, shrinker.runs, shrinker.complete
    out.timed_out |= not shrinker.complete


# ----------------------------------------------------------------------------- -j: searches in processes
_SHARED = None  # in a worker: the shared progress counters (examples, broken) per search


def _init_worker(shared) -> None:
    import signal

    global _SHARED
    _SHARED = shared
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _search_job(args) -> SearchOutcome:
    from vmspec.language import load

    slot, path, root, machine, labels, seed, max_examples, max_steps, options, deadline = args
    program = load(path, root)
    invariants = _targets(program, labels)
    trier = Trier(program, machine, invariants, options, root)
    vocab = build_vocabulary(program, machine, invariants)

    def on_example(examples: int, broken: int) -> None:
        _SHARED[2 * slot] = examples
        _SHARED[2 * slot + 1] = broken

    return search(trier, vocab, seed, max_examples, max_steps, deadline, on_example)


def _in_parallel(jobs: int, args: list, on_progress) -> list[SearchOutcome]:
    shared = multiprocessing.Array("q", 2 * len(args), lock=False)
    pool = multiprocessing.Pool(jobs, initializer=_init_worker, initargs=(shared,))
    try:
        pending = pool.map_async(_search_job, args)
        while not pending.ready():
            pending.wait(0.2)
            if on_progress is not None:
                on_progress(sum(shared[0::2]), max(shared[1::2]))
        outcomes = pending.get()
        pool.close()
        return outcomes
    finally:
        pool.terminate()
        pool.join()


# ----------------------------------------------------------------------------- the whole exploration
def _targets(program, labels: tuple[str, ...] | None):
    if labels is None:
        return program.invariants
    return tuple(inv for inv in program.invariants if inv.label in labels)


def _choose_machine(program, machine: str | None) -> str:
    if machine is None:
        if len(program.machines) != 1:
            names = ", ".join(sorted(program.machines)) or "none"
            raise UsageError(f"{program.path}: name the machine to explore with --machine ({names})")
        return next(iter(program.machines))
    if machine not in program.machines:
        raise UsageError(f"{program.path}: no machine named {machine!r}")
    return machine


def _merge(outcomes: list[SearchOutcome]) -> SearchOutcome:
    total = SearchOutcome()
    for out in outcomes:
        for name in ("examples", "spec_errors", "unsupported", "budget", "internal_errors", "shrink_runs"):
            setattr(total.counts, name, getattr(total.counts, name) + getattr(out.counts, name))
        total.reached |= out.reached
        for key, value in out.closest.items():
            if key not in total.closest or value[0] > total.closest[key][0]:
                total.closest[key] = value
        total.unsupported.update(out.unsupported)
        total.internal_error = total.internal_error or out.internal_error
        total.spec_error = total.spec_error or out.spec_error
        total.timed_out |= out.timed_out
        for k, best in out.best.items():
            mine = total.best.get(k)
            if mine is None or (_size_key(best.steps), best.seed) < (_size_key(mine.steps), mine.seed):
                total.best[k] = best
    return total


def _unreached_reason(inv, max_steps: int, counts: Counts, unsupported) -> str:
    procs, regions = expression_names(inv.expr)
    names = [f"process {p}" for p in procs] + [f"region {p}.{r}" for p, r in regions]
    if not names:
        why = f" (the first: not modelled yet: {unsupported[0][0].removeprefix('not modelled yet: ')})" if unsupported else ""
        return (f"no example got past its first step, so the search could not look at it; "
                f"{counts.unsupported:,} of {counts.examples:,} ended at a step that is not modelled yet{why}")
    return (f"no example had {' and '.join(names)} in existence at once, so the search could not "
            f"look at it; raise --max-steps (now {max_steps}) or --max-examples, or give the file a "
            "scenario that creates them (explore extends the file's scenarios)")


def explore(program, machine: str | None = None, *, invariant: str | None = None,
            max_examples: int = DEFAULT_MAX_EXAMPLES, max_steps: int = DEFAULT_MAX_STEPS, seed: int = 0,
            jobs: int = 1, timeout: float | None = None, max_accesses: int = DEFAULT_MAX_ACCESSES,
            root: str | None = None, output: str | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> ExploreResult:
    """Search for scenarios on ``machine`` that break the program's invariants (or the one
    labelled ``invariant``); return what was found, with the spec to replay it, whose include
    path is valid from the directory of ``output`` (else the current directory).

    ``on_progress(examples, broken)`` is called as examples run (from this process)."""
    if not program.invariants:
        raise UsageError(f"{program.path}: explore needs at least one `invariant` to break")
    machine = _choose_machine(program, machine)
    labels = None
    if invariant is not None:
        labels = (invariant,)
        if not _targets(program, labels):
            known = ", ".join(f'"{inv.label}"' for inv in program.invariants)
            raise UsageError(f"{program.path}: no invariant labelled {invariant!r} (there are: {known})")
    if max_examples < 1 or max_steps < 1 or jobs < 1:
        raise UsageError("--max-examples, --max-steps and -j need at least 1")
    invariants = _targets(program, labels)
    deadline = time.monotonic() + timeout if timeout else None
    per_scenario = SCENARIO_TIMEOUT if timeout is None else max(1.0, min(SCENARIO_TIMEOUT, timeout))
    options = CheckOptions(max_accesses=max_accesses, timeout=per_scenario)
    if jobs == 1:
        trier = Trier(program, machine, invariants, options, root)
        vocab = build_vocabulary(program, machine, invariants)
        outcome = search(trier, vocab, seed, max_examples, max_steps, deadline, on_progress)
    else:
        args = [(i, program.path, root, machine, labels, seed + i, max_examples, max_steps, options, deadline)
                for i in range(jobs)]
        outcome = _merge(_in_parallel(jobs, args, on_progress))
    result = ExploreResult(
        path=program.path, machine=machine, seed=seed, jobs=jobs, max_examples=max_examples,
        max_steps=max_steps, invariants=[inv.label for inv in invariants], counts=outcome.counts,
        unsupported=sorted(outcome.unsupported.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        internal_error=outcome.internal_error, spec_error=outcome.spec_error, timed_out=outcome.timed_out,
    )
    result.unreached = [
        Unreached(invariant=inv.label, stated_file=inv.span.file, stated_line=inv.span.line,
                  reason=_unreached_reason(inv, max_steps, outcome.counts, result.unsupported))
        for k, inv in enumerate(invariants) if k not in outcome.reached and k not in outcome.best
    ]
    result.closest = [Closest(invariant=invariants[k].label, detail=detail)
                      for (k, _), (_, detail) in sorted(outcome.closest.items())
                      if k not in outcome.best and k in outcome.reached]
    command = _command(program.path, machine if machine != _only(program) else None, invariant, seed,
                       max_examples, max_steps, jobs)
    result.spec, written = assemble(program, machine, invariants, {k: b.steps for k, b in outcome.best.items()},
                                    output, root, command)
    for entry in written:
        inv, best = invariants[entry.index], outcome.best[entry.index]
        result.findings.append(Finding(
            invariant=inv.label, stated_file=inv.span.file, stated_line=inv.span.line,
            expression=entry.expression, title=entry.title, scenario=entry.scenario, steps=entry.steps,
            found_at=best.found_at, seed=best.seed, shrink_runs=best.shrink_runs, minimal=best.minimal,
            violations=entry.violations,
        ))
    result.counts.broken = len(result.findings)
    return result


def _only(program) -> str | None:
    return next(iter(program.machines)) if len(program.machines) == 1 else None


def _command(path, machine, invariant, seed, max_examples, max_steps, jobs) -> str:
    import shlex

    cmd = ["vmspec", "explore", path]
    if machine is not None:
        cmd += ["--machine", machine]
    if invariant is not None:
        cmd += ["--invariant", invariant]
    cmd += ["--seed", str(seed)]
    if max_examples != DEFAULT_MAX_EXAMPLES:
        cmd += ["--max-examples", str(max_examples)]
    if max_steps != DEFAULT_MAX_STEPS:
        cmd += ["--max-steps", str(max_steps)]
    if jobs != 1:
        cmd += ["-j", str(jobs)]
    return " ".join(shlex.quote(c) for c in cmd)


__all__ = ["ExploreResult", "Finding", "Counts", "Unreached", "explore", "search", "STDOUT"]
