"""Readahead: which pages of a file are read, in which folio sizes, and where the next window starts.

``mm/readahead.c`` of Linux 6.18 for the paths a memory access can take: ``page_cache_ra_order``,
``page_cache_async_ra``, ``do_page_cache_ra`` and ``force_page_cache_ra`` (MADV_WILLNEED).
``FileRA`` is ``struct file_ra_state``, one per mmap here; the page cache is reached through a
:class:`Cache`. Rules and measurements: docs/engine.md, "File pages".

Not modelled: the read(2) paths (``prev_pos``), MADV_SEQUENTIAL and MADV_RANDOM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MAX_PAGECACHE_ORDER = 9  # min(MAX_XAS_ORDER, HPAGE_PMD_ORDER); ext4 with 4 KiB blocks allows it
IO_PAGES = 1024  # bdi->io_pages: max_sectors_kb 4096 / 4 (the measured virtio disk)
WILLNEED_CHUNK = 512  # force_page_cache_ra reads 2 MiB at a time


class Cache(Protocol):
    """The page cache as readahead sees it: ``npages`` (the file's size in pages),
    ``cached(index)``, ``add(index, order, mark)`` (allocate and insert one folio of ``2**order``
    pages; False if a page of it is cached or memory for it cannot be had: readahead never
    reclaims hard nor calls the OOM killer) and ``next_miss(index, limit)``."""

    npages: int

    def cached(self, index: int) -> bool: ...

    def add(self, index: int, order: int, mark: bool) -> bool: ...

    def next_miss(self, index: int, limit: int) -> int: ...


@dataclass(slots=True)
class FileRA:
    """``struct file_ra_state`` (``include/linux/fs.h``), zeroed at open (``file_ra_state_init``)."""

    ra_pages: int  # bdi->ra_pages at open: the machine's readahead in pages
    start: int = 0
    size: int = 0
    async_size: int = 0
    order: int = 0
    mmap_miss: int = 0


def _ilog2(x: int) -> int:
    return x.bit_length() - 1


def _lowbit(x: int) -> int:  # __ffs
    return (x & -x).bit_length() - 1


def next_ra_size(cur: int, mx: int) -> int:
    """``get_next_ra_size``: quadruple a small window, double a medium one, else ``mx``."""
    if cur < mx // 16:
        return 4 * cur
    if cur <= mx // 2:
        return 2 * cur
    return mx


def max_pages(ra: FileRA, req: int) -> int:
    """``ractl_max_pages``: ``ra_pages``, raised towards ``io_pages`` for a larger request."""
    mp = ra.ra_pages
    if req > mp and IO_PAGES > mp:
        mp = min(req, IO_PAGES)
    return mp


def do_page_cache_ra(cache: Cache, index: int, nr: int, lookahead: int) -> None:
    """``do_page_cache_ra`` / ``page_cache_ra_unbounded``: read the missing pages of
    ``[index, index + nr)`` (clipped to the file) as order-0 folios; the page ``nr - lookahead``
    into the range gets PG_readahead; stop at the first page memory cannot be found for."""
    end = cache.npages - 1
    if index > end:
        return
    nr = min(nr, end - index + 1)
    mark = nr - lookahead if lookahead <= nr else -1
    for i in range(nr):
        if cache.cached(index + i):
            continue
        if not cache.add(index + i, 0, i == mark):
            return


def ra_order(ra: FileRA, cache: Cache, index: int) -> None:
    """``page_cache_ra_order``: read the window ``[index, index + ra.size)`` in folios of
    ``ra.order`` (capped by order 9 and ``ilog2(ra.size)``; smaller where the index is not
    aligned or the window or file ends); the folio holding ``index + size - async_size`` gets
    PG_readahead. A cached page (or a folio memory cannot be found for) ends the large-folio
    walk, and the rest of the window is read as order-0 pages."""
    start = index
    limit = min(cache.npages - 1, index + ra.size - 1)
    mark = index + ra.size - ra.async_size
    new_order = min(MAX_PAGECACHE_ORDER, ra.order, _ilog2(ra.size) if ra.size > 0 else 0)
    ra.order = new_order
    err = False
    while index <= limit:
        order = new_order
        if index & ((1 << order) - 1):
            order = _lowbit(index)
        while order > 0 and index + (1 << order) - 1 > limit:
            order -= 1
        if not cache.add(index, order, index == mark & ~((1 << order) - 1)):
            err = True
            break
        index += 1 << order
    if err and ra.size > index - start:
        do_page_cache_ra(cache, index, ra.size - (index - start), ra.async_size)


def async_ra(ra: FileRA, cache: Cache, index: int, folio_nr: int, req: int) -> None:
    """``page_cache_async_ra``: a fault at ``index`` found a PG_readahead folio of ``folio_nr``
    pages (the caller clears the mark). If it is where the window said, the next window
    follows it and grows (``get_next_ra_size``); otherwise a new window starts at the next
    missing page. The order grows by two, the window's end is aligned to it, and the whole
    window is asynchronous (its first folio carries the next mark)."""
    if not ra.ra_pages:
        return
    mp = max_pages(ra, req)
    expected = (ra.start + ra.size - ra.async_size) & ~(folio_nr - 1)
    if index == expected:
        ra.start += ra.size
        ra.size = max(ra.size, next_ra_size(ra.size, mp))
    else:
        start = cache.next_miss(index + 1, mp)
        if not start or start - index > mp:
            return
        ra.start = start
        ra.size = next_ra_size(start - index + req, mp)
    ra.order += 2
    align = 1 << min(ra.order, (mp & -mp).bit_length() - 1)
    end = ra.start + ra.size
    aligned_end = end & ~(align - 1)
    if aligned_end > ra.start:
        ra.size -= end - aligned_end
    ra.async_size = ra.size
    ra_order(ra, cache, ra.start)


def force_ra(ra: FileRA, cache: Cache, index: int, nr: int) -> None:
    """``force_page_cache_ra`` (MADV_WILLNEED through ``generic_fadvise``): read at most
    ``max(io_pages, ra_pages)`` pages from ``index``, 2 MiB at a time, as order-0 pages with no
    readahead mark; the readahead state is left alone."""
    nr = min(nr, max(IO_PAGES, ra.ra_pages))
    while nr > 0:
        chunk = min(WILLNEED_CHUNK, nr)
        do_page_cache_ra(cache, index, chunk, 0)
        index += chunk
        nr -= chunk
