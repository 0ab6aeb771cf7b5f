"""Random operation sequences under real memory pressure with Linux's reclaim (``replacement
twolist``): small machines with and without swap, memory_max groups, any swappiness, derived or
tight watermarks. Hypothesis is steered towards sequences that reclaim a lot (``target``). After
every step every engine invariant holds (LRU lists, rmap, swap slots and cache, groups, TLB against
TLBRef) and no page is lost: what a process wrote is still there, in RAM, in the swap cache or
in a slot (``System(check_pages=True)``)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings, strategies as st, target
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, \
    run_state_machine_as_test

from tests.engine.ops import PAGE, SMALL_TLB, apply, check_touched, exit_all_and_check, op
from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import ModelledFailure, Unsupported


class ReclaimMachine(RuleBasedStateMachine):
    @initialize(ram=st.integers(40, 128), swap=st.sampled_from([0, 64, 512, 512]),
                swappiness=st.sampled_from([0, 60, 100, 200]),
                marks=st.sampled_from([None, (2, 4, 8), (4, 12, 24)]),
                cg=st.sampled_from([None, None, 12, 32]))
    def boot(self, ram, swap, swappiness, marks, cg):
        self.s = System(MachineConfig(
            ram=ram * PAGE, swap=swap * PAGE, swappiness=swappiness, tlb=SMALL_TLB,
            overcommit="always", page_cluster=2,
            watermarks=None if marks is None else tuple(m * PAGE for m in marks)),
            reference_tlb=True, check_pages=True)
        self.s.create_file("f", 24 * PAGE)
        self.s.create_file("g", 64 * PAGE)
        self.s.spawn("p", memory_max=cg * PAGE if cg else None)
        self.refused = False
        self.seen = {}

    @rule(o=op)
    def step(self, o):
        if self.refused:
            return
        try:
            apply(self.s, o)
        except Unsupported:
            self.refused = True  # a shmem page reached by reclaim: nothing is checked after

    @rule(pick=st.integers(0, 7), a=st.integers(0, 20), n=st.integers(1, 40))
    def pageout(self, pick, a, n):
        if self.refused:
            return
        alive = [x for x in self.s.procs if self.s.alive(x)]
        if not alive:
            return
        proc = alive[pick % len(alive)]
        regs = sorted(self.s.procs[proc].regions)
        try:
            self.s.madvise(proc, regs[pick % len(regs)], a * PAGE, (a + n) * PAGE, "pageout")
        except (Unsupported, ModelledFailure):
            pass  # shmem is refused before anything changes

    @rule(pick=st.integers(0, 7), n=st.integers(8, 96), shared=st.booleans(),
          write=st.booleans())
    def fill(self, pick, n, shared, write):
        """A process maps and touches a region big enough to press on memory."""
        if self.refused:
            return
        alive = [x for x in self.s.procs if self.s.alive(x)]
        if not alive:
            return
        proc = alive[pick % len(alive)]
        name = f"fill{len(self.s.procs[proc].regions)}"
        try:
            if shared:
                self.s.mmap(proc, name, n * PAGE, file="g", shared=False)
            else:
                self.s.mmap(proc, name, n * PAGE)
            self.s.access(proc, name, 0, n * PAGE, write=write or not shared)
        except ModelledFailure:
            pass
        except Unsupported:
            self.refused = True

    @rule()
    def drop_caches(self):
        if not self.refused:
            self.s.drop_caches()

    @invariant()
    def consistent(self):
        if not self.refused:
            self.s.check_invariants()
            self.seen = check_touched(self.s, self.seen)  # reclaim marks every process it unmaps from

    def teardown(self):
        c = self.s.reclaim.counts
        target(float(c.reclaimed + c.scanned // 4 + self.s.pswpout), label="reclaim work")
        if not self.refused:
            exit_all_and_check(self.s)


def test_reclaim_under_pressure():
    run_state_machine_as_test(ReclaimMachine, settings=settings(
        max_examples=100, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


@pytest.mark.slow
def test_reclaim_under_pressure_slow():
    run_state_machine_as_test(ReclaimMachine, settings=settings(
        max_examples=5_000, stateful_step_count=24, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))
