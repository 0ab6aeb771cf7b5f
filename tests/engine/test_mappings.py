"""The read-only address-space map (``System.mappings``) that reports draw."""

from __future__ import annotations

from vmspec.engine import Image, MachineConfig, Segment, System

KiB, MiB = 1 << 10, 1 << 20


def test_mappings_in_address_order_with_resident_swapped_and_protection():
    s = System(MachineConfig(ram=64 * MiB, swap=16 * MiB, replacement="fifo"))
    s.spawn("p", Image("img", (Segment("text", 64 * KiB),)), memory_max=256 * KiB)
    s.mmap("p", "buf", 1 * MiB)
    s.mmap("p", "ro", 64 * KiB, prot="r")
    s.access("p", "buf", 0, 512 * KiB, write=True)
    s.access("p", "text", 0, 8 * KiB, write=False)
    maps = s.mappings("p")
    starts = [m.start for m in maps]
    assert starts == sorted(starts)
    by_region = {m.region: m for m in maps}
    buf = by_region["buf"]
    assert buf.end - buf.start == 1 * MiB and buf.prot == "rw" and buf.backing == "anon"
    assert buf.resident + buf.swapped == 512 * KiB  # what the group could not keep went to swap
    assert buf.swapped == s.swapped("p", "buf") and buf.resident == s.resident("p", "buf")
    assert by_region["ro"].prot == "r" and by_region["ro"].resident == 0
    assert by_region["text"].prot == "rx" and by_region["text"].backing == "file"
    assert by_region["text"].resident == 8 * KiB
    assert sum(m.resident for m in maps) == s.rss("p")
    assert sum(m.end - m.start for m in maps) == s.vsz("p")


def test_hugetlb_bytes_and_not_running():
    s = System(MachineConfig(ram=64 * MiB, hugepages=((2 * MiB, 4),)))
    s.spawn("p")
    s.mmap("p", "h", 4 * MiB, hugetlb=2 * MiB)
    s.access("p", "h", 0, 2 * MiB, write=True)
    (h,) = [m for m in s.mappings("p") if m.region == "h"]
    assert h.backing == "hugetlb" and h.huge == 2 * MiB == s.huge("p", "h")
    s.exit("p")
    assert s.mappings("p") == [] and s.mappings("nobody") == []


def test_rss_shmem_is_the_shared_anonymous_part_of_rss():
    s = System(MachineConfig(ram=64 * MiB))
    s.spawn("p")
    s.mmap("p", "shm", 256 * KiB, shared=True)
    s.mmap("p", "priv", 256 * KiB)
    s.access("p", "shm", 0, 256 * KiB, write=True)
    s.access("p", "priv", 0, 128 * KiB, write=True)
    assert s.rss_shmem("p") == 256 * KiB and s.rss_anon("p") == 128 * KiB
    assert s.rss("p") == s.rss_anon("p") + s.rss_file("p") + s.rss_shmem("p")
    (shm,) = [m for m in s.mappings("p") if m.region == "shm"]
    assert shm.backing == "shmem" and shm.resident == 256 * KiB


def test_counters_and_memory_equal_the_getters():
    s = System(MachineConfig(ram=64 * MiB, swap=16 * MiB, replacement="fifo"))
    s.create_file("f", 1 * MiB)
    s.spawn("p", memory_max=512 * KiB)
    s.mmap("p", "a", 1 * MiB)
    s.mmap("p", "f", 256 * KiB, file="f", prot="r")
    s.mmap("p", "m", 64 * KiB, shared=True)
    s.access("p", "a", 0, 1 * MiB, write=True)
    s.access("p", "f", 0, 256 * KiB, write=False)
    s.access("p", "m", 0, 64 * KiB, write=True)
    s.fork("p", "c")
    s.access("c", "a", 0, 64 * KiB, write=True)
    for name in ("p", "c"):
        f, t = s.faults(name), s.tlb(name)
        assert s.counters(name) == (s.rss_anon(name), s.rss_file(name), s.rss_shmem(name), s.swap(name),
                                    s.pagetables(name), f.minor, f.major, f.cow, t.hits, t.misses)
    assert s.memory() == (s.free, s.cached, s.swap_used, s.committed) and s.swap_used > 0
    s.exit("c")
    f, t = s.faults("c"), s.tlb("c")
    assert s.counters("c") == (0, 0, 0, 0, 0, f.minor, f.major, f.cow, t.hits, t.misses) and f.cow == 16
    assert s.counters("nobody") == (0,) * 10


def test_transparent_huge_pages_count_as_huge():
    s = System(MachineConfig(ram=64 * MiB, thp="always"))
    s.spawn("p")
    s.mmap("p", "big", 8 * MiB)
    s.access("p", "big", 0, 8 * MiB, write=True)
    (big,) = [m for m in s.mappings("p") if m.region == "big"]
    assert big.huge == s.huge("p", "big") > 0 and big.resident == s.resident("p", "big")
