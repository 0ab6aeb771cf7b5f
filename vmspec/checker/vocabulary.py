"""What ``vmspec explore`` draws scenarios from: the spec's own names, sizes fitted to the machine,
and a weighted vocabulary of every kind of step.

A :class:`Vocabulary` is read once from a loaded program and the machine explored: the process
and region names the invariants and the file's scenarios use, sizes that reach the machine's
limits (RAM, RAM + swap, the hugetlb pools, memory_max values, the constants the invariants
compare with), and the file's scenarios (without their checks) as prefixes to extend.
:func:`draw_steps` draws a scenario as a tuple of AST steps, keeping track of which processes run
and which regions they map, so every drawn step names something that exists (the language's own
check still runs on each scenario); :func:`scenario_strategy` is the Hypothesis strategy behind
it. Each scenario leaves some kinds of step out (swarm testing). There is no Linux counterpart;
what the steps mean is the engine's business."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from vmspec.checker.machine import machine_config, page_size_of
from vmspec.language import ast
from vmspec.language.resolve import BUILTIN_REGIONS
from vmspec.source import Span
from vmspec.units import size_bytes

SPAN = Span(file="<explore>", line=1, column=1, end_line=1, end_column=1)
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
DEFAULT_STACK = 8 * MiB
_STATUS_WORDS = frozenset({"running", "exited", "oom_killed", "segfault", "sigbus", "brk", "mmap"})

# (step kind, weight): how often each kind is drawn when it can be (the weights favour the steps
# that change memory: mapping and touching it)
WEIGHTS = {
    "spawn": 3, "fork": 3, "exit": 1, "set": 1, "mmap": 6, "malloc": 2, "free": 1, "brk": 1,
    "write": 8, "read": 3, "random": 2, "munmap": 1, "mprotect": 1, "madvise": 2, "mlock": 1,
    "munlock": 1, "file": 1, "drop_caches": 1, "repeat": 1,
}
KIND_ORDER = ("write", "mmap", "fork", "spawn", "read", "random", "malloc", "free", "brk", "exit", "set",
              "munmap", "mprotect", "madvise", "mlock", "munlock", "file", "drop_caches", "repeat")
WANTED_BOOST = 8  # added to fork while a process an invariant names is not created yet
MAX_PROCESSES = 8
ADVICE = (("dontneed", 3), ("pageout", 2), ("willneed", 1), ("nohugepage", 1), ("hugepage", 1))
PROTS = (("rw", 8), ("r", 2), ("none", 2), ("rx", 1), ("rwx", 1))
MPROTECT = (("r", 3), ("none", 2), ("rw", 2), ("rx", 1), ("rwx", 1))
OOM_SCORE_ADJ = (-1000, -500, 0, 500, 1000)
RANDOM_COUNTS = (16, 256, 4096)
REPEAT_COUNTS = (2, 4, 16)
REPEAT_RANDOM = (16, 256)  # random accesses per pass of a repeat


# ----------------------------------------------------------------------------- sizes as literals
def size_lit(nbytes: int) -> ast.SizeLit:
    """Return ``nbytes`` as a literal in the largest binary unit that divides it (``1028KiB``)."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if nbytes and nbytes % scale == 0:
            return ast.SizeLit(span=SPAN, amount=nbytes // scale, unit=unit)
    return ast.SizeLit(span=SPAN, amount=nbytes, unit="B")


def lit_bytes(lit: ast.SizeLit, page: int) -> int:
    """Return a size literal's value in bytes."""
    return size_bytes(lit.amount, lit.unit, page)


# ----------------------------------------------------------------------------- names in expressions
def expression_names(expr) -> tuple[list[str], list[tuple[str, str]]]:
    """Return the processes and (process, region) pairs an expression names, in order of mention."""
    procs: list[str] = []
    regions: list[tuple[str, str]] = []
    todo = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Binary):
            todo += [node.right, node.left]
        elif isinstance(node, ast.Unary):
            todo.append(node.operand)
        elif isinstance(node, ast.ListExpr):
            todo += reversed(node.items)
        elif isinstance(node, ast.Observable):
            todo += reversed(node.args)
        elif isinstance(node, ast.RegionRef):
            if node.process not in procs:
                procs.append(node.process)
            if (node.process, node.region) not in regions:
                regions.append((node.process, node.region))
        elif isinstance(node, ast.NameRef) and node.name not in _STATUS_WORDS and node.name not in procs:
            procs.append(node.name)
    return procs, regions


