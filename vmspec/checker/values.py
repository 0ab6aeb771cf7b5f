"""Values of the expression language: exact quantities with a kind, and their formatting.

A value is a :class:`Value` (kind + payload). Sizes are bytes, durations nanoseconds, counts and
ratios exact integers or :class:`fractions.Fraction` (docs/language.md: "Arithmetic is exact"). The
kinds and their rules are docs/language.md's Expressions section; the static checker in
``vmspec.language.kinds`` rejects mixed kinds before anything runs, so here a mismatch is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from vmspec.units import format_count, format_duration, format_ratio, format_size

SIZE, COUNT, DURATION, RATIO, BOOL, STATUS, VIA, PROCS, ANY = (
    "Size", "Count", "Duration", "Ratio", "Boolean", "Status", "Via", "Processes", "Any",
)

Payload = Union[int, Fraction, bool, str, tuple]


@dataclass(frozen=True, slots=True)
class Value:
    """A typed value. ``ANY`` is the literal ``0``, which fits every numeric kind."""

    kind: str
    v: Payload

    def format(self) -> str:
        """Format for reports: sizes in the largest exact binary unit, counts with separators."""
        if self.kind == SIZE:
            return format_size(self.v)
        if self.kind == DURATION:
            return format_duration(self.v)
        if self.kind == RATIO:
            return format_ratio(Fraction(self.v))
        if self.kind in (COUNT, ANY):
            return format_count(self.v)
        if self.kind == BOOL:
            return "true" if self.v else "false"
        if self.kind == PROCS:
            return "[" + ", ".join(self.v) + "]"
        return str(self.v)
