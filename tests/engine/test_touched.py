"""``System.take_touched``: the processes a step may have changed, in creation order, so that an
observer reads only those (the checker's trail); and the running totals of time and accesses."""

from __future__ import annotations

from vmspec.engine import MachineConfig, System

PAGE = 4096
MiB = 1 << 20


def test_operations_mark_the_process_they_act_for_and_new_ones():
    s = System(MachineConfig(ram=64 * MiB))
    for name in ("a", "b", "c"):
        s.spawn(name)
    assert s.take_touched() == ["a", "b", "c"]
    assert s.take_touched() == []
    s.mmap("b", "buf", 16 * PAGE)
    s.access("b", "buf", 0, 16 * PAGE, write=True)
    assert s.take_touched() == ["b"]
    s.fork("b", "d")
    s.exit("a")
    assert s.take_touched() == ["a", "b", "d"]  # creation order, not the order of the marks
    assert s.rss("b") == 16 * PAGE and s.status("a") == "exited"
    _ = s.rss("c"), s.faults("c"), s.time, s.accesses  # reading marks nothing
    assert s.take_touched() == []


def test_an_oom_kill_marks_its_victim():
    s = System(MachineConfig(ram=16 * MiB, kernel=4 * MiB))
    s.spawn("big")
    s.mmap("big", "buf", 8 * MiB)
    s.access("big", "buf", 0, 8 * MiB, write=True)
    s.spawn("small")
    s.take_touched()
    s.mmap("small", "buf", 8 * MiB)
    s.access("small", "buf", 0, 8 * MiB, write=True)
    assert s.killed == ("big",)
    assert s.take_touched() == ["big", "small"]


def test_swapping_out_a_shared_page_marks_every_mapper():
    """A page both processes map goes to swap while the child works: the parent's RSS and swap
    change although the step was the child's."""
    s = System(MachineConfig(ram=8 * MiB, kernel=4 * MiB, swap=8 * MiB, replacement="fifo"))
    s.spawn("parent")
    s.mmap("parent", "buf", 64 * PAGE)
    s.access("parent", "buf", 0, 64 * PAGE, write=True)
    s.fork("parent", "child")
    s.take_touched()
    rss, swap = s.rss("parent"), s.swap("parent")
    s.mmap("child", "more", 4 * MiB)
    s.access("child", "more", 0, 4 * MiB, write=True)
    assert (s.rss("parent"), s.swap("parent")) != (rss, swap)
    assert s.take_touched() == ["parent", "child"]


def test_running_totals_follow_every_process():
    s = System(MachineConfig(ram=64 * MiB))
    s.spawn("a")
    s.spawn("b")
    s.mmap("a", "buf", 8 * PAGE)
    assert s.time == 0 and s.accesses == 0
    s.access("a", "buf", 0, 8 * PAGE, write=True)
    s.fork("a", "c")
    s.access("c", "buf", 0, 8 * PAGE, write=False)
    s.exit("a")  # an exited process keeps its counters and time
    assert s.accesses == 16
    assert s.time == sum(s.process_time(p) for p in ("a", "b", "c")) > 0
