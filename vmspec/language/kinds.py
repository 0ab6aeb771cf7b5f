"""Static kinds of expressions: Size, Count, Duration, Ratio, Boolean, Status, Via, process lists.

The rules are docs/language.md's (Expressions): sizes compare with sizes, counts with counts, durations
with durations, ratios with percents; a count multiplies any kind; a value divided by another of
its kind is a ratio (so is a count divided by a count); a bare integer is a count except ``0``,
which fits any kind. ``status(P)`` compares with status words, ``via(P.R)`` with ``brk``/``mmap``,
``killed`` with a list, ``x in killed`` tests membership; ``expect``/``always``/``invariant`` need a
boolean. The table :data:`OBSERVABLES` gives each observable's arguments and kind (the checker binds
the same words to engine getters). ``hugepages_free``/``hugepages_total`` count huge pages, so they
are Counts. Nothing here evaluates anything.
"""

from __future__ import annotations

from typing import Callable, Optional

from vmspec.errors import SpecError
from vmspec.language import ast
from vmspec.language.words import LRU_SIZES, VMSTAT_COUNTS, suggest

SIZE, COUNT, DURATION, RATIO = "Size", "Count", "Duration", "Ratio"
BOOLEAN, STATUS, VIA, PROCESSES, PROCESS = "Boolean", "Status", "Via", "Processes", "Process"
ZERO = "Zero"  # the literal 0: fits any numeric kind
ERROR = "Error"  # already reported: stay quiet about what contains it

NUMERIC = (SIZE, COUNT, DURATION, RATIO)
STATUS_WORDS = ("running", "exited", "oom_killed", "segfault", "sigbus")
VIA_WORDS = ("brk", "mmap")
_ARTICLE = {SIZE: "a Size", COUNT: "a Count", DURATION: "a Duration", RATIO: "a Ratio",
            BOOLEAN: "a Boolean", STATUS: "a status word", VIA: "`brk` or `mmap`",
            PROCESSES: "a list of processes", PROCESS: "a process name", ZERO: "0"}

# observable -> (argument shapes, kind); shapes: "" none, "P" process, "R" region P.R, "S" size,
# "PP|RR" two processes or two regions. Field observables map field -> kind.
OBSERVABLES: dict[str, tuple[tuple[str, ...], str]] = {
    **{name: (("",), SIZE) for name in ("ram", "free", "used", "cached", "swap_used", "swap_free",
                                        "committed", "commit_limit", *LRU_SIZES)},
    **{name: (("",), COUNT) for name in VMSTAT_COUNTS},
    "killed": (("",), PROCESSES),
    "oom_kills": (("",), COUNT),
    "time": (("", "P"), DURATION),
    "hugepages_free": (("S",), COUNT),
    "hugepages_total": (("S",), COUNT),
    **{name: (("P",), SIZE) for name in ("rss", "rss_anon", "rss_file", "pss", "uss", "swap", "vsz",
                                         "pagetables")},
    **{name: (("P",), COUNT) for name in ("oom_score", "oom_score_adj", "oom_adj")},
    "alive": (("P",), BOOLEAN),
    "status": (("P",), STATUS),
    **{name: (("R",), SIZE) for name in ("resident", "swapped", "huge", "size")},
    "via": (("R",), VIA),
    "shared": (("PP", "RR"), SIZE),
}
RANGED = ("resident", "swapped", "huge")  # region observables that take P.R[RANGE]
FIELDS: dict[str, dict[str, str]] = {
    "faults": {"minor": COUNT, "major": COUNT, "cow": COUNT},
    "tlb": {"hits": COUNT, "misses": COUNT, "hit_rate": RATIO},
}
_SHAPE_TEXT = {"": "no arguments", "P": "a process", "R": "a region P.R", "S": "a huge page size",
               "PP": "two processes", "RR": "two regions"}

NameCheck = Callable[[ast.Node], Optional[SpecError]]


def kind_name(kind: str) -> str:
    """Return a kind with its article, as messages say it (``a Size``)."""
    return _ARTICLE.get(kind, kind)


