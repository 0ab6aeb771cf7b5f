"""``vmspec diff``: run each scenario on the engine and on the host in lockstep and compare, after
every step, every observable both can read.

The two systems are driven through one facade (:class:`PairSystem`): an operation runs on the
engine, then on the host, and a different outcome (one fails, or fails otherwise) is a difference
of its own; the scenario then follows the engine. After each step the comparator reads the system
observables, every process's sizes and counters, every region's, and ``shared`` of every pair of
live processes from both, and records a difference when the two values differ and that pair of
values was not already reported for that observable. Each difference is matched against the
documented ones (``vmspec.checker.host.explain``); only unexplained differences fail the run.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field

from vmspec.checker.backend import HostCannot, NotObservable
from vmspec.checker.options import CheckOptions
from vmspec.checker.results import FileError
from vmspec.checker.values import BOOL, COUNT, PROCS, SIZE, STATUS, VIA, Value
from vmspec.engine.errors import ModelledFailure, Unsupported


class Difference(BaseModel):
    """One observable that differs after one step."""

    file: str
    line: int
    step: str  # the step as written
    observable: str  # as it would be written in a spec: rss(p), faults(c).minor, resident(p.buf)
    engine: str
    host: str
    explained: Optional[str] = None  # the documented rule that explains it ("name: sentence")


class ScenarioDiff(BaseModel):
    """The comparison of one scenario."""

    file: str
    line: int
    title: str
    status: str  # same | explained | different | skipped | error
    skipped: Optional[str] = None
    compared: int = 0  # observable readings compared
    equal: int = 0
    differences: list[Difference] = Field(default_factory=list)
    error: str = ""


class DiffReport(BaseModel):
    """Everything one ``vmspec diff`` run found."""

    kernel: str = ""
    scenarios: list[ScenarioDiff] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)
    interrupted: bool = False

    def exit_code(self, strict: bool = False) -> int:
        """130 interrupted, 2 spec errors or a scenario in error, 1 a difference no documented
        rule explains (any difference with ``strict``), else 0."""
        if self.interrupted:
            return 130
        if self.errors or any(s.status == "error" for s in self.scenarios):
            return 2
        if any(s.status == "different" or (strict and s.status == "explained") for s in self.scenarios):
            return 1
        return 0


# ---------------------------------------------------------------- the lockstep facade
_OPERATIONS = ("spawn", "mmap", "malloc", "munmap", "brk", "access", "access_random", "access_pages",
               "access_addresses", "madvise", "mprotect", "mlock", "munlock", "create_file", "fork",
               "exit", "set_oom_score_adj", "set_oom_adj", "drop_caches", "free_region")


class PairSystem:
    """Drives the engine and the host with the same operations; reads come from the engine."""

    def __init__(self, engine, host):
        self.engine = engine
        self.host = host
        self.pending: list[tuple[str, str]] = []  # (engine, host) outcomes of this step that differed

    def __getattr__(self, name):
        if name in _OPERATIONS:
            return lambda *args, **kw: self._both(name, args, kw)
        return getattr(self.engine, name)

    def _both(self, name, args, kw):
        if name == "access_pages":  # a stream: both sides need every page
            args = (args[0], args[1], list(args[2])) + tuple(args[3:])
        engine_exc = host_exc = None
        try:
            getattr(self.engine, name)(*args, **kw)
        except ModelledFailure as exc:
            engine_exc = exc
        try:
            getattr(self.host, name)(*args, **kw)
        except ModelledFailure as exc:
            host_exc = exc
        except ValueError as exc:  # the host never made the region or process the engine did
            host_exc = exc
        e, h = _outcome(engine_exc), _outcome(host_exc)
        if e != h:
            self.pending.append((e, h))
        if engine_exc is not None:
            raise engine_exc

    def close(self) -> None:
        self.host.close()


def _outcome(exc) -> str:
    if exc is None:
        return "ok"
    return getattr(exc, "name", None) or f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- what is compared
def _readings(system, page_size: int):
    """Yield (observable as written, processes it is about, kind, reader) for everything both
    backends can be asked after a step (``system`` is the engine, for the names)."""
    for name, kind in (("cached", SIZE), ("swap_used", SIZE), ("swap_free", SIZE), ("committed", SIZE),
                       ("commit_limit", SIZE), ("ram", SIZE), ("free", SIZE), ("used", SIZE),
                       ("active_anon", SIZE), ("inactive_anon", SIZE), ("active_file", SIZE),
                       ("inactive_file", SIZE), ("unevictable", SIZE), ("oom_kills", COUNT),
                       ("pswpin", COUNT), ("pswpout", COUNT), ("thp_fault_alloc", COUNT),
                       ("thp_fault_fallback", COUNT), ("thp_split_pmd", COUNT)):
        yield name, (), kind, (lambda s, n=name: getattr(s, n))
    yield "killed", (), PROCS, (lambda s: tuple(s.killed))
    for size, _ in system.machine.hugepages:
        text = f"{size >> 20}MiB" if size < 1 << 30 else f"{size >> 30}GiB"
        yield f"hugepages_free({text})", (), COUNT, (lambda s, z=size: s.hugepages_free(z))
        yield f"hugepages_total({text})", (), COUNT, (lambda s, z=size: s.hugepages_total(z))
    names = list(system.procs)
    for p in names:
        yield f"alive({p})", (p,), BOOL, (lambda s, p=p: s.alive(p))
        yield f"status({p})", (p,), STATUS, (lambda s, p=p: s.status(p))
        for name in ("rss", "rss_anon", "rss_file", "pss", "uss", "swap", "vsz", "pagetables"):
            yield f"{name}({p})", (p,), SIZE, (lambda s, n=name, p=p: getattr(s, n)(p))
        for field in ("minor", "major"):
            yield f"faults({p}).{field}", (p,), COUNT, (lambda s, f=field, p=p: getattr(s.faults(p), f))
        for name in ("oom_score", "oom_score_adj", "oom_adj"):
            yield f"{name}({p})", (p,), COUNT, (lambda s, n=name, p=p: getattr(s, n)(p))
        proc = system.procs[p]
        for region in list(getattr(proc, "regions", {})):
            for name in ("resident", "swapped", "huge", "size"):
                yield f"{name}({p}.{region})", (p,), SIZE, (lambda s, n=name, p=p, r=region: getattr(s, n)(p, r))
            yield f"via({p}.{region})", (p,), VIA, (lambda s, p=p, r=region: s.via(p, r))
    live = [p for p in names if system.alive(p)]
    for i, p in enumerate(live):
        for q in live[i + 1:]:
            yield f"shared({p}, {q})", (p, q), SIZE, (lambda s, p=p, q=q: s.shared_processes(p, q))


class Comparator:
    """The runner's observer in ``vmspec diff``: compares both backends after every step."""

    def __init__(self, run_text, page_size_of, images):
        from vmspec.checker.host.explain import History

        self.pair: PairSystem | None = None
        self.text_of = run_text
        self.page_size_of = page_size_of
        self.images = images
        self.history = History()
        self.compared = 0
        self.equal = 0
        self.differences: list[Difference] = []
        self._last: dict[str, tuple[str, str]] = {}

    def started(self, system) -> None:
        self.pair = system
        self.history.thp_always = system.engine.machine.thp == "always"

    def stepped(self, step, system, failure) -> None:
        from vmspec.checker.host.explain import explain
        from vmspec.units import size_bytes

        for e, h in self.pair.pending:  # the operation itself succeeded or failed differently
            self.differences.append(Difference(
                file=step.span.file, line=step.span.line, step=self.text_of(step), observable="outcome",
                engine=e, host=h))
        self.pair.pending.clear()
        ps = self.page_size_of()
        self.history.note(step, lambda lit: size_bytes(lit.amount, lit.unit, ps), self.images)
        engine, host = self.pair.engine, self.pair.host
        for text, procs, kind, read in _readings(engine, ps):
            try:
                ev = read(engine)
            except (NotObservable, Unsupported, ValueError, KeyError):
                continue
            try:
                hv = read(host)
            except (NotObservable, ValueError, KeyError):
                continue
            self.compared += 1
            if kind == BOOL:
                ev, hv = bool(ev), bool(hv)
            if ev == hv:
                self.equal += 1
                self._last.pop(text, None)
                continue
            e_text, h_text = Value(kind, ev).format(), Value(kind, hv).format()
            if self._last.get(text) == (e_text, h_text):
                continue  # the same difference as after the previous step
            self._last[text] = (e_text, h_text)
            base = text.split("(")[0] + ("." + text.rsplit(".", 1)[1] if text.startswith("faults(") else "")
            rule = explain(base, procs, ev, hv, self.history)
            self.differences.append(Difference(
                file=step.span.file, line=step.span.line, step=self.text_of(step), observable=text,
                engine=e_text, host=h_text, explained=f"{rule.name}: {rule.text}" if rule else None))