PTES_PER_PAGE_TABLE_BYTE = 512  # a 4KiB page table maps 512 pages: 1 byte of table per 512 bytes mapped


def _observables(node) -> set[str]:
    names = set()
    todo = [node]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Binary):
            todo += [node.left, node.right]
        elif isinstance(node, ast.Unary):
            todo.append(node.operand)
        elif isinstance(node, ast.Observable):
            names.add(node.name)
    return names


def _constants(expr, page: int) -> list[int]:
    """Return sizes worth trying near the constants an expression compares with: the constant
    (and one page more, and twice it); for a bound on page tables, the memory such tables map;
    for a count, that many pages and one more."""
    out: list[int] = []
    todo = [(expr, frozenset())]
    while todo:
        node, compared = todo.pop()
        if isinstance(node, ast.Binary):
            if node.op in ("==", "!=", "<", "<=", ">", ">="):
                compared = frozenset(_observables(node))
            todo += [(node.left, compared), (node.right, compared)]
        elif isinstance(node, ast.Unary):
            todo.append((node.operand, compared))
        elif isinstance(node, ast.SizeLit):
            value = lit_bytes(node, page)
            out += [value, value + page, 2 * value]
            if "pagetables" in compared:
                out += [value * PTES_PER_PAGE_TABLE_BYTE, (value + page) * PTES_PER_PAGE_TABLE_BYTE]
        elif isinstance(node, ast.CountLit) and 0 < node.value <= 1 << 20:
            out += [node.value * page, (node.value + 1) * page]
    return out


# ----------------------------------------------------------------------------- the vocabulary
@dataclass(frozen=True)
class Vocabulary:
    """Everything a draw needs to know about the spec and the machine, read once."""

    machine: str
    page: int
    sizes: tuple[int, ...]  # region sizes (page multiples), from one page to past RAM + swap
    limits: tuple[int, ...]  # sizes at the machine's limits and near the invariants' constants
    memory_max: tuple[int, ...]
    huge: tuple[tuple[int, int], ...]  # hugetlb pools: (huge page size, pages)
    images: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # image -> its regions and sizes
    files: tuple[tuple[str, int], ...]  # files declared at top level: (name, size)
    processes: tuple[str, ...]  # process names to use first: the invariants', then the scenarios'
    wanted: tuple[str, ...]  # the processes the invariants name
    regions: tuple[tuple[str, tuple[str, ...]], ...]  # per process, the region names invariants use
    region_names: tuple[str, ...]  # region names of the file's scenarios
    prefixes: tuple[tuple[ast.Node, ...], ...]  # the file's scenarios on this machine, checks removed

    def regions_of(self, proc: str) -> tuple[str, ...]:
        """Return the region names an invariant uses for ``proc``."""
        for name, regions in self.regions:
            if name == proc:
                return regions
        return ()


