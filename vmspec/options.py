"""The options every front-end shares, declared once (the xdoctest pattern): the CLI turns them
into flags, the pytest plugin into ``--vmspec-*`` options, and ``[tool.vmspec]`` in
pyproject.toml sets their defaults. This module is light on purpose (no pydantic, no lark), so
the pytest plugin can import it in runs that collect no .vms file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_ACCESSES = 50_000_000
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class OptionSpec:
    """One option as every front-end sees it."""

    name: str  # CheckOptions field and [tool.vmspec] key
    flag: str  # the CLI flag; the pytest option is --vmspec-<flag without dashes>
    type: Any
    help: str
    metavar: str | None = None


OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("seed", "--seed", int, "override every scenario's seed", "N"),
    OptionSpec("max_accesses", "--max-accesses", int,
               f"budget of simulated accesses per scenario [{DEFAULT_MAX_ACCESSES:,}]", "N"),
    OptionSpec("timeout", "--timeout", float,
               f"wall-clock seconds per scenario, 0 for none [{DEFAULT_TIMEOUT:g}]", "SECONDS"),
    OptionSpec("trace", "--trace", bool, "report every step with what it changed, even on success"),
)
