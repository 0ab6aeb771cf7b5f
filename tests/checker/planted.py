"""The planted suite of ``vmspec explore``: false invariants it must break, each within a stated
budget of examples (with seed 0), and true ones it must not break. Used by tests/checker/test_planted.py
and bench/bench_explore.py."""

SMALL = "machine m { ram 16MiB; swap 0 }\n"
SWAP = "machine m { ram 16MiB; swap 16MiB; replacement lru }\n"
MEDIUM = "machine m { ram 64MiB; swap 0 }\n"
HUGE = "machine m { ram 64MiB; swap 0; hugepages 2MiB x 8 }\n"

# name -> (machine, invariant, budget of examples within which seed 0 must break it)
FALSE = {
    "rss bound": (SMALL, 'invariant "app holds at most 1MiB": rss(app) <= 1MiB', 100),
    "no cow": (SMALL, 'invariant "the child never copies": faults(child).cow == 0', 100),
    "no swap": (SWAP, 'invariant "nothing is swapped": swap_used == 0', 100),
    "no oom kill": (SMALL, 'invariant "no OOM kill": oom_kills == 0', 100),
    "nobody killed": (SMALL, 'invariant "nobody killed": killed == []', 100),
    # seeds 0 to 6 break it at examples 193, 7, 93, 31, 73, 44 and 32 (median 44)
    "page-table bound": (MEDIUM, 'invariant "small page tables": pagetables(server) <= 64KiB', 200),
    "hugepages_free bound": (HUGE, 'invariant "half the pool stays free": hugepages_free(2MiB) >= 4', 100),
}

# name -> (machine, invariant)
TRUE = {
    "used within ram": (SMALL, 'invariant "used within ram": used <= ram'),
    "rss within ram": (SMALL, 'invariant "rss within ram": rss(app) <= ram'),
    "swap within its size": (SWAP, 'invariant "swap within its size": swap_used <= 16MiB'),
    "pool within its size": (HUGE, 'invariant "pool within its size": hugepages_free(2MiB) <= 8'),
    "pss within rss": (SMALL, 'invariant "pss within rss": pss(app) <= rss(app)'),
    "cow faults are faults": (SMALL, 'invariant "cow faults are faults": '
                                     'faults(child).cow <= faults(child).minor + faults(child).major'),
}


def spec(machine: str, invariant: str) -> str:
    """Return the text of a planted spec."""
    return machine + invariant + "\n"
