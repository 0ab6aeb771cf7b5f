"""The vectorised sweep and the per-access reference path leave identical observables and state.

docs/language.md (Scenario steps: one access per page or per stride, in address order) and the
performance recipe of ARCHITECTURE.md: ``System.access`` runs per PTE-table slice with numpy and
``TLB.sweep``; ``_access_one`` does one TLB lookup, walk and fault at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.ops import apply, new_system, op


def state(s):
    """Everything observable or internal that the two paths must agree on."""
    fr = s.frames
    out = {
        "hw": fr.hw, "free": fr.free_list().tolist(),
        "mapcount": fr.mapcount[:fr.hw].tolist(), "flags": fr.flags[:fr.hw].tolist(),
        "tlb": s.tlb_model.entries(), "killed": list(s.killed), "committed": int(s.committed),
    }
    for name, p in s.procs.items():
        pt = p.pt
        out[name] = (
            p.status, p.minor, p.major, p.cow, p.hits, p.misses, p.accesses,
            p.rss_anon, p.rss_file, p.rss_shmem, s.pagetables(name), s.process_time(name),
            {k: (pt.pfn[k].tolist(), pt.wr[k].tolist(), pt.ptf[k]) for k in pt.pfn},
            dict(pt.pmd), dict(pt.pud),
            [(v.start, v.end, v.prot, v.anon_vma) for v in p.vmas],
        )
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(op, min_size=1, max_size=14))
def test_sweep_equals_per_access(ops):
    fast, slow = new_system(), new_system()
    for o in ops:
        a = apply(fast, o)
        b = apply(slow, o, slow=True)
        assert a == b, o
        assert state(fast) == state(slow), o


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(st.lists(op, min_size=1, max_size=24))
def test_sweep_equals_per_access_slow(ops):
    test_sweep_equals_per_access.hypothesis.inner_test(ops)


def test_equivalence_covers_named_cases():
    """A sweep after random accesses, a sub-page stride, partial ranges, after fork, over zero pages."""
    for ops in (
        [("mmap", 0, "a", 40 * 4096, "anon", "rw", False), ("random", 0, 9, 30, 1, True),
         ("access", 0, 0, 0, 40 * 4096, True, None)],
        [("mmap", 0, "a", 20 * 4096, "anon", "rw", False),
         ("access", 0, 0, 100, 70_000, True, 1000)],
        [("mmap", 0, "a", 20 * 4096, "anon", "rw", False),
         ("access", 0, 0, 5000, 30_000, False, None),
         ("access", 0, 0, 0, 80_000, True, None)],
        [("mmap", 0, "a", 30 * 4096, "anon", "rw", False),
         ("access", 0, 0, 0, 30 * 4096, True, None), ("fork", 0, "q"),
         ("access", 1, 0, 0, 10 * 4096, True, None),
         ("access", 0, 0, 0, 30 * 4096, True, 5000)],
    ):
        fast, slow = new_system(reference_tlb=True), new_system(reference_tlb=True)
        for o in ops:
            assert apply(fast, o) == apply(slow, o, slow=True)
            assert state(fast) == state(slow)
            fast.check_invariants()
