"""Quantities of the .vms language: sizes, durations, counts and ratios.

Sizes are whole bytes (``int``) once the machine's page size is known; ``B``, ``KiB`` ... ``PiB``
are powers of 1024 and ``KB`` ... ``TB`` powers of 1000 (docs/language.md, Lexical rules). Durations are
whole nanoseconds. Ratios are exact :class:`fractions.Fraction` values. This module only converts
and formats; it knows nothing of the engine or of the grammar.
"""

from __future__ import annotations

from fractions import Fraction

BINARY_UNITS: dict[str, int] = {
    "B": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
    "PiB": 1 << 50,
}
DECIMAL_UNITS: dict[str, int] = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
PAGE_UNITS = ("page", "pages")
SIZE_UNITS: tuple[str, ...] = (*BINARY_UNITS, *DECIMAL_UNITS, *PAGE_UNITS)
DURATION_UNITS: dict[str, int] = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

U64_MAX = (1 << 64) - 1
TOO_LARGE = 1 << 80
"""What :func:`parse_integer` returns for digits far beyond 64 bits (any value above U64_MAX would do)."""
_MAX_DIGITS = 24  # a 64-bit value has at most 20 decimal or 16 hex digits, leading zeros aside


def parse_integer(text: str) -> int:
    """Read an integer as the language writes it (``4096``, ``1_000``, ``0x7f00``, ``007``).

    Leading zeros are dropped first, and digits far beyond 64 bits give :data:`TOO_LARGE` instead
    of their value, so a 10,000-digit literal costs nothing and never meets Python's limit on
    converting long digit strings (4,300 digits); callers report it as too large."""
    digits = text.replace("_", "")
    base = 10
    if digits[:2] in ("0x", "0X"):
        digits, base = digits[2:], 16
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return TOO_LARGE
    return int(digits, base)


def size_bytes(amount: int, unit: str, page_size: int) -> int:
    """Convert ``amount unit`` to bytes, using ``page_size`` for ``page``/``pages``."""
    if unit in PAGE_UNITS:
        return amount * page_size
    if unit in BINARY_UNITS:
        return amount * BINARY_UNITS[unit]
    return amount * DECIMAL_UNITS[unit]


def duration_ns(amount: int, unit: str) -> int:
    """Convert ``amount unit`` to nanoseconds."""
    return amount * DURATION_UNITS[unit]


def format_count(value: int | Fraction) -> str:
    """Format a count with thousands separators (``4,194,304``)."""
    if isinstance(value, Fraction) and value.denominator != 1:
        return _format_fraction(value)
    return f"{int(value):,}"


def format_size(value: int | Fraction) -> str:
    """Format bytes in the largest binary unit that divides them exactly (``960KiB``)."""
    if isinstance(value, Fraction):
        if value.denominator != 1:
            return _format_fraction(value) + "B"
        value = int(value)
    if value == 0:
        return "0B"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for unit, factor in reversed(BINARY_UNITS.items()):
        if magnitude % factor == 0:
            return f"{sign}{magnitude // factor}{unit}"
    return f"{sign}{magnitude}B"  # pragma: no cover - B always divides


def format_duration(value: int | Fraction) -> str:
    """Format nanoseconds in the largest unit that divides them exactly (``1500us``)."""
    if isinstance(value, Fraction):
        if value.denominator != 1:
            return _format_fraction(value) + "ns"
        value = int(value)
    if value == 0:
        return "0ns"
    for unit, factor in reversed(DURATION_UNITS.items()):
        if value % factor == 0:
            return f"{value // factor:,}{unit}"
    return f"{value:,}ns"  # pragma: no cover


def format_duration_human(ns: int | Fraction) -> str:
    """Format nanoseconds for people: four significant digits in the largest unit that keeps the
    number at least 1 (``93.45ms`` for 93,451,563 ns, ``1.5ms``, ``100us``, ``12,345s``); exact
    figures are ``format_duration``'s."""
    if ns == 0:
        return "0ns"
    sign = "-" if ns < 0 else ""
    magnitude = abs(Fraction(ns))
    for unit, factor in (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)):
        if magnitude >= factor or unit == "ns":
            break
    value = float(magnitude / factor)
    if value >= 1000:
        return f"{sign}{value:,.0f}{unit}"
    return f"{sign}{value:.4g}{unit}"


def format_ratio(value: Fraction) -> str:
    """Format a ratio as a percentage, exactly when it is a whole or short decimal (``95%``)."""
    pct = value * 100
    if pct.denominator == 1:
        return f"{pct.numerator}%"
    return f"{float(pct):.4g}%"


def _format_fraction(value: Fraction) -> str:
    return f"{float(value):.6g}"
