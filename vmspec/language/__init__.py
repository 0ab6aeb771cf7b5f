"""The .vms language: parse, load (includes, names, kinds) and print specs.

Public API: :func:`load` (a file and its includes -> :class:`Program`), :func:`load_scenarios`
(more scenarios checked in a loaded program's scope), :func:`parse_text`
(text -> :class:`~vmspec.language.ast.SpecFile`), :func:`format_text` and :func:`print_spec`
(canonical text). Every problem with the input is raised as :class:`vmspec.errors.SpecErrors`.
"""

from vmspec.language.loader import load, load_scenarios
from vmspec.language.parser import parse_text
from vmspec.language.program import Program, ResolvedScenario

__all__ = ["load", "load_scenarios", "parse_text", "format_text", "print_spec", "Program", "ResolvedScenario"]


def __getattr__(name: str):
    """Load the printer only for those who print (``vmspec fmt``), not for every check."""
    if name == "format_text":
        from vmspec.language.format import format_text

        return format_text
    if name == "print_spec":
        from vmspec.language.printer import print_spec

        return print_spec
    raise AttributeError(f"module 'vmspec.language' has no attribute {name!r}")
