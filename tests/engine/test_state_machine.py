"""Random spawn/mmap/access/fork/munmap/mprotect/madvise/mlock/malloc/exit sequences on small
machines keep every engine invariant (vmspec.engine.invariants) after every step, with the TLB
checked against the naive TLBRef."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.engine.ops import apply, check_touched, exit_all_and_check, new_system, op


class EngineMachine(RuleBasedStateMachine):
    """Drives one System (with reference_tlb) through random operations."""

    @initialize()
    def boot(self):
        self.s = new_system(reference_tlb=True, ram_pages=160)
        self.seen = {}

    @rule(o=op)
    def step(self, o):
        apply(self.s, o)

    @invariant()
    def consistent(self):
        self.s.check_invariants()
        self.seen = check_touched(self.s, self.seen)

    def teardown(self):
        exit_all_and_check(self.s)


def test_engine():
    run_state_machine_as_test(EngineMachine, settings=settings(max_examples=1000, stateful_step_count=8,
                                                               deadline=None))


@pytest.mark.slow
def test_engine_slow():
    """10,000 longer sequences (run with -m slow)."""
    run_state_machine_as_test(EngineMachine, settings=settings(max_examples=10_000, stateful_step_count=16,
                                                               deadline=None))