class KindChecker:
    """Check expressions' kinds and observables' arguments; collect errors in ``errors``.

    ``text_of`` returns the source text of a node; ``check_name`` validates a process name or a
    region reference (returns an error or None), so name resolution stays in ``resolve``.
    """

    def __init__(self, text_of: Callable[[ast.Node], str], check_name: NameCheck):
        self.text_of = text_of
        self.check_name = check_name
        self.errors: list[SpecError] = []

    def check_condition(self, expr: ast.Node) -> None:
        """Check an expect/always/invariant expression: it must be a Boolean."""
        kind = self.kind(expr)
        if kind not in (BOOLEAN, ERROR):
            text = self.text_of(expr)
            example = f"{text} == 1MiB" if kind == SIZE else f"{text} > 0"
            self.fail(f"Expected a Boolean but got {text} ({kind_name(kind)}); "
                      f"write a comparison such as {example}", expr)

    def fail(self, message: str, node: ast.Node, hint: str | None = None) -> str:
        """Record an error at ``node`` and return the ERROR kind."""
        self.errors.append(SpecError(message, node.span, hint))
        return ERROR

    def kind(self, node: ast.Node) -> str:
        """Return the kind of an expression node (reporting errors inside it)."""
        cls = node.__class__  # the common cases first, by exact class (this runs per node)
        if cls is ast.Binary:
            return self.binary(node)  # type: ignore[arg-type]
        if cls is ast.Observable:
            return self.observable(node)  # type: ignore[arg-type]
        if cls is ast.CountLit:
            return ZERO if node.value == 0 else COUNT  # type: ignore[attr-defined]
        if isinstance(node, ast.SizeLit):
            return SIZE
        if isinstance(node, ast.CountLit):
            return ZERO if node.value == 0 else COUNT
        if isinstance(node, ast.DurationLit):
            return DURATION
        if isinstance(node, ast.PercentLit):
            return RATIO
        if isinstance(node, ast.NameRef):
            if node.name in STATUS_WORDS:
                return STATUS
            if node.name in VIA_WORDS:
                return VIA
            err = self.check_name(node)
            if err is not None:
                self.errors.append(err)
                return ERROR
            return PROCESS
        if isinstance(node, ast.ListExpr):
            bad = False
            for item in node.items:
                err = self.check_name(item)
                if err is not None:
                    self.errors.append(err)
                    bad = True
            return ERROR if bad else PROCESSES
        if isinstance(node, ast.Observable):
            return self.observable(node)
        if isinstance(node, ast.Unary):
            return self.unary(node)
        if isinstance(node, ast.Binary):
            return self.binary(node)
        return self.fail("not an expression", node)  # pragma: no cover

    def observable(self, node: ast.Observable) -> str:
        """Check an observable's name, arguments and field; return its kind."""
        name = node.name
        if name in FIELDS:
            fields = FIELDS[name]
            if node.field not in fields:
                wanted = " or ".join(f"{name}(P).{f}" for f in fields)
                if node.field:
                    close = suggest(node.field, fields).removeprefix("; ")
                    return self.fail(f"{name}(P) has no `.{node.field}`; write {wanted}", node,
                                     close.replace("mean ", f"mean {name}(P).") or None)
                return self.fail(f"{name}(P) needs a field; write {wanted}", node)
            kind, shapes = fields[node.field], ("P",)
        elif name in OBSERVABLES:
            shapes, kind = OBSERVABLES[name]
            if node.field is not None:
                return self.fail(f"{name} has no field `.{node.field}`", node)
        else:
            known = list(OBSERVABLES) + list(FIELDS)
            return self.fail(f"unknown observable `{name}`{suggest(name, known)}", node,
                             "see the Expressions section of the language guide")
        shape = "".join(self.arg_shape(a) for a in node.args)
        if shape not in shapes:
            want = " or ".join(_SHAPE_TEXT[s] for s in shapes)
            return self.fail(f"{name} takes {want}, not {self.text_of(node)}", node)
        for arg in node.args:
            if isinstance(arg, ast.RegionRef) and arg.range is not None and name not in RANGED:
                return self.fail(f"{name} takes a whole region, not a range of one: write "
                                 f"{name}({arg.process}.{arg.region})", arg,
                                 "a range may follow the region in " + ", ".join(RANGED))
            if isinstance(arg, (ast.NameRef, ast.RegionRef)):
                err = self.check_name(arg)
                if err is not None:
                    self.errors.append(err)
                    return ERROR
            elif isinstance(arg, ast.SizeLit) and (arg.amount, arg.unit) not in ((2, "MiB"), (1, "GiB")):
                return self.fail(f"{name}({arg.amount}{arg.unit}): huge pages are 2MiB or 1GiB", arg)
        return kind

    @staticmethod
    def arg_shape(arg: ast.Node) -> str:
        """Return the shape letter of an observable argument."""
        if isinstance(arg, ast.RegionRef):
            return "R"
        if isinstance(arg, ast.SizeLit):
            return "S"
        return "P"

    def unary(self, node: ast.Unary) -> str:
        """Check ``-x`` (numeric) and ``not x`` (boolean)."""
        kind = self.kind(node.operand)
        if kind == ERROR:
            return ERROR
        if node.op == "not":
            if kind != BOOLEAN:
                return self.fail(f"Expected a Boolean but got {self.text_of(node.operand)} "
                                 f"({kind_name(kind)}); `not` negates a condition", node)
            return BOOLEAN
        if kind not in NUMERIC and kind != ZERO:
            return self.fail(f"cannot negate {self.text_of(node.operand)} ({kind_name(kind)})", node)
        return kind

    def binary(self, node: ast.Binary) -> str:
        """Check a binary operation and return its kind."""
        op = node.op
        left, right = self.kind(node.left), self.kind(node.right)
        if ERROR in (left, right):
            return ERROR
        if op in ("and", "or"):
            for side, kind in ((node.left, left), (node.right, right)):
                if kind != BOOLEAN:
                    return self.fail(f"Expected a Boolean but got {self.text_of(side)} "
                                     f"({kind_name(kind)}); `{op}` joins conditions", side)
            return BOOLEAN
        if op == "in":
            if left != PROCESS:
                return self.fail(f"Expected a process name but got {self.text_of(node.left)} "
                                 f"({kind_name(left)}); write P in killed", node.left)
            if right != PROCESSES:
                return self.fail(f"Expected a list of processes but got {self.text_of(node.right)} "
                                 f"({kind_name(right)}); write {self.text_of(node.left)} in killed",
                                 node.right)
            return BOOLEAN
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return self.compare(node, left, right)
        return self.arithmetic(node, left, right)

    def compare(self, node: ast.Binary, left: str, right: str) -> str:
        """Check a comparison: both sides of one kind (0 fits any numeric kind)."""
        if left == ZERO or right == ZERO:
            other = right if left == ZERO else left
            if other in NUMERIC or other == ZERO:
                return BOOLEAN
            return self.mismatch(node, other, COUNT)
        if left == right and left in NUMERIC:
            return BOOLEAN
        if left == right and left in (STATUS, VIA, PROCESSES, BOOLEAN):
            if node.op not in ("==", "!="):
                return self.fail(f"{kind_name(left)} can only be compared with == or !=", node)
            return BOOLEAN
        return self.mismatch(node, left, right)

    def arithmetic(self, node: ast.Binary, left: str, right: str) -> str:
        """Check ``+ - * /`` and return the result's kind."""
        op = node.op
        for side, kind in ((node.left, left), (node.right, right)):
            if kind not in NUMERIC and kind != ZERO:
                return self.fail(f"cannot use {self.text_of(side)} ({kind_name(kind)}) in arithmetic",
                                 side)
        if op in ("+", "-"):
            if left == ZERO:
                return right
            if right == ZERO or left == right:
                return left
            return self.mismatch(node, left, right)
        count_like = (COUNT, ZERO)
        if op == "*":
            if left in count_like:
                return right if right != ZERO else COUNT
            if right in count_like:
                return left
            hint = None
            if RATIO in (left, right) and {left, right} & {SIZE, DURATION}:
                ratio, value = (node.left, node.right) if left == RATIO else (node.right, node.left)
                hint = (f"compare ratios instead: divide by {self.text_of(value)}, as in "
                        f"`x / {self.text_of(value)} <= {self.text_of(ratio)}`")
            return self.fail(f"cannot multiply {kind_name(left)} by {kind_name(right)} in "
                             f"{self.text_of(node)}; only a count may multiply a value", node, hint)
        # division
        if right in count_like and left not in count_like:
            return left
        if left == right or (left in count_like and right in count_like) or left == ZERO:
            return RATIO
        return self.fail(f"cannot divide {kind_name(left)} by {kind_name(right)} in "
                         f"{self.text_of(node)}; divide a value by a count or by a value of its kind",
                         node)

    def mismatch(self, node: ast.Binary, want: str, got: str) -> str:
        """Report two kinds that do not mix, naming the fix for a bare literal."""
        bad: ast.Node = node.right
        if isinstance(node.left, (ast.CountLit, ast.SizeLit, ast.DurationLit, ast.PercentLit)) and \
                not isinstance(node.right, (ast.CountLit, ast.SizeLit, ast.DurationLit, ast.PercentLit)):
            want, got, bad = got, want, node.left
        message = (f"Expected {kind_name(want)} but got {self.text_of(node)} ({kind_name(got)}); "
                   f"{self.fix(want, bad)}")
        return self.fail(message, node)

    def fix(self, want: str, bad: ast.Node) -> str:
        """Say what to write instead of ``bad`` where ``want`` is needed."""
        if isinstance(bad, ast.CountLit):
            n = self.text_of(bad)
            if want == SIZE:
                return f"write {n} pages, {n}KiB or {n}B"
            if want == DURATION:
                return f"write {n}ns, {n}us or {n}ms"
            if want == RATIO:
                return f"write {n}%"
        if want == COUNT and isinstance(bad, (ast.SizeLit, ast.DurationLit, ast.PercentLit)):
            return "write a plain number such as 256"
        if want == STATUS:
            return "compare it with " + ", ".join(STATUS_WORDS)
        if want == VIA:
            return "compare it with brk or mmap"
        if want == PROCESSES:
            return "compare it with a list such as [a, b]"
        return f"compare {kind_name(want)} with {kind_name(want)}"
