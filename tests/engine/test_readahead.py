"""File faults, readahead and the page cache's large folios against Linux 6.18.44 on ext4
(x86-64), measured on a virtio disk (read_ahead_kb 8192, max_sectors_kb 4096: io_pages 1024) and
on a loop device (read_ahead_kb 128 or 0). One-byte reads through a fresh mapping of a cold file,
getrusage around the access loop only; folio sizes read from /proc/kpageflags. Each case below is
the kernel's median over 5 to 10 runs and the engine gives it exactly (docs/engine.md, "File
pages", lists the cases where the kernel varies and the engine gives its smallest count)."""

from __future__ import annotations

import pytest

from vmspec.engine import MachineConfig, System

KiB, MiB = 1 << 10, 1 << 20
M64 = (1 << 64) - 1


def access_order(pattern: str, n: int) -> list[int]:
    """The page order of the measuring program (its xorshift permutation for ``rand:SEED``)."""
    if pattern == "seq":
        return list(range(n))
    if pattern == "rev":
        return list(range(n - 1, -1, -1))
    if pattern.startswith("rand:"):
        x = (int(pattern[5:]) * 2654435761 + 1) & M64
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            x ^= (x << 13) & M64
            x ^= x >> 7
            x ^= (x << 17) & M64
            j = x % (i + 1)
            order[i], order[j] = order[j], order[i]
        return order
    if pattern.startswith("stride:"):
        return list(range(0, n, int(pattern[7:])))
    if pattern.startswith("off:"):
        return [int(pattern[4:]) // 4096]
    raise ValueError(pattern)


def run(size: int, ra: int, pattern: str = "seq", *, prep: str = "cold", advice: str | None = None,
        shared: bool = True) -> tuple[System, tuple]:
    s = System(MachineConfig(ram=1 << 30, readahead=ra))
    s.create_file("f", size)
    if prep == "mmap":  # warm: read once through another process's mapping
        s.spawn("w")
        s.mmap("w", "m", size, file="f", shared=True, prot="r")
        s.access_pages("w", "m", range(size // 4096))
        s.exit("w")
    s.spawn("p")
    s.mmap("p", "m", size, file="f", shared=shared, prot="r")
    if advice is not None:
        s.madvise("p", "m", 0, size, advice)
    s.access_pages("p", "m", access_order(pattern, size // 4096))
    s.check_invariants()
    f = s.faults("p")
    return s, (f.minor, f.major, s.rss("p") // KiB, s.cached // KiB)


def folios(s: System) -> dict[int, int]:
    """The page cache's folios by order: order -> count."""
    fr = s.frames
    out: dict[int, int] = {}
    for _idx, f in s.cache.files["f"].pages():
        subs = fr.folios.get(fr.head_of(f)) if fr.folios else None
        if subs is None:
            out[0] = out.get(0, 0) + 1
        elif int(subs[0]) == f:
            order = len(subs).bit_length() - 1
            out[order] = out.get(order, 0) + 1
    return out


# (size, read_ahead_kb, pattern, prep, advice) -> (minor, major, RSS KiB, cached KiB), folios
MEASURED = [
    ((2 * MiB, 8192, "seq"), (31, 1, 2048, 2048), {0: 512}),
    ((4 * MiB, 8192, "seq"), (63, 1, 4096, 4096), {0: 1024}),
    ((16 * MiB, 8192, "seq"), (255, 1, 16384, 16384), {0: 2048, 2: 512}),
    ((64 * MiB, 8192, "seq"), (435, 1, 65536, 65536), {0: 2048, 2: 512, 4: 128, 6: 32, 8: 8, 9: 12}),
    ((2 * MiB, 128, "seq"), (20, 1, 2048, 2048), {0: 32, 2: 8, 4: 2, 5: 13}),
    ((4 * MiB, 128, "seq"), (36, 1, 4096, 4096), {0: 32, 2: 8, 4: 2, 5: 29}),
    ((8 * MiB, 128, "seq"), (68, 1, 8192, 8192), {0: 32, 2: 8, 4: 2, 5: 61}),
    ((16 * MiB, 128, "seq"), (132, 1, 16384, 16384), {0: 32, 2: 8, 4: 2, 5: 125}),
    ((64 * MiB, 128, "seq"), (516, 1, 65536, 65536), {0: 32, 2: 8, 4: 2, 5: 509}),
    ((2 * MiB, 0, "seq"), (0, 512, 2048, 2048), {0: 512}),
    ((4 * MiB, 0, "seq"), (0, 1024, 4096, 4096), {0: 1024}),
    ((16 * MiB, 8192, "rev"), (255, 4, 16384, 16384), {0: 4096}),
    ((16 * MiB, 128, "rev"), (240, 241, 16384, 16384), {0: 4096}),
    ((16 * MiB, 128, "rand:1"), (269, 175, 16384, 16384), {0: 3968, 1: 2, 2: 31}),
    ((16 * MiB, 128, "rand:2"), (269, 180, 16384, 16384), {0: 4042, 1: 5, 2: 11}),
    ((16 * MiB, 128, "off:8388608"), (0, 1, 60, 128), {0: 32}),
    ((16 * MiB, 128, "stride:16"), (1, 255, 15364, 16384), {0: 4096}),
    ((16 * MiB, 128, "stride:64"), (0, 64, 3844, 8192), {0: 2048}),
]


@pytest.mark.parametrize("case, want, want_folios", MEASURED,
                         ids=[f"{c[0] // MiB}MiB-ra{c[1]}-{c[2]}" for c, _, _ in MEASURED])
def test_cold_reads_match_the_kernel(case, want, want_folios):
    size, ra, pattern = case
    s, got = run(size, ra * KiB, pattern)
    assert got == want
    assert folios(s) == want_folios


def test_a_private_mapping_reads_as_a_shared_one():
    """Read faults take the same path whether the mapping is private or shared (measured: six
    runs of each, interleaved, 259 minor faults each on the disk with its I/O timing)."""
    _, shared = run(16 * MiB, 8192 * KiB)
    _, private = run(16 * MiB, 8192 * KiB, shared=False)
    assert private == shared == (255, 1, 16384, 16384)


@pytest.mark.parametrize("size, want", [(16 * MiB, 256), (64 * MiB, 436)])
def test_a_warm_file_maps_its_folios_whole(size, want):
    """The cache a first mmap read left (folios of order 0 to 9) read again through another
    mapping: measured 256 and 436 minor faults, no major."""
    _, got = run(size, 8192 * KiB, prep="mmap")
    assert got == (want, 0, size // KiB, size // KiB)


def test_order_9_folios_are_mapped_by_a_pmd_even_under_thp_never():
    """``do_set_pmd`` maps an order-9 page-cache folio by one PMD whatever the ``thp`` setting
    (the folio exists already): 12 PMDs for a 64 MiB read (measured FilePmdMapped 24 MiB). They
    count in RSS as file pages and not in ``huge()`` (AnonHugePages)."""
    for thp in ("never", "madvise"):
        s = System(MachineConfig(ram=1 << 30, readahead=8 * MiB, thp=thp))
        s.create_file("f", 64 * MiB)
        s.spawn("p")
        s.mmap("p", "m", 64 * MiB, file="f", prot="r")
        s.access("p", "m", 0, 64 * MiB, write=False)
        pt = s.procs["p"].pt
        assert sum(1 for leaf in pt.thp.values() if leaf.file) == 12
        assert s.rss_file("p") == 64 * MiB and s.huge("p", "m") == 0
        s.check_invariants()


def test_madv_hugepage_reads_pmd_sized_folios():
    """A MADV_HUGEPAGE file mapping reads two order-9 folios per miss, even with readahead 0 in
    the kernel's own words ("use the readahead code, even if readahead is disabled"): 16 MiB in
    1 major and 7 minor faults, 8 PMDs (measured, both disks)."""
    for ra in (8192, 128):
        s, got = run(16 * MiB, ra * KiB, advice="hugepage")
        assert got == (7, 1, 16384, 16384)
        assert folios(s) == {9: 8}


@pytest.mark.parametrize("size, ra, cached", [(4 * MiB, 8192, 4096), (16 * MiB, 8192, 8192),
                                              (64 * MiB, 8192, 8192), (16 * MiB, 128, 4096)])
def test_willneed_reads_at_most_max_io_pages_ra_pages(size, ra, cached):
    """MADV_WILLNEED reads at most max(io_pages, ra_pages) pages per call (``force_page_cache_ra``),
    order 0, and maps nothing: measured 4, 8 and 8 MiB cached at read_ahead_kb 8192, 4 MiB at
    128 (io_pages 1024 on the measured disk)."""
    s = System(MachineConfig(ram=1 << 30, readahead=ra * KiB))
    s.create_file("f", size)
    s.spawn("p")
    s.mmap("p", "m", size, file="f", prot="r")
    s.madvise("p", "m", 0, size, "willneed")
    assert (s.cached // KiB, s.rss("p"), s.faults("p").minor + s.faults("p").major) == (cached, 0, 0)
    assert folios(s) == {0: cached // 4}


def test_willneed_then_a_sequential_read():
    """4 MiB cached by MADV_WILLNEED, then read: 64 minor faults (measured 64), one per 16-page
    fault-around window of order-0 pages."""
    s = System(MachineConfig(ram=1 << 30, readahead=8 * MiB))
    s.create_file("f", 4 * MiB)
    s.spawn("p")
    s.mmap("p", "m", 4 * MiB, file="f", prot="r")
    s.madvise("p", "m", 0, 4 * MiB, "willneed")
    s.access("p", "m", 0, 4 * MiB, write=False)
    assert (s.faults("p").minor, s.faults("p").major) == (64, 0)


def test_file_mappings_of_2mib_or_more_are_placed_2mib_aligned():
    """ext4's ``get_unmapped_area`` is ``thp_get_unmapped_area``: a mapping that spans a whole
    2 MiB of the file goes at the highest 2 MiB-aligned address that fits (measured: 1 / 2 / 3 /
    4 / 16 MiB files at 0x7ffff7eff000 / 0x7ffff7c00000 / 0x7ffff7c00000 / 0x7ffff7a00000 /
    0x7ffff6e00000 as a process's first mapping, ADDR_NO_RANDOMIZE)."""
    want = {1: 0x7FFFF7EFF000, 2: 0x7FFFF7C00000, 3: 0x7FFFF7C00000, 4: 0x7FFFF7A00000,
            16: 0x7FFFF6E00000}
    for mib, addr in want.items():
        s = System(MachineConfig(ram=1 << 30))
        s.create_file("f", mib * MiB)
        s.spawn("p")
        s.mmap("p", "m", mib * MiB, file="f", prot="r")
        assert s.procs["p"].regions["m"].start == addr


def test_read_at_an_offset_of_a_cached_file_takes_16_faults():
    """Reading 1 MiB at +1 MiB of a cached 16 MiB file (its first 8 MiB in order-0 pages):
    measured 16 faults and 1024 KiB of RSS, the 2 MiB-aligned mapping's fault-around windows
    falling exactly on the range."""
    s = System(MachineConfig(ram=1 << 30, readahead=8 * MiB))
    s.create_file("f", 16 * MiB)
    s.spawn("w")
    s.mmap("w", "m", 16 * MiB, file="f", prot="r")
    s.access("w", "m", 0, 16 * MiB, write=False)
    s.spawn("p")
    s.mmap("p", "m", 16 * MiB, file="f", prot="r")
    s.access("p", "m", MiB, 2 * MiB, write=False)
    assert (s.faults("p").minor, s.faults("p").major, s.rss("p")) == (16, 0, 1024 * KiB)


def test_the_default_readahead_is_the_kernels_128KiB():
    assert MachineConfig(ram=MiB).readahead == 128 * KiB


def test_mmap_miss_turns_read_around_off_after_100_misses():
    """``do_sync_mmap_readahead`` reads nothing around a miss once the file's ``mmap_miss``
    (misses less pages fault-around found) passes 100: the fault reads its one page."""
    s = System(MachineConfig(ram=1 << 30))
    s.create_file("f", 4 * MiB)
    s.spawn("p")
    s.mmap("p", "m", 4 * MiB, file="f", prot="r")
    v = s.procs["p"].vmas.find(s.procs["p"].regions["m"].start)
    v.ra.mmap_miss = 100
    s.access("p", "m", 0, 1, write=False)
    assert s.cached == 4096 and v.ra.mmap_miss == 100  # +1 for the miss, -1 for the page mapped
    v.ra.mmap_miss = 99
    s.access("p", "m", MiB, MiB + 1, write=False)
    assert s.cached == (1 + 32) * 4096  # read around: 32 pages
