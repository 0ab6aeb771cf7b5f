"""The textbook policies' O(1) lists choose exactly what a scan of every frame chooses
(tests/engine/replacement_ref.py), on Hypothesis-generated operation sequences under pressure:
machine-wide and inside a memory_max group, with forks, mlock, file pages and pageout."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.engine.ops import PAGE, SMALL_TLB, apply, op
from tests.engine.replacement_ref import ReferenceChooser
from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import ModelledFailure, Unsupported

POLICIES = ["fifo", "lru", "clock", "random"]


def _run(policy, ram, swap, cg, ops, trace):
    s = System(MachineConfig(ram=ram * PAGE, swap=swap * PAGE, replacement=policy,
                             page_cluster=0, tlb=SMALL_TLB, overcommit="always"))
    ref = ReferenceChooser(s)
    s.create_file("f", 24 * PAGE)
    s.create_file("g", 64 * PAGE)
    s.spawn("p", memory_max=cg * PAGE if cg else None)
    s.mmap("p", "t", 64 * PAGE)
    try:
        s.access_pages("p", "t", trace, write=True)
        for o in ops:
            apply(s, o)
    except (Unsupported, ModelledFailure):
        pass
    s.check_invariants()
    return ref.choices


@pytest.mark.parametrize("policy", POLICIES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ram=st.integers(20, 48), swap=st.sampled_from([8, 64, 256]),
       cg=st.sampled_from([None, None, 6, 12]),
       trace=st.lists(st.integers(0, 63), min_size=10, max_size=200),
       ops=st.lists(op, max_size=8))
def test_policies_choose_what_a_scan_chooses(policy, ram, swap, cg, trace, ops):
    _run(policy, ram, swap, cg, ops, trace)


@pytest.mark.parametrize("policy", POLICIES)
def test_the_oracle_sees_choices(policy):
    """The comparison is not vacuous: a trace longer than memory makes the policy choose."""
    assert _run(policy, 24, 256, None, [], list(range(60)) * 2) > 50
