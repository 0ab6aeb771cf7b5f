"""Word lists of the language shared by the parser, the checks and the printer, and typo hints.

Kept apart from ``transform`` so that importing the checks does not import lark.
"""

from __future__ import annotations

from typing import Any

RESERVED = frozenset({"on", "as", "expect", "always"})
ERROR_NAMES = ("ENOMEM", "EINVAL", "SIGSEGV", "SIGBUS", "OOM")
LRU_SIZES = ("active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable")
VMSTAT_COUNTS = ("pswpin", "pswpout", "thp_fault_alloc", "thp_fault_fallback", "thp_split_pmd")
BARE_OBSERVABLES = frozenset(
    {"ram", "free", "used", "cached", "swap_used", "swap_free", "committed", "commit_limit",
     "killed", "oom_kills", "time", *LRU_SIZES, *VMSTAT_COUNTS}
)


def suggest(word: str, choices: Any) -> str:
    """Return ``; did you mean X?`` for the closest of ``choices`` to ``word``, or ``""``."""
    import difflib  # for a misspelling only

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""
