"""Hypothesis strategies for random ASTs of the .vms language (spans are dummies)."""

from __future__ import annotations

from hypothesis import strategies as st

from vmspec.language import ast
from vmspec.language.kinds import FIELDS, OBSERVABLES
from vmspec.language.parser import grammar_text
from vmspec.source import Span

SPAN = Span(file="gen.vms", line=1, column=1, end_line=1, end_column=1)
KEYWORDS = frozenset(
    word.strip('"') for line in grammar_text().splitlines() if ': "' in line and line[:1].isupper()
    for word in [line.split(": ", 1)[1].strip()]
) | {"on", "as", "expect", "always", "not", "and", "or", "in"} | set(OBSERVABLES) | set(FIELDS)

names = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True).filter(lambda n: n not in KEYWORDS)
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
units = st.sampled_from(["B", "KiB", "MiB", "GiB", "TiB", "PiB", "KB", "MB", "GB", "TB", "page", "pages"])
small = st.integers(0, 10**6)


@st.composite
def spelled(draw, values, field, hex_ok=True):
    """Draw ``(value, spelling)``: an integer and, sometimes, the hex or ``_``-grouped digits it
    was written with (``spelling`` is None when the digits are plain decimal)."""
    value = draw(values)
    style = draw(st.sampled_from(["plain", "hex", "grouped", "zeros"] if hex_ok else ["plain", "grouped"]))
    digits = {"plain": str(abs(value)), "hex": hex(abs(value)), "grouped": f"{abs(value):_}",
              "zeros": f"00{abs(value)}"}[style]
    return value, (((field, digits),) if digits != str(abs(value)) else None)


def size(amount=st.integers(0, 4096)):
    return st.builds(lambda a, u: ast.SizeLit(span=SPAN, amount=a[0], unit=u, spelling=a[1]),
                     spelled(amount, "amount"), units)


durations = st.builds(lambda a, u: ast.DurationLit(span=SPAN, amount=a[0], unit=u, spelling=a[1]),
                      spelled(st.integers(0, 4096), "amount"), st.sampled_from(["ns", "us", "ms", "s"]))
counts = st.builds(lambda v: ast.CountLit(span=SPAN, value=v[0], spelling=v[1]), spelled(small, "value"))
percents = st.builds(lambda p: ast.PercentLit(span=SPAN, percent=p[0], spelling=p[1]),
                     spelled(st.integers(0, 1000), "percent", hex_ok=False))
name_refs = st.builds(lambda n: ast.NameRef(span=SPAN, name=n), names)
region_refs = st.builds(lambda p, r: ast.RegionRef(span=SPAN, process=p, region=r), names, names)
lists = st.builds(lambda items: ast.ListExpr(span=SPAN, items=tuple(items)), st.lists(name_refs, max_size=3))


@st.composite
def observables(draw):
    name = draw(st.sampled_from(sorted(OBSERVABLES) + sorted(FIELDS)))
    if name in FIELDS:
        return ast.Observable(span=SPAN, name=name, args=(draw(name_refs),),
                              field=draw(st.sampled_from(sorted(FIELDS[name]))))
    shape = draw(st.sampled_from(OBSERVABLES[name][0]))
    ranged = st.builds(lambda ref, rng: ref.model_copy(update={"range": rng}), region_refs, ranges())
    arg = {"": st.just(()), "P": st.tuples(name_refs),
           "R": st.tuples(ranged if name in ("resident", "swapped", "huge") else region_refs),
           "S": st.tuples(size()), "PP": st.tuples(name_refs, name_refs),
           "RR": st.tuples(region_refs, region_refs)}[shape]
    return ast.Observable(span=SPAN, name=name, args=draw(arg), field=None)


leaves = st.one_of(size(), durations, counts, percents, name_refs, lists, observables())
exprs = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda op, x: ast.Unary(span=SPAN, op=op, operand=x), st.sampled_from(["-", "not"]), inner),
        st.builds(lambda op, a, b: ast.Binary(span=SPAN, op=op, left=a, right=b),
                  st.sampled_from(["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in"]),
                  inner, inner),
    ),
    max_leaves=12,
)

errors = st.one_of(st.none(), st.sampled_from(["ENOMEM", "EINVAL", "SIGSEGV", "SIGBUS", "OOM"]))
signed = st.integers(-(1 << 63), (1 << 63) - 1)
prots = st.sampled_from(["r", "rw", "rx", "rwx", "none"])


@st.composite
def ranges(draw):
    if draw(st.booleans()):
        return None
    if draw(st.booleans()):
        return ast.Range(span=SPAN, start=draw(size()), end=None, single=True)
    start, end = draw(st.one_of(st.none(), size())), draw(st.one_of(st.none(), size()))
    if start is not None and end is not None and _bytes(start) > _bytes(end):
        start, end = end, start  # a reversed range is a spec error
    return ast.Range(span=SPAN, start=start, end=end, single=False)


def _bytes(lit):
    from vmspec.units import size_bytes

    return size_bytes(lit.amount, lit.unit, 4096)


def _step(cls, **fields):
    return st.builds(lambda e, kw: cls(span=SPAN, expect_error=e, **kw), errors, st.fixed_dictionaries(fields))


