"""Run one scenario with ``--backend host``: plan it (the engine's run first), then run it on the
kernel with the settings it needs changed for it, and put everything back.

The result is an ordinary ScenarioResult (backend ``host``); a scenario the host cannot run is
``skipped`` with the reason, and an expectation the host cannot read is listed in
``unobservable`` instead of passing or failing.
"""

from __future__ import annotations

from vmspec.checker.backend import HostCannot
from vmspec.checker.host.build import HostUnavailable
from vmspec.checker.host.plan import PreRun, compare_machine, decide
from vmspec.checker.host.session import get_session, parse_allow
from vmspec.checker.machine import machine_config
from vmspec.checker.options import CheckOptions
from vmspec.checker.results import ScenarioResult
from vmspec.checker.runner import ScenarioRun
from vmspec.errors import UsageError


def _skipped(program, resolved, options, display_path, reason: str) -> ScenarioResult:
    sc = resolved.scenario
    return ScenarioResult(file=display_path or program.path, line=sc.span.line, title=sc.title,
                          status="skipped", backend="host", skipped=reason,
                          seed=options.seed if options.seed is not None else (sc.seed or 0))


def prepare(program, resolved, options: CheckOptions):
    """Return (session, plan-or-skip-reason, confinement) for running a scenario on the host."""
    allow = parse_allow([options.host_allow] if options.host_allow else [])
    try:
        session = get_session(allow)
    except HostUnavailable as exc:  # no compiler, not Linux: the whole run cannot use the host
        raise UsageError(f"--backend host: {exc}") from None
    try:
        config = machine_config(resolved.machine)
    except HostCannot as exc:
        return session, str(exc), None, []
    reason, changes = compare_machine(config, session.kernel, resolved.scenario, program, allow)
    if reason is not None:
        return session, reason, None, changes
    prerun = PreRun()
    engine_options = options.model_copy(update={"backend": "engine", "trace": False})
    ScenarioRun(program, resolved, engine_options, observer=prerun).run()
    reason, confine = decide(config, session.kernel, prerun, session.cap, allow)
    return session, reason, confine, changes


def run_on_host(program, resolved, options: CheckOptions, display_path: str | None = None) -> ScenarioResult:
    """Run one scenario on the running kernel (or say why not)."""
    session, reason, confine, changes = prepare(program, resolved, options)
    if reason is not None:
        return _skipped(program, resolved, options, display_path, reason)
    try:
        for path, value in changes:
            try:
                session.change(path, value)
            except OSError as exc:
                return _skipped(program, resolved, options, display_path,
                                f"cannot set {path} to {value}: {exc.strerror}")
        for path, value in changes:  # a pool the kernel could not fill, say
            from vmspec.checker.host.kernel import bracketed, read_text

            now = read_text(path)
            if (bracketed(now) if "transparent_hugepage" in path else now) != value:
                return _skipped(program, resolved, options, display_path,
                                f"{path} is {now} after writing {value}")

        def make_system(config):
            from vmspec.checker.host.system import HostSystem

            return HostSystem(config, session, confine=confine)

        run = ScenarioRun(program, resolved, options, display_path, make_system=make_system,
                          backend="host")
        return run.run()
    finally:
        session.scenario_done()
