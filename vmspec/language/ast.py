"""The abstract syntax tree of a .vms file: frozen pydantic models, each with a source span.

The tree is exactly what was written (sizes keep their unit, so ``3 pages`` is resolved against the
machine's page size only when a scenario runs). Names are plain strings here; ``resolve`` checks
that they refer to something, and a name's own span (``process_span``, ``region_span``...; None
when a tree is built by hand) lets an error point at the name rather than at the whole step.
Integers written other than in plain decimal (``0x7f00``, ``1_000``) keep that spelling in
``spelling`` so that ``vmspec fmt`` can print them back as written. The printer (``printer.py``)
turns a tree back into canonical text, and ``parse(print(tree)) == tree`` up to spans (``span``
and every ``*_span`` field).
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict

from vmspec.source import Span


Spelling = Optional[tuple[tuple[str, str], ...]]
"""``((field, digits as written), ...)`` for the integer fields of a node that were not written in
plain decimal (``("amount", "0x7f00")``, ``("count", "1_000")``), without any sign; None if all were."""


class Node(BaseModel):
    """Base of every AST node: frozen, with the span it was parsed from, and the spelling of its
    integers where it was not plain decimal (for the printer; no meaning of its own)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    span: Span
    spelling: Spelling = None


# ----------------------------------------------------------------------------- literals
class SizeLit(Node):
    """A size as written: ``64MiB`` is (64, "MiB"), ``3 pages`` is (3, "pages"), ``0`` is (0, "B").

    A machine setting may compute its size (``kernel 1MiB - 6 pages``): its SizeLit holds the
    result in bytes and ``written``, the expression as written (for the printer)."""

    amount: int
    unit: str  # one of vmspec.units.SIZE_UNITS
    written: Optional["Expr"] = None


class DurationLit(Node):
    """A duration as written: ``20ns`` is (20, "ns")."""

    amount: int
    unit: str  # one of vmspec.units.DURATION_UNITS


class CountLit(Node):
    """A bare integer (a count; ``0`` fits any kind)."""

    value: int


class PercentLit(Node):
    """A percentage: ``95%`` is percent=95 (the ratio 0.95)."""

    percent: int


# ----------------------------------------------------------------------------- expressions
class NameRef(Node):
    """A bare name in an expression: a status word, ``brk``/``mmap``, or a process name."""

    name: str


class RegionRef(Node):
    """``P.R`` inside an observable's arguments, or ``P.R[RANGE]`` (in ``resident``,
    ``swapped`` and ``huge``: only those bytes of the region)."""

    process: str
    region: str
    range: Optional["Range"] = None


class ListExpr(Node):
    """``[a, b]``: a list of process names."""

    items: tuple[NameRef, ...]


class Observable(Node):
    """An observable: ``ram``, ``rss(P)``, ``faults(P).minor``, ``shared(P.R, Q.R)``,
    ``hugepages_free(2MiB)``, ``time(P)``. ``field`` is the part after the dot, if any."""

    name: str
    args: tuple[Union[NameRef, RegionRef, SizeLit], ...] = ()
    field: Optional[str] = None


class Unary(Node):
    """``-x`` or ``not x``."""

    op: Literal["-", "not"]
    operand: "Expr"


class Binary(Node):
    """Arithmetic, comparison, boolean connective or membership: ``a op b``."""

    op: Literal["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in"]
    left: "Expr"
    right: "Expr"


Expr = Union[SizeLit, DurationLit, CountLit, PercentLit, NameRef, ListExpr, Observable, Unary, Binary]


# ----------------------------------------------------------------------------- steps
ErrorName = Literal["ENOMEM", "EINVAL", "SIGSEGV", "SIGBUS", "OOM"]
Prot = Literal["r", "rw", "rx", "rwx", "none"]


class Range(Node):
    """``[A..B]``, ``[A..]``, ``[..B]`` or ``[A]`` (one byte). Offsets from the region's start;
    a bare integer inside brackets is parsed as SizeLit(n, "B")."""

    start: Optional[SizeLit] = None
    end: Optional[SizeLit] = None
    single: bool = False  # [A]: the one byte at A (then end is None)


class StepBase(Node):
    """Common part of every step: the optional ``=> ERR`` it must fail with."""

    expect_error: Optional[ErrorName] = None


