"""Shrink a scenario that breaks an invariant to a minimal one that still breaks it.

Minimal means: no single step can be removed, and no size (of a mapping, an allocation, a brk, a
file, a memory_max, a range offset or a stride; a count of random accesses or of a repeat) can be
made one grain smaller (a page, a huge page for hugetlb mappings, 1 for counts) without losing
the break. The passes follow Hypothesis's shrinker in spirit (delete chunks of decreasing size,
then minimise each number by binary search from the simplest value), but work on steps, so that
they can also drop a process or a region together with every step that names it, and simplify a
step's options (``populate``, ``shared``, a range, a stride...). They run until a whole round
changes nothing, which is what makes the result minimal. Every candidate is rendered, checked by
the language (one that no longer checks, such as a step naming a removed process, is skipped) and
run; results are memoised by text. There is no Linux counterpart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from vmspec.checker.vocabulary import lit_bytes, size_lit
from vmspec.language import ast


class ShrinkTimeout(Exception):
    """The deadline passed while shrinking."""


@dataclass
class Knob:
    """One number of a step that can shrink: where it is, its value, its grain and its least value."""

    get: Callable[[object], int]
    put: Callable[[object, int], object]
    grain: int
    least: int


# ----------------------------------------------------------------------------- step surgery
def _names_process(step, proc: str) -> bool:
    if isinstance(step, ast.Fork):
        return proc in (step.parent, step.child)
    return getattr(step, "process", None) == proc


def _descendants(steps, proc: str) -> set[str]:
    family = {proc}
    for step in _flat(steps):
        if isinstance(step, ast.Fork) and step.parent in family:
            family.add(step.child)
    return family


def _flat(steps):
    for step in steps:
        if isinstance(step, ast.Repeat):
            yield from _flat(step.body)
        else:
            yield step


def _filter(steps, drop: Callable[[object], bool]) -> tuple:
    out = []
    for step in steps:
        if isinstance(step, ast.Repeat):
            body = _filter(step.body, drop)
            if body:
                out.append(step if body == step.body else step.model_copy(update={"body": body}))
        elif not drop(step):
            out.append(step)
    return tuple(out)


def without_process(steps, proc: str) -> tuple:
    """Remove a process: the step creating it, its own steps and those of its children."""
    family = _descendants(steps, proc)
    return _filter(steps, lambda s: any(_names_process(s, p) for p in family))


def without_region(steps, proc: str, region: str) -> tuple:
    """Remove a region: the mmap or malloc binding it and every step on it, also in children."""
    family = _descendants(steps, proc)
    return _filter(steps, lambda s: getattr(s, "process", None) in family and getattr(s, "region", None) == region)


def _narrower(step, page: int):
    """Return the step on one page of its range (a whole region, or an open-ended range), or None."""
    rng = step.range
    if rng is None:
        return step.model_copy(update={"range": ast.Range(span=step.span, start=size_lit(0), end=size_lit(page))})
    if rng.end is None and not rng.single:
        start = lit_bytes(rng.start, page) if rng.start is not None else 0
        return step.model_copy(update={"range": rng.model_copy(update={"end": size_lit(start + page)})})
    return None


def _whole(rng, region_size: int | None, page: int) -> bool:
    """Say whether a range covers exactly the whole region of ``region_size`` bytes."""
    if rng is None or region_size is None or rng.single:
        return False
    start = lit_bytes(rng.start, page) if rng.start is not None else 0
    return start == 0 and (rng.end is None or lit_bytes(rng.end, page) == region_size)


def _simpler(step, page: int, region_size: int | None = None) -> list:
    """Return variants of a step with one option dropped, its range narrowed to one page, random
    accesses replaced by one access, or a fork by a spawn (never the other way round, so that
    simplifying cannot go in circles)."""
    defaults = {
        ast.Spawn: {"image": None, "oom_score_adj": None, "oom_adj": None, "memory_max": None},
        ast.Mmap: {"populate": False, "noreserve": False, "shared": False, "prot": "rw", "file": None,
                   "hugetlb": None},
        ast.Access: {"stride": None},
        ast.RandomAccess: {"seed": None, "write": False},
    }.get(type(step), {})
    out = []
    if isinstance(step, ast.Fork):  # a fork -> a spawn of the child (which then owes its parent nothing)
        out.append(ast.Spawn(span=step.span, process=step.child, expect_error=step.expect_error))
    if isinstance(step, ast.RandomAccess):  # random accesses -> one access to the first page
        out.append(ast.Access(span=step.span, process=step.process, region=step.region, write=step.write,
                              range=ast.Range(span=step.span, start=size_lit(0), end=size_lit(page)),
                              expect_error=step.expect_error))
    if isinstance(step, (ast.Access, ast.Munmap, ast.Madvise, ast.Mprotect)):
        if _whole(step.range, region_size, page):  # a range that is the whole region says nothing
            out.append(step.model_copy(update={"range": None}))
        elif (region_size or page + 1) > page:
            narrow = _narrower(step, page)
            if narrow is not None:
                out.append(narrow)
    for name, value in defaults.items():
        if getattr(step, name) != value:
            update = {name: value}
            if name == "hugetlb":  # an ordinary mapping of the same size, in whole pages
                update["size"] = size_lit(-(-lit_bytes(step.size, page) // page) * page)
            out.append(step.model_copy(update=update))
    return out


def _size_knob(field: str, grain: int, least: int, page: int) -> Knob:
    return Knob(get=lambda s: lit_bytes(getattr(s, field), page),
                put=lambda s, v: s.model_copy(update={field: size_lit(v)}), grain=grain, least=least)


def _range_knobs(step, page: int) -> list[Knob]:
    rng = step.range
    if rng is None:
        return []
    knobs = []
    if rng.start is not None and lit_bytes(rng.start, page):
        knobs.append(Knob(get=lambda s: lit_bytes(s.range.start, page),
                          put=lambda s, v: s.model_copy(update={"range": s.range.model_copy(update={"start": size_lit(v)})}),
                          grain=page, least=0))
    if rng.end is not None:
        least = page + (lit_bytes(rng.start, page) if rng.start is not None else 0)
        knobs.append(Knob(get=lambda s: lit_bytes(s.range.end, page),
                          put=lambda s, v: s.model_copy(update={"range": s.range.model_copy(update={"end": size_lit(v)})}),
                          grain=page, least=least))
    return knobs


def knobs(step, page: int) -> list[Knob]:
    """Return the numbers of a step that can shrink."""
    if isinstance(step, ast.Mmap):
        grain = lit_bytes(step.hugetlb, page) if step.hugetlb is not None else page
        return [_size_knob("size", grain, grain, page)]
    if isinstance(step, ast.Malloc):
        return [_size_knob("size", page, page, page)]
    if isinstance(step, ast.Brk):
        return [_size_knob("delta", page, page, page)]
    if isinstance(step, ast.FileDecl):
        return [_size_knob("size", page, page, page)]
    if isinstance(step, ast.Spawn) and step.memory_max is not None:
        return [_size_knob("memory_max", page, page, page)]
    if isinstance(step, ast.Access):
        out = _range_knobs(step, page)
        if step.stride is not None:
            out.append(_size_knob("stride", page, page, page))
        return out
    if isinstance(step, (ast.Munmap, ast.Madvise, ast.Mprotect)):
        return _range_knobs(step, page)
    if isinstance(step, ast.RandomAccess):
        return [Knob(get=lambda s: s.count, put=lambda s, v: s.model_copy(update={"count": v}), grain=1, least=1)]
    if isinstance(step, ast.Repeat):
        return [Knob(get=lambda s: s.count, put=lambda s, v: s.model_copy(update={"count": v}), grain=1, least=1)]
    return []


# ----------------------------------------------------------------------------- the shrinker
class Shrinker:
    """Shrinks ``steps`` while ``breaks(steps)`` returns the step at which the invariant broke.

    ``breaks`` returns None when the candidate does not break it (or does not check)."""

    def __init__(self, breaks: Callable[[tuple], int | None], render: Callable[[tuple], str], page: int,
                 deadline: float | None = None, region_sizes: Callable[[tuple], list] | None = None):
        self._breaks = breaks
        self.region_sizes = region_sizes  # steps -> the size of the region each acts on (or None)
        self.render = render
        self.page = page
        self.deadline = deadline
        self.memo: dict[str, int | None] = {}
        self.runs = 0
        self.best: tuple = ()  # the smallest breaking scenario so far
        self.complete = False  # False if the deadline cut shrinking short

    def breaks(self, steps: tuple) -> int | None:
        """Return where ``steps`` break the invariant (memoised by text), or None."""
        text = self.render(steps)
        if text in self.memo:
            return self.memo[text]
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ShrinkTimeout()
        self.runs += 1
        at = self.memo[text] = self._breaks(steps)
        return at

    def accept(self, steps: tuple) -> tuple | None:
        """Return ``steps`` cut after the breaking step if they still break, else None."""
        at = self.breaks(steps)
        if at is None:
            return None
        self.best = tuple(steps[: at + 1])
        return self.best

    def shrink(self, steps: tuple) -> tuple:
        """Return a minimal scenario that still breaks (``steps`` must break); past the deadline,
        the smallest found so far (and ``complete`` stays False)."""
        try:
            current = self.accept(tuple(steps))
            if current is None:
                raise ValueError("the scenario to shrink does not break the invariant")
            while True:
                before = current
                for shrink_pass in (self._drop_processes, self._drop_regions, self._drop_chunks, self._unroll,
                                    self._simplify, self._minimise_numbers):
                    current = shrink_pass(current)
                if current == before:
                    self.complete = True
                    return current
        except ShrinkTimeout:
            return self.best

    # --- passes
    def _drop_processes(self, current: tuple) -> tuple:
        created = [s.process if isinstance(s, ast.Spawn) else s.child
                   for s in _flat(current) if isinstance(s, (ast.Spawn, ast.Fork))]
        for proc in reversed(created):
            found = self.accept(without_process(current, proc))
            if found is not None:
                current = found
        return current

    def _drop_regions(self, current: tuple) -> tuple:
        bound = [(s.process, s.region) for s in _flat(current) if isinstance(s, (ast.Mmap, ast.Malloc))]
        for proc, region in reversed(bound):
            found = self.accept(without_region(current, proc, region))
            if found is not None:
                current = found
        return current

    def _drop_chunks(self, current: tuple) -> tuple:
        size = 1
        while size * 2 <= len(current):
            size *= 2
        while size >= 1:
            i = len(current) - size
            while i >= 0:
                found = self.accept(current[:i] + current[i + size:])
                if found is not None:
                    current = found
                i = min(i - 1, len(current) - size)
            size //= 2
        return current

    def _unroll(self, current: tuple) -> tuple:
        """Replace a ``repeat`` by one pass over its body."""
        i = 0
        while i < len(current):
            step = current[i]
            if isinstance(step, ast.Repeat):
                found = self.accept(current[:i] + step.body + current[i + 1:])
                if found is not None:
                    current = found
                    continue
            i += 1
        return current

    def _simplify(self, current: tuple) -> tuple:
        for i in range(len(current)):
            if i >= len(current):
                break
            sizes = self.region_sizes(current) if self.region_sizes is not None else [None] * len(current)
            for variant in _simpler(current[i], self.page, sizes[i]):
                found = self.accept(current[:i] + (variant,) + current[i + 1:])
                if found is not None:
                    current = found
                    break
        return current

    def _minimise_numbers(self, current: tuple) -> tuple:
        i = 0
        while i < len(current):
            k = 0
            while i < len(current) and k < len(knobs(current[i], self.page)):
                current = self._minimise(current, i, k)
                k += 1
            i += 1
        return current

    def _minimise(self, current: tuple, i: int, k: int) -> tuple:
        """Binary-search knob ``k`` of step ``i`` down to the least value that still breaks."""
        knob = knobs(current[i], self.page)[k]
        value = knob.get(current[i])

        def attempt(v: int) -> tuple | None:
            step = knob.put(current[i], v)
            return self.accept(current[:i] + (step,) + current[i + 1:])

        if value - knob.grain < knob.least:
            return current
        best = attempt(value - knob.grain)
        if best is None:
            return current
        hi = value - knob.grain
        lo = knob.least + (value - knob.least) % knob.grain  # the lattice of values knob can take
        if lo < hi:
            found = attempt(lo)
            if found is not None:
                return found
            while hi - lo > knob.grain:
                mid = lo + (hi - lo) // knob.grain // 2 * knob.grain
                found = attempt(mid)
                if found is not None:
                    hi, best = mid, found
                else:
                    lo = mid
        return best