def _aligned(sizes, page: int, top: int) -> tuple[int, ...]:
    return tuple(sorted({-(-s // page) * page for s in sizes if 0 < s <= top}))


def _ladder(page: int, top: int) -> tuple[int, ...]:
    """Sizes from one page up, by powers of 4 (and 2MiB, the size of a huge page)."""
    sizes = {2 * MiB, 64 * KiB}
    size = page
    while size <= top:
        sizes.add(size)
        size *= 4
    return _aligned(sizes, page, top)


def _limits(ram: int, swap: int, kernel: int, page: int, constants: list[int]) -> tuple[int, ...]:
    """Sizes at and around the machine's limits, and near the constants the invariants use."""
    sizes = {ram + page, ram - kernel, GiB}
    for num, den in ((1, 8), (1, 4), (1, 2), (3, 4), (1, 1), (5, 4), (2, 1)):
        sizes.add(ram * num // den)
        if swap:
            sizes.add(swap * num // den)
            sizes.add(ram + swap * num // den)
    sizes.update(constants)
    return _aligned(sizes, page, max(4 * (ram + swap), GiB, *constants))


def _strip_checks(steps) -> tuple:
    out = []
    for step in steps:
        if isinstance(step, (ast.Expect, ast.Always)):
            continue
        if isinstance(step, ast.Repeat):
            body = _strip_checks(step.body)
            if body:
                out.append(step.model_copy(update={"body": body}))
            continue
        out.append(step)
    return tuple(out)


def _scenario_names(steps, procs: list[str], regions: list[str]) -> None:
    todo = list(reversed(steps))
    while todo:
        step = todo.pop()
        if isinstance(step, ast.Repeat):
            todo += reversed(step.body)
            continue
        for name in (getattr(step, "process", None), getattr(step, "child", None)):
            if isinstance(step, ast.Spawn | ast.Fork) and name is not None and name not in procs:
                procs.append(name)
        if isinstance(step, ast.Mmap | ast.Malloc) and step.region not in regions:
            regions.append(step.region)


def build_vocabulary(program, machine: str, invariants) -> Vocabulary:
    """Read the names, sizes and prefixes for exploring ``machine`` against ``invariants``."""
    machine_ast = program.machines[machine]
    page = page_size_of(machine_ast)
    config = machine_config(machine_ast)
    wanted: list[str] = []
    wanted_regions: dict[str, list[str]] = {}
    constants: list[int] = []
    for inv in invariants:
        procs, regions = expression_names(inv.expr)
        wanted += [p for p in procs if p not in wanted]
        for proc, region in regions:
            if region not in wanted_regions.setdefault(proc, []):
                wanted_regions[proc].append(region)
        constants += _constants(inv.expr, page)
    procs = list(wanted)
    region_names: list[str] = []
    prefixes = []
    for resolved in program.scenarios:
        if resolved.machine != machine_ast:
            continue
        _scenario_names(resolved.scenario.steps, procs, region_names)
        steps = _strip_checks(resolved.scenario.steps)
        if steps:
            prefixes.append(steps)
    ram, swap = config.ram, config.swap
    memcg = sorted({-(-v // page) * page for v in (ram // 16, ram // 8, ram // 4, ram // 2, MiB, 4 * MiB)
                    if 0 < v <= ram})
    images = tuple(
        (name, tuple((seg.lib if seg.kind == "lib" else seg.kind, lit_bytes(seg.size, page))
                     for seg in image.segments))
        for name, image in sorted(program.images.items())
    )
    return Vocabulary(
        machine=machine, page=page, sizes=_ladder(page, max(4 * (ram + swap), GiB)),
        limits=_limits(ram, swap, config.kernel, page, constants), memory_max=tuple(memcg),
        huge=tuple((size, count) for size, count in config.hugepages if count > 0),
        images=images, files=tuple((f.name, lit_bytes(f.size, page)) for f in program.files),
        processes=tuple(procs), wanted=tuple(wanted),
        regions=tuple((p, tuple(r)) for p, r in wanted_regions.items()),
        region_names=tuple(region_names), prefixes=tuple(prefixes),
    )


# ----------------------------------------------------------------------------- the state of a draw
@dataclass
class Region:
    size: int
    grain: int  # offsets and sizes move in steps of this (the page, or the huge page)
    hugetlb: int = 0
    mlocked: bool = False
    malloc: bool = False  # from malloc: `free` can give it back


@dataclass
class Proc:
    regions: dict[str, Region]
    used: set[str]  # every region name this process ever bound (names are not reused)
    alive: bool = True


@dataclass
class DrawState:
    """Which processes exist and what they map, as far as the steps say (OOM kills are not known
    before running)."""

    vocab: Vocabulary
    procs: dict[str, Proc] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.files.update(self.vocab.files)

    def alive(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.alive]

    def apply(self, step) -> None:  # noqa: C901 - one branch per step, as the grammar
        """Update the state for a step (of a prefix, or just drawn)."""
        page = self.vocab.page
        if isinstance(step, ast.Repeat):
            for inner in step.body:
                self.apply(inner)
        elif isinstance(step, ast.Spawn):
            regions = {"stack": Region(DEFAULT_STACK, page)}
            for image, segments in self.vocab.images:
                if image == step.image:
                    for name, size in segments:
                        regions[name] = Region(size, page)
            self.procs[step.process] = Proc({k: v for k, v in regions.items() if v.size > 0},
                                            set(regions) | set(BUILTIN_REGIONS))
        elif isinstance(step, ast.Fork):
            parent = self.procs.get(step.parent)
            if parent is not None:
                self.procs[step.child] = Proc({k: Region(v.size, v.grain, v.hugetlb, malloc=v.malloc)
                                               for k, v in parent.regions.items()},
                                              set(parent.used))
        elif isinstance(step, ast.FileDecl):
            self.files[step.name] = lit_bytes(step.size, page)
        elif (proc := self.procs.get(getattr(step, "process", None))) is not None:
            if isinstance(step, ast.Exit):
                proc.alive = False
            elif isinstance(step, ast.Mmap):
                huge = lit_bytes(step.hugetlb, page) if step.hugetlb is not None else 0
                proc.regions[step.region] = Region(lit_bytes(step.size, page), huge or page, huge)
                proc.used.add(step.region)
            elif isinstance(step, ast.Malloc):
                proc.regions[step.region] = Region(lit_bytes(step.size, page), page, malloc=True)
                proc.used.add(step.region)
            elif isinstance(step, ast.Free) or (isinstance(step, ast.Munmap) and step.range is None):
                proc.regions.pop(step.region, None)
            elif isinstance(step, ast.Brk):
                heap = proc.regions.get("heap", Region(0, page)).size
                delta = lit_bytes(step.delta, page)
                heap = max(0, heap - delta) if step.negative else heap + delta
                if heap:
                    proc.regions["heap"] = Region(-(-heap // page) * page, page)
                else:
                    proc.regions.pop("heap", None)
            elif isinstance(step, ast.Mlock) and step.region in proc.regions:
                proc.regions[step.region].mlocked = step.lock


def region_sizes(vocab: Vocabulary, steps) -> list[int | None]:
    """Return, for each step, the size of the region it acts on when it runs (None: no region,
    or one the steps do not say the size of)."""
    state = DrawState(vocab)
    out: list[int | None] = []
    for step in steps:
        proc = state.procs.get(getattr(step, "process", None))
        region = proc.regions.get(getattr(step, "region", None)) if proc is not None else None
        out.append(region.size if region is not None else None)
        state.apply(step)
    return out


# ----------------------------------------------------------------------------- drawing
def pick(below, choices):
    """Draw one of ``choices`` (a sequence of (value, weight)); the first is the simplest."""
    total = sum(w for _, w in choices)
    i = below(total)
    for value, weight in choices:
        if i < weight:
            return value
        i -= weight
    raise AssertionError("unreachable")  # pragma: no cover


def one(below, values):
    """Draw one of ``values`` uniformly (the first is the simplest)."""
    return values[below(len(values))] if len(values) > 1 else values[0]


def _fresh(taken, stem: str) -> str:
    k = 0
    while f"{stem}{k}" in taken:
        k += 1
    return f"{stem}{k}"


def _new_name(below, preferred, taken, stem: str, fresh: int = 1) -> str:
    """Draw a name for a new process or region: the first one the spec uses that is not taken
    yet (weight 3), a fresh one (weight ``fresh``: a spawn leaves the spec's names to forks as
    often as it takes one), or another one the spec uses."""
    unused = [n for n in preferred if n not in taken]
    choices = [(unused[0], 3)] if unused else []
    choices.append((_fresh(taken, stem), fresh))
    choices += [(n, 1) for n in unused[1:3]]
    return pick(below, choices)


def _offsets(size: int, grain: int, ladder) -> list[int]:
    half = size // 2 // grain * grain
    out = [grain, half, size - grain] + [s for s in ladder if s < size and s % grain == 0][:6]
    return sorted({o for o in out if 0 < o < size})


def _range(below, region: Region, ladder, single: bool) -> ast.Range | None:
    offsets = _offsets(region.size, region.grain, ladder)
    kinds = [("whole", 6)]
    if offsets:
        kinds += [("head", 2), ("tail", 1)] + ([("byte", 1)] if single else [])
    kind = pick(below, kinds)
    if kind == "whole":
        return None
    at = one(below, offsets)
    if kind == "head":
        return ast.Range(span=SPAN, start=size_lit(0), end=size_lit(at))
    if kind == "tail":
        return ast.Range(span=SPAN, start=size_lit(at))
    return ast.Range(span=SPAN, start=size_lit(at), single=True)


class _Drawer:
    """Draws one step at a time against a DrawState, from the kinds of step switched on for
    this scenario (swarm testing: each scenario leaves some kinds out, so that the others
    happen more often; the idea Hypothesis's rule-based state machines use too)."""

    def __init__(self, below, state: DrawState, enabled: frozenset[str]):
        self.below = below
        self.state = state
        self.vocab = state.vocab
        self.enabled = enabled

    def kinds(self) -> list[tuple[str, int]]:
        state, vocab, on = self.state, self.vocab, self.enabled
        alive = state.alive()
        if not alive:
            return [("spawn", 1)]
        mapped = [p for p in alive if state.procs[p].regions]
        possible = ["mmap", "malloc", "brk", "exit", "set", "file", "drop_caches"]
        if len(state.procs) < MAX_PROCESSES:
            possible += ["spawn", "fork"]
        if mapped:
            possible += ["write", "read", "random", "munmap", "mprotect", "madvise", "mlock", "repeat"]
            if any(r.mlocked for p in mapped for r in state.procs[p].regions.values()):
                possible.append("munlock")
            if any(r.malloc for p in mapped for r in state.procs[p].regions.values()):
                possible.append("free")
        # a process an invariant names that no step created yet: fork it from one that ran
        # (which gives it something to share) rather than spawn it empty
        boost = WANTED_BOOST if any(p not in state.procs for p in vocab.wanted) else 0
        out = [(k, WEIGHTS[k] + (boost if k == "fork" else 0)) for k in KIND_ORDER if k in possible and k in on]
        return out or [(k, WEIGHTS[k]) for k in KIND_ORDER if k in possible]

    def step(self):
        kind = pick(self.below, self.kinds())
        return getattr(self, "_" + kind)()

    def size(self) -> int:
        """Draw a region size: as often one at a limit of the machine as one of the ladder."""
        return one(self.below, self.vocab.limits if pick(self.below, [(False, 1), (True, 1)]) else self.vocab.sizes)

    def actor(self, procs: list[str]) -> str:
        """Draw the process a step acts for; the ones the invariants name are three times as likely."""
        wanted = self.vocab.wanted
        return pick(self.below, [(p, 3 if p in wanted else 1) for p in procs])

    # --- processes
    def _spawn(self):
        below, vocab = self.below, self.vocab
        name = _new_name(below, vocab.processes, self.state.procs, "p", fresh=3)
        extra = {}
        if vocab.images and pick(below, [(False, 2), (True, 1)]):
            extra["image"] = one(below, [name for name, _ in vocab.images])
        if pick(below, [(False, 3), (True, 1)]):
            extra["oom_score_adj"] = one(below, OOM_SCORE_ADJ)
        if vocab.memory_max and pick(below, [(False, 4), (True, 1)]):
            extra["memory_max"] = size_lit(one(below, vocab.memory_max))
        return ast.Spawn(span=SPAN, process=name, **extra)

    def _fork(self):
        parent = self.actor(self.state.alive())
        child = _new_name(self.below, self.vocab.processes, self.state.procs, "p")
        return ast.Fork(span=SPAN, parent=parent, child=child)

    def _exit(self):
        return ast.Exit(span=SPAN, process=self.actor(self.state.alive()))

    def _set(self):
        return ast.SetOom(span=SPAN, process=self.actor(self.state.alive()), setting="oom_score_adj",
                          value=one(self.below, OOM_SCORE_ADJ))

    def _file(self):
        return ast.FileDecl(span=SPAN, name=_fresh(self.state.files, "f"), size=size_lit(self.size()))

    def _drop_caches(self):
        return ast.DropCaches(span=SPAN)

    # --- mappings
    def _region_name(self, proc: str) -> str:
        used = self.state.procs[proc].used
        return _new_name(self.below, self.vocab.regions_of(proc) + self.vocab.region_names, used, "r")

    def _mmap(self):
        below, vocab, state = self.below, self.vocab, self.state
        proc = self.actor(state.alive())
        region = self._region_name(proc)
        kinds = [("anon", 6), ("anon shared", 1)]
        if state.files:
            kinds += [("file", 2), ("file shared", 1)]
        if vocab.huge:
            kinds += [("hugetlb", 3)]
        kind = pick(below, kinds)
        fields: dict = {"shared": kind.endswith("shared")}
        if kind == "hugetlb":
            huge, count = one(below, vocab.huge)
            fields["hugetlb"] = size_lit(huge)
            fields["shared"] = pick(below, [(False, 1), (True, 1)])
            size = huge * one(below, sorted({1, max(1, count // 2), max(1, count - 1), count, count + 1}))
        else:
            size = self.size()
            if kind.startswith("file"):
                fields["file"] = one(below, sorted(state.files))
        fields["prot"] = pick(below, PROTS)
        fields["populate"] = pick(below, [(False, 3), (True, 1)])
        fields["noreserve"] = pick(below, [(False, 7), (True, 1)])
        return ast.Mmap(span=SPAN, process=proc, region=region, size=size_lit(size), **fields)

    def _malloc(self):
        proc = self.actor(self.state.alive())
        small = [s for s in self.vocab.sizes if s <= 4 * MiB] + [128 * KiB, 132 * KiB]
        size = one(self.below, sorted(set(small)))
        return ast.Malloc(span=SPAN, process=proc, region=self._region_name(proc), size=size_lit(size))

    def _free(self):
        state = self.state
        choices = [(p, name) for p in state.alive() for name, r in state.procs[p].regions.items() if r.malloc]
        proc, name = one(self.below, choices)
        return ast.Free(span=SPAN, process=proc, region=name)

    def _brk(self):
        below = self.below
        proc = self.actor(self.state.alive())
        heap = self.state.procs[proc].regions.get("heap")
        if heap is not None and pick(below, [(False, 2), (True, 1)]):
            return ast.Brk(span=SPAN, process=proc, delta=size_lit(one(below, _offsets(heap.size, heap.grain, ()) or [heap.size])),
                           negative=True)
        return ast.Brk(span=SPAN, process=proc, delta=size_lit(one(below, [s for s in self.vocab.sizes if s <= 64 * MiB])))

    # --- steps on a region
    def _target(self) -> tuple[str, str, Region]:
        state = self.state
        proc = self.actor([p for p in state.alive() if state.procs[p].regions])
        regions = state.procs[proc].regions
        names = list(regions)
        # the region mapped last is as likely as all the others together (programs touch what
        # they have just mapped)
        name = pick(self.below, [(names[-1], max(1, len(names) - 1))] + [(n, 1) for n in names[:-1]])
        return proc, name, regions[name]

    def _write(self, write: bool = True):
        below = self.below
        proc, name, region = self._target()
        rng = _range(below, region, self.vocab.sizes, single=True)
        stride = None
        if rng is None or not rng.single:
            strides = [s for s in (2 * self.vocab.page, 64 * KiB, 2 * MiB, GiB) if s < region.size]
            if strides and pick(below, [(False, 5), (True, 1)]):
                stride = size_lit(one(below, strides))
        return ast.Access(span=SPAN, process=proc, write=write, region=name, range=rng, stride=stride)

    def _read(self):
        return self._write(write=False)

    def _random(self, counts=RANDOM_COUNTS):
        proc, name, _ = self._target()
        return ast.RandomAccess(span=SPAN, process=proc, region=name, count=one(self.below, counts),
                                write=pick(self.below, [(True, 1), (False, 1)]))

    def _munmap(self):
        proc, name, region = self._target()
        return ast.Munmap(span=SPAN, process=proc, region=name, range=_range(self.below, region, self.vocab.sizes, False))

    def _mprotect(self):
        proc, name, region = self._target()
        return ast.Mprotect(span=SPAN, process=proc, region=name, prot=pick(self.below, MPROTECT),
                            range=_range(self.below, region, self.vocab.sizes, False))

    def _madvise(self):
        proc, name, region = self._target()
        return ast.Madvise(span=SPAN, process=proc, region=name, advice=pick(self.below, ADVICE),
                           range=_range(self.below, region, self.vocab.sizes, False))

    def _mlock(self):
        proc, name, _ = self._target()
        return ast.Mlock(span=SPAN, process=proc, region=name, lock=True)

    def _munlock(self):
        for proc in self.state.alive():
            for name, region in self.state.procs[proc].regions.items():
                if region.mlocked:
                    return ast.Mlock(span=SPAN, process=proc, region=name, lock=False)
        return self._drop_caches()  # pragma: no cover - kinds() offers munlock only with a locked region

    def _repeat(self):
        # the body is run count times: a repeat of random accesses stays small
        body = (pick(self.below, [(self._write, 2), (self._read, 1), (lambda: self._random(REPEAT_RANDOM), 1)])(),)
        return ast.Repeat(span=SPAN, count=one(self.below, REPEAT_COUNTS), body=body)


def draw_steps(vocab: Vocabulary, seeds, prefix_seed: int) -> tuple:
    """Return the steps drawn from ``prefix_seed`` (which prefix, which kinds of step are on)
    and one seed per step (what the step is, given the state the steps before it left)."""
    rnd = random.Random(prefix_seed)
    below = rnd.randrange
    state = DrawState(vocab)
    steps: list = []
    if vocab.prefixes and pick(below, [(False, 1), (True, 1)]):
        prefix = one(below, vocab.prefixes)
        cut = len(prefix) if pick(below, [(True, 3), (False, 1)]) else below(len(prefix) + 1)
        for step in prefix[:cut]:
            state.apply(step)
            steps.append(step)
    # swarm testing as Hypothesis's feature flags do it: first how many kinds to leave out
    # (none, a quarter, half, three quarters), then which
    level = below(4)
    enabled = frozenset(k for k in KIND_ORDER if k == "spawn" or below(4) >= level)
    for seed in seeds:
        step = _Drawer(random.Random(seed).randrange, state, enabled).step()
        state.apply(step)
        steps.append(step)
    return tuple(steps)


def scenario_strategy(vocab: Vocabulary, max_steps: int, search_seed: int = 0):
    """Return the Hypothesis strategy drawing a scenario: one 64-bit seed, from which a random
    generator draws the shape (a prefix, the kinds of step switched on, 1 to ``max_steps``
    steps) and each step at the weights given here.

    Drawing every choice (kind, process, region, size...) through Hypothesis instead measured 2
    to 10 times slower at breaking the planted invariants of the test suite: its generation
    spends most examples on small test cases and on mutations of earlier ones, which here are
    mostly repeats of the same few scenarios."""
    from hypothesis import strategies as st

    def scenario(bits: tuple) -> tuple:
        seed = sum(1 << i for i, bit in enumerate(bits) if bit)
        rnd = random.Random(f"{search_seed}:{seed}")  # searches with other seeds start elsewhere
        count = max_steps - rnd.randrange(max_steps)
        return draw_steps(vocab, [rnd.getrandbits(32) for _ in range(count)], rnd.getrandbits(32))

    # The seed is drawn as 64 booleans, not as one integer: Hypothesis draws an integer, 5 % of
    # the time, from the constants of the modules loaded from outside site-packages (an editable
    # install, other tests' imports), and the search would then depend on how vmspec is
    # installed and what else ran in the process; booleans have no such pool.
    return st.tuples(*[st.booleans()] * 64).map(scenario)
