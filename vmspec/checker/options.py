"""Options of a check: the pydantic model the runner reads, built from the options declared once
in ``vmspec.options`` (shared by the CLI, the pytest plugin and ``[tool.vmspec]`` in
pyproject.toml, the xdoctest pattern).
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from vmspec.errors import UsageError
from vmspec.options import (
    CHECK_OPTIONS,
    DEFAULT_MAX_ACCESSES,
    DEFAULT_TIMEOUT,
    OPTION_SPECS,
    SPECS_BY_NAME,
    OptionError,
    OptionSpec,
)
from vmspec.options import read_pyproject as _read_pyproject
from vmspec.options import validate_config as _validate_config

__all__ = ["CheckOptions", "OPTION_SPECS", "OptionSpec", "make_options", "read_pyproject", "validate_config"]


class CheckOptions(BaseModel):
    """How to check: seeds, budgets, selection and what to record."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    seed: Optional[int] = None  # overrides every scenario's seed
    max_accesses: int = DEFAULT_MAX_ACCESSES  # simulated accesses per scenario
    timeout: Optional[float] = DEFAULT_TIMEOUT  # wall-clock seconds per scenario
    trace: bool = False  # record every step, not only the last ones before a violation
    trail: int = 5  # how many steps lead up to a violation in its report
    fail_fast: bool = False
    select: Optional[str] = None  # -k expression
    root: Optional[str] = None  # --root as given, for the reproduce command
    record: bool = False  # sample every step's state for a picture (--html, vmspec show)
    backend: str = "engine"  # engine | host
    host_allow: Optional[str] = None  # --host-allow, comma-separated (vmspec.checker.host.session)


def read_pyproject(start: str) -> dict[str, Any]:
    """Return the checked ``[tool.vmspec]`` table of the nearest pyproject.toml at or above
    ``start``; raise UsageError for a file or value that cannot be used."""
    try:
        return _read_pyproject(start)[1]
    except OptionError as exc:
        raise UsageError(str(exc)) from None


def validate_config(table: dict[str, Any]) -> dict[str, Any]:
    """Check a ``[tool.vmspec]`` table's keys and values (raise UsageError); return them."""
    try:
        return _validate_config(table)
    except OptionError as exc:
        raise UsageError(str(exc)) from None


def make_options(config: dict[str, Any], overrides: dict[str, Any]) -> CheckOptions:
    """Merge pyproject settings and command-line overrides (None means not given); every value
    is checked against its declaration (raise UsageError)."""
    values: dict[str, Any] = {}
    for name in CHECK_OPTIONS:
        if name in config:
            values[name] = config[name]
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    try:
        for name in CHECK_OPTIONS:
            if name in values:
                spec = SPECS_BY_NAME[name]
                values[name] = spec.convert(values[name], spec.flag)
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    if values.get("timeout") == 0:
        values["timeout"] = None
    if values.get("host_allow"):
        from vmspec.checker.host.session import parse_allow

        try:
            parse_allow([values["host_allow"]])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return CheckOptions.model_construct(**values)  # checked above, each by its declaration
