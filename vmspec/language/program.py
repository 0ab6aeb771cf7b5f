"""What :func:`vmspec.language.load` returns: one spec file with everything it can see, resolved.

A :class:`Program` is the unit the checker runs. Machines are already flattened through ``extends``
(the child's lines replace the parent's line of the same setting; ``hugepages`` lines are kept one
per page size), every name a scenario uses has been checked, and each scenario carries the machine
it runs on. There is no Linux counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmspec.language import ast


@dataclass(frozen=True)
class ResolvedScenario:
    """A scenario of the loaded file and the (flattened) machine it runs on."""

    scenario: ast.Scenario
    machine: ast.Machine
    params: tuple[tuple[str, str], ...] = ()  # an instance of a parametrised scenario: (name, value)
    template: str = ""  # ... and the scenario's title as written, without the values


@dataclass(frozen=True)
class Program:
    """A loaded spec file: its AST, what is in scope (own and included), and its scenarios.

    ``path`` is the path as given to :func:`~vmspec.language.load`; ``sources`` maps every file
    path that a span can name (the file and its includes, as spans spell them) to its text;
    ``root`` is the directory that includes and replays may not leave (a replay's trace is read
    when its scenario runs, and confined again then).
    """

    path: str
    spec: ast.SpecFile
    machines: dict[str, ast.Machine] = field(default_factory=dict)
    images: dict[str, ast.Image] = field(default_factory=dict)
    files: tuple[ast.FileDecl, ...] = ()
    invariants: tuple[ast.Invariant, ...] = ()
    scenarios: tuple[ResolvedScenario, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    root: str = ""

    __hash__ = None  # type: ignore[assignment]  # holds dicts
