"""A check session: find .vms files, load them, select scenarios and run them, possibly in
several processes, returning one Report in a deterministic order (files sorted, scenarios in file
order), identical whatever ``jobs`` is.
"""

from __future__ import annotations

import os
import signal
from typing import Callable, Iterable

from vmspec.checker.options import CheckOptions
from vmspec.checker.results import FileError, Report, ScenarioResult
from vmspec.checker.runner import run_scenario
from vmspec.checker.select import compile_k, split_target
from vmspec.errors import SpecError, SpecErrors, UsageError
from vmspec.confine import inside


def check_root(root: str | None) -> None:
    """Refuse a ``--root`` that is not an existing directory (raise UsageError)."""
    if root is not None and not os.path.isdir(root):
        what = "is not a directory" if os.path.exists(root) else "does not exist"
        raise UsageError(f"--root {root} {what}; give the directory that includes and replays may not leave")


def find_specs(paths: Iterable[str]) -> list[tuple[str, str | None]]:
    """Expand files and directories into (path, title or None), *.vms found recursively, sorted.
    A directory without any is no error (the run then checks nothing: exit 5); a path that does
    not exist is a UsageError."""
    return [(path, title) for path, title, _ in find_targets(paths)]


def find_targets(paths: Iterable[str], root: str | None = None) -> list[tuple[str, str | None, str | None]]:
    """Expand files and directories into (path, title or None, confinement root), sorted.

    A file named on the command line is checked with ``root`` (None: the default, its own
    directory when it lies outside the current one). A file found by scanning a directory must
    also lie, by its real path, inside the directory scanned: one that does not (a ``*.vms``
    symlink out of the tree) gets that directory as its root, so :func:`vmspec.language.load`
    refuses it, naming it, without reading it. Symlinked directories are not followed."""
    found: list[tuple[str, str | None, str | None]] = []
    seen: set[tuple[str, str | None]] = set()
    for arg in paths:
        path, title = split_target(arg)
        if os.path.isdir(path):
            real_dir = os.path.realpath(path)
            batch = []
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                batch += [os.path.join(dirpath, f) for f in filenames if f.endswith(".vms")]
            items = [(p, None, root if inside(os.path.realpath(p), real_dir) else path) for p in sorted(batch)]
        elif os.path.lexists(path) and not os.path.isdir(path):
            items = [(path, title, root)]
        else:
            raise UsageError(f"{path}: no such file or directory")
        for item in items:
            if item[:2] not in seen:
                seen.add(item[:2])
                found.append(item)
    return found


def file_errors(errors: SpecErrors) -> list[FileError]:
    """Turn spec errors into report entries, each with its rendered diagnostic."""
    return [
        FileError.model_construct(file=e.span.file, line=e.span.line, column=e.span.column, message=e.message, rendered=e.render())
        for e in errors.errors
    ]


def check_file(path: str, title: str | None, options: CheckOptions, root: str | None) -> tuple[list[ScenarioResult], list[FileError]]:
    """Load one file and run its selected scenarios."""
    results, errors, _ = _check_file(path, title, options, root)
    return results, errors


def _check_file(path: str, title: str | None, options: CheckOptions,
                root: str | None) -> tuple[list[ScenarioResult], list[FileError], int]:
    """Load one file and run its selected scenarios; also return how many -k left out."""
    from vmspec.language import load

    try:
        program = load(path, root)
    except SpecErrors as errors:
        return [], file_errors(errors), 0
    except SpecError as error:
        return [], file_errors(SpecErrors([error])), 0
    predicate = compile_k(options.select) if options.select else None
    results = []
    deselected = 0
    for resolved in program.scenarios:
        sc = resolved.scenario
        if title is not None and title not in (sc.title, resolved.template):  # an instance, or all of them
            continue
        if predicate is not None and not predicate(sc.title):
            deselected += 1
            continue
        result = run_scenario(program, resolved, options, display_path=path)
        results.append(result)
        if options.fail_fast and result.status in ("failed", "error"):
            break
    if title is not None and not results and not any(title in (r.scenario.title, r.template) for r in program.scenarios):
        raise UsageError(f"{path}: no scenario titled {title!r}")
    return results, [], deselected


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops them (a worker's traceback helps nobody)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_file_job(args):
    path, title, options, root = args
    try:
        return _check_file(path, title, options, root), None
    except UsageError as exc:
        return ([], [], 0), str(exc)


def check(
    paths: list[str],
    options: CheckOptions,
    root: str | None = None,
    jobs: int = 1,
    on_result: Callable[[ScenarioResult], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Check every selected scenario of every .vms file under ``paths``.

    ``on_result`` is called with each scenario's result as it is absorbed, ``on_progress`` with
    (files done, files in all) after each file; both run in this process, in file order.
    """
    if options.select:
        compile_k(options.select)  # report a bad -k before any work
    check_root(root)
    targets = find_targets(paths or ["."], root)
    report = Report.model_construct()
    work = [(path, title, options, target_root) for path, title, target_root in targets]
    if on_progress is not None:
        on_progress(0, len(work))
    try:
        if jobs > 1 and len(work) > 1:
            import multiprocessing

            pool = multiprocessing.Pool(min(jobs, len(work)), initializer=_ignore_sigint)
            try:
                outcomes = pool.imap(_check_file_job, work)  # results in file order
                for done, outcome in enumerate(outcomes, 1):
                    stop = _absorb(report, outcome, on_result, options)
                    if on_progress is not None:
                        on_progress(done, len(work))
                    if stop:
                        break
                pool.close()
            finally:
                pool.terminate()  # -x, Ctrl-C or an error: stop the files still running
                pool.join()
        else:
            for done, job in enumerate(work, 1):
                stop = _absorb(report, _check_file_job(job), on_result, options)
                if on_progress is not None:
                    on_progress(done, len(work))
                if stop:
                    break
    except KeyboardInterrupt:
        report.interrupted = True
    return report


def _absorb(report: Report, outcome, on_result, options: CheckOptions) -> bool:
    (results, errors, deselected), usage = outcome
    if usage is not None:
        raise UsageError(usage)
    report.errors.extend(errors)
    report.deselected += deselected
    for result in results:
        report.scenarios.append(result)
        if on_result is not None:
            on_result(result)
    return options.fail_fast and (any(r.status in ("failed", "error") for r in results) or bool(errors))