class Spawn(StepBase):
    kind: Literal["spawn"] = "spawn"
    process: str
    process_span: Optional[Span] = None  # the name as written
    image: Optional[str] = None
    image_span: Optional[Span] = None
    oom_score_adj: Optional[int] = None
    oom_adj: Optional[int] = None
    memory_max: Optional[SizeLit] = None


class Mmap(StepBase):
    kind: Literal["mmap"] = "mmap"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    size: SizeLit
    file: Optional[str] = None  # None: anonymous
    file_span: Optional[Span] = None  # the string "NAME"
    shared: bool = False
    prot: Prot = "rw"
    hugetlb: Optional[SizeLit] = None
    populate: bool = False
    noreserve: bool = False


class Malloc(StepBase):
    kind: Literal["malloc"] = "malloc"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    size: SizeLit


class Free(StepBase):
    kind: Literal["free"] = "free"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None


class Munmap(StepBase):
    kind: Literal["munmap"] = "munmap"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    range: Optional[Range] = None


class Brk(StepBase):
    kind: Literal["brk"] = "brk"
    process: str
    process_span: Optional[Span] = None  # the name as written
    delta: SizeLit
    negative: bool = False  # brk -SIZE


class Access(StepBase):
    """``P: read R[RANGE] [stride S]`` or ``P: write ...``."""

    kind: Literal["access"] = "access"
    process: str
    process_span: Optional[Span] = None  # the name as written
    write: bool
    region: str
    region_span: Optional[Span] = None
    range: Optional[Range] = None
    stride: Optional[SizeLit] = None


class RandomAccess(StepBase):
    """``P: access R random N [seed S] [read|write]``."""

    kind: Literal["random"] = "random"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    count: int
    seed: Optional[int] = None
    write: bool = False


class Replay(StepBase):
    """``P: replay "FILE" [into R] [format pages|lackey] [read|write]``."""

    kind: Literal["replay"] = "replay"
    process: str
    process_span: Optional[Span] = None  # the name as written
    path: str
    path_span: Optional[Span] = None  # the string "FILE"
    region: Optional[str] = None
    region_span: Optional[Span] = None
    format: Literal["pages", "lackey"] = "pages"
    mode: Optional[Literal["read", "write"]] = None  # None: as the trace says (pages: read)


class Madvise(StepBase):
    kind: Literal["madvise"] = "madvise"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    range: Optional[Range] = None
    advice: Literal["dontneed", "hugepage", "nohugepage", "willneed", "pageout"]


class Mprotect(StepBase):
    kind: Literal["mprotect"] = "mprotect"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    range: Optional[Range] = None
    prot: Prot


class Mlock(StepBase):
    """``P: mlock R`` (lock=True) or ``P: munlock R``."""

    kind: Literal["mlock"] = "mlock"
    process: str
    process_span: Optional[Span] = None  # the name as written
    region: str
    region_span: Optional[Span] = None
    lock: bool = True


class FileDecl(StepBase):
    """``file "NAME" SIZE``: at top level or as a step."""

    kind: Literal["file"] = "file"
    name: str
    name_span: Optional[Span] = None  # the string "NAME"
    size: SizeLit


class Fork(StepBase):
    kind: Literal["fork"] = "fork"
    parent: str
    child: str
    parent_span: Optional[Span] = None
    child_span: Optional[Span] = None


class Exit(StepBase):
    kind: Literal["exit"] = "exit"
    process: str
    process_span: Optional[Span] = None  # the name as written


class SetOom(StepBase):
    """``set P oom_score_adj N`` or ``set P oom_adj N``."""

    kind: Literal["set"] = "set"
    process: str
    process_span: Optional[Span] = None  # the name as written
    setting: Literal["oom_score_adj", "oom_adj"]
    value: int


class DropCaches(StepBase):
    kind: Literal["drop_caches"] = "drop_caches"


class Repeat(StepBase):
    kind: Literal["repeat"] = "repeat"
    count: int
    body: tuple["Step", ...]


class Expect(StepBase):
    kind: Literal["expect"] = "expect"
    expr: Expr


class Always(StepBase):
    kind: Literal["always"] = "always"
    expr: Expr


Step = Union[
    Spawn, Mmap, Malloc, Free, Munmap, Brk, Access, RandomAccess, Replay, Madvise, Mprotect,
    Mlock, FileDecl, Fork, Exit, SetOom, DropCaches, Repeat, Expect, Always,
]


