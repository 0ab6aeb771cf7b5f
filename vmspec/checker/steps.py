"""The one table binding each step of the language to the engine operation behind it.

Each handler takes the run context and the AST step and calls the engine (docs/engine-api.md).
Sizes are resolved with the machine's page size here. Budgets are charged before a step runs, so
``access R random 1000000000000`` is refused at once instead of running for hours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from vmspec.checker import replay
from vmspec.checker.machine import engine_image
from vmspec.language import ast
from vmspec.units import size_bytes


class BudgetExceeded(Exception):
    """The scenario used up its budget of simulated accesses or wall-clock time."""


TIMEOUT_MESSAGE = "the scenario ran past its --timeout of {:g} s; raise it with --timeout (0: none)"


@dataclass
class Context:
    """What the step handlers need: the engine, the program, seeds and budgets."""

    system: object
    program: object  # vmspec.language.Program
    page_size: int
    scenario_seed: int
    spec_dir: str
    max_accesses: int
    deadline: float | None = None
    clock: Callable[[], float] | None = None
    steps: int = 0  # steps executed so far; each counts as one unit of the budget
    touched: int = 0  # pages touched other than by accesses (populate, mlock, willneed)
    timeout: float | None = None  # seconds, for the message
    _images: dict = field(default_factory=dict)

    def nbytes(self, lit: ast.SizeLit | None, default: int = 0) -> int:
        """Resolve a size literal with the machine's page size."""
        return default if lit is None else size_bytes(lit.amount, lit.unit, self.page_size)

    def charge(self, accesses: int, what: str = "this step would make {n} more simulated accesses") -> None:
        """Refuse work that would take the scenario past its budget or deadline. The budget
        counts simulated accesses, pages touched otherwise, and one unit per executed step."""
        used = self.system.accesses + self.steps + self.touched
        if used + accesses > self.max_accesses:
            raise BudgetExceeded(
                what.format(n=f"{accesses:,}") + f", beyond the budget of {self.max_accesses:,} "
                f"per scenario ({used:,} used); raise it with --max-accesses"
            )
        self.check_time()

    def charge_pages(self, pages: int, what: str, *, bounded: bool = False) -> None:
        """Charge ``pages`` that a step touches without simulated accesses (``populate``,
        ``mlock``, ``madvise willneed``): refused like accesses past the budget. ``bounded``: the
        step cannot fault in more pages than the machine has (RAM and swap) before it fails or
        the OOM killer ends it, so at most that many are charged."""
        if bounded:
            system = self.system
            pages = min(pages, (system.ram + system.swap_used + system.swap_free) // self.page_size)
        self.charge(pages, what)
        self.touched += pages

    def check_time(self) -> None:
        """Stop a scenario that has run past its wall-clock timeout."""
        if self.deadline is not None and self.clock is not None and self.clock() > self.deadline:
            raise BudgetExceeded(TIMEOUT_MESSAGE.format(self.timeout or 0))


def count_steps(body) -> int:
    """Return how many steps one pass over ``body`` executes (nested repeats multiplied)."""
    total = 0
    for step in body:
        total += step.count * count_steps(step.body) if isinstance(step, ast.Repeat) else 1
    return total


def _range(ctx: Context, proc: str, region: str, rng: ast.Range | None) -> tuple[int, int]:
    start = ctx.nbytes(rng.start) if rng is not None else 0
    if rng is not None and rng.single:
        return start, start + 1
    if rng is not None and rng.end is not None:
        return start, ctx.nbytes(rng.end)
    return start, ctx.system.size(proc, region)


def _spawn(ctx: Context, s: ast.Spawn) -> None:
    image = None
    if s.image is not None:
        image = ctx._images.get(s.image)
        if image is None:
            image = ctx._images[s.image] = engine_image(ctx.program.images[s.image], ctx.page_size)
    ctx.system.spawn(
        s.process,
        image=image,
        oom_score_adj=s.oom_score_adj or 0,
        oom_adj=s.oom_adj,
        memory_max=ctx.nbytes(s.memory_max) if s.memory_max is not None else None,
    )


def _pages(ctx: Context, start: int, end: int, page: int | None = None) -> int:
    """Return how many pages of ``page`` bytes (the base page size) ``[start, end)`` overlaps."""
    page = page or ctx.page_size
    return 0 if end <= start else (end - 1) // page - start // page + 1


def _mmap(ctx: Context, s: ast.Mmap) -> None:
    if s.populate:
        huge = ctx.nbytes(s.hugetlb) if s.hugetlb is not None else None
        ctx.charge_pages(_pages(ctx, 0, ctx.nbytes(s.size), huge), "populate would touch {n} pages", bounded=True)
    ctx.system.mmap(
        s.process, s.region, ctx.nbytes(s.size), file=s.file, shared=s.shared, prot=s.prot,
        hugetlb=ctx.nbytes(s.hugetlb) if s.hugetlb is not None else None,
        populate=s.populate, noreserve=s.noreserve,
    )


def _access(ctx: Context, s: ast.Access) -> None:
    start, end = _range(ctx, s.process, s.region, s.range)
    stride = ctx.nbytes(s.stride) if s.stride is not None else None
    if end > start:
        if stride:
            n = (end - start + stride - 1) // stride
        else:
            n = (end - 1) // ctx.page_size - start // ctx.page_size + 1
        ctx.charge(n)
    ctx.system.access(s.process, s.region, start, end, write=s.write, stride=stride)


def _random(ctx: Context, s: ast.RandomAccess) -> None:
    ctx.charge(s.count)
    seed = s.seed if s.seed is not None else ctx.scenario_seed
    ctx.system.access_random(s.process, s.region, s.count, seed=seed, write=s.write)


def _replay(ctx: Context, s: ast.Replay) -> None:
    path = os.path.join(ctx.spec_dir, s.path)
    shown = os.path.normpath(os.path.join(os.path.dirname(ctx.program.path), s.path))
    forced = None if s.mode is None else s.mode == "write"
    root = ctx.program.root or None  # confined again now: the trace may have changed since load
    if s.format == "pages" and s.region is not None:
        for chunk in replay.read_pages(path, shown, ctx.page_size, root):
            ctx.charge(len(chunk))
            if chunk:
                ctx.system.access_pages(s.process, s.region, chunk, write=bool(forced))
        return
    if s.region is not None:  # lackey into R: addresses are offsets from R's start
        size = ctx.page_size
        for chunk in replay.read_lackey(path, shown, root):
            if forced is not None:
                chunk = [(a, n, forced) for a, n, _ in chunk]
            spans = [(a // size, (a + n - 1) // size, w) for a, n, w in chunk]
            ctx.charge(sum(last - first + 1 for first, last, _ in spans))
            if spans:
                ctx.system.access_pages(
                    s.process, s.region, (page for first, last, _ in spans for page in range(first, last + 1)),
                    write=(w for first, last, w in spans for _ in range(first, last + 1)))
        return
    if s.format == "pages":  # no region: virtual page numbers of the whole address space
        size = ctx.page_size
        chunks = ([(n * size, 1, bool(forced)) for n in chunk] for chunk in replay.read_pages(path, shown, size, root))
    else:
        chunks = replay.read_lackey(path, shown, root)
    for chunk in chunks:
        ctx.charge(sum(_pages(ctx, a, a + n) for a, n, _ in chunk))  # a lackey line may span many pages
        if forced is not None:
            chunk = [(a, n, forced) for a, n, _ in chunk]
        if chunk:
            ctx.system.access_addresses(s.process, chunk)


def _munmap(ctx: Context, s: ast.Munmap) -> None:
    start, end = _range(ctx, s.process, s.region, s.range)
    ctx.system.munmap(s.process, s.region, start, end)


def _madvise(ctx: Context, s: ast.Madvise) -> None:
    start, end = _range(ctx, s.process, s.region, s.range)
    if s.advice == "willneed":
        ctx.charge_pages(_pages(ctx, start, end), "willneed would read {n} pages")
    ctx.system.madvise(s.process, s.region, start, end, s.advice)


def _mprotect(ctx: Context, s: ast.Mprotect) -> None:
    start, end = _range(ctx, s.process, s.region, s.range)
    ctx.system.mprotect(s.process, s.region, start, end, s.prot)


def _mlock(ctx: Context, s: ast.Mlock) -> None:
    if s.lock:
        ctx.charge_pages(_pages(ctx, 0, ctx.system.size(s.process, s.region)), "mlock would fault in {n} pages",
                         bounded=True)
    (ctx.system.mlock if s.lock else ctx.system.munlock)(s.process, s.region)


def _brk(ctx: Context, s: ast.Brk) -> None:
    delta = ctx.nbytes(s.delta)
    ctx.system.brk(s.process, -delta if s.negative else delta)


def _set(ctx: Context, s: ast.SetOom) -> None:
    if s.setting == "oom_adj":
        ctx.system.set_oom_adj(s.process, s.value)
    else:
        ctx.system.set_oom_score_adj(s.process, s.value)


HANDLERS: dict[type, Callable[[Context, object], None]] = {
    ast.Spawn: _spawn,
    ast.Mmap: _mmap,
    ast.Malloc: lambda ctx, s: ctx.system.malloc(s.process, s.region, ctx.nbytes(s.size)),
    ast.Free: lambda ctx, s: ctx.system.free_region(s.process, s.region),
    ast.Munmap: _munmap,
    ast.Brk: _brk,
    ast.Access: _access,
    ast.RandomAccess: _random,
    ast.Replay: _replay,
    ast.Madvise: _madvise,
    ast.Mprotect: _mprotect,
    ast.Mlock: _mlock,
    ast.FileDecl: lambda ctx, s: ctx.system.create_file(s.name, ctx.nbytes(s.size)),
    ast.Fork: lambda ctx, s: ctx.system.fork(s.parent, s.child),
    ast.Exit: lambda ctx, s: ctx.system.exit(s.process),
    ast.SetOom: _set,
    ast.DropCaches: lambda ctx, s: ctx.system.drop_caches(),
}


def actor(step) -> str | None:
    """Return the process a step acts for (the one that must be running), if any."""
    if isinstance(step, ast.Fork):
        return step.parent
    if isinstance(step, ast.Spawn):
        return None
    return getattr(step, "process", None)
