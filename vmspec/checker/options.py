"""Options of a check, declared once and shared by the CLI, the pytest plugin and
``[tool.vmspec]`` in pyproject.toml (the xdoctest pattern: one table, several front-ends).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from vmspec.errors import UsageError
from vmspec.options import DEFAULT_MAX_ACCESSES, DEFAULT_TIMEOUT, OPTION_SPECS, OptionSpec

__all__ = ["CheckOptions", "OPTION_SPECS", "OptionSpec", "make_options", "read_pyproject", "validate_config"]


class CheckOptions(BaseModel):
    """How to check: seeds, budgets, selection and what to record."""

    model_config = ConfigDict(frozen=True)

    seed: Optional[int] = None  # overrides every scenario's seed
    max_accesses: int = DEFAULT_MAX_ACCESSES  # simulated accesses per scenario
    timeout: Optional[float] = DEFAULT_TIMEOUT  # wall-clock seconds per scenario
    trace: bool = False  # record every step, not only the last ones before a violation
    trail: int = 5  # how many steps lead up to a violation in its report
    fail_fast: bool = False
    select: Optional[str] = None  # -k expression


def read_pyproject(start: str) -> dict[str, Any]:
    """Return the ``[tool.vmspec]`` table of the nearest pyproject.toml at or above ``start``."""
    import tomllib

    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, "rb") as fh:
                    data = tomllib.load(fh)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise UsageError(f"{candidate}: cannot read [tool.vmspec]: {exc}") from None
            table = data.get("tool", {}).get("vmspec", {})
            if not isinstance(table, dict):
                raise UsageError(f"{candidate}: [tool.vmspec] must be a table")
            return table
        parent = os.path.dirname(directory)
        if parent == directory:
            return {}
        directory = parent


CONFIG_KEYS = {spec.name for spec in OPTION_SPECS} | {"paths", "format", "jobs"}


def validate_config(table: dict[str, Any]) -> dict[str, Any]:
    """Check a ``[tool.vmspec]`` table's keys and value types; return it unchanged."""
    for key, value in table.items():
        if key not in CONFIG_KEYS:
            raise UsageError(f"[tool.vmspec]: unknown key {key!r}; known: {', '.join(sorted(CONFIG_KEYS))}")
        spec = next((s for s in OPTION_SPECS if s.name == key), None)
        if spec is not None and spec.type in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UsageError(f"[tool.vmspec]: {key} must be a number, got {value!r}")
    return table


def make_options(config: dict[str, Any], overrides: dict[str, Any]) -> CheckOptions:
    """Merge pyproject settings and command-line overrides (None means not given)."""
    values: dict[str, Any] = {}
    for spec in OPTION_SPECS:
        if spec.name in config:
            values[spec.name] = config[spec.name]
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    if values.get("timeout") == 0:
        values["timeout"] = None
    return CheckOptions(**values)
