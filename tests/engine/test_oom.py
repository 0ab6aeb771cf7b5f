"""OOM badness, selection, oom_score and oom_adj conversions against mm/oom_kill.c and
fs/proc/base.c."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmspec.engine.oom import (
    badness,
    c_div,
    check_score_adj,
    oom_adj_to_score_adj,
    oom_score,
    score_adj_to_oom_adj,
    select_victim,
)

TOTALPAGES = 6171021  # MemTotal 24684084 kB / 4, no swap (the measured machine)
SLEEP_RSS = 256  # a `sleep` process: about 1 MiB resident


@pytest.mark.parametrize(
    "a, b, q",
    [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (0, 5, 0), (-1, 3, 0), (-16000, 17, -941),
     (-941 * 17, 1000, -15)],
)
def test_c_div_truncates_toward_zero(a: int, b: int, q: int) -> None:
    assert c_div(a, b) == q


@given(st.integers(-10**30, 10**30), st.integers(-10**12, 10**12).filter(bool))
def test_c_div_matches_c_semantics(a: int, b: int) -> None:
    """C99's signed division: the exact quotient truncated toward zero (6.5.5), computed here
    independently of c_div's own arithmetic."""
    assert c_div(a, b) == math.trunc(Fraction(a, b))


def test_c_div_by_zero() -> None:
    with pytest.raises(ZeroDivisionError):
        c_div(1, 0)


def test_badness_formula() -> None:
    # 8.1: rss + swap + pgtables/PAGE_SIZE + adj * (totalpages / 1000).
    assert badness(100, 20, 3 * 4096 + 100, 0, TOTALPAGES) == 123
    assert badness(100, 0, 0, 500, TOTALPAGES) == 100 + 500 * 6171
    assert badness(100, 0, 0, -999, TOTALPAGES) == 100 - 999 * 6171  # may be negative
    assert badness(100, 0, 0, 10, 999) == 100  # totalpages/1000 is 0 first
    assert badness(10**6, 0, 0, -1000, TOTALPAGES) is None


# Measured: VmRSS kB, adj -> measured oom_score (VmPTE/Swap not in the table: 0 here).
@pytest.mark.parametrize(
    "rss_kb, adj, score",
    [(14288, 0, 666), (14288, 500, 1000), (1062864, 0, 695), (1062864, 500, 1028),
     (4208592, 0, 780), (4208592, 500, 1113)],
)
def test_oomprobe_table(rss_kb: int, adj: int, score: int) -> None:
    assert oom_score(badness(rss_kb // 4, 0, 0, adj, TOTALPAGES), TOTALPAGES) == score


# A fresh `sleep` process with oom_score_adj written (measured).
@pytest.mark.parametrize(
    "adj, score",
    [(0, 666), (1, 667), (58, 705), (59, 706), (117, 744), (941, 1294), (999, 1332),
     (1000, 1333)],
)
def test_sleep_adj_rows(adj: int, score: int) -> None:
    assert oom_score(badness(SLEEP_RSS, 0, 0, adj, TOTALPAGES), TOTALPAGES) == score


def test_oom_score_of_unkillable_and_empty() -> None:
    assert oom_score(None, TOTALPAGES) == 0  # PID 1, kthreadd, adj -1000
    assert oom_score(0, TOTALPAGES) == 666  # no memory, adj 0


def test_oom_score_negative_badness_truncates_toward_zero() -> None:
    # b = 3572 - 500 * 6171 = -3081928; b*1000/t = -499.4 -> C gives -499 (floor would be -500).
    b = badness(3572, 0, 0, -500, TOTALPAGES)
    assert b == -3081928
    assert oom_score(b, TOTALPAGES) == (1000 - 499) * 2 // 3 == 334
    # b = -999 * 6171; b*1000/t = -998.99 -> -998 in C: (1000 - 998) * 2 / 3 = 1 (floor: 0).
    assert oom_score(badness(0, 0, 0, -999, TOTALPAGES), TOTALPAGES) == 1


def test_select_victim_highest_wins() -> None:
    assert select_victim([("a", 10), ("b", 30), ("c", 20)]) == "b"


def test_select_victim_tie_goes_to_later_task() -> None:
    assert select_victim([("old", 50), ("young", 50), ("small", 1)]) == "young"


def test_select_victim_skips_unkillable_and_handles_negative() -> None:
    assert select_victim([("init", None), ("a", -5000), ("b", -4000)]) == "b"
    assert select_victim([("init", None), ("daemon", None)]) is None
    assert select_victim([]) is None


# 9.2: oom_adj written -> oom_score_adj stored -> oom_adj read back.
@pytest.mark.parametrize(
    "written, stored, read",
    [(-17, -1000, -17), (-16, -941, -15), (-15, -882, -14), (-10, -588, -9), (-1, -58, 0),
     (0, 0, 0), (1, 58, 0), (2, 117, 1), (5, 294, 4), (8, 470, 7), (10, 588, 9), (14, 823, 13),
     (15, 1000, 15)],
)
def test_oom_adj_table(written: int, stored: int, read: int) -> None:
    assert oom_adj_to_score_adj(written) == stored
    assert score_adj_to_oom_adj(stored) == read


def test_every_oom_adj_reads_back_one_toward_zero() -> None:
    # 9.2 says "written+1 (toward 0)"; for positive values toward 0 is written-1 (1 -> 0, 14 -> 13).
    for a in range(-16, 15):
        expected = a - (a > 0) + (a < 0)
        assert score_adj_to_oom_adj(oom_adj_to_score_adj(a)) == expected


# 9.2: oom_score_adj written -> oom_adj read (measured and derived rows).
@pytest.mark.parametrize(
    "score_adj, oom_adj",
    [(0, 0), (1, 0), (58, 0), (59, 1), (117, 1), (118, 2), (500, 8), (941, 15), (999, 15),
     (1000, 15), (-1000, -17), (-999, -16), (-942, -16), (-941, -15), (-59, -1), (-58, 0)],
)
def test_score_adj_to_oom_adj(score_adj: int, oom_adj: int) -> None:
    assert score_adj_to_oom_adj(score_adj) == oom_adj


@pytest.mark.parametrize("value", [-18, 16, -100, 100])
def test_oom_adj_einval(value: int) -> None:
    with pytest.raises(ValueError, match="EINVAL"):
        oom_adj_to_score_adj(value)


@pytest.mark.parametrize("value", [1001, -1001])
def test_oom_score_adj_einval(value: int) -> None:
    with pytest.raises(ValueError, match="EINVAL"):
        check_score_adj(value)
    with pytest.raises(ValueError):
        score_adj_to_oom_adj(value)


@pytest.mark.parametrize("value", [-1000, -1, 0, 1000])
def test_check_score_adj_accepts_range(value: int) -> None:
    assert check_score_adj(value) == value
