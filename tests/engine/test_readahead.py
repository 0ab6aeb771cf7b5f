"""The machine's ``readahead`` (read_ahead_kb) sets the read-around window of a cold file fault
(``do_sync_mmap_readahead``: ``ra_pages`` pages from ``index - ra_pages / 2``, the one at
``ra_pages / 4`` before the end marked for async readahead) and the async windows after it."""

from __future__ import annotations

import pytest

from vmspec.engine import MachineConfig, System

KiB, MiB = 1 << 10, 1 << 20


def cold_file(readahead: int | None, size: int = 4 * MiB) -> System:
    kw = {} if readahead is None else {"readahead": readahead}
    s = System(MachineConfig(ram=256 * MiB, **kw))
    s.create_file("f", size)
    s.spawn("p")
    s.mmap("p", "m", size, file="f", shared=True, prot="r")
    return s


def test_default_is_the_kernels_128KiB():
    assert MachineConfig(ram=MiB).readahead == 128 * KiB


@pytest.mark.parametrize("readahead, pages", [(128 * KiB, 32), (256 * KiB, 64), (8 * MiB, 1024)])
def test_one_cold_fault_reads_the_window_around_it(readahead, pages):
    s = cold_file(readahead)
    s.access("p", "m", 512 * 4096, 512 * 4096 + 1, write=False)  # page 512, far from either end
    assert (s.faults("p").minor, s.faults("p").major) == (0, 1)
    assert s.cached == pages * 4096
    assert s.resident("p", "m") == 4096  # only the faulting page is mapped by the fault


def test_window_is_clipped_at_the_start_of_the_file():
    s = cold_file(256 * KiB)
    s.access("p", "m", 4 * 4096, 4 * 4096 + 1, write=False)  # start = max(0, 4 - 32) = 0
    assert s.cached == 64 * 4096


def test_readahead_0_reads_only_the_faulting_page():
    s = cold_file(0, size=64 * 4096)
    s.access("p", "m", 0, 64 * 4096, write=False)
    assert (s.faults("p").minor, s.faults("p").major) == (0, 64)
    assert s.cached == 64 * 4096


def test_a_larger_window_takes_fewer_faults_on_a_sequential_cold_read():
    counts = {}
    for ra in (16 * KiB, 128 * KiB, 1 * MiB):
        s = cold_file(ra, size=16 * MiB)
        s.access("p", "m", 0, 16 * MiB, write=False)
        f = s.faults("p")
        assert f.major == 1
        counts[ra] = f.minor
    assert counts[16 * KiB] > counts[128 * KiB] > counts[1 * MiB]
    assert counts[128 * KiB] == cold_default_minor()


def cold_default_minor() -> int:
    s = cold_file(None, size=16 * MiB)
    s.access("p", "m", 0, 16 * MiB, write=False)
    return s.faults("p").minor
