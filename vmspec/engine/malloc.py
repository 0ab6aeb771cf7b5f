"""glibc 2.36 ``malloc``/``free`` in the main arena, as far as a process's memory shows it.

Counterpart: ``malloc/malloc.c`` at glibc-2.36 (``_int_malloc``, ``sysmalloc``, ``_int_free``,
``systrim``, ``__libc_free``). The ``writes`` of an :class:`Allocation` or :class:`FreeResult` are
the bytes glibc stores (chunk headers, footers, bin links), which the engine turns into one-byte
write accesses. Rules and measurements: docs/engine.md, "malloc". ENOMEM is decided by the engine.

Not modelled: tcache and fastbins (a freed chunk coalesces at once), the unsorted bin and
``last_remainder`` order, other arenas (threads), ``realloc``/``calloc``/``memalign``, the
``MMAP_AS_MORECORE`` fallback, a break moved by anyone but malloc.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

SIZE_SZ = 8
MINSIZE = 32
MALLOC_ALIGN_MASK = 15
DEFAULT_MMAP_THRESHOLD = 128 * 1024
DEFAULT_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # 4 MiB * sizeof(long) on 64-bit
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_TOP_PAD = 128 * 1024  # sysdeps/generic/malloc-machine.h wins over malloc.c's 0
DEFAULT_MMAP_MAX = 65536
FASTBIN_CONSOLIDATION_THRESHOLD = 65536
TCACHE_STRUCT_SIZE = 640  # sizeof(tcache_perthread_struct): 64 uint16 counts + 64 pointers
TCACHE_CHUNK = 0x290  # request2size(640) = 656
MMAP_USER_OFFSET = 2 * SIZE_SZ  # chunk2mem of a page-aligned mmapped chunk


def request2size(req: int) -> int:
    """Return glibc's chunk size ``nb`` for a request of ``req`` bytes (``request2size``)."""
    if req < 0:
        raise ValueError(f"malloc size must be >= 0, got {req}")
    return max(MINSIZE, (req + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK)


def _unique(offsets: list[int]) -> list[int]:
    """Drop repeated offsets, keeping the order glibc writes them in."""
    return list(dict.fromkeys(offsets))


def align_up(value: int, alignment: int) -> int:
    """Round ``value`` up to a multiple of ``alignment`` (a power of two)."""
    return (value + alignment - 1) & ~(alignment - 1)


def align_down(value: int, alignment: int) -> int:
    """Round ``value`` down to a multiple of ``alignment`` (a power of two)."""
    return value & ~(alignment - 1)


@dataclass(slots=True)
class Allocation:
    """One ``malloc`` result. ``via`` is "brk" or "mmap"; ``offset`` is the user pointer's offset
    from the heap start (brk) or inside the new mapping (mmap: always 16); ``chunk`` is the chunk
    size (``nb``, or a whole free chunk too small to split, for brk; the mapping length for mmap);
    ``writes`` are heap offsets (brk) or mapping offsets (mmap) glibc writes; ``heap_writes`` are
    heap offsets written by an mmap allocation (only the tcache set-up of a process's first
    malloc, which always lives in the brk heap)."""

    via: str
    offset: int
    size: int
    chunk: int
    mmap_length: int
    writes: list[int]
    heap_writes: list[int] = field(default_factory=list)


@dataclass(slots=True)
class FreeResult:
    """What a ``free`` does: ``munmap_length`` > 0 unmaps the chunk's own mapping; ``writes`` are
    heap offsets glibc writes (coalesced chunk header, footer, bin links; written before any
    trim); ``heap_end`` is the heap size afterwards (smaller after ``systrim``)."""

    munmap_length: int
    writes: list[int]
    heap_end: int


@dataclass(slots=True)
class Arena:
    """The main arena of one process: its brk heap, free chunks and malloc parameters.

    ``mmap_threshold`` None means glibc's dynamic default (128 KiB, raised by frees of mmapped
    chunks); a number fixes it, as ``mallopt(M_MMAP_THRESHOLD)`` does (which also sets
    ``no_dyn_threshold``). Any value is accepted here; glibc's mallopt refuses one above 32 MiB.
    """

    page_size: int = 4096
    mmap_threshold: int | None = None
    trim_threshold: int = DEFAULT_TRIM_THRESHOLD
    top_pad: int = DEFAULT_TOP_PAD
    no_dyn_threshold: bool = False
    heap_size: int = 0  # brk - start_brk
    top: int = 0  # heap offset of the top chunk; its size is heap_size - top
    n_mmaps: int = 0
    tcache_ready: bool = False
    _used: dict[int, int] = field(default_factory=dict)  # chunk offset -> size, brk chunks in use
    _free: dict[int, int] = field(default_factory=dict)  # chunk offset -> size, free brk chunks
    _free_end: dict[int, int] = field(default_factory=dict)  # chunk end -> offset, free chunks
    _by_size: list[tuple[int, int]] = field(default_factory=list)  # sorted (size, offset), free
    _journal: list | None = None  # changes of the malloc under way, to undo it
    _last: tuple | None = None  # (scalars, changes) of the last malloc, for undo_malloc

    @property
    def threshold(self) -> int:
        """Return the mmap threshold in force (``mmap_threshold`` once constructed)."""
        assert self.mmap_threshold is not None  # __post_init__ sets it
        return self.mmap_threshold

    def __post_init__(self) -> None:
        if self.mmap_threshold is None:
            self.mmap_threshold = DEFAULT_MMAP_THRESHOLD
        else:
            self.no_dyn_threshold = True

    @property
    def top_size(self) -> int:
        """Return the top chunk's size (0 before the first malloc, like glibc's initial top)."""
        return self.heap_size - self.top

    def copy(self) -> Arena:
        """Return an independent copy of this arena (fork: the child inherits its heap state)."""
        new = Arena(self.page_size, self.mmap_threshold, self.trim_threshold, self.top_pad,
                    self.no_dyn_threshold, self.heap_size, self.top, self.n_mmaps,
                    self.tcache_ready)
        new.no_dyn_threshold = self.no_dyn_threshold
        new._used = dict(self._used)
        new._free = dict(self._free)
        new._free_end = dict(self._free_end)
        new._by_size = list(self._by_size)
        return new

    def free_chunks(self) -> list[tuple[int, int]]:
        """Return the free brk chunks (not counting top) as sorted ``(offset, size)`` pairs."""
        return sorted(self._free.items())

    def malloc(self, size: int) -> tuple[Allocation, int]:
        """Allocate ``size`` bytes by glibc's rules and return the allocation and the new heap size.

        Order: the first call sets up the tcache struct (chunk 0x290) through sysmalloc;
        then best fit over free chunks, then the top chunk if ``size(top) >= nb + MINSIZE``,
        else sysmalloc: its own mapping if ``nb >= mmap_threshold`` (and fewer than 65536 are
        live), otherwise extend brk by ``ALIGN_UP(nb + top_pad + MINSIZE - size(top), page)``.
        """
        nb = request2size(size)
        self._journal = []
        self._last = ((self.heap_size, self.top, self.n_mmaps, self.tcache_ready), self._journal)
        try:
            return self._malloc(size, nb)
        finally:
            self._journal = None

    def undo_malloc(self) -> None:
        """Undo the last ``malloc`` (the engine could not grow the heap or map the chunk: ENOMEM),
        at the cost of what it changed."""
        if self._last is None:
            raise ValueError("no malloc to undo")
        scalars, changes = self._last
        self._last = None
        for kind, off, size in reversed(changes):
            if kind == "link":
                self._unlink(off)
            elif kind == "unlink":
                self._link(off, size)
            else:
                del self._used[off]
        self.heap_size, self.top, self.n_mmaps, self.tcache_ready = scalars

    def _malloc(self, size: int, nb: int) -> tuple[Allocation, int]:
        heap_writes: list[int] = []
        if not self.tcache_ready:
            self.tcache_ready = True
            tc = self._take_brk(TCACHE_CHUNK, heap_writes, may_mmap=False)
            assert tc is not None  # without may_mmap the heap always grows
            # tcache_init memsets the struct: one write per page it spans is enough.
            start, end = tc + 2 * SIZE_SZ, tc + 2 * SIZE_SZ + TCACHE_STRUCT_SIZE
            heap_writes.extend(range(align_down(start, self.page_size), end, self.page_size))
        writes: list[int] = []
        offset = self._take_brk(nb, writes, may_mmap=True)
        if offset is None:
            length = align_up(nb + SIZE_SZ, self.page_size)
            self.n_mmaps += 1
            alloc = Allocation("mmap", MMAP_USER_OFFSET, size, length, length, [SIZE_SZ],
                               _unique(heap_writes))
            return alloc, self.heap_size
        alloc = Allocation("brk", offset + 2 * SIZE_SZ, size, self._used[offset], 0,
                           _unique(heap_writes + writes))
        return alloc, self.heap_size

    def _take_brk(self, nb: int, writes: list[int], *, may_mmap: bool) -> int | None:
        """Carve a chunk of ``nb`` bytes from the free chunks or top; None means use mmap."""
        i = bisect_left(self._by_size, (nb, -1))
        if i < len(self._by_size):
            size, off = self._by_size[i]
            self._unlink(off)
            if size - nb >= MINSIZE:
                rem = off + nb
                self._link(rem, size - nb)
                # set_head(victim), set_head/set_foot(remainder), remainder's bin links.
                writes += [off + SIZE_SZ, rem + SIZE_SZ, rem + 2 * SIZE_SZ, off + size]
                size = nb
            else:
                # The whole chunk: set_inuse_bit_at_offset writes the next chunk's size field.
                writes += [off + SIZE_SZ, off + size + SIZE_SZ]
            self._used[off] = size
            if self._journal is not None:
                self._journal.append(("used", off, size))
            return off
        if self.top_size < nb + MINSIZE:
            if (may_mmap and nb >= self.threshold and self.n_mmaps < DEFAULT_MMAP_MAX):
                return None
            grow = align_up(nb + self.top_pad + MINSIZE - self.top_size, self.page_size)
            self.heap_size += grow
        off = self.top
        self.top = off + nb
        self._used[off] = nb
        if self._journal is not None:
            self._journal.append(("used", off, nb))
        writes += [off + SIZE_SZ, self.top + SIZE_SZ]  # the chunk's and the new top's size fields
        return off

    def free(self, alloc: Allocation) -> FreeResult:
        """Free ``alloc`` by glibc's rules and say what is unmapped, written and trimmed.

        An mmapped chunk is unmapped and, with the dynamic threshold, moves it: ``chunk >
        mmap_threshold and chunk <= 32 MiB`` gives ``mmap_threshold = chunk``, ``trim_threshold =
        2 * chunk``. A brk chunk coalesces with free neighbours and top; if the coalesced
        chunk is at least 64 KiB and ``size(top) >= trim_threshold``, systrim gives back
        ``ALIGN_DOWN(size(top) - MINSIZE - 1 - top_pad, page)`` (``_int_free``, ``systrim``).
        """
        if alloc.via == "mmap":
            self.n_mmaps -= 1
            chunk = alloc.chunk
            if (not self.no_dyn_threshold and chunk > self.threshold
                    and chunk <= DEFAULT_MMAP_THRESHOLD_MAX):
                self.mmap_threshold = chunk
                self.trim_threshold = 2 * chunk
            return FreeResult(alloc.mmap_length, [], self.heap_size)
        off = alloc.offset - 2 * SIZE_SZ
        size = self._used.pop(off, None)
        if size is None:
            raise ValueError(f"free of a chunk not in use at heap offset {off:#x} (double free?)")
        writes: list[int] = []
        start, end = off, off + size
        prev = self._free_end.get(start)
        if prev is not None:
            self._unlink(prev)
            start = prev
        if end == self.top:
            self.top = start
            size = self.top_size
            writes.append(start + SIZE_SZ)  # set_head of the new top
        else:
            nxt = self._free.get(end)
            if nxt is not None:
                self._unlink(end)
                end += nxt
            else:
                writes.append(end + SIZE_SZ)  # clear_inuse_bit_at_offset: next chunk's size field
            size = end - start
            self._link(start, size)
            # set_head, unsorted-bin links, set_foot (the next chunk's prev_size).
            writes += [start + SIZE_SZ, start + 2 * SIZE_SZ, end]
        if size >= FASTBIN_CONSOLIDATION_THRESHOLD and self.top_size >= self.trim_threshold:
            self._systrim(writes)
        return FreeResult(0, _unique(writes), self.heap_size)

    def _systrim(self, writes: list[int]) -> None:
        """Give back whole pages of top beyond ``top_pad + MINSIZE`` (glibc ``systrim``)."""
        top_area = self.top_size - MINSIZE - 1
        if top_area <= self.top_pad:
            return
        extra = align_down(top_area - self.top_pad, self.page_size)
        if extra == 0:
            return
        self.heap_size -= extra
        writes.append(self.top + SIZE_SZ)

    def _link(self, off: int, size: int) -> None:
        """Record a free chunk."""
        if self._journal is not None:
            self._journal.append(("link", off, size))
        self._free[off] = size
        self._free_end[off + size] = off
        insort(self._by_size, (size, off))

    def _unlink(self, off: int) -> None:
        """Forget a free chunk."""
        size = self._free.pop(off)
        if self._journal is not None:
            self._journal.append(("unlink", off, size))
        del self._free_end[off + size]
        i = bisect_left(self._by_size, (size, off))
        del self._by_size[i]
