"""Virtual memory areas of one process: lookup, split, merge and placement, each O(log n).

``struct vm_area_struct`` and the parts of ``mm/mmap.c``/``mm/vma.c`` that decide where mappings
go and how they are cut: ``find_vma``, ``__split_vma``, ``vma_merge``,
``arch_get_unmapped_area_topdown`` (with 6.18's ``__thp_get_unmapped_area``) and the bottom-up
fallback. Like the maple tree (``lib/maple_tree.c``), the VMAs live in a B-tree whose nodes keep
the largest gap below each child (``mas_empty_area_rev``). ``vmspec.engine.vmaref`` is the
plain-list reference it is tested against. Rules: docs/engine.md, "Layout", "VMAs".

Not modelled: address hints, MAP_FIXED, stack growth, mremap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from vmspec.engine.errors import Unsupported
from vmspec.engine.layout import DEFAULT_MAP_WINDOW, MMAP_MIN_ADDR, PMD_SIZE, STACK_GUARD_GAP

R, W, X = 1, 2, 4
PROTS = {"none": 0, "r": R, "rw": R | W, "rx": R | X, "rwx": R | W | X}


@dataclass(slots=True)
class VMA:
    """One mapping ``[start, end)``. ``file`` is a page-cache file key (a shmem object for shared
    anonymous memory, ``shmem`` True), ``pgoff`` the file page at ``start``; ``account`` is
    VM_ACCOUNT (charged to Committed_AS); ``anon_vma`` is 0 until an anonymous page is faulted in
    (then an id shared by the pieces of a split); ``thp`` records MADV_(NO)HUGEPAGE."""

    start: int
    end: int
    prot: int
    shared: bool = False
    file: int | None = None
    pgoff: int = 0
    shmem: bool = False
    locked: bool = False
    noreserve: bool = False
    account: bool = False
    hugetlb: int = 0  # huge page size in bytes of a hugetlb mapping, else 0
    hobj: int = 0  # the hugetlbfs file of a hugetlb mapping (one per mmap); pgoff counts its huge pages
    hugetlb_owner: bool = False  # HPAGE_RESV_OWNER: the process that mapped it (not a fork child)
    thp: str | None = None
    advice: str | None = None
    anon_vma: int = 0
    growsdown: bool = False
    name: str = ""
    ra: object = None  # the readahead state of the open file it maps (vmspec.engine.readahead)

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def writable(self) -> bool:
        return bool(self.prot & W)

    @property
    def anonymous(self) -> bool:
        """True for private anonymous memory (no file, not shmem)."""
        return self.file is None

    def file_page(self, va: int, shift: int = 12) -> int:
        """Return the file page index mapped at ``va``."""
        return self.pgoff + ((va - self.start) >> shift)


def mergeable(a: VMA, b: VMA, shift: int = 12) -> bool:
    """Return True if ``b`` directly follows ``a`` and both may be one VMA (``vma_merge``)."""
    if a.end != b.start:
        return False
    if (a.prot, a.shared, a.file, a.shmem, a.locked, a.noreserve, a.account, a.hugetlb, a.hobj,
            a.thp, a.growsdown) != (b.prot, b.shared, b.file, b.shmem, b.locked, b.noreserve,
                                    b.account, b.hugetlb, b.hobj, b.thp, b.growsdown):
        return False
    if a.hobj and a.pgoff + (a.length // a.hugetlb) != b.pgoff:
        return False
    if a.growsdown:
        return False
    if a.file is not None and (a.pgoff + (a.length >> shift) != b.pgoff or a.ra is not b.ra):
        return False  # another open of the file is another struct file: no merge
    return a.anon_vma == b.anon_vma or not a.anon_vma or not b.anon_vma


_NOWHERE = 1 << 64  # above every address


def _gap(prev_end: int, v: VMA) -> int:
    """Return the free bytes below ``v`` (its stack guard gap taken off) down to the end of the
    VMA before it (``prev_end``, 0 for none) or to mmap_min_addr; negative when there are none."""
    top = v.start - STACK_GUARD_GAP if v.growsdown else v.start
    return top - (prev_end if prev_end > MMAP_MIN_ADDR else MMAP_MIN_ADDR)


def unmapped_area(length: int, high: int, page: int, thp_align: bool, align: int,
                  topdown: Callable[[int, int], int | None],
                  bottomup: Callable[[int, int], int | None]) -> int | None:
    """Pick an address for a new mapping top-down below ``high``, else bottom-up (None: no room).

    ``topdown(length, high)`` returns the end of the highest gap of ``length`` below ``high``,
    ``bottomup(length, low)`` the start of the lowest gap of ``length`` from ``low`` (the VMA list's
    searches, and the reference list's). With ``thp_align`` the search first asks for ``length + 2
    MiB`` and places the mapping at ``round_down(gap_end - length, 2 MiB)``, as 6.18's
    ``__thp_get_unmapped_area`` ends up doing for a top-down layout. ``align`` (a huge page size)
    places a hugetlb mapping on that boundary."""
    if length <= 0 or length > DEFAULT_MAP_WINDOW - MMAP_MIN_ADDR:
        return None
    low = (DEFAULT_MAP_WINDOW // 3 + page - 1) & ~(page - 1)
    if thp_align:
        end = topdown(length + PMD_SIZE, high)
        if end is not None:
            return (end - length) & ~(PMD_SIZE - 1)
    if align > page:
        # vm_unmapped_area with an align_mask (hugetlb_get_unmapped_area): a gap of
        # length + align - PAGE_SIZE, placed at its top rounded down; bottom-up: rounded up.
        end = topdown(length + align - page, high)
        if end is not None:
            return (end - length) & ~(align - 1)
        start = bottomup(length + align - page, low)
        return None if start is None else (start + align - 1) & ~(align - 1)
    end = topdown(length, high)
    if end is not None:
        return end - length
    return bottomup(length, low)


class _Node:
    """A B-tree node. A leaf holds VMAs (``items``) with their starts (``keys``) and the gap below
    each (``gaps``), and links to its neighbours; an inner node holds children with the first
    start and the largest gap of each."""

    __slots__ = ("keys", "gaps", "items", "leaf", "prev", "next")

    def __init__(self, leaf: bool, keys: list, gaps: list, items: list) -> None:
        self.leaf = leaf
        self.keys, self.gaps, self.items = keys, gaps, items
        self.prev: _Node | None = None
        self.next: _Node | None = None

    def split_half(self) -> _Node:
        """Move the upper half of the entries into a new node placed after this one."""
        h = len(self.keys) // 2
        right = _Node(self.leaf, self.keys[h:], self.gaps[h:], self.items[h:])
        del self.keys[h:], self.gaps[h:], self.items[h:]
        if self.leaf:
            right.prev, right.next = self, self.next
            if self.next is not None:
                self.next.prev = right
            self.next = right
        return right

    def absorb(self, right: _Node) -> None:
        """Append the entries of ``right``, the node after this one, which then goes away."""
        self.keys += right.keys
        self.gaps += right.gaps
        self.items += right.items
        if self.leaf:
            self.next = right.next
            if right.next is not None:
                right.next.prev = self


class VMAList:
    """The VMAs of one process, sorted by start, in a B-tree with a gap index.

    Every lookup and change costs O(log n) node visits (``fanout`` entries per node at most);
    ``total`` (VmSize in bytes) and ``nhuge`` are kept as the VMAs change. VMAs handed out stay
    owned by the list: change their ``start``/``end`` only through its methods, and do not change
    the list while iterating over it."""

    __slots__ = ("shift", "nhuge", "total", "observer", "_n", "_root", "_first", "_last", "_down",
                 "_cap", "_low")

    def __init__(self, shift: int = 12, fanout: int = 64) -> None:
        if fanout < 4:
            raise ValueError("fanout must be at least 4")
        self.shift = shift
        self.nhuge = 0  # hugetlb VMAs in the list (access paths take the page-size-aware route)
        self.total = 0  # bytes mapped (VmSize)
        self._n = 0
        self._cap, self._low = fanout, max(2, fanout // 4)
        self._root = self._first = self._last = _Node(True, [], [], [])
        self._down: list[int] = []  # starts of the growsdown VMAs (their guard gaps)
        # told of every VMA object that joins or leaves the list (the files' i_mmap,
        # vmspec.engine.rmap.VMAObserver): ``added(vma)``, ``dropped(vma)``
        self.observer = None

    def attach(self, observer) -> None:
        """Tell ``observer`` of every VMA now in the list and of every later change."""
        self.observer = observer
        for v in self:
            observer.added(v)

    def detach(self) -> None:
        """Tell the observer every VMA is gone (exit) and stop telling it anything."""
        if self.observer is not None:
            for v in self:
                self.observer.dropped(v)
        self.observer = None

    # ---- reading ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[VMA]:
        leaf: _Node | None = self._first
        while leaf is not None:
            yield from leaf.items
            leaf = leaf.next

    def __len__(self) -> int:
        return self._n

    def _locate(self, addr: int) -> tuple[_Node, int] | None:
        """Return the leaf and index of the VMA with the highest start <= ``addr`` (None: none)."""
        node = self._root
        while not node.leaf:
            i = bisect_right(node.keys, addr) - 1
            if i < 0:
                return None
            node = node.items[i]
        j = bisect_right(node.keys, addr) - 1
        return (node, j) if j >= 0 else None

    def find(self, addr: int) -> VMA | None:
        """Return the VMA containing ``addr`` or None."""
        node = self._root
        if not node.leaf:
            loc = self._locate(addr)
            if loc is None:
                return None
            node, j = loc
        else:
            j = bisect_right(node.keys, addr) - 1
            if j < 0:
                return None
        v = node.items[j]
        return v if addr < v.end else None

    def next_after(self, addr: int) -> VMA | None:
        """Return the first VMA starting after ``addr`` (the next one up), or None."""
        loc = self._locate(addr)
        if loc is None:
            return next(iter(self), None)
        leaf, j = loc
        if j + 1 < len(leaf.items):
            return leaf.items[j + 1]
        return leaf.next.items[0] if leaf.next is not None else None

    def _before(self, addr: int) -> VMA | None:
        """Return the VMA with the highest start below ``addr``, or None."""
        loc = self._locate(addr - 1)
        return loc[0].items[loc[1]] if loc is not None else None

    def overlapping(self, start: int, end: int) -> list[VMA]:
        """Return the VMAs intersecting ``[start, end)``, in address order."""
        return self._from(start, end, lambda v: v.end > start)

    def _from(self, start: int, end: int, keep) -> list[VMA]:
        """Return the VMAs from the one at or before ``start`` on, while they start below
        ``end``, that ``keep`` accepts (only the first one can fail it)."""
        loc = self._locate(start)
        leaf: _Node | None
        leaf, j = loc if loc is not None else (self._first, 0)
        out: list[VMA] = []
        first = True
        while leaf is not None:
            items = leaf.items
            while j < len(items):
                v = items[j]
                if v.start >= end:
                    return out
                if not first or keep(v):
                    out.append(v)
                first = False
                j += 1
            leaf, j = leaf.next, 0
        return out

    def intersects(self, start: int, end: int) -> bool:
        """Return True if any VMA intersects ``[start, end)``."""
        v = self._before(end)
        return v is not None and v.end > start

    def covers(self, start: int, end: int) -> bool:
        """Return True if VMAs cover ``[start, end)`` without a hole."""
        return self.mapped_prefix(start, end) == end

    def mapped_prefix(self, start: int, end: int) -> int:
        """Return the end of the hole-free run of VMAs from ``start`` (``start`` if unmapped),
        at most ``end``."""
        at = start
        for v in self.overlapping(start, end):
            if v.start > at:
                break
            at = v.end
        return min(at, end)

    def has_hugetlb(self, start: int, end: int) -> bool:
        """Return True if a hugetlb VMA intersects ``[start, end)``."""
        return bool(self.nhuge) and end > start and \
            any(v.hugetlb for v in self.overlapping(start, end))

    def refuse_hugetlb(self, start: int, end: int, what: str) -> None:
        """Raise Unsupported if ``what`` (an operation) would touch a hugetlb VMA in
        ``[start, end)``: mprotect, madvise and mlock of hugetlb mappings are not modelled."""
        if self.has_hugetlb(start, end):
            raise Unsupported(f"{what} of a hugetlb mapping is not modelled yet")

    def copy(self) -> VMAList:
        """Return a deep copy (fork), built in one pass."""
        new = VMAList(self.shift, self._cap)
        new._build([replace(v) for v in self])
        return new

    # ---- changing -----------------------------------------------------------------------------

    def insert(self, vma: VMA) -> VMA:
        """Add a VMA (the range must be free) and merge it with its neighbours; return the result."""
        self._add(vma)
        merged = self.merge_around(vma.start, vma.end)
        return merged if merged is not None else vma

    def split(self, start: int, end: int) -> list[VMA]:
        """Split VMAs so that none straddles ``start`` or ``end``; return those inside the range."""
        shift = self.shift
        for cut in (start, end):
            v = self.find(cut)
            if v is not None and v.start < cut:
                tail = replace(v, start=cut)
                if v.file is not None:
                    tail.pgoff = v.pgoff + ((cut - v.start) >> shift)
                elif v.hobj:
                    tail.pgoff = v.pgoff + (cut - v.start) // v.hugetlb
                v.end = cut
                self.total -= tail.length  # _add counts the tail again
                self._add(tail)
        return self.overlapping(start, end)

    def remove(self, start: int, end: int) -> list[VMA]:
        """Unmap ``[start, end)`` from the list; return the removed pieces."""
        gone = self.split(start, end)
        for v in gone:
            self._delete(v)
        return gone

    def merge_around(self, start: int, end: int) -> VMA | None:
        """Merge every VMA that starts in ``[start, end]`` into the VMA before it where the two are
        compatible (``vma_merge``); return the VMA at start.

        After a change to ``[start, end)`` that split at its bounds, these are the pairs Linux
        tries: the range's first VMA with the one before, the VMAs inside with each other, and
        the VMA after the range (starting at ``end``) with the range's last."""
        ys = self._from(start, end + 1, lambda v: v.start >= start)
        prev = self._before(ys[0].start) if ys else None
        for v in ys:
            if prev is not None and mergeable(prev, v, self.shift):
                prev.end = v.end
                prev.anon_vma = prev.anon_vma or v.anon_vma
                self.total += v.length  # _delete takes it off; prev now holds it
                self._delete(v)
            else:
                prev = v
        return self.find(start)

    def _add(self, vma: VMA) -> None:
        """Put ``vma`` in its leaf, set its gap and its successor's, then rebalance."""
        path, leaf = self._path(vma.start)
        keys = leaf.keys
        j = bisect_right(keys, vma.start)
        prev = leaf.items[j - 1] if j else (leaf.prev.items[-1] if leaf.prev is not None else None)
        keys.insert(j, vma.start)
        leaf.items.insert(j, vma)
        leaf.gaps.insert(j, _gap(prev.end if prev is not None else 0, vma))
        later = None
        if j + 1 < len(keys):
            leaf.gaps[j + 1] = _gap(vma.end, leaf.items[j + 1])
        elif leaf.next is not None:
            later = leaf.next.items[0]
        self._n += 1
        self.total += vma.length
        if vma.hugetlb:
            self.nhuge += 1
        if vma.growsdown:
            insort(self._down, vma.start)
        if self.observer is not None:
            self.observer.added(vma)
        self._fix(path, leaf)
        if later is not None:
            self._set_gap(later, _gap(vma.end, later))

    def _delete(self, vma: VMA) -> None:
        """Take ``vma`` out of its leaf, reset its successor's gap, then rebalance."""
        path, leaf = self._path(vma.start)
        j = bisect_left(leaf.keys, vma.start)
        if j >= len(leaf.items) or leaf.items[j] is not vma:
            raise ValueError(f"VMA {vma.start:#x}-{vma.end:#x} is not in the list")
        prev = leaf.items[j - 1] if j else (leaf.prev.items[-1] if leaf.prev is not None else None)
        prev_end = prev.end if prev is not None else 0
        del leaf.keys[j], leaf.gaps[j], leaf.items[j]
        later = None
        if j < len(leaf.items):
            leaf.gaps[j] = _gap(prev_end, leaf.items[j])
        elif leaf.next is not None:
            later = leaf.next.items[0]
        self._n -= 1
        self.total -= vma.length
        if vma.hugetlb:
            self.nhuge -= 1
        if vma.growsdown:
            self._down.remove(vma.start)
        if self.observer is not None:
            self.observer.dropped(vma)
        self._fix(path, leaf)
        if later is not None:
            self._set_gap(later, _gap(prev_end, later))

    # ---- the B-tree ---------------------------------------------------------------------------

    def _path(self, addr: int) -> tuple[list[tuple[_Node, int]], _Node]:
        """Return the inner nodes (with the child taken) from the root down, and the leaf that
        holds ``addr`` or would hold a VMA starting there."""
        node = self._root
        path = []
        while not node.leaf:
            i = bisect_right(node.keys, addr) - 1
            if i < 0:
                i = 0
            path.append((node, i))
            node = node.items[i]
        return path, node

    def _fix(self, path: list[tuple[_Node, int]], node: _Node) -> None:
        """After ``node`` (at the end of ``path``) changed: split it if it overflows, merge it with
        a sibling if it underflows, and refresh the first keys and largest gaps up to the root."""
        cap, low = self._cap, self._low
        for parent, i in reversed(path):
            n = len(node.keys)
            if n < low:  # a non-root node has a sibling: the parent holds at least two children
                j = i - 1 if i else i
                left, right = parent.items[j], parent.items[j + 1]
                left.absorb(right)
                if right is self._last:
                    self._last = left
                del parent.keys[j + 1], parent.gaps[j + 1], parent.items[j + 1]
                node, i = left, j
            if len(node.keys) > cap:
                right = node.split_half()
                if node is self._last:
                    self._last = right
                parent.keys.insert(i + 1, right.keys[0])
                parent.gaps.insert(i + 1, max(right.gaps))
                parent.items.insert(i + 1, right)
            parent.keys[i] = node.keys[0]
            parent.gaps[i] = max(node.gaps)
            node = parent
        root = self._root
        if len(root.keys) > cap:
            right = root.split_half()
            if root is self._last:
                self._last = right
            self._root = _Node(False, [root.keys[0], right.keys[0]],
                               [max(root.gaps), max(right.gaps)], [root, right])
        while not self._root.leaf and len(self._root.items) == 1:
            self._root = self._root.items[0]

    def _set_gap(self, vma: VMA, gap: int) -> None:
        """Set the gap below ``vma`` and refresh the largest gaps above it."""
        path, leaf = self._path(vma.start)
        leaf.gaps[bisect_left(leaf.keys, vma.start)] = gap
        node = leaf
        for parent, i in reversed(path):
            parent.gaps[i] = max(node.gaps)
            node = parent

    def _build(self, vmas: list[VMA]) -> None:
        """Fill an empty list with ``vmas`` (sorted, disjoint) in one pass, nodes 3/4 full."""
        n = len(vmas)
        gaps, prev_end = [], 0
        for v in vmas:
            gaps.append(_gap(prev_end, v))
            prev_end = v.end
        self._n = n
        self.total = sum(v.length for v in vmas)
        self.nhuge = sum(1 for v in vmas if v.hugetlb)
        self._down = [v.start for v in vmas if v.growsdown]
        if not n:
            return
        level = [_Node(True, [v.start for v in vmas[a:b]], gaps[a:b], vmas[a:b])
                 for a, b in self._chunks(n)]
        for left, right in zip(level, level[1:]):
            left.next, right.prev = right, left
        self._first, self._last = level[0], level[-1]
        while len(level) > 1:
            level = [_Node(False, [k.keys[0] for k in level[a:b]], [max(k.gaps) for k in level[a:b]],
                           level[a:b]) for a, b in self._chunks(len(level))]
        self._root = level[0]

    def _chunks(self, n: int) -> list[tuple[int, int]]:
        """Split ``n`` entries into nodes of about 3/4 of the fanout, each at least half full."""
        k = -(-n // max(2, self._cap * 3 // 4))
        return [(n * i // k, n * (i + 1) // k) for i in range(k)]

    def check_structure(self) -> None:
        """Raise AssertionError if the tree contradicts itself (tests call this)."""
        vmas = list(self)
        assert len(vmas) == self._n, "count"
        prev_end = 0
        for v in vmas:
            assert v.start >= prev_end and v.end > v.start, f"order at {v.start:#x}"
            prev_end = v.end
        assert self.total == sum(v.length for v in vmas), "total"
        assert self.nhuge == sum(1 for v in vmas if v.hugetlb), "nhuge"
        assert self._down == [v.start for v in vmas if v.growsdown], "growsdown index"
        leaves: list[_Node] = []

        def walk(node: _Node, depth: int, is_root: bool) -> int:
            assert is_root or self._low <= len(node.keys) <= self._cap, "occupancy"
            assert len(node.keys) == len(node.gaps) == len(node.items), "parallel lists"
            if node.leaf:
                leaves.append(node)
                assert node.keys == [v.start for v in node.items], "leaf keys"
                return depth
            assert len(node.items) >= 2 or not is_root, "root with one child"
            depths = {walk(k, depth + 1, False) for k in node.items}
            assert len(depths) == 1, "uneven depth"
            assert node.keys == [k.keys[0] for k in node.items], "inner keys"
            assert node.gaps == [max(k.gaps) for k in node.items], "inner gaps"
            return depths.pop()

        walk(self._root, 0, True)
        assert [v for leaf in leaves for v in leaf.items] == vmas, "leaf order"
        assert leaves[0] is self._first and leaves[-1] is self._last, "ends"
        for a, b in zip(leaves, leaves[1:]):
            assert a.next is b and b.prev is a, "links"
        prev_end = 0
        expect = []
        for v in vmas:
            expect.append(_gap(prev_end, v))
            prev_end = v.end
        assert [g for leaf in leaves for g in leaf.gaps] == expect, "gaps"

    # ---- placement ------------------------------------------------------------------------------

    def get_unmapped_area(self, length: int, high: int, page: int, thp_align: bool,
                          align: int = 0) -> int | None:
        """Pick an address for a new mapping (``unmapped_area``'s rules) with this list's gap
        searches."""
        return unmapped_area(length, high, page, thp_align, align, self._topdown_gap,
                             self._bottomup)

    def _guard_from(self, addr: int) -> int:
        """Return the lowest address the guard gap of a growsdown VMA starting at or above
        ``addr`` reaches down to (far above everything if there is none)."""
        k = bisect_left(self._down, addr)
        return self._down[k] - STACK_GUARD_GAP if k < len(self._down) else _NOWHERE

    def _topdown_gap(self, length: int, high: int) -> int | None:
        """Return the end of the highest gap of at least ``length`` bytes below ``high``.

        The gap between ``high`` and the VMA below it is checked first; then the gap index finds
        the highest VMA with a gap of ``length`` below it. A stack guard gap from above can make
        that gap smaller than its index entry says (the index stores only each VMA's own guard):
        then the search goes on below it (``unmapped_area_topdown`` retries the same way)."""
        below = self._before(high)
        top = min(high, self._guard_from(high))
        lo = below.end if below is not None and below.end > MMAP_MIN_ADDR else MMAP_MIN_ADDR
        if top - lo >= length:
            return top
        limit = below.start if below is not None else -1
        while limit >= 0:
            hit = self._last_fit(limit, length)
            if hit is None:
                return None
            leaf, j = hit
            v = leaf.items[j]
            top = min(v.start, self._guard_from(v.start))
            lo = (v.start - STACK_GUARD_GAP if v.growsdown else v.start) - leaf.gaps[j]
            if top - lo >= length:
                return top
            limit = v.start - 1
        return None

    def _bottomup(self, length: int, low: int) -> int | None:
        """Return the lowest address at or above ``low`` with ``length`` free bytes below the window
        (each gap less its own VMA's guard gap, as ``unmapped_area`` checks)."""
        loc = self._locate(low)
        if loc is not None and loc[0].items[loc[1]].end > low:
            first = loc[0].items[loc[1]]
        else:
            first = self.next_after(low)
        if first is None:
            return low if DEFAULT_MAP_WINDOW - low >= length else None
        if (first.start - STACK_GUARD_GAP if first.growsdown else first.start) - low >= length:
            return low
        hit = self._first_fit(first.start + 1, length)
        if hit is not None:
            leaf, j = hit
            v = leaf.items[j]
            return (v.start - STACK_GUARD_GAP if v.growsdown else v.start) - leaf.gaps[j]
        addr = max(low, self._last.items[-1].end)
        return addr if DEFAULT_MAP_WINDOW - addr >= length else None

    def _last_fit(self, limit: int, length: int) -> tuple[_Node, int] | None:
        """Return the leaf and index of the highest VMA starting at or below ``limit`` with a gap
        of at least ``length`` below it: down the path to ``limit``, then back up to the nearest
        subtree on the left whose largest gap is enough."""
        node, left = self._root, []
        while True:
            gaps = node.gaps
            c = bisect_right(node.keys, limit) - 1
            if node.leaf:
                for j in range(c, -1, -1):
                    if gaps[j] >= length:
                        return node, j
                break
            if c < 0:
                break
            left.append((node, c))
            if gaps[c] < length:
                break
            node = node.items[c]
        while left:
            node, c = left.pop()
            gaps = node.gaps
            for j in range(c - 1, -1, -1):
                if gaps[j] >= length:
                    node = node.items[j]
                    while True:  # its highest fit: the last entry with enough gap, level by level
                        gaps = node.gaps
                        j = len(gaps) - 1
                        while gaps[j] < length:
                            j -= 1
                        if node.leaf:
                            return node, j
                        node = node.items[j]
        return None

    def _first_fit(self, limit: int, length: int) -> tuple[_Node, int] | None:
        """Return the leaf and index of the lowest VMA starting at or above ``limit`` with a gap of
        at least ``length`` below it (the mirror image of ``_last_fit``)."""
        node, right = self._root, []
        while True:
            gaps = node.gaps
            if node.leaf:
                for j in range(bisect_left(node.keys, limit), len(gaps)):
                    if gaps[j] >= length:
                        return node, j
                break
            c = max(bisect_right(node.keys, limit) - 1, 0)
            right.append((node, c))
            if gaps[c] < length:
                break
            node = node.items[c]
        while right:
            node, c = right.pop()
            gaps = node.gaps
            for j in range(c + 1, len(gaps)):
                if gaps[j] >= length:
                    node = node.items[j]
                    while True:  # its lowest fit
                        gaps = node.gaps
                        j = 0
                        while gaps[j] < length:
                            j += 1
                        if node.leaf:
                            return node, j
                        node = node.items[j]
        return None
