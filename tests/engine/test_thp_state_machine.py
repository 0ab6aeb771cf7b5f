"""Random sequences on machines with transparent huge pages: huge-page-sized regions under
``thp always`` or ``madvise``, cut by partial munmap, mprotect, MADV_DONTNEED, mlock and
MADV_PAGEOUT, shared by fork and copied on write, reclaimed into swap under twolist or a textbook
policy. After every step every engine invariant holds (huge PMDs, deposited tables, folios and
their LRU entries, mlock counts, the TLB against TLBRef) and no page is lost."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings, strategies as st, target
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, \
    run_state_machine_as_test

from tests.engine.ops import PAGE, SMALL_TLB, check_touched
from vmspec.engine import MachineConfig, System
from vmspec.engine.errors import ModelledFailure, Unsupported

MiB = 1 << 20
HUGE = 512 * PAGE


class THPMachine(RuleBasedStateMachine):
    @initialize(ram=st.sampled_from([8, 12, 24]), swap=st.sampled_from([0, 64, 64]),
                mode=st.sampled_from(["always", "madvise"]),
                policy=st.sampled_from(["twolist", "twolist", "fifo", "lru"]))
    def boot(self, ram, swap, mode, policy):
        self.s = System(MachineConfig(ram=ram * MiB, swap=swap * MiB, thp=mode,
                                      replacement=policy, tlb=SMALL_TLB, overcommit="always",
                                      page_cluster=1),
                        reference_tlb=True, check_pages=True)
        self.s.spawn("p")
        self.n = 0
        self.seen = {}

    def _proc(self, pick):
        alive = [x for x in self.s.procs if self.s.alive(x)]
        return alive[pick % len(alive)] if alive else None

    def _region(self, proc, pick):
        regs = sorted(r for r in self.s.procs[proc].regions if r.startswith("h"))
        return regs[pick % len(regs)] if regs else None

    def _do(self, fn, *args, **kw):
        try:
            fn(*args, **kw)
        except ModelledFailure:
            pass

    @rule(pick=st.integers(0, 7), huge=st.integers(1, 4), extra=st.sampled_from([0, 0, 77]),
          advise=st.booleans(), write=st.booleans())
    def mmap(self, pick, huge, extra, advise, write):
        proc = self._proc(pick)
        if proc is None:
            return self._do(self.s.spawn, f"p{len(self.s.procs)}")
        self.n += 1
        name = f"h{self.n}"
        size = huge * HUGE + extra * PAGE
        self._do(self.s.mmap, proc, name, size)
        if self.s.has_region(proc, name):
            if advise:
                self._do(self.s.madvise, proc, name, 0, size, "hugepage")
            self._do(self.s.access, proc, name, 0, size, write=write)

    @rule(pick=st.integers(0, 7), a=st.integers(0, 1600), b=st.integers(1, 1600),
          write=st.booleans(), stride=st.sampled_from([None, None, 5000]))
    def access(self, pick, a, b, write, stride):
        proc = self._proc(pick)
        reg = self._region(proc, pick) if proc else None
        if reg:
            self._do(self.s.access, proc, reg, a * PAGE, (a + b) * PAGE, write=write,
                     stride=stride)

    @rule(pick=st.integers(0, 7), n=st.integers(1, 300), seed=st.integers(0, 3),
          write=st.booleans())
    def random(self, pick, n, seed, write):
        proc = self._proc(pick)
        reg = self._region(proc, pick) if proc else None
        if reg and self.s.size(proc, reg):
            self._do(self.s.access_random, proc, reg, n, seed=seed, write=write)

    @rule(pick=st.integers(0, 7), what=st.sampled_from(["munmap", "rprotect", "wprotect",
                                                        "dontneed", "pageout", "mlock",
                                                        "munlock", "nohuge"]),
          a=st.integers(0, 1500), n=st.sampled_from([1, 7, 256, 512, 1024]))
    def cut(self, pick, what, a, n):
        proc = self._proc(pick)
        reg = self._region(proc, pick) if proc else None
        if not reg:
            return
        s, lo, hi = self.s, a * PAGE, (a + n) * PAGE
        try:
            if what == "munmap":
                s.munmap(proc, reg, lo, hi)
            elif what in ("rprotect", "wprotect"):
                s.mprotect(proc, reg, lo, hi, "r" if what == "rprotect" else "rw")
            elif what == "mlock":
                s.mlock(proc, reg)
            elif what == "munlock":
                s.munlock(proc, reg)
            else:
                s.madvise(proc, reg, lo, hi, {"nohuge": "nohugepage"}.get(what, what))
        except (ModelledFailure, Unsupported):
            pass

    @rule(pick=st.integers(0, 7))
    def fork(self, pick):
        proc = self._proc(pick)
        if proc:
            self._do(self.s.fork, proc, f"c{len(self.s.procs)}")

    @rule(pick=st.integers(0, 7))
    def exit(self, pick):
        proc = self._proc(pick)
        if proc and len([x for x in self.s.procs if self.s.alive(x)]) > 1:
            self.s.exit(proc)

    @invariant()
    def consistent(self):
        self.s.check_invariants()
        self.seen = check_touched(self.s, self.seen)  # huge-page paths mark what they change

    def teardown(self):
        target(float(self.s.thp_split_pmd + self.s.thp_split_page + self.s.pswpout // 64
                     + self.s.reclaim.counts.reclaimed // 64),
               label="splits and swap")
        for name in list(self.s.procs):
            if self.s.alive(name):
                self.s.exit(name)
        self.s.check_invariants()
        assert self.s.swap_used == 0 and self.s.used == 0


def test_thp_sequences():
    run_state_machine_as_test(THPMachine, settings=settings(
        max_examples=150, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))


@pytest.mark.slow
def test_thp_sequences_slow():
    run_state_machine_as_test(THPMachine, settings=settings(
        max_examples=3_000, stateful_step_count=24, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))
