"""The checker: runs scenarios on the engine, evaluates expectations, returns data (never prints)."""

from vmspec.checker.options import CheckOptions
from vmspec.checker.results import FileError, Report, ScenarioResult, StepRecord, Violation
from vmspec.checker.session import check, check_file, find_specs

__all__ = [
    "CheckOptions", "FileError", "Report", "ScenarioResult", "StepRecord", "Violation",
    "check", "check_file", "find_specs",
]
