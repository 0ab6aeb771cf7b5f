"""glibc's malloc and free as a process runs them: the arena's choices (``vmspec.engine.malloc``)
turned into brk, mmap and munmap calls and into the stores glibc makes to its chunk headers,
which are write accesses like any other.

glibc 2.36: ``malloc/malloc.c`` (``sysmalloc``, ``systrim``, ``munmap_chunk``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmspec.engine.errors import EINVAL, ENOMEM
from vmspec.engine.layout import page_align
from vmspec.engine.mmap import mmap_anon, munmap_range, set_brk
from vmspec.engine.process import Process, Region

if TYPE_CHECKING:
    from vmspec.engine.system import System


def malloc(sysm: System, p: Process, name: str, size: int) -> None:
    """glibc malloc through the process's Arena; glibc's own stores become write accesses."""
    if size < 0:
        raise EINVAL(f"malloc size must be >= 0, got {size}")
    old_brk = p.brk
    alloc, heap = p.arena.malloc(size)
    try:
        if heap != p.brk - p.start_brk:
            set_brk(sysm, p, p.start_brk + heap)
        if alloc.via == "mmap":
            base = mmap_anon(sysm, p, alloc.mmap_length)
        else:
            base = p.start_brk
    except ENOMEM:
        p.arena.undo_malloc()
        if p.brk != old_brk:
            set_brk(sysm, p, old_brk)
        raise
    p.regions[name] = Region(base + alloc.offset, size, via=alloc.via, alloc=alloc)
    one = sysm.mmu.access_one
    for off in alloc.heap_writes:
        one(p, p.start_brk + off, True)
    for off in alloc.writes:
        one(p, base + off, True)


def free(sysm: System, p: Process, name: str) -> None:
    """glibc free: bookkeeping writes, then munmap of an mmapped chunk or a heap trim."""
    r = p.region(name)
    if r.alloc is None:
        raise EINVAL(f"{p.name}.{name} was not allocated with malloc")
    if r.freed:
        raise EINVAL(f"{p.name}.{name} was already freed (double free)")
    res = p.arena.free(r.alloc)
    r.freed = True
    for off in res.writes:
        sysm.mmu.access_one(p, p.start_brk + off, True)
    if res.munmap_length:
        start = r.start - r.alloc.offset
        munmap_range(sysm, p, start, start + page_align(res.munmap_length, sysm.page_size))
    if res.heap_end != p.brk - p.start_brk:
        set_brk(sysm, p, p.start_brk + res.heap_end)
