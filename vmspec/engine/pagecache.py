"""The page cache: which pages of which files (and shmem objects) are in RAM.

``struct address_space`` (``mm/filemap.c``) as far as the engine needs it: a file is a size in
pages and a sparse map from file page to frame (chunks of 512, ``-1`` none) with its ``i_mmap``; a
cached page counts in ``cached`` and in no process's RSS until a PTE maps it. Shared anonymous
memory is a shmem object here, freed when its last mapping goes. The fault paths and readahead
live in ``vmspec.engine.filemap`` and ``vmspec.engine.readahead``; rules: docs/engine.md, "File
pages".

Not modelled: truncation, the flusher threads (reclaim writes dirty pages back itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmspec.engine.frames import NONE
from vmspec.engine.rmap import IMmap

DEFAULT_RA_PAGES = 32  # VM_READAHEAD_PAGES: 128 KiB, the bdi default (MachineConfig.readahead)


@dataclass(slots=True)
class CachedFile:
    """One file (or shmem object) and its cached pages."""

    key: object
    fid: int
    npages: int
    shmem: bool = False
    charged: int = 0  # pages of Committed_AS a shmem object holds (shmem_acct_size)
    chunks: dict[int, np.ndarray] = field(default_factory=dict)
    nr: int = 0  # cached pages
    ra_start: int = 0
    ra_size: int = 0
    ra_async: int = 0
    imap: IMmap = field(default_factory=IMmap)  # the VMAs mapping it (i_mmap)

    def lookup(self, index: int) -> int:
        """Return the frame caching page ``index`` or -1."""
        c = self.chunks.get(index >> 9)
        return -1 if c is None else int(c[index & 511])

    def insert(self, index: int, frame: int) -> None:
        """Record ``frame`` as the cached copy of page ``index``."""
        c = self.chunks.get(index >> 9)
        if c is None:
            c = self.chunks[index >> 9] = np.full(512, NONE, np.int64)
        c[index & 511] = frame
        self.nr += 1

    def remove(self, index: int) -> None:
        """Forget the cached copy of page ``index``."""
        c = self.chunks[index >> 9]
        c[index & 511] = NONE
        self.nr -= 1
        if not (c >= 0).any():
            del self.chunks[index >> 9]

    def pages(self) -> list[tuple[int, int]]:
        """Return ``(index, frame)`` of every cached page, ascending."""
        out = []
        for ck in sorted(self.chunks):
            c = self.chunks[ck]
            for i in np.flatnonzero(c >= 0).tolist():
                out.append(((ck << 9) + i, int(c[i])))
        return out


class PageCache:
    """Every file the machine knows, by key (a user file name or an internal image/lib key)."""

    __slots__ = ("files", "by_id", "_next", "nr")

    def __init__(self) -> None:
        self.files: dict[object, CachedFile] = {}
        self.by_id: dict[int, CachedFile] = {}
        self._next = 1
        self.nr = 0  # cached frames, all files

    def create(self, key: object, npages: int, shmem: bool = False) -> CachedFile:
        """Create a file of ``npages`` pages, none cached; an existing file keeps its pages but
        grows to the larger size."""
        f = self.files.get(key)
        if f is not None:
            f.npages = max(f.npages, npages)
            return f
        f = CachedFile(key, self._next, npages, shmem)
        self._next += 1
        self.files[key] = f
        self.by_id[f.fid] = f
        return f

    def delete(self, f: CachedFile) -> list[int]:
        """Forget a file (a shmem object nobody maps); return the frames it cached."""
        frames = [fr for _, fr in f.pages()]
        self.nr -= f.nr
        del self.files[f.key]
        del self.by_id[f.fid]
        return frames

    def add(self, f: CachedFile, index: int, frame: int) -> None:
        """Put a page in the cache."""
        f.insert(index, frame)
        self.nr += 1

    def drop(self, f: CachedFile, index: int) -> None:
        """Take a page out of the cache (the caller frees its frame)."""
        f.remove(index)
        self.nr -= 1
