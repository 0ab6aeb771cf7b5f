"""PageTable's range walk and region queries against a page-by-page scan, and the VMA list's
coverage queries against a byte-by-page walk of its VMAs (the scanning versions are the oracles)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vmspec.engine.frames import ANON, FILE, NONE, SHMEM, rss_kinds
from vmspec.engine.pagetable import PageTable
from vmspec.engine.swap import encode
from vmspec.engine.vma import VMA, R, VMAList, W

PAGE = 4096
BASE = 0x7F0000000000  # 2 MiB and 1 GiB aligned


def table(entries: dict[int, int]) -> PageTable:
    """A page table whose PTE tables hold ``entries`` (page number -> PTE value)."""
    pt = PageTable(4)
    frames = iter(range(10_000, 20_000))
    for vpn, value in entries.items():
        t, _ = pt.ensure(vpn >> 9, lambda level: next(frames))
        t[vpn & 511] = value
    return pt


pages = st.integers(0, 3 * 512)  # three PTE tables' worth of pages from BASE
ptes = st.one_of(st.integers(0, 5000), st.just(NONE), st.integers(1, 50).map(encode))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(pages, ptes, max_size=60), st.integers(0, 4 * 512 * PAGE),
       st.integers(0, 4 * 512 * PAGE))
def test_slices_and_queries_match_a_page_by_page_scan(entries, a, b):
    start, end = BASE + min(a, b), BASE + max(a, b)
    pt = table({(BASE >> 12) + k: v for k, v in entries.items()})
    # every page a byte of [start, end) is in, that has a PTE table, in address order
    want = [vpn for vpn in range(start >> 12, ((end - 1) >> 12) + 1) if vpn >> 9 in pt.pfn] \
        if end > start else []
    got = [(key << 9) + i for key, i0, i1 in pt.slices(start, end) for i in range(i0, i1)]
    assert got == want
    values = [int(pt.pfn[vpn >> 9][vpn & 511]) for vpn in want]
    assert pt.frames_in(start, end).tolist() == [v for v in values if v >= 0]
    assert pt.swap_entries_in(start, end).tolist() == \
        [-2 - v for v in values if v <= encode(1)]


def test_an_unaligned_end_takes_its_whole_page():
    pt = table({(BASE >> 12) + 1: 7})
    assert list(pt.slices(BASE + PAGE, BASE + PAGE + 1)) == [(BASE >> 21, 1, 2)]
    assert pt.frames_in(BASE + 1, BASE + PAGE + 1).tolist() == [7]
    assert list(pt.slices(BASE + PAGE, BASE + PAGE)) == []


def test_rss_kinds_counts_each_page_once():
    flags = np.array([ANON, ANON, FILE, FILE | SHMEM, FILE], np.uint16)
    assert rss_kinds(flags) == (2, 2, 1)


spans = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 8), st.booleans()), max_size=8)


@settings(max_examples=300, deadline=None)
@given(spans, st.integers(0, 70), st.integers(0, 70))
def test_coverage_queries_match_a_page_walk(layout, a, b):
    vmas = VMAList()
    taken: set[int] = set()
    huge_pages: set[int] = set()
    for first, n, huge in layout:
        span = set(range(first, first + n))
        if span & taken:
            continue
        taken |= span
        if huge:
            huge_pages |= span
        vmas.insert(VMA(BASE + first * PAGE, BASE + (first + n) * PAGE, R | W,
                        hugetlb=PAGE if huge else 0, name=str(first)))
    start, end = BASE + min(a, b) * PAGE, BASE + max(a, b) * PAGE
    lo, hi = min(a, b), max(a, b)
    prefix = lo
    while prefix < hi and prefix in taken:
        prefix += 1
    assert vmas.mapped_prefix(start, end) == BASE + prefix * PAGE
    assert vmas.covers(start, end) == all(k in taken for k in range(lo, hi))
    assert vmas.has_hugetlb(start, end) == any(k in huge_pages for k in range(lo, hi))
