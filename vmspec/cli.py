"""The ``vmspec`` command line: argument parsing and output streams only, no logic.

``vmspec check`` runs specs (reports to stdout, diagnostics to stderr), ``vmspec explore``
searches for scenarios breaking a file's invariants (the spec replaying them to stdout or
``--output``, the report to stderr), ``vmspec fmt`` rewrites files canonically. Exit codes: 0 ok,
1 violations (or files ``fmt --check`` would change), 2 usage or spec errors, 5 nothing collected
or selected (as pytest), 130 interrupted. Heavy modules load only after parsing the arguments,
so ``vmspec --version`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from vmspec import __version__


def _parser() -> argparse.ArgumentParser:
    from vmspec.options import OPTION_SPECS, argparse_type

    parser = argparse.ArgumentParser(
        prog="vmspec",
        description="Check .vms memory-management specs against vmspec's reference Linux MM engine.",
    )
    parser.add_argument("--version", action="version", version=f"vmspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="run the scenarios of .vms files")
    check.add_argument("paths", nargs="*", metavar="PATH", help="files, directories or FILE::TITLE [.]")
    check.add_argument("--root", metavar="DIR", help="directory that includes and replays may not leave")
    check.add_argument("-k", dest="select", metavar="EXPR", help="select scenarios by title (and/or/not)")
    check.add_argument("-x", "--exitfirst", dest="fail_fast", action="store_true", default=None,
                       help="stop at the first failing scenario")
    check.add_argument("-q", "--quiet", action="count", default=0, help="less output")
    check.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    check.add_argument("--collect-only", action="store_true", help="parse and check statically; list scenarios")
    for spec in OPTION_SPECS:
        if not spec.cli:
            continue
        flags = ["-j", spec.flag] if spec.name == "jobs" else [spec.flag]
        if spec.type is bool:
            check.add_argument(*flags, dest=spec.name, action="store_true", default=None, help=spec.help)
        elif spec.choices:
            check.add_argument(*flags, dest=spec.name, choices=spec.choices, default=None, help=spec.help)
        else:
            check.add_argument(*flags, dest=spec.name, type=argparse_type(spec), default=None,
                               metavar=spec.metavar, help=spec.help)

    explore = sub.add_parser(
        "explore", help="search for scenarios that break a file's invariants",
        description="Search for scenarios that break FILE's invariants and shrink each to a minimal one. "
                    "The spec replaying them goes to stdout (or --output); the report goes to stderr. "
                    "Exit 1 if an invariant broke, 0 if none did, 2 on errors (or an invariant the "
                    "search could not reach).")
    explore.add_argument("path", metavar="FILE", help="a .vms file with at least one invariant")
    explore.add_argument("--machine", metavar="NAME", help="the machine to explore on [the only one]")
    explore.add_argument("--invariant", metavar="LABEL", help="break only the invariant with this label [all]")
    explore.add_argument("--max-examples", type=int, default=200, metavar="N",
                         help="scenarios to try per search before giving up [200]")
    explore.add_argument("--max-steps", type=int, default=12, metavar="N",
                         help="steps to draw per scenario, after a prefix from the file's scenarios [12]")
    explore.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (search i of -j uses N+i) [0]")
    explore.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                         help="wall-clock limit of the whole exploration [none]")
    explore.add_argument("--max-accesses", type=int, default=1_000_000, metavar="N",
                         help="budget of simulated accesses per scenario [1,000,000]")
    explore.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                         help="run N independent searches in N processes; keep the smallest scenarios [1]")
    explore.add_argument("-o", "--output", metavar="FILE", help="write the spec replaying the breaks to FILE")
    explore.add_argument("--format", choices=("text", "json"), default="text",
                         help="stdout: the spec (text) or the whole result (json) [text]")
    explore.add_argument("--root", metavar="DIR", help="directory that includes may not leave")

    show = sub.add_parser("show", help="print a scenario's memory state after every step (or one)")
    show.add_argument("target", metavar="FILE::TITLE", help="the scenario (a parametrised one: title[name=value])")
    show.add_argument("--step", type=int, metavar="N", help="only the state after step N (1 = the first)")
    show.add_argument("--root", metavar="DIR", help="directory that includes and replays may not leave")
    show.add_argument("--seed", type=int, metavar="N", help="override the scenario's seed")
    diff = sub.add_parser("diff", help="run scenarios on the engine and on this kernel, report what differs")
    diff.add_argument("paths", nargs="*", metavar="PATH", help="files, directories or FILE::TITLE [.]")
    diff.add_argument("--root", metavar="DIR", help="directory that includes and replays may not leave")
    diff.add_argument("-k", dest="select", metavar="EXPR", help="select scenarios by title (and/or/not)")
    diff.add_argument("--format", choices=("text", "json"), default="text", help="report format [text]")
    diff.add_argument("--host-allow", dest="host_allow", metavar="WHAT",
                      help="as for vmspec check --backend host")
    diff.add_argument("--strict", action="store_true",
                      help="exit 1 on any difference, even one docs/engine.md explains")
    diff.add_argument("-q", "--quiet", action="count", default=0, help="leave out explained differences")
    diff.add_argument("-v", "--verbose", action="count", default=0, help="also list scenarios that agree")

    fmt = sub.add_parser("fmt", help="rewrite .vms files in canonical form")
    fmt.add_argument("paths", nargs="*", metavar="PATH", help="files or directories [.]")
    fmt.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    fmt.add_argument("--diff", action="store_true",
                     help="write nothing; print what would change as a unified diff (exit 1 if any)")
    return parser


def _fail_usage(message: str) -> int:
    sys.stderr.write(f"vmspec: error: {message}\n")
    return 2


def _collect(args, paths: list[str]) -> int:
    from vmspec.checker.select import compile_k
    from vmspec.checker.session import check_root, file_errors, find_targets
    from vmspec.errors import SpecErrors
    from vmspec.language import load
    from vmspec.reporting.text import error_text, printable

    predicate = compile_k(args.select) if args.select else None
    check_root(args.root)
    status = 0
    lines = []
    for path, title, root in find_targets(paths, args.root):
        try:
            program = load(path, root)
        except SpecErrors as errors:
            sys.stderr.write(error_text(file_errors(errors)) + "\n")
            status = 2
            continue
        for resolved in program.scenarios:
            sc = resolved.scenario
            if (title is None or sc.title == title) and (predicate is None or predicate(sc.title)):
                lines.append(printable(f"{path}:{sc.span.line}: {path}::{sc.title}"))
    sys.stdout.write("".join(line + "\n" for line in lines))
    if status == 0 and not lines:
        sys.stderr.write("vmspec: no scenario was collected or selected\n")
        return 5
    return status


def _check(args) -> int:
    from vmspec.checker import check
    from vmspec.checker.options import make_options
    from vmspec.errors import UsageError
    from vmspec.options import OptionError, read_pyproject
    from vmspec.reporting import text

    try:
        pyproject, config = read_pyproject(os.getcwd())
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    overrides = {name: getattr(args, name, None) for name in ("seed", "max_accesses", "timeout", "trace", "fail_fast", "select")}
    overrides.update({name: getattr(args, name, None) for name in ("backend", "host_allow")})
    overrides["root"] = args.root
    html_path = args.html if args.html is not None else config.get("html")
    if html_path is not None:
        from vmspec.reporting.html import plotly_js

        try:
            plotly_js()  # refuse before running anything
        except ImportError as exc:
            raise UsageError(f"--html: {exc}") from None
        overrides["record"] = True
    options = make_options(config, overrides)
    # [tool.vmspec] paths are relative to the pyproject.toml that names them
    base = os.path.dirname(pyproject) if pyproject else "."
    paths = args.paths or [os.path.relpath(os.path.join(base, p)) for p in config.get("paths", [])] or ["."]
    if args.collect_only:
        return _collect(args, paths)
    fmt = args.format or config.get("format", "text")
    jobs = args.jobs if args.jobs is not None else config.get("jobs", 1)
    verbosity = args.verbose - args.quiet
    if fmt == "text" and verbosity >= 0 and sys.stderr.isatty():
        from vmspec.reporting.console import progress_bar

        with progress_bar(sys.stderr) as on_progress:
            report = check(paths, options, root=args.root, jobs=jobs, on_progress=on_progress)
    else:
        report = check(paths, options, root=args.root, jobs=jobs)
    if report.errors:
        sys.stderr.write(text.error_text(report.errors) + "\n")
    if html_path is not None:
        from vmspec.reporting import html

        try:
            html.write(report, html_path)
        except OSError as exc:
            raise UsageError(f"--html: cannot write {html_path}: {exc.strerror or exc}") from None
    if fmt == "json":
        from vmspec.reporting import json as json_report

        sys.stdout.write(json_report.render(report))
    elif fmt == "junit":
        from vmspec.reporting import junit

        sys.stdout.write(junit.render(report))
    elif fmt == "github":
        from vmspec.reporting import github

        sys.stdout.write(github.render(report))
    else:
        from vmspec.reporting.console import write_lines

        write_lines(text.report_lines(report, verbosity, trace=options.trace), sys.stdout)
    code = report.exit_code()
    if code == 5:
        why = f"-k {options.select!r} selected none of {report.deselected}" if report.deselected else \
            "no scenario was found in " + ", ".join(paths)
        sys.stderr.write(f"vmspec: nothing was checked: {why}\n")
    return code


def _explore(args) -> int:
    import contextlib

    from vmspec.checker.explore import explore
    from vmspec.checker.found import verify_replay
    from vmspec.checker.session import file_errors
    from vmspec.errors import SpecErrors
    from vmspec.language import load
    from vmspec.reporting.console import write_lines
    from vmspec.reporting.explore import progress_line, render_json, summary_lines
    from vmspec.reporting.text import error_text

    if args.max_examples < 1 or args.max_steps < 1 or args.jobs < 1 or args.max_accesses < 1:
        return _fail_usage("--max-examples, --max-steps, --max-accesses and -j need at least 1")
    if args.timeout is not None and args.timeout < 0:
        return _fail_usage("--timeout needs a number of seconds >= 0 (0: none)")
    if args.output and not os.path.isdir(os.path.dirname(args.output) or "."):
        return _fail_usage(f"cannot write {args.output}: no such directory")
    from vmspec.checker.session import check_root

    check_root(args.root)
    try:
        program = load(args.path, args.root)
    except SpecErrors as errors:
        sys.stderr.write(error_text(file_errors(errors)) + "\n")
        return 2
    show = sys.stderr.isatty()
    with (progress_line(sys.stderr, args.max_examples * args.jobs) if show else contextlib.nullcontext()) as progress:
        result = explore(program, args.machine, invariant=args.invariant, max_examples=args.max_examples,
                         max_steps=args.max_steps, seed=args.seed, jobs=args.jobs, timeout=args.timeout or None,
                         max_accesses=args.max_accesses, root=args.root, output=args.output, on_progress=progress)
    written, replay = None, None
    if args.output and result.spec:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(result.spec)
        except OSError as exc:
            return _fail_usage(f"cannot write {args.output}: {exc.strerror}")
        written = args.output
        replay = verify_replay(args.output, args.root)
    if args.format == "json":
        sys.stdout.write(render_json(result))
    elif not args.output:
        sys.stdout.write(result.spec)
    sys.stdout.flush()
    write_lines(summary_lines(result, written, replay), sys.stderr)
    return result.exit_code()


def _show(args) -> int:
    from vmspec.checker.session import file_errors
    from vmspec.checker.show import show_scenario
    from vmspec.errors import SpecErrors
    from vmspec.reporting.show import write_states
    from vmspec.reporting.text import error_text

    try:
        result = show_scenario(args.target, args.step, args.root, args.seed)
    except SpecErrors as errors:
        sys.stderr.write(error_text(file_errors(errors)) + "\n")
        return 2
    write_states(f"{result.file}::{result.title}  ({result.status})", result.recording, sys.stdout)
    return 0 if result.status == "passed" else 1 if result.status == "failed" else 2


def _diff(args) -> int:
    from vmspec.checker.diff import diff
    from vmspec.checker.options import make_options
    from vmspec.reporting import diff as diff_report
    from vmspec.reporting.text import error_text

    options = make_options({}, {"select": args.select, "root": args.root, "host_allow": args.host_allow})
    report = diff(args.paths or ["."], options, root=args.root)
    if report.errors:
        sys.stderr.write(error_text(report.errors) + "\n")
    if args.format == "json":
        sys.stdout.write(diff_report.render_json(report))
    else:
        from vmspec.reporting.console import write_lines

        write_lines(diff_report.text_lines(report, args.verbose - args.quiet), sys.stdout)
    return report.exit_code(strict=args.strict)


def _fmt(args) -> int:
    import difflib

    from vmspec.checker.session import file_errors, find_targets
    from vmspec.errors import SpecErrors
    from vmspec.language.format import format_file, write_formatted
    from vmspec.reporting.text import error_text, printable

    status = 0
    targets = find_targets(args.paths or ["."])
    if not targets:
        sys.stderr.write(printable("vmspec: no .vms file found in " + ", ".join(args.paths or ["."])) + "\n")
    for path, _, root in targets:
        try:
            result = format_file(path, root)
        except SpecErrors as errors:
            sys.stderr.write(error_text(file_errors(errors)) + "\n")
            status = 2
            continue
        if not result.changed:
            continue
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                result.original.splitlines(keepends=True), result.formatted.splitlines(keepends=True),
                fromfile=path, tofile=path))
            status = max(status, 1)
        elif args.check:
            sys.stdout.write(printable(f"would reformat {path}") + "\n")
            status = max(status, 1)
        else:
            write_formatted(result)
            sys.stdout.write(printable(f"reformatted {path}") + "\n")
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:  # Ctrl-C at any moment, even while the parser is built or a module imported: 130
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("vmspec: interrupted\n")
        return 130


def _main(argv: list[str] | None) -> int:
    _tolerant_streams()
    parser = _parser()
    # argparse stops a `nargs="*"` positional at the first option; let paths come after options
    # too (`vmspec check a.vms -j 2 b.vms`), as pytest does
    args, extra = parser.parse_known_args(argv)
    if extra and (args.command not in ("check", "fmt", "diff") or any(e.startswith("-") for e in extra)):
        parser.parse_args(argv)  # reports the unrecognised arguments and exits 2
    args.paths = getattr(args, "paths", None) or []
    args.paths += extra
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from vmspec.errors import UsageError

    try:
        if args.command == "check":
            return _check(args)
        if args.command == "explore":
            return _explore(args)
        if args.command == "show":
            return _show(args)
        if args.command == "diff":
            return _diff(args)
        return _fmt(args)
    except UsageError as exc:
        from vmspec.reporting.text import printable

        return _fail_usage(printable(str(exc)))
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in vmspec: say so plainly, keep the traceback for VMSPEC_DEBUG
        if os.environ.get("VMSPEC_DEBUG"):
            raise
        sys.stderr.write(
            f"vmspec: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in vmspec; rerun with VMSPEC_DEBUG=1 to see where, and please report it.\n"
        )
        return 3


def _tolerant_streams() -> None:
    """Let stdout and stderr write any text: a character their encoding cannot hold (a byte of a
    non-UTF-8 file name that no report escaped, with PYTHONIOENCODING=utf-8) comes out as a
    backslash escape instead of ending the run with an internal error."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # not a text file of the io module
            pass


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
