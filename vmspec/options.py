"""The options every front-end shares, declared once (the xdoctest pattern): the CLI turns them
into flags, the pytest plugin into ``--vmspec-*`` options, and ``[tool.vmspec]`` in
pyproject.toml sets their defaults. Each declaration also says which values are valid, so a bad
``--timeout -1``, ``--vmspec-timeout -1`` or ``timeout = -1`` is refused with the same words.
This module is light on purpose (no pydantic, no lark), so the pytest plugin can import it in
runs that collect no .vms file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_ACCESSES = 50_000_000
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 365 * 86_400  # a year, in seconds; past ~3e9 the OS timer (time_t) overflows
FORMATS = ("text", "json", "junit", "github")
BACKENDS = ("engine", "host")


class OptionError(ValueError):
    """A value an option does not accept; the message names the option and the value. (Not a
    ``vmspec.errors.UsageError``: that module loads pydantic, and this one must stay light.)"""


@dataclass(frozen=True)
class OptionSpec:
    """One option as every front-end sees it."""

    name: str  # CheckOptions field and [tool.vmspec] key
    flag: str  # the CLI flag; the pytest option is --vmspec-<flag without dashes>
    type: Any  # int, float, bool, str or list (a list of strings)
    help: str
    metavar: str | None = None
    minimum: float | None = None  # smallest accepted number
    maximum: float | None = None  # largest accepted number
    choices: tuple[str, ...] | None = None
    pytest: bool = True  # also a --vmspec-* option of the pytest plugin
    cli: bool = True  # also a flag of `vmspec check` (paths are positional there)

    @property
    def pytest_flag(self) -> str:
        return "--vmspec-" + self.flag.lstrip("-")

    def convert(self, value: Any, where: str) -> Any:
        """Return ``value`` checked against this option; raise OptionError naming ``where``."""
        kind = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
                list: "a list of strings"}[self.type]
        ok = {
            int: isinstance(value, int) and not isinstance(value, bool),
            float: isinstance(value, (int, float)) and not isinstance(value, bool),
            bool: isinstance(value, bool),
            str: isinstance(value, str),
            list: isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[self.type]
        if not ok:
            raise OptionError(f"{where} must be {kind}, got {value!r}")
        if self.type is float:
            value = float(value)
            if not math.isfinite(value):
                raise OptionError(f"{where} must be a finite number, got {value!r}")
        if self.type is int and not -(1 << 63) <= value < (1 << 64):
            raise OptionError(f"{where} must fit in 64 bits, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise OptionError(f"{where} must be at least {self.minimum:g}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise OptionError(f"{where} must be at most {self.maximum:,.0f}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise OptionError(f"{where} must be one of {', '.join(self.choices)}, got {value!r}")
        return value


OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("seed", "--seed", int, "override every scenario's seed", "N", minimum=0),
    OptionSpec("max_accesses", "--max-accesses", int,
               f"budget of simulated accesses per scenario [{DEFAULT_MAX_ACCESSES:,}]", "N", minimum=1),
    OptionSpec("timeout", "--timeout", float,
               f"wall-clock seconds per scenario, 0 for none [{DEFAULT_TIMEOUT:g}]", "SECONDS", minimum=0,
               maximum=MAX_TIMEOUT),
    OptionSpec("trace", "--trace", bool, "report every step with what it changed, even on success"),
    OptionSpec("backend", "--backend", str,
               "run scenarios on the reference engine or as real processes on this kernel [engine]",
               "BACKEND", choices=BACKENDS),
    OptionSpec("host_allow", "--host-allow", str,
               "what --backend host may do beyond running processes, comma-separated: hugepages, "
               "readahead, thp, overcommit (change that setting for a scenario, then restore it), "
               "drop_caches (write /proc/sys/vm/drop_caches), meminfo (read free, used, committed on a "
               "quiet machine), memory=FRACTION (cap on the memory a "
               "scenario touches, of MemAvailable) [memory=0.25]", "WHAT"),
    OptionSpec("format", "--format", str, "report format [text]", "FORMAT", choices=FORMATS, pytest=False),
    OptionSpec("jobs", "--jobs", int, "check files in N processes [1]", "N", minimum=1, pytest=False),
    OptionSpec("html", "--html", str, "also write a self-contained HTML report with timelines to FILE "
               "(needs the extra vmspec[html])", "FILE"),
    OptionSpec("paths", "--paths", list, "files and directories checked when none are given [.]",
               pytest=False, cli=False),
)
CHECK_OPTIONS = ("seed", "max_accesses", "timeout", "trace", "backend", "host_allow")  # in CheckOptions
SPECS_BY_NAME = {spec.name: spec for spec in OPTION_SPECS}


def parse_number(spec: OptionSpec, text: str) -> Any:
    """Parse a command-line value of a numeric option (an argparse ``type``)."""
    if spec.type is int and len(text.strip().lstrip("+-").lstrip("0")) > 30:
        raise OptionError(f"{spec.flag} must fit in 64 bits, got {text[:30]!r}...")
    try:
        value = spec.type(text)
    except ValueError:
        raise OptionError(f"{spec.flag} must be {'an integer' if spec.type is int else 'a number'}, "
                          f"got {text!r}") from None
    return spec.convert(value, spec.flag)


def argparse_type(spec: OptionSpec):
    """Return an argparse ``type`` that checks a value against ``spec`` (the CLI and the pytest
    plugin both use it, so both refuse a bad value in the same words)."""
    import argparse

    def convert(text: str):
        try:
            return parse_number(spec, text)
        except OptionError as exc:  # argparse names the flag itself
            raise argparse.ArgumentTypeError(str(exc).removeprefix(spec.flag + " ")) from None

    convert.__name__ = spec.name
    return convert


def read_pyproject(start: str) -> tuple[str | None, dict[str, Any]]:
    """Return the nearest pyproject.toml at or above ``start`` and its ``[tool.vmspec]`` table,
    every key and value checked; raise OptionError naming the file otherwise."""
    import tomllib

    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, "rb") as fh:
                    data = tomllib.load(fh)
            except (OSError, ValueError) as exc:  # ValueError: TOMLDecodeError, UnicodeDecodeError, huge ints
                raise OptionError(f"{candidate}: cannot read [tool.vmspec]: {exc}") from None
            tool = data.get("tool", {})
            table = tool.get("vmspec", {}) if isinstance(tool, dict) else {}
            if not isinstance(table, dict):
                raise OptionError(f"{candidate}: [tool.vmspec] must be a table")
            return candidate, validate_config(table, candidate)
        parent = os.path.dirname(directory)
        if parent == directory:
            return None, {}
        directory = parent


def validate_config(table: dict[str, Any], where: str = "pyproject.toml") -> dict[str, Any]:
    """Check a ``[tool.vmspec]`` table's keys and values; return the accepted values."""
    out = {}
    for key, value in table.items():
        spec = SPECS_BY_NAME.get(key)
        if spec is None:
            known = ", ".join(sorted(SPECS_BY_NAME))
            raise OptionError(f"{where}: [tool.vmspec]: unknown key {key!r}; known: {known}")
        out[key] = spec.convert(value, f"{where}: [tool.vmspec] {key}")
    return out
