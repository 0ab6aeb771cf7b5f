"""The engine's file faults against the reference model (tests/engine/filemap_ref.py) on
generated files, readahead sizes and access sequences: after every access the fault counts, the
process's RSS and the cache agree, and at the end the cache holds the same folios and the same
pages are mapped by PMDs."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from tests.engine import filemap_ref as ref
from vmspec.engine import MachineConfig, System

PAGE = 4096


@st.composite
def accesses(draw, n: int) -> list[int]:
    out: list[int] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["run", "rev", "points", "stride"]))
        a = draw(st.integers(0, n - 1))
        if kind == "run":
            out.extend(range(a, min(n, a + draw(st.integers(1, 600)))))
        elif kind == "rev":
            out.extend(range(a, max(-1, a - draw(st.integers(1, 300))), -1))
        elif kind == "stride":
            out.extend(range(a, n, draw(st.sampled_from([3, 16, 17, 64, 500])))[:100])
        else:
            out.extend(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=30)))
    return out


@st.composite
def cases(draw):
    n = draw(st.one_of(st.integers(1, 64), st.sampled_from([255, 256, 511, 512, 513, 1024, 1536]),
                       st.integers(65, 3000)))
    ra = draw(st.sampled_from([0, 4, 16, 32, 64, 256, 512, 2048]))
    return {
        "n": n, "ra": ra,
        "warm": draw(st.one_of(st.none(), accesses(n))),
        "hugepage": draw(st.booleans()),
        "willneed": draw(st.one_of(st.none(), st.tuples(st.integers(0, n - 1),
                                                        st.integers(1, 4096)))),
        "pages": draw(accesses(n)),
        "shared": draw(st.booleans()),
    }


def _ref_folios(cache) -> dict[int, int]:
    out: dict[int, int] = {}
    for f in cache.folios():
        out[f.order] = out.get(f.order, 0) + 1
    return out


def _engine_folios(s: System) -> dict[int, int]:
    fr = s.frames
    out: dict[int, int] = {}
    for _idx, f in s.cache.files["f"].pages():
        subs = fr.folios.get(fr.head_of(f)) if fr.folios else None
        if subs is None or int(subs[0]) == f:
            order = 0 if subs is None else len(subs).bit_length() - 1
            out[order] = out.get(order, 0) + 1
    return out


@settings(max_examples=150, deadline=None)
@given(cases())
def test_engine_faults_like_the_reference_model(c):
    n, ra = c["n"], c["ra"]
    s = System(MachineConfig(ram=1 << 32, readahead=ra * PAGE))
    s.create_file("f", n * PAGE)
    cache = ref.PageCache(n * PAGE)
    if c["warm"] is not None:  # another process (another open file) reads first
        s.spawn("w")
        s.mmap("w", "m", n * PAGE, file="f", shared=True, prot="r")
        s.access_pages("w", "m", c["warm"])
        w = s.procs["w"]
        mw = ref.Mapping(ref.OpenFile(cache, ra * 4, 1024), w.regions["m"].start // PAGE, 0, n)
        for page in c["warm"]:
            mw.touch(page)
        s.exit("w")
    s.spawn("p")
    s.mmap("p", "m", n * PAGE, file="f", shared=c["shared"], prot="r")
    p = s.procs["p"]
    m = ref.Mapping(ref.OpenFile(cache, ra * 4, 1024), p.regions["m"].start // PAGE, 0, n,
                    shared=c["shared"], hugepage=c["hugepage"])
    if c["hugepage"]:
        s.madvise("p", "m", 0, n * PAGE, "hugepage")
    if c["willneed"] is not None:
        a, k = c["willneed"]
        s.madvise("p", "m", a * PAGE, min(n, a + k) * PAGE, "willneed")
        m.willneed(a, min(n, a + k) - a)
    for page in c["pages"]:
        s.access_pages("p", "m", [page])
        m.touch(page)
        f = s.faults("p")
        assert (f.minor, f.major) == (m.minflt, m.majflt), page
        assert s.rss("p") // PAGE == m.rss_pages(), page
        assert s.cached // PAGE == sum(fo.nr for fo in cache.folios()), page
    assert _engine_folios(s) == _ref_folios(cache)
    assert sum(1 for leaf in p.pt.thp.values() if leaf.file) == len(m.pmd)
    s.check_invariants()