# ----------------------------------------------------------------------------- machines and images
class TLBLevelSpec(Node):
    """One level of a ``tlb`` line: ``l1 64 entries 4-way`` (ways=None means ``fully``)."""

    name: str  # l1, l1_2m, l1_1g, l2
    name_span: Optional[Span] = None
    entries: int
    ways: Optional[int] = None
    ways_span: Optional[Span] = None  # `4-way` or `fully`


class LatencyItem(Node):
    """One item of a ``latency`` line: ``walk_step 20ns``."""

    name: str  # tlb_hit, walk_step, minor_fault, major_fault, memory
    name_span: Optional[Span] = None
    value: DurationLit


class Setting(Node):
    """One machine setting line. ``name`` is the keyword (``ram``, ``tlb``...); the value field
    used depends on it:

    * size settings (ram, page_size, swap, mmap_threshold, kernel, readahead): ``size``
    * ``paging``: ``number`` (4 or 5)
    * ``hugepages SIZE x N``: ``size`` and ``number``
    * ``thp``/``replacement``: ``word``
    * ``overcommit MODE [ratio N]``: ``word`` and ``number`` (None when no ratio)
    * ``watermarks min A low B high C``: ``sizes`` (A, B, C)
    * ``swappiness``/``page_cluster``: ``number``
    * ``tlb``: ``tlb_levels``; ``latency``: ``latency``
    """

    name: str
    size: Optional[SizeLit] = None
    number: Optional[int] = None
    word: Optional[str] = None
    sizes: tuple[SizeLit, ...] = ()
    tlb_levels: tuple[TLBLevelSpec, ...] = ()
    latency: tuple[LatencyItem, ...] = ()


class Machine(Node):
    """``machine NAME [extends NAME] { SETTING* }`` or ``machine NAME from host [{ SETTING* }]``
    (``from_host``: the settings not written are the running kernel's, read when a scenario
    runs); name is None for an inline machine."""

    name: Optional[str] = None
    from_host: bool = False
    extends: Optional[str] = None
    name_span: Optional[Span] = None
    extends_span: Optional[Span] = None
    settings: tuple[Setting, ...] = ()


class Segment(Node):
    """One image line: ``text 2MiB``, ``lib libc 2MiB``, ``stack 8MiB``."""

    kind: Literal["text", "data", "bss", "lib", "stack"]
    size: SizeLit
    lib: Optional[str] = None


class Image(Node):
    name: str
    name_span: Optional[Span] = None
    segments: tuple[Segment, ...] = ()


class Include(Node):
    path: str
    path_span: Optional[Span] = None  # the string "PATH"


class Invariant(Node):
    label: str
    expr: Expr


class Param(Node):
    """``$name`` (or ``$name pages``) in a parametrised scenario: stands for one of the values of
    its ``for`` where a size, a count, a policy word or an expression operand goes. ``role`` says
    which (``size``, ``offset``, ``count``, ``word:replacement``, ``word:thp``, ``expr``); the
    loader replaces every Param of an instance by its value (``vmspec.language.params``)."""

    name: str
    unit: Optional[str] = None  # `$n pages`: a count parameter used as a size
    role: str = "expr"


ParamValue = Union[CountLit, SizeLit, NameRef]


class ParamDecl(Node):
    """``for NAME in [v, ...]`` or ``for NAME in A to B [by S]`` (inclusive) after a scenario's
    title: the scenario runs once per value (per combination, with several)."""

    name: str
    name_span: Optional[Span] = None
    values: tuple[ParamValue, ...] = ()  # the list form
    start: Optional[ParamValue] = None  # the range form
    stop: Optional[ParamValue] = None
    by: Optional[ParamValue] = None


class Scenario(Node):
    """``scenario "title" [on MACHINE] [seed N] { STEP* }``; an inline ``machine { }`` as the first
    statement is held in ``machine_inline`` (and removed from ``steps``)."""

    title: str
    machine: Optional[str] = None
    machine_span: Optional[Span] = None  # the name after `on`
    machine_inline: Optional[Machine] = None
    seed: Optional[int] = None
    steps: tuple[Step, ...] = ()
    params: tuple[ParamDecl, ...] = ()  # `for NAME in ...` clauses, in order


TopItem = Union[Include, Machine, Image, Invariant, Scenario, FileDecl]


class SpecFile(Node):
    """A whole .vms file as written; ``path`` is as the user gave it."""

    path: str
    items: tuple[TopItem, ...] = ()
