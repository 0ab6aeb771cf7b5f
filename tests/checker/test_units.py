"""Formatting of quantities in reports (issue 5: sizes in the largest exact binary unit, counts
with separators)."""

from fractions import Fraction

from vmspec.checker.values import ANY, COUNT, DURATION, PROCS, RATIO, SIZE, Value
from vmspec.units import format_size


def test_sizes_use_the_largest_exact_binary_unit():
    assert format_size(960 * 1024) == "960KiB"
    assert format_size(1 << 20) == "1MiB"
    assert format_size(1536 * 1024) == "1536KiB"
    assert format_size(4097) == "4097B"
    assert format_size(0) == "0B"
    assert format_size(-64 * 1024) == "-64KiB"
    assert format_size(Fraction(2048, 1)) == "2KiB"


def test_value_formats():
    assert Value(COUNT, 4194304).format() == "4,194,304"
    assert Value(ANY, 0).format() == "0"
    assert Value(DURATION, 1500).format() == "1,500ns"
    assert Value(DURATION, 2_000_000).format() == "2ms"
    assert Value(RATIO, Fraction(95, 100)).format() == "95%"
    assert Value(RATIO, Fraction(1, 3)).format() == "33.33%"
    assert Value(PROCS, ("a", "b")).format() == "[a, b]"
    assert Value(SIZE, 768 * 1024).format() == "768KiB"


def test_durations_for_people():
    from fractions import Fraction

    from vmspec.units import format_duration_human

    cases = {93_451_563: "93.45ms", 1_500_000: "1.5ms", 100_000: "100us", 50_000_000: "50ms",
             3 * 10**9: "3s", 12_345 * 10**9: "12,345s", 0: "0ns", 999: "999ns", -1_500: "-1.5us",
             Fraction(3, 2): "1.5ns"}
    for ns, text in cases.items():
        assert format_duration_human(ns) == text
