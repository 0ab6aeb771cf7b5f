"""The B-tree VMA list (vmspec.engine.vma.VMAList) against the plain-list reference (VMAListRef):
random insert/split/remove/merge/protect/copy sequences and every query after each step (and
the VMA observer told of every object that joins or leaves), with
small fanouts so that the trees grow several levels deep and nodes split and merge often."""

from __future__ import annotations

import random
from dataclasses import astuple, replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from vmspec.engine.layout import DEFAULT_MAP_WINDOW, MMAP_MIN_ADDR, PMD_SIZE, STACK_GUARD_GAP
from vmspec.engine.vma import VMA, R, VMAList, W
from vmspec.engine.vmaref import VMAListRef

PAGE = 4096
SPAN = 1200  # pages in each neighbourhood: more than a 2 MiB THP alignment and a stack guard gap
# low addresses (mmap_min_addr), where the bottom-up search starts (TASK_SIZE/3), below the window
BASES = (MMAP_MIN_ADDR, (DEFAULT_MAP_WINDOW // 3) - 300 * PAGE, DEFAULT_MAP_WINDOW - SPAN * PAGE)

addresses = st.builds(lambda b, k: BASES[b] + k * PAGE, st.integers(0, 2), st.integers(0, SPAN))
lengths = st.integers(1, 80).map(lambda n: n * PAGE)
kinds = st.sampled_from(["anon", "anon", "anon_vma1", "anon_vma2", "ro", "file", "file_skew",
                         "stack", "huge"])


def make_vma(start: int, length: int, kind: str) -> VMA:
    """A VMA of one of a few kinds, most of them able to merge with their own kind."""
    v = VMA(start, start + length, R | W)
    if kind == "ro":
        v.prot = R
    elif kind.startswith("anon_vma"):
        v.anon_vma = int(kind[-1])
    elif kind == "file":
        v.file, v.pgoff = "f", start // PAGE  # contiguous offsets: neighbours merge
    elif kind == "file_skew":
        v.file, v.pgoff = "f", 7
    elif kind == "stack":
        v.growsdown = True
    elif kind == "huge":
        v.hugetlb, v.hobj, v.pgoff = PMD_SIZE, 1, start // PMD_SIZE
    return v


def rows(vmas) -> list[tuple]:
    return [astuple(v) for v in vmas]


def row(v: VMA | None):
    return None if v is None else astuple(v)


class Registry:
    """An observer (like the files' i_mmap) that keeps every VMA object the list says it holds."""

    def __init__(self) -> None:
        self.held: dict[int, VMA] = {}

    def added(self, v: VMA) -> None:
        assert id(v) not in self.held
        self.held[id(v)] = v

    def dropped(self, v: VMA) -> None:
        assert self.held.pop(id(v)) is v


class VMAMachine(RuleBasedStateMachine):
    """Applies the same operations to a VMAList and a VMAListRef and compares everything."""

    @initialize(fanout=st.sampled_from([4, 5, 8, 64]))
    def boot(self, fanout):
        self.fast, self.ref = VMAList(fanout=fanout), VMAListRef()
        self.registry = Registry()
        self.fast.attach(self.registry)

    @rule(start=addresses, length=lengths, kind=kinds)
    def insert(self, start, length, kind):
        if self.ref.intersects(start, start + length):
            return
        v = make_vma(start, length, kind)
        assert row(self.fast.insert(replace(v))) == row(self.ref.insert(v))

    @rule(start=addresses, length=lengths)
    def split(self, start, length):
        assert rows(self.fast.split(start, start + length)) == rows(self.ref.split(start, start + length))

    @rule(start=addresses, length=lengths)
    def remove(self, start, length):
        assert rows(self.fast.remove(start, start + length)) == rows(self.ref.remove(start, start + length))

    @rule(start=addresses, length=lengths, prot=st.sampled_from([R, R | W]))
    def protect(self, start, length, prot):
        """mprotect's pattern: split at the bounds, change the pieces, merge around."""
        for lst in (self.fast, self.ref):
            for v in lst.split(start, start + length):
                v.prot = prot
        assert row(self.fast.merge_around(start, start + length)) == \
            row(self.ref.merge_around(start, start + length))

    @rule(start=addresses, length=lengths)
    def merge(self, start, length):
        assert row(self.fast.merge_around(start, start + length)) == \
            row(self.ref.merge_around(start, start + length))

    @rule()
    def copy(self):
        self.fast.detach()
        assert self.registry.held == {}
        self.fast, self.ref = self.fast.copy(), self.ref.copy()
        self.fast.attach(self.registry)

    @rule(addr=addresses, length=lengths)
    def queries(self, addr, length):
        f, r = self.fast, self.ref
        for a in (addr, addr - 1, addr + PAGE // 2):
            assert row(f.find(a)) == row(r.find(a))
            assert row(f.next_after(a)) == row(r.next_after(a))
        assert rows(f.overlapping(addr, addr + length)) == rows(r.overlapping(addr, addr + length))
        assert f.intersects(addr, addr + length) == r.intersects(addr, addr + length)

    @rule(length=st.integers(1, 400).map(lambda n: n * PAGE), high=addresses,
          thp=st.booleans(), align=st.sampled_from([0, 0, PMD_SIZE]))
    def unmapped_area(self, length, high, thp, align):
        got = self.fast.get_unmapped_area(length, high, PAGE, thp, align)
        assert got == self.ref.get_unmapped_area(length, high, PAGE, thp, align)

    @invariant()
    def same(self):
        self.fast.check_structure()
        assert rows(self.fast) == rows(self.ref)
        assert sorted(self.registry.held) == sorted(id(v) for v in self.fast)  # the observer saw all
        assert (len(self.fast), self.fast.total, self.fast.nhuge) == \
            (len(self.ref), self.ref.total, self.ref.nhuge)


def test_vma_list_matches_reference():
    run_state_machine_as_test(VMAMachine, settings=settings(max_examples=300, stateful_step_count=60,
                                                            deadline=None))


@pytest.mark.slow
def test_vma_list_matches_reference_slow():
    """Many more, longer sequences (run with -m slow)."""
    run_state_machine_as_test(VMAMachine, settings=settings(max_examples=5_000, stateful_step_count=200,
                                                            deadline=None))


def test_many_operations_deep_tree():
    """Thousands of seeded operations on a fanout-4 tree (about six levels) stay equal to the
    reference, with the top-down search run against a crowded, fragmented address space."""
    rnd = random.Random(1)
    fast, ref = VMAList(fanout=4), VMAListRef()
    for step in range(3000):
        start = BASES[rnd.randrange(3)] + rnd.randrange(SPAN) * PAGE
        length = rnd.randrange(1, 6) * PAGE
        op = rnd.random()
        if op < 0.6:
            if not ref.intersects(start, start + length):
                v = make_vma(start, length, rnd.choice(["anon", "ro", "anon_vma1", "file"]))
                assert row(fast.insert(replace(v))) == row(ref.insert(v))
        elif op < 0.8:
            assert rows(fast.remove(start, start + length)) == rows(ref.remove(start, start + length))
        else:
            n = rnd.randrange(1, 40) * PAGE
            assert fast.get_unmapped_area(n, start, PAGE, False) == ref.get_unmapped_area(n, start, PAGE, False)
        if step % 500 == 0:
            fast.check_structure()
            assert rows(fast) == rows(ref)
    fast.check_structure()
    assert rows(fast) == rows(ref)


def test_guard_gap_from_above_is_kept_free():
    """A stack's guard gap reaches below the VMA under it: top-down placement skips the gap that
    the guard eats and lands below (the index holds only each VMA's own guard)."""
    top = DEFAULT_MAP_WINDOW - 100 * PAGE
    for lst in (VMAList(fanout=4), VMAListRef()):
        lst.insert(VMA(top, top + 10 * PAGE, R | W, growsdown=True))
        lst.insert(VMA(top - 40 * PAGE, top - 30 * PAGE, R))  # inside the guard gap
        addr = lst.get_unmapped_area(16 * PAGE, top + 5 * PAGE, PAGE, False)
        assert addr == top - STACK_GUARD_GAP - 16 * PAGE


def test_copy_is_deep_and_keeps_sums():
    fast = VMAList(fanout=4)
    for i in range(50):
        fast.insert(VMA(MMAP_MIN_ADDR + 2 * i * PAGE, MMAP_MIN_ADDR + (2 * i + 1) * PAGE, R))
    twin = fast.copy()
    twin.check_structure()
    assert rows(twin) == rows(fast) and twin.total == fast.total == 50 * PAGE
    next(iter(twin)).prot = R | W
    assert next(iter(fast)).prot == R