def diff_scenario(program, resolved, options: CheckOptions, display_path: str | None = None) -> ScenarioDiff:
    """Compare one scenario on both backends."""
    from vmspec.checker.host.run import prepare
    from vmspec.checker.host.system import HostSystem
    from vmspec.checker.runner import ScenarioRun
    from vmspec.engine import System

    sc = resolved.scenario
    shown = display_path or program.path
    out = ScenarioDiff(file=shown, line=sc.span.line, title=sc.title, status="same")
    session, reason, confine, changes = prepare(program, resolved, options)
    if reason is not None:
        out.status, out.skipped = "skipped", reason
        return out
    comparator = None
    try:
        for path, value in changes:
            session.change(path, value)

        def make_system(config):
            engine = System(config)
            host = HostSystem(config, session, confine=confine)
            return PairSystem(engine, host)

        run = ScenarioRun(program, resolved, options.model_copy(update={"backend": "engine"}), display_path,
                          make_system=make_system, backend="engine")
        comparator = Comparator(run.text_of, lambda: run.page_size, program.images)
        run.observer = comparator
        result = run.run()
    except HostCannot as exc:
        out.status, out.skipped = "skipped", str(exc)
        return out
    finally:
        session.scenario_done()
    out.compared, out.equal, out.differences = comparator.compared, comparator.equal, comparator.differences
    if result.status == "error" and not out.differences:
        out.status = "error"
        out.error = result.violations[-1].message if result.violations else "error"
    elif result.skipped and not out.differences:
        out.status, out.skipped = "skipped", result.skipped
    elif any(d.explained is None for d in out.differences):
        out.status = "different"
    elif out.differences:
        out.status = "explained"
    return out


def diff(paths: list[str], options: CheckOptions, root: str | None = None) -> DiffReport:
    """Compare every selected scenario of every .vms file under ``paths``."""
    from vmspec.checker.host.kernel import read_kernel
    from vmspec.checker.select import compile_k
    from vmspec.checker.session import file_errors, find_specs
    from vmspec.errors import SpecError, SpecErrors
    from vmspec.language import load

    report = DiffReport(kernel=read_kernel().release)
    predicate = compile_k(options.select) if options.select else None
    try:
        for path, title in find_specs(paths or ["."]):
            try:
                program = load(path, root)
            except SpecErrors as errors:
                report.errors.extend(file_errors(errors))
                continue
            except SpecError as error:
                report.errors.extend(file_errors(SpecErrors([error])))
                continue
            for resolved in program.scenarios:
                sc = resolved.scenario
                if (title is not None and sc.title != title) or (predicate is not None and not predicate(sc.title)):
                    continue
                report.scenarios.append(diff_scenario(program, resolved, options, display_path=path))
    except KeyboardInterrupt:
        report.interrupted = True
    return report
