"""Large folios: a transparent huge page, or a page-cache folio of readahead, as a run of frames
with one head.

Linux: ``include/linux/mm.h`` and ``mm/huge_memory.c`` (``folio``, ``compound_head``,
``split_folio``). A ``Folios`` maps each folio's head frame to its frames in address (file
index) order, and keeps for every frame its head plus one (0: a page of its own), so that the
head of any page is one array read.

Not modelled: folio orders between 0 and 9 for anonymous memory (mTHP).
"""

from __future__ import annotations

import numpy as np


class Folios(dict[int, np.ndarray]):
    """Head frame -> the folio's frames (head first). ``head1`` (each frame's head plus one) is
    allocated with the first folio and grows with the frame table."""

    __slots__ = ("head1",)

    def __init__(self) -> None:
        super().__init__()
        self.head1: np.ndarray | None = None

    def grow(self, old: int, new: int) -> None:
        """The frame table grew from ``old`` to ``new`` frames."""
        if self.head1 is not None:
            arr = np.zeros(new, np.int64)
            arr[:old] = self.head1[:old]
            self.head1 = arr

    def add(self, subs: np.ndarray, frames: int) -> int:
        """Record a new folio of frames ``subs`` (head first) in a table of ``frames`` frames;
        return its head."""
        if self.head1 is None:
            self.head1 = np.zeros(frames, np.int64)
        head = int(subs[0])
        self.head1[subs] = head + 1
        self[head] = subs
        return head

    def forget(self, head: int) -> np.ndarray:
        """Forget a folio (split or freed); return its frames, each now a page of its own."""
        subs = self.pop(head)
        assert self.head1 is not None  # allocated with the first folio
        self.head1[subs] = 0
        return subs

    def head_of(self, f: int) -> int:
        """Return the head frame of ``f``'s folio, or ``f`` for a page of its own."""
        if self.head1 is None:
            return f
        h = int(self.head1[f])
        return h - 1 if h else f

    def heads_of(self, frames: np.ndarray) -> np.ndarray:
        """Return each frame's folio head, or -1 for a page of its own."""
        if self.head1 is None:
            return np.full(len(frames), -1, np.int64)
        return self.head1[frames] - 1
