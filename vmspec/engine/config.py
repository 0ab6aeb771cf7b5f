"""Machine and image configuration of the reference engine: plain frozen dataclasses.

What a ``machine { ... }`` block means once the language has resolved it, and what a user of the
Python API builds directly. Defaults are docs/language.md's ("Machine settings"), Linux's on
x86-64. Nothing here allocates anything in proportion to ``ram``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40
PiB = 1 << 50


@dataclass(frozen=True, slots=True)
class TLBLevel:
    """One TLB level: ``name`` is l1 (4 KiB), l1_2m, l1_1g or l2 (4 KiB and 2 MiB); ``ways`` equal
    to ``entries`` means fully associative. Sets = entries // ways; set index = VPN mod sets."""

    name: str
    entries: int
    ways: int

    @property
    def sets(self) -> int:
        return self.entries // self.ways


DEFAULT_TLB: tuple[TLBLevel, ...] = (
    TLBLevel("l1", 64, 4),
    TLBLevel("l1_2m", 32, 4),
    TLBLevel("l1_1g", 4, 4),
    TLBLevel("l2", 1536, 12),
)


@dataclass(frozen=True, slots=True)
class Latency:
    """The cost model, in nanoseconds (docs/language.md, ``latency``)."""

    tlb_hit: int = 1
    walk_step: int = 20
    minor_fault: int = 1_000
    major_fault: int = 100_000
    memory: int = 80


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """A simulated machine. Sizes are bytes. ``watermarks`` None means derived as Linux does
    (``mm/page_alloc.c``, docs/engine.md "Reclaim"); ``mmap_threshold`` None means glibc's dynamic
    default (``malloc/malloc.c``, docs/engine.md "malloc")."""

    ram: int
    page_size: int = 4 * KiB
    paging_levels: int = 4
    swap: int = 0
    hugepages: tuple[tuple[int, int], ...] = ()  # (page size, count) pairs, e.g. ((2*MiB, 16),)
    thp: str = "madvise"  # never | madvise | always
    tlb: tuple[TLBLevel, ...] = DEFAULT_TLB
    replacement: str = "twolist"  # twolist | lru | fifo | clock | random
    overcommit: str = "heuristic"  # heuristic | always | never
    overcommit_ratio: int = 50
    watermarks: tuple[int, int, int] | None = None  # (min, low, high) in bytes
    swappiness: int = 60
    page_cluster: int = 3
    mmap_threshold: int | None = None
    kernel: int = 0
    readahead: int = 128 * KiB  # the file device's readahead window (read_ahead_kb), bytes
    latency: Latency = field(default_factory=Latency)


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment of an image: kind is text, data, bss, lib or stack; ``lib`` names a library."""

    kind: str
    size: int
    lib: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    """What a process starts from (docs/language.md, "Images")."""

    name: str
    segments: tuple[Segment, ...] = ()
