"""Run scenarios on the reference engine and collect what did not hold.

For each scenario: build the machine, create the files in scope, then execute the steps in order
(``repeat`` unrolled), matching modelled failures against ``=> ERR``, checking ``expect`` at its
step, every active ``always`` and every file ``invariant`` after each step (docs/language.md, Scenario
steps). A failed expectation is recorded and the scenario goes on. Inside a ``repeat``, a step or
check that fails again in a later iteration is reported once, with a count of the repeats. A bug
in vmspec ends only the scenario it hit, as an error. Nothing here prints.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass

from vmspec.checker import steps as step_table
from vmspec.checker.backend import HostCannot, NotObservable
from vmspec.checker.evaluate import EvalError, evaluate, explain
from vmspec.checker.machine import machine_config, page_size_of
from vmspec.checker.options import DEFAULT_MAX_ACCESSES, DEFAULT_TIMEOUT, CheckOptions
from vmspec.checker.replay import TraceError
from vmspec.checker.results import ScenarioResult, StepRecord, Unobservable, Violation
from vmspec.engine import System
from vmspec.engine.errors import ModelledFailure, Unsupported
from vmspec.language import ast
from vmspec.source import source_lines
from vmspec.units import format_count, format_size

_ERROR_WORDS = {
    "SIGSEGV": "killed by SIGSEGV",
    "SIGBUS": "killed by SIGBUS",
    "OOM": "killed by the OOM killer",
}


class _Stop(Exception):
    """End the scenario early with status error."""

    def __init__(self, violation: Violation):
        self.violation = violation


class _Timeout(BaseException):
    """Raised by the alarm inside a long step (a BaseException, so no ``except Exception`` on
    the way can swallow it)."""


class _Alarm:
    """Interrupt a scenario that runs past its ``--timeout``, even inside one long engine call.

    Uses SIGALRM in the main thread when no other timer is set (pytest-timeout's, say);
    elsewhere the deadline is only checked between steps and replay chunks.
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.armed = False
        self.previous = None

    def _fire(self, signum, frame):
        if self.armed:
            self.armed = False
            raise _Timeout()

    def __enter__(self):
        if (self.seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
                and signal.getitimer(signal.ITIMER_REAL)[0] == 0):
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            self.armed = True
            try:
                signal.setitimer(signal.ITIMER_REAL, self.seconds)
            except (OverflowError, ValueError, OSError):  # beyond the OS timer: the deadline checks remain
                self.restore()
        return self

    def restore(self) -> None:
        """Disarm the timer and put the previous handler back; safe to call more than once.

        The alarm may fire on the way out (the body ended right at the deadline), even before
        this method's first statement: its _Timeout then propagates, and the caller's ``finally``
        calls ``restore`` again, by when the alarm is disarmed and cannot raise any more."""
        if self.previous is not None:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            self.previous = None

    def __exit__(self, *exc):
        self.restore()
        return False


@dataclass
class _Watch:
    """An ``always`` or ``invariant`` being watched: its first break and the count of later ones."""

    kind: str
    expr: object
    span: object
    label: str = ""
    violation: Violation | None = None
    later: int = 0
    checked: bool = False  # evaluated at least once
    unobservable: bool = False  # the backend cannot read it: reported once, then not checked


class ScenarioRun:
    """One execution of one scenario; ``run()`` returns its ScenarioResult."""

    def __init__(self, program, resolved, options: CheckOptions, display_path: str | None = None,
                 make_system=None, observer=None, backend: str = "engine"):
        """``make_system(config)`` builds the system the steps drive (the engine's System by
        default; the host backend's HostSystem); ``observer`` (``started(system)``,
        ``stepped(step, system, failure)``) watches every executed step."""
        self.program = program
        self.make_system = make_system or System
        self.observer = observer
        self.backend = backend
        self.unobservable: list[Unobservable] = []
        self.skip_reason: str | None = None
        self.resolved = resolved
        self.scenario: ast.Scenario = resolved.scenario
        self.options = options
        self.path = display_path or program.path
        self.violations: list[Violation] = []
        self.watches: list[_Watch] = []
        self.trail: deque[StepRecord] = deque(maxlen=max(1, options.trail))
        self.trace: list[StepRecord] = []
        self.ended: dict[str, str] = {}  # process -> why it is not running
        self.unbound: dict[tuple[str, str], str] = {}  # (process, region) -> why it has no range
        self.spawned: dict[str, None] = {}  # the processes created so far, in creation order
        # what the trail last saw of each process (rss, minor, major, cow, swap): after a step only
        # the processes the engine says it touched are read again (System.take_touched)
        self._seen_procs: dict[str, tuple] = {}
        self._kills_seen = 0
        self._lines: dict[str, list[str]] = {}
        self._seen: dict[tuple[int, str], int] = {}  # (id of the node, kind) -> index in violations
        self._watched: set[int] = set()  # ids of the `always` nodes being watched
        self.iterations: list[tuple[int, int]] = []  # (iteration, count) of each enclosing repeat
        self.status = "passed"
        self.recorder = None  # a Recorder (vmspec.checker.record) when a report asks for pictures;
        # a caller may set one (vmspec show sets a StepStates) before run()
        # why the scenario ended early: None, "budget", "timeout", "trace", "unsupported" or "internal"
        self.stopped_by: str | None = None

    # ------------------------------------------------------------------ text helpers
    def text_of(self, node) -> str:
        """Return a node's source text as written (first line only for multi-line nodes)."""
        span = node.span
        lines = self._lines.get(span.file)
        if lines is None:
            lines = self._lines[span.file] = source_lines(self.program.sources.get(span.file, ""))
        if not 1 <= span.line <= len(lines):
            return ""
        line = lines[span.line - 1]
        end = span.end_column - 1 if span.end_line == span.line else len(line)
        return line[span.column - 1 : end].strip()

    def _violation(self, node, kind: str, message: str, **extra) -> Violation:
        return Violation.model_construct(
            file=node.span.file, line=node.span.line, column=node.span.column, kind=kind,
            message=message, steps=list(self.trail), **extra,
        )

    def _report(self, node, violation: Violation) -> None:
        """Record a violation of ``node``; one that the same node already broke (in an earlier
        iteration of a repeat) only counts as a repeat of the first."""
        key = (id(node), violation.kind)
        index = self._seen.get(key)
        if index is None:
            self._seen[key] = len(self.violations)
            self.violations.append(violation)
        else:
            first = self.violations[index]
            self.violations[index] = first.model_copy(update={"repeats": first.repeats + 1})

    # ------------------------------------------------------------------ what a step changed
    def _read(self, p: str) -> tuple:
        sys = self.system
        f = sys.faults(p)
        alive = sys.alive(p)
        return (sys.rss(p) if alive else 0, f.minor, f.major, _readable(lambda: f.cow),
                sys.swap(p) if alive else 0)

    def _before_step(self) -> int | None:
        """Note what a step's changes are measured from; return swap_used (None: unreadable).
        A backend that cannot say which processes a step touched has all of them read first."""
        sys = self.system
        if not hasattr(sys, "take_touched"):
            for p in self.spawned:
                self._seen_procs[p] = self._read(p)
        return _readable(lambda: int(sys.swap_used))

    def _changes(self, swap_before: int | None) -> str:
        """Describe what the last step changed: faults, RSS and swap of each process it touched,
        in creation order, and swap_used. With the engine the cost follows what the step touched
        (``take_touched``), not how many processes the scenario has."""
        sys = self.system
        take = getattr(sys, "take_touched", None)
        parts = []
        for p in (take() if take is not None else list(self.spawned)):
            now = self._read(p)
            was = self._seen_procs.get(p, (0, 0, 0, 0, 0))
            self._seen_procs[p] = now
            bits = []
            if now[1] != was[1]:
                bits.append(f"+{format_count(now[1] - was[1])} minor")
            if now[2] != was[2]:
                bits.append(f"+{format_count(now[2] - was[2])} major")
            if now[3] is not None and was[3] is not None and now[3] != was[3]:
                bits.append(f"+{format_count(now[3] - was[3])} cow")
            if now[0] != was[0]:
                sign = "+" if now[0] > was[0] else "-"
                bits.append(f"rss {sign}{format_size(abs(now[0] - was[0]))}")
            if now[4] != was[4]:
                sign = "+" if now[4] > was[4] else "-"
                bits.append(f"swap {sign}{format_size(abs(now[4] - was[4]))}")
            if bits:
                parts.append(f"{p}: " + ", ".join(bits))
        swap_after = _readable(lambda: int(sys.swap_used))
        if swap_after is not None and swap_before is not None and swap_after != swap_before:
            delta = swap_after - swap_before
            parts.append(f"swap_used {'+' if delta > 0 else '-'}{format_size(abs(delta))}")
        return "; ".join(parts)

    # ------------------------------------------------------------------ checks
    def _check(self, expr, system):
        """Return (True/False, why, observed values), or (None, why, {}) when the expression
        cannot be evaluated, or ("unobservable", reason, {}) when the backend cannot read it."""
        try:
            evaluation = evaluate(expr, system, self.page_size)
        except EvalError as exc:
            return None, str(exc), {}
        except NotObservable as exc:
            return "unobservable", str(exc), {}
        observed = {}
        for node, value in evaluation.observed:
            observed.setdefault(self.text_of(node), value.format())
        if evaluation.value.v:
            return True, "", observed
        return False, explain(expr, evaluation, self.text_of), observed

    def _check_watches(self, watches=None) -> None:
        for watch in self.watches if watches is None else watches:
            if watch.unobservable:
                continue
            watch.checked = True
            ok, detail, observed = self._check(watch.expr, self.system)
            if ok == "unobservable":
                watch.unobservable = True
                self._not_observable(watch.kind, watch.span, self.text_of(watch.expr), detail)
                continue
            if ok:
                continue
            if watch.violation is not None:
                watch.later += 1
                continue
            step = self._current_step
            text = self.text_of(watch.expr)
            if watch.kind == "always":
                message = f"always {text} broke at line {step.span.line}"
            else:
                message = f'invariant "{watch.label}" broke at line {step.span.line}: {text}'
            watch.violation = Violation.model_construct(
                file=step.span.file, line=step.span.line, column=step.span.column, kind=watch.kind,
                message=message, expression=text, observed=observed, detail=detail,
                stated_at=watch.span.line, steps=list(self.trail),
                stated_file=watch.span.file if watch.span.file != step.span.file else None,
            )
            self.violations.append(watch.violation)

    # ------------------------------------------------------------------ steps
    def _not_running(self, step, proc: str) -> Violation | None:
        if proc in self.ended:
            return self._violation(
                step, "not_running", f"{proc} is not running: {self.ended[proc]}",
                expression=self.text_of(step),
            )
        return None

    def _note_deaths(self, step, failure: str | None, proc: str | None) -> None:
        sys = self.system
        kills = sys.oom_kills
        if kills != self._kills_seen:  # the names killed since the last step, in kill order
            for name in sys.killed[self._kills_seen:]:
                if name not in self.ended:
                    self.ended[name] = f"killed by the OOM killer at line {step.span.line}"
            self._kills_seen = kills
        if proc is not None and failure in ("SIGSEGV", "SIGBUS") and proc not in self.ended:
            self.ended[proc] = f"{_ERROR_WORDS[failure]} at line {step.span.line}"
        if isinstance(step, ast.Exit) and failure is None:
            self.ended[step.process] = f"exited at line {step.span.line}"

    def _run_step(self, step) -> None:
        self._current_step = step
        self.ctx.check_time()
        self.ctx.steps += 1
        if isinstance(step, ast.Repeat):
            self.ctx.charge(step.count * step_table.count_steps(step.body),
                            f"repeat {step.count:,} would execute {{n}} steps")
            self.iterations.append((0, step.count))
            for i in range(step.count):
                self.iterations[-1] = (i + 1, step.count)
                for inner in step.body:
                    self._run_step(inner)
            self.iterations.pop()
            return
        if isinstance(step, ast.Expect):
            # nothing changed since the last step: only a watch that never ran on this state (an
            # invariant of a scenario that starts with checks) can break here; it is not a later break
            self._check_watches([w for w in self.watches if w.violation is None and not w.checked])
            ok, detail, observed = self._check(step.expr, self.system)
            if ok == "unobservable":
                self._not_observable("expect", step.span, self.text_of(step.expr), detail)
            elif not ok:
                text = self.text_of(step.expr)
                self._report(step, self._violation(
                    step, "expect", f"expect failed: {text}", expression=text, observed=observed, detail=detail,
                ))
            values = ", ".join(f"{name} = {value}" for name, value in observed.items())
            verdict = "holds" if ok else f"fails: {detail}"
            self._record(step, f"{verdict}; {values}" if values else verdict, trail=False)
            return
        if isinstance(step, ast.Always):
            self._record(step, "", trail=False)
            if id(step) not in self._watched:  # stated once, even inside a repeat
                self._watched.add(id(step))
                watch = _Watch("always", step.expr, step.span)
                self.watches.append(watch)
                self._check_watches([watch])
            return
        proc = step_table.actor(step)
        if proc is not None:
            violation = self._not_running(step, proc)
            if violation is not None:
                self._report(step, violation)
                self._record(step, "skipped: not running")
                if isinstance(step, ast.Fork) and step.child not in self.ended:
                    self.ended[step.child] = (
                        f"it was never created (the fork at line {step.span.line} did not run: {proc} is not running)"
                    )
                return
        region = _region_used(step)
        if region is not None and proc is not None and not self.system.has_region(proc, region):
            why = self.unbound.get((proc, region), "no step of the scenario mapped it")
            self._report(step, self._violation(
                step, "step", f"{proc} has no region {region}: {why}", expression=self.text_of(step),
            ))
            self._record(step, "skipped: no such region")
            return
        swap_before = self._before_step()
        failure: str | None = None
        message = ""
        try:
            step_table.HANDLERS[type(step)](self.ctx, step)
        except ModelledFailure as exc:
            failure = exc.name
            message = str(exc)
        if failure is not None and isinstance(step, (ast.Mmap, ast.Malloc)):
            self.unbound[(step.process, step.region)] = (
                f"the {step.kind} at line {step.span.line} failed with {failure}"
            )
        created = step.process if isinstance(step, ast.Spawn) else step.child if isinstance(step, ast.Fork) else None
        if created is not None and failure is not None and not self.system.exists(created):
            self.ended.setdefault(created, (
                f"it was never created (the {'spawn' if isinstance(step, ast.Spawn) else 'fork'} "
                f"at line {step.span.line} failed with {failure})"
            ))
        if isinstance(step, ast.Spawn) and failure is None:
            self.spawned[step.process] = None
        if isinstance(step, ast.Fork) and failure is None:
            self.spawned[step.child] = None
        if failure is None and step.expect_error == "OOM" and proc is not None and proc in self.system.killed:
            failure = "OOM"
        self._note_deaths(step, failure, proc)
        if self.observer is not None:
            self.observer.stepped(step, self.system, failure)
        changes = self._changes(swap_before)
        if failure is not None:
            changes = (f"failed: {failure}" + (f" ({message})" if message else "")) + (f"; {changes}" if changes else "")
        self._record(step, changes)
        text = self.text_of(step)
        if step.expect_error is not None and failure != step.expect_error:
            got = "succeeded" if failure is None else f"failed with {failure}" + (f": {message}" if message else "")
            self._report(step, self._violation(
                step, "step", f"expected `{text}` to fail with {step.expect_error}, but it {got}",
                expression=text,
            ))
        elif step.expect_error is None and failure is not None:
            self._report(step, self._violation(
                step, "step", f"`{text}` failed with {failure}" + (f": {message}" if message else ""),
                expression=text, detail="add `=> " + failure + "` to the step if this is expected",
            ))
        self._check_watches()
        if self.recorder is not None:
            self.recorder.settle(self)

    def _not_observable(self, kind: str, span, text: str, reason: str) -> None:
        """Note an expectation the backend cannot read (once per source position)."""
        entry = Unobservable(file=span.file, line=span.line, column=span.column, kind=kind,
                             expression=text, reason=reason)
        if entry not in self.unobservable:
            self.unobservable.append(entry)

    def _record(self, step, changes: str, trail: bool = True) -> None:
        """Remember a step for the trail of later violations (checks are not part of it) and
        for ``--trace``."""
        iteration = " ".join(f"{i}/{n}" for i, n in self.iterations)
        record = StepRecord.model_construct(file=step.span.file, line=step.span.line, text=self.text_of(step), changes=changes,
                            iteration=iteration)
        if trail:
            self.trail.append(record)
        if self.options.trace and len(self.trace) < 100_000:
            self.trace.append(record)
        if self.recorder is not None:
            self.recorder.sample(self, record)

    # ------------------------------------------------------------------ entry
    def run(self) -> ScenarioResult:
        """Execute the scenario and return its result."""
        scenario = self.scenario
        seed = self.options.seed if self.options.seed is not None else (scenario.seed or 0)
        result = ScenarioResult.model_construct(
            file=self.path, line=scenario.span.line, title=scenario.title, status="passed",
            seed=seed, seed_overridden=self.options.seed is not None, reproduce=self.reproduce(),
            params=dict(getattr(self.resolved, "params", ())), template=getattr(self.resolved, "template", ""),
            backend=self.backend,
        )
        self._current_step = scenario
        if self.recorder is None and self.options.record:
            from vmspec.checker.record import Recorder

            self.recorder = Recorder()
        alarm = _Alarm(self.options.timeout)
        self.system = None
        try:
            machine = self.resolved.machine
            self.page_size = page_size_of(machine)
            clock = time.monotonic
            deadline = clock() + self.options.timeout if self.options.timeout else None
            with alarm:  # building the machine and its files counts against --timeout too
                self._current_step = machine
                self.system = self._build(machine)
                self.ctx = step_table.Context(
                    system=self.system, program=self.program, page_size=self.page_size,
                    scenario_seed=seed, spec_dir=os.path.dirname(os.path.abspath(self.program.path)),
                    max_accesses=self.options.max_accesses, deadline=deadline, clock=clock,
                    timeout=self.options.timeout,
                )
                for inv in self.program.invariants:
                    self.watches.append(_Watch("invariant", inv.expr, inv.span, label=inv.label))
                for decl in self.program.files:
                    self._current_step = decl
                    self.system.create_file(decl.name, self.ctx.nbytes(decl.size))
                self._current_step = scenario
                if self.observer is not None:
                    self.observer.started(self.system)
                for step in scenario.steps:
                    self._run_step(step)
                self.ctx.check_time()  # a last step that overran
        except _Timeout:
            self.stopped_by = "timeout"
            self._stop(self._violation(
                self._current_step, "budget", step_table.TIMEOUT_MESSAGE.format(self.options.timeout),
                expression=self.text_of(self._current_step),
            ))
        except step_table.BudgetExceeded as exc:
            self.stopped_by = "budget"
            self._stop(self._violation(self._current_step, "budget", str(exc), expression=self.text_of(self._current_step)))
        except TraceError as exc:
            self.stopped_by = "trace"
            self._stop(self._violation(self._current_step, "step", f"replay: {exc}", expression=self.text_of(self._current_step)))
        except Unsupported as exc:
            self.stopped_by = "unsupported"
            self._stop(self._violation(
                self._current_step, "step", f"not modelled yet: {exc}", expression=self.text_of(self._current_step),
            ))
        except HostCannot as exc:
            line = self._current_step.span.line
            self.skip_reason = f"line {line}: {exc}" if self._current_step is not scenario else str(exc)
        except ModelledFailure as exc:  # steps catch their own: this one came from building the machine
            self._stop(self._violation(
                self._current_step, "step", f"the machine cannot be built: {exc.name}: {exc}",
                expression=self.text_of(self._current_step),
            ))
        except Exception as exc:  # a bug in vmspec: end this scenario, not the whole run
            self.stopped_by = "internal"
            self._stop(self._violation(
                self._current_step, "step",
                f"internal error in vmspec ({type(exc).__name__}: {exc}); please report it with this spec",
                expression=self.text_of(self._current_step),
            ))
        finally:
            alarm.restore()  # again: the alarm may have fired on the way out of the `with`
            close = getattr(self.system, "close", None)
            if close is not None:
                close()  # the host backend: end its processes, remove its files
        for watch in self.watches:
            if watch.violation is not None and watch.later:
                index = self.violations.index(watch.violation)
                self.violations[index] = watch.violation.model_copy(update={"later_breaks": watch.later})
        result.violations = self.violations
        result.trace = self.trace
        if self.recorder is not None:
            result.recording = self.recorder.finish(self)
        result.unobservable = self.unobservable
        result.skipped = self.skip_reason
        if self.status == "error":
            result.status = "error"
        elif self.violations:
            result.status = "failed"
        elif self.skip_reason is not None:
            result.status = "skipped"
        return result

    def _build(self, machine: ast.Machine) -> System:
        """Build the engine for ``machine``; a refusal is blamed on the setting it names (the
        first setting word of its message that the machine sets), else on the machine block."""
        try:
            return self.make_system(machine_config(machine))
        except (Unsupported, ModelledFailure) as exc:
            by_name = {setting.name: setting for setting in machine.settings}
            self._current_step = next((by_name[w] for w in re.findall(r"[a-z_]+", str(exc)) if w in by_name),
                                      machine)
            raise

    def _stop(self, violation: Violation) -> None:
        self.status = "error"
        self.violations.append(violation)

    def reproduce(self) -> str:
        """Return the command that re-runs just this scenario: its seed (when it has one or it
        was overridden), and the root and budgets when they are not the defaults."""
        options = self.options
        cmd = ["vmspec", "check", f"{self.path}::{self.scenario.title}"]
        if options.root is not None:
            cmd += ["--root", options.root]
        seed = options.seed if options.seed is not None else self.scenario.seed
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if options.max_accesses != DEFAULT_MAX_ACCESSES:
            cmd += ["--max-accesses", str(options.max_accesses)]
        if options.timeout != DEFAULT_TIMEOUT:
            cmd += ["--timeout", f"{options.timeout or 0:g}"]
        if self.backend != "engine":
            cmd += ["--backend", self.backend]
            if options.host_allow:
                cmd += ["--host-allow", options.host_allow]
        return " ".join(shell_quote(c) for c in cmd)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def shell_quote(arg: str) -> str:
    """Quote ``arg`` for a POSIX shell so that pasting it gives ``arg`` back. An argument with
    control characters (a title with an ESC, a non-UTF-8 file name) uses bash's ``$'...'``
    quoting with ``\\xNN`` escapes, so the command shows no raw control character and still
    reproduces the exact title and path."""
    if not _UNPRINTABLE.search(arg):
        return shlex.quote(arg)
    out = []
    for char in arg:
        code = ord(char)
        if char in "\\'":
            out.append("\\" + char)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name, as that byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif _UNPRINTABLE.match(char):
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "$'" + "".join(out) + "'"


_REGION_STEPS = (ast.Access, ast.RandomAccess, ast.Replay, ast.Munmap, ast.Madvise, ast.Mprotect,
                 ast.Mlock, ast.Free)


def _region_used(step) -> str | None:
    """Return the region a step works on, if it names one."""
    if isinstance(step, _REGION_STEPS):
        return step.region
    return None


def _readable(read):
    """Return ``read()``, or None where the backend cannot read it."""
    try:
        return read()
    except NotObservable:
        return None


def run_scenario(program, resolved, options: CheckOptions, display_path: str | None = None) -> ScenarioResult:
    """Run one resolved scenario of a loaded program on the backend the options name."""
    if options.backend == "host":
        from vmspec.checker.host.run import run_on_host

        return run_on_host(program, resolved, options, display_path)
    return ScenarioRun(program, resolved, options, display_path).run()
