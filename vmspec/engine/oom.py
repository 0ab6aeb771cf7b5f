"""The OOM killer's arithmetic: badness, victim selection, ``/proc/PID/oom_score`` and the
``oom_adj`` <-> ``oom_score_adj`` conversions, as Linux 6.18 computes them.

Counterparts: ``mm/oom_kill.c`` (``oom_badness``, ``oom_evaluate_task``, ``select_bad_process``),
``fs/proc/base.c`` (``proc_oom_score``, ``oom_adj_write``, ``oom_adj_read``,
``oom_score_adj_write``). Every division is C's, truncating toward zero (:func:`c_div`). When an
OOM happens and the kill itself belong to ``vmspec.engine.page_alloc`` and the facade. Rules:
docs/engine.md, "OOM".

Not modelled: unkillable tasks other than ``oom_score_adj == -1000`` (init, kernel threads, a
reaped mm, vfork), the wait for a victim already dying, ``oom_task_origin``, cpuset/mempolicy
constraints, permissions (CAP_SYS_RESOURCE), the formulas of older kernels.
"""

from __future__ import annotations

OOM_SCORE_ADJ_MIN = -1000
OOM_SCORE_ADJ_MAX = 1000
OOM_DISABLE = -17
OOM_ADJUST_MIN = -16
OOM_ADJUST_MAX = 15


def c_div(a: int, b: int) -> int:
    """Divide as C does for signed integers: the quotient truncated toward zero."""
    if b == 0:
        raise ZeroDivisionError("c_div by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def badness(rss_pages: int, swap_pages: int, pgtables_bytes: int, oom_score_adj: int,
            totalpages: int, page_size: int = 4096) -> int | None:
    """Return ``oom_badness()`` in pages, or None for an unkillable task (adj -1000).

    ``points = rss + swapents + pgtables_bytes / PAGE_SIZE + adj * (totalpages / 1000)``, the
    adjustment scaled with the integer division first; the result can be negative.
    """
    if oom_score_adj == OOM_SCORE_ADJ_MIN:
        return None
    points = rss_pages + swap_pages + c_div(pgtables_bytes, page_size)
    return points + oom_score_adj * c_div(totalpages, 1000)


def oom_score(badness_value: int | None, totalpages: int) -> int:
    """Return what ``/proc/PID/oom_score`` shows: ``(1000 + b*1000/totalpages) * 2/3``.

    0 for an unkillable task. Signed C division: a negative badness rounds toward zero.
    """
    if badness_value is None:
        return 0
    return c_div((1000 + c_div(badness_value * 1000, totalpages)) * 2, 3)


def select_victim(candidates: list[tuple[str, int | None]]) -> str | None:
    """Return the name of the task the OOM killer picks, or None if none is killable.

    ``candidates`` are ``(name, badness)`` in process-list order (oldest first). The highest
    badness wins and a tie goes to the later task, because ``oom_evaluate_task`` skips a task
    only when ``points < chosen_points``.
    """
    chosen: str | None = None
    chosen_points = 0
    for name, points in candidates:
        if points is None:
            continue
        if chosen is None or points >= chosen_points:
            chosen, chosen_points = name, points
    return chosen


def oom_adj_to_score_adj(oom_adj: int) -> int:
    """Convert a legacy ``oom_adj`` write into the stored ``oom_score_adj`` (``oom_adj_write``).

    15 maps to 1000; any other value to ``trunc(a * 1000 / 17)``, so -17 gives -1000 and -16
    gives -941. Raises ValueError (EINVAL) outside [-17, 15].
    """
    if not OOM_DISABLE <= oom_adj <= OOM_ADJUST_MAX:
        raise ValueError(f"oom_adj must be in [-17, 15], got {oom_adj} (EINVAL)")
    if oom_adj == OOM_ADJUST_MAX:
        return OOM_SCORE_ADJ_MAX
    return c_div(oom_adj * OOM_SCORE_ADJ_MAX, -OOM_DISABLE)


def score_adj_to_oom_adj(score_adj: int) -> int:
    """Convert a stored ``oom_score_adj`` into what reading ``oom_adj`` shows (``oom_adj_read``).

    1000 reads as 15; any other value as ``min(15, trunc(s * 17 / 1000))``, so -1000 reads as
    -17 and -941 as -15 (a lossy round trip).
    """
    check_score_adj(score_adj)
    if score_adj == OOM_SCORE_ADJ_MAX:
        return OOM_ADJUST_MAX
    return min(OOM_ADJUST_MAX, c_div(score_adj * -OOM_DISABLE, OOM_SCORE_ADJ_MAX))


def check_score_adj(value: int) -> int:
    """Return ``value`` if it is a valid ``oom_score_adj``, else raise ValueError (EINVAL)."""
    if not OOM_SCORE_ADJ_MIN <= value <= OOM_SCORE_ADJ_MAX:
        raise ValueError(f"oom_score_adj must be in [-1000, 1000], got {value} (EINVAL)")
    return value