simple_steps = st.one_of(
    _step(ast.Spawn, process=names, image=st.none() | names, oom_score_adj=st.none() | signed,
          oom_adj=st.none() | signed, memory_max=st.none() | size()),
    _step(ast.Mmap, process=names, region=names, size=size(), file=st.none() | texts, shared=st.booleans(),
          prot=prots, hugetlb=st.none() | size(), populate=st.booleans(), noreserve=st.booleans()),
    _step(ast.Malloc, process=names, region=names, size=size()),
    _step(ast.Free, process=names, region=names),
    _step(ast.Munmap, process=names, region=names, range=ranges()),
    _step(ast.Brk, process=names, delta=size(), negative=st.booleans()),
    _step(ast.Access, process=names, write=st.booleans(), region=names, range=ranges(),
          stride=st.none() | size()),
    _step(ast.RandomAccess, process=names, region=names, count=small, seed=st.none() | small,
          write=st.booleans()),
    _step(ast.Replay, process=names, path=texts, region=st.none() | names,
          format=st.sampled_from(["pages", "lackey"]), mode=st.sampled_from([None, "read", "write"])),
    _step(ast.Madvise, process=names, region=names, range=ranges(),
          advice=st.sampled_from(["dontneed", "hugepage", "nohugepage", "willneed", "pageout"])),
    _step(ast.Mprotect, process=names, region=names, range=ranges(), prot=prots),
    _step(ast.Mlock, process=names, region=names, lock=st.booleans()),
    _step(ast.Fork, parent=names, child=names),
    _step(ast.Exit, process=names),
    st.builds(lambda e, p, k, v: ast.SetOom(span=SPAN, expect_error=e, process=p, setting=k, value=v[0],
                                            spelling=v[1]),
              errors, names, st.sampled_from(["oom_score_adj", "oom_adj"]), spelled(signed, "value")),
    _step(ast.DropCaches),
    st.builds(lambda n, s: ast.FileDecl(span=SPAN, name=n, size=s), texts, size()),
    st.builds(lambda e: ast.Expect(span=SPAN, expr=e), exprs),
    st.builds(lambda e: ast.Always(span=SPAN, expr=e), exprs),
)
steps = st.recursive(simple_steps, lambda inner: st.builds(
    lambda n, body: ast.Repeat(span=SPAN, count=n[0], body=tuple(body), spelling=n[1]),
    spelled(small, "count"), st.lists(inner, max_size=3)),
    max_leaves=6)


def _setting(name, **fields):
    return st.builds(lambda kw: ast.Setting(span=SPAN, name=name, **kw), st.fixed_dictionaries(fields))


settings = st.one_of(
    *[_setting(n, size=size()) for n in ("ram", "page_size", "swap", "mmap_threshold", "kernel")],
    _setting("paging", number=st.sampled_from([4, 5])),
    _setting("hugepages", size=size(), number=small),
    _setting("thp", word=st.sampled_from(["never", "madvise", "always"])),
    _setting("replacement", word=st.sampled_from(["twolist", "lru", "fifo", "clock", "random"])),
    _setting("overcommit", word=st.sampled_from(["heuristic", "always", "never"]), number=st.none() | small),
    _setting("watermarks", sizes=st.tuples(size(), size(), size())),
    st.builds(lambda n: ast.Setting(span=SPAN, name="swappiness", number=n[0], spelling=n[1]),
              spelled(small, "number")),
    _setting("page_cluster", number=small),
    _setting("tlb", tlb_levels=st.lists(st.builds(
        lambda n, e, w: ast.TLBLevelSpec(span=SPAN, name=n, entries=e, ways=w),
        names, small, st.none() | small), min_size=1, max_size=4).map(tuple)),
    _setting("latency", latency=st.lists(st.builds(
        lambda n, d: ast.LatencyItem(span=SPAN, name=n, value=d), names, durations),
        min_size=1, max_size=5).map(tuple)),
)


def machines(named=True):
    return st.builds(lambda n, e, s: ast.Machine(span=SPAN, name=n, extends=e, settings=tuple(s)),
                     names if named else st.none(), st.none() | names, st.lists(settings, max_size=5))


segments = st.one_of(
    st.builds(lambda k, s: ast.Segment(span=SPAN, kind=k, size=s),
              st.sampled_from(["text", "data", "bss", "stack"]), size()),
    st.builds(lambda n, s: ast.Segment(span=SPAN, kind="lib", size=s, lib=n), names, size()),
)
top_items = st.one_of(
    st.builds(lambda p: ast.Include(span=SPAN, path=p), texts),
    machines(),
    st.builds(lambda n, s: ast.Image(span=SPAN, name=n, segments=tuple(s)), names, st.lists(segments, max_size=4)),
    st.builds(lambda label, e: ast.Invariant(span=SPAN, label=label, expr=e), texts, exprs),
    st.builds(lambda n, s: ast.FileDecl(span=SPAN, name=n, size=s), texts, size()),
    st.builds(lambda t, m, inline, seed, body: ast.Scenario(
        span=SPAN, title=t, machine=None if inline else m, machine_inline=inline, seed=seed, steps=tuple(body)),
        texts, st.none() | names, st.none() | machines(named=False), st.none() | small, st.lists(steps, max_size=5)),
)
spec_files = st.builds(lambda items: ast.SpecFile(span=SPAN, path="gen.vms", items=tuple(items)),
                       st.lists(top_items, max_size=5))
