"""Random operation sequences on small machines with swap and a textbook replacement policy,
under memory pressure (machine-wide, or a memory_max group's), keep every engine invariant
(slots, swap cache, MM_SWAPENTS, group usage, LRU lists included) and lose no page,
with the TLB checked against the naive TLBRef. An ``Unsupported`` (a shmem page chosen as the
victim) ends the example: the engine refuses rather than guessing, and nothing is checked after."""

from __future__ import annotations

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.engine.ops import PAGE, SMALL_TLB, apply, check_touched, exit_all_and_check, op
from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import ModelledFailure, Unsupported


class SwapMachine(RuleBasedStateMachine):
    @initialize(policy=st.sampled_from(["fifo", "lru", "clock", "random"]),
                ram=st.integers(24, 64), swap=st.sampled_from([8, 32, 256]),
                cluster=st.sampled_from([0, 3]), cg=st.sampled_from([None, None, 4, 16]))
    def boot(self, policy, ram, swap, cluster, cg):
        self.s = System(MachineConfig(ram=ram * PAGE, swap=swap * PAGE, replacement=policy,
                                      page_cluster=cluster, tlb=SMALL_TLB, overcommit="always"),
                        reference_tlb=True, check_pages=True)
        self.s.create_file("f", 24 * PAGE)
        self.s.create_file("g", 64 * PAGE)
        self.s.spawn("p", memory_max=cg * PAGE if cg else None)  # p's children join its group
        self.refused = False
        self.seen = {}

    @rule(o=op)
    def step(self, o):
        if self.refused:
            return
        try:
            apply(self.s, o)
        except Unsupported:
            self.refused = True

    @rule(pick=st.integers(0, 7), a=st.integers(0, 20), n=st.integers(1, 40))
    def pageout(self, pick, a, n):
        if self.refused:
            return
        alive = [x for x in self.s.procs if self.s.alive(x)]
        if not alive:
            return
        proc = alive[pick % len(alive)]
        regs = sorted(self.s.procs[proc].regions)
        if not regs:
            return
        try:
            self.s.madvise(proc, regs[pick % len(regs)], a * PAGE, (a + n) * PAGE, "pageout")
        except Unsupported:
            pass  # file mappings: refused before anything changes
        except ModelledFailure:
            pass

    @invariant()
    def consistent(self):
        if not self.refused:
            self.s.check_invariants()
            self.seen = check_touched(self.s, self.seen)

    def teardown(self):
        if self.refused:
            return
        exit_all_and_check(self.s)


def test_swap():
    run_state_machine_as_test(SwapMachine, settings=settings(max_examples=400, stateful_step_count=10,
                                                             deadline=None))


@pytest.mark.slow
def test_swap_slow():
    run_state_machine_as_test(SwapMachine, settings=settings(max_examples=5_000, stateful_step_count=20,
                                                             deadline=None))
