"""access_random streams its pages: bounded host memory, the same pages as one draw."""

from vmspec.engine import MachineConfig, System

MiB = 1 << 20


def test_random_access_in_chunks_draws_the_single_draw_sequence():
    """access_random draws in chunks (bounded host memory); the pages are those of one draw."""
    import numpy as np

    from vmspec.engine import system as system_module

    def run(chunk):
        old = system_module.RANDOM_CHUNK
        system_module.RANDOM_CHUNK = chunk
        try:
            s = System(MachineConfig(ram=64 * MiB), reference_tlb=True)
            s.spawn("p")
            s.mmap("p", "b", 4 * MiB)
            s.access_random("p", "b", 5000, seed=3, write=True)
            s.check_invariants()
            return s.faults("p").minor, s.tlb("p").hits, s.tlb("p").misses, s.rss("p")
        finally:
            system_module.RANDOM_CHUNK = old

    expected_pages = len(set(np.random.default_rng(3).integers(0, 1024, size=5000).tolist()))
    single, chunked = run(1 << 20), run(7)
    assert single == chunked
    assert single[0] == expected_pages and single[3] == expected_pages * 4096


def test_a_stride_larger_than_the_range_makes_one_access():
    """docs/language.md: with `stride S`, one-byte accesses at A, A+S, ... below B; a stride beyond
    int64 (a spec can write `stride 16000PiB`) is one access, not an overflow."""
    s = System(MachineConfig(ram=64 * MiB))
    s.spawn("p")
    s.mmap("p", "b", 1 * MiB)
    s.access("p", "b", 0, 1 * MiB, write=True, stride=1 << 63)
    s.access("p", "b", 0, 1 * MiB, write=True, stride=(1 << 64) + 5)
    assert s.faults("p").minor == 1 and s.tlb("p").hits + s.tlb("p").misses == 2
