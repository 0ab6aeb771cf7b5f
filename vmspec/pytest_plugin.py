"""The pytest plugin (a ``pytest11`` entry point): collect ``*.vms`` files, one item per scenario.

Items are named ``specs/fork.vms::<title>``; a failing scenario's report is the text
``vmspec check`` prints for it without its header line (pytest shows the item's name), built as a
string so that it survives pytest-xdist; its first line, which pytest's short summary shows, is
the first violation; a spec error
is a collection error showing the ``path:line:col`` diagnostic, not a traceback. Only pytest and
the light ``vmspec.options`` load at start-up: lark, pydantic and the engine load when a .vms file
is collected.
"""

from __future__ import annotations

import fnmatch
import os

import pytest

from vmspec.options import OPTION_SPECS, OptionError, argparse_type, read_pyproject

_PYTEST_SPECS = tuple(spec for spec in OPTION_SPECS if spec.pytest)
_HTML_PROPERTY = "vmspec_html_result"
_CONFIG = pytest.StashKey[dict]()  # the checked [tool.vmspec] table
_OPTIONS = pytest.StashKey[object]()  # the CheckOptions, built on first use


def pytest_addoption(parser):
    group = parser.getgroup("vmspec", "vmspec .vms specs")
    for spec in _PYTEST_SPECS:
        if spec.type is bool:
            group.addoption(spec.pytest_flag, dest="vmspec_" + spec.name, action="store_true", default=None,
                            help=spec.help)
        else:
            group.addoption(spec.pytest_flag, dest="vmspec_" + spec.name, type=argparse_type(spec), default=None,
                            metavar=spec.metavar, help=spec.help)
    parser.addini("vmspec_pattern", "glob of files collected as vmspec specs", default="*.vms")


def pytest_configure(config):
    # A bad [tool.vmspec] is a usage error of the whole run, said once (not a traceback per item).
    try:
        config.stash[_CONFIG] = read_pyproject(str(config.rootpath))[1]
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    path = _html_path(config)
    if path is not None and not hasattr(config, "workerinput"):  # the controller writes it
        from vmspec.reporting.html import plotly_js

        try:
            plotly_js()  # refuse before running anything
        except ImportError as exc:
            raise pytest.UsageError(f"--vmspec-html: {exc}") from None
        config.pluginmanager.register(_HtmlReport(path), "vmspec-html")


def pytest_collect_file(file_path, parent):
    pattern = parent.config.getini("vmspec_pattern") or "*.vms"
    if fnmatch.fnmatch(file_path.name, pattern):
        return VmsFile.from_parent(parent, path=file_path)
    return None


def _options(config):
    cached = config.stash.get(_OPTIONS, None)
    if cached is None:
        from vmspec.checker.options import make_options

        table = config.stash.get(_CONFIG, {})
        overrides = {spec.name: config.getoption("vmspec_" + spec.name) for spec in _PYTEST_SPECS}
        if _html_path(config) is not None:
            overrides["record"] = True
        cached = config.stash[_OPTIONS] = make_options(table, overrides)
    return cached


def _html_path(config):
    path = config.getoption("vmspec_html", None)
    return path if path is not None else config.stash.get(_CONFIG, {}).get("html")


class _HtmlReport:
    """--vmspec-html FILE: gathers every scenario's result (sent back from pytest-xdist workers
    as text in the test report's properties) and writes the HTML report at the end."""

    def __init__(self, path):
        self.path = path
        self.results: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        props = report.user_properties
        if any(name == _HTML_PROPERTY for name, _ in props):
            if report.when == "call":  # the teardown report carries the item's properties again
                self.results += [value for name, value in props if name == _HTML_PROPERTY]
            # not a property anyone else should print (junitxml would)
            report.user_properties = [(name, value) for name, value in props if name != _HTML_PROPERTY]

    def pytest_sessionfinish(self, session):
        from vmspec.reporting import html

        html.write(html.report_from_texts(self.results), self.path)


def _display_path(path) -> str:
    text = str(path)
    relative = os.path.relpath(text)
    return text if relative.startswith("..") else relative


class VmsFailure(Exception):
    """A scenario that did not pass; its only argument is the report text."""


class VmsFile(pytest.File):
    """A .vms file: loads it and yields one item per scenario."""

    def collect(self):
        from vmspec.checker.session import file_errors
        from vmspec.errors import SpecErrors, UsageError
        from vmspec.language import load
        from vmspec.reporting.text import error_text

        shown = _display_path(self.path)
        try:
            program = load(shown, str(self.config.rootpath))
        except SpecErrors as errors:
            raise self.CollectError(error_text(file_errors(errors))) from None
        except UsageError as exc:
            raise self.CollectError(str(exc)) from None
        for resolved in program.scenarios:
            yield VmsItem.from_parent(self, name=resolved.scenario.title, program=program,
                                      resolved=resolved, shown=shown)


class VmsItem(pytest.Item):
    """One scenario of a .vms file."""

    def __init__(self, *, program, resolved, shown, **kwargs):
        super().__init__(**kwargs)
        self.program = program
        self.resolved = resolved
        self.shown = shown

    def runtest(self):
        from vmspec.checker.runner import run_scenario
        from vmspec.reporting.text import failure_text

        from vmspec.errors import UsageError

        options = _options(self.config)
        try:
            result = run_scenario(self.program, self.resolved, options, display_path=self.shown)
        except UsageError as exc:  # --vmspec-backend host where it cannot run at all
            raise VmsFailure(f"vmspec: error: {exc}") from None
        if result.recording is not None:  # --vmspec-html: carried to the controller as text
            from vmspec.reporting.html import result_text

            order = (self.shown, self.program.scenarios.index(self.resolved))
            self.user_properties.append((_HTML_PROPERTY, result_text(result, order)))
        if options.trace and result.trace:  # --vmspec-trace: shown with -rA, or below a failure
            from vmspec.reporting.text import trace_lines

            self.add_report_section("call", "vmspec trace", "\n".join(text for text, _ in trace_lines(result)))
        if result.unobservable:  # --vmspec-backend host: expectations it cannot read
            from vmspec.reporting.text import unobservable_lines

            self.add_report_section("call", "vmspec not observable",
                                    "\n".join(text for text, _ in unobservable_lines(result)))
        if result.status == "skipped":
            pytest.skip(f"{result.backend}: {result.skipped}")
        if result.status != "passed":
            raise VmsFailure(failure_text(result))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, VmsFailure):
            return str(excinfo.value.args[0])
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.resolved.scenario.span.line - 1, f"scenario: {self.name}"
