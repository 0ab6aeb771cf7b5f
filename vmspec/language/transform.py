"""Turn the grammar's reductions into AST nodes, as the LALR parser reduces (no parse tree).

lark calls one method of :class:`ASTBuilder` per grammar rule with the rule's children (tokens and
already-built nodes), so the tree is built bottom-up on the parser's own explicit stack and deep
nesting never recurses in Python. Nodes are made by :func:`build` (no re-validation of what
the grammar already guarantees). Problems the grammar cannot see (a size without a unit, a number
beyond 64 bits, a reserved word used as a name, an unknown ``=> ERR``, expressions nested deeper than
:data:`MAX_DEPTH`) are collected as :class:`~vmspec.errors.SpecError` and parsing goes on, so one run
reports them all. There is no Linux counterpart; this is the front end only.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from vmspec.language.driver import Tok as Token

from vmspec.errors import SpecError
from vmspec.language import ast
from vmspec.language.words import BARE_OBSERVABLES, ERROR_NAMES, RESERVED, suggest
from vmspec.source import Span
from vmspec.units import BINARY_UNITS, DECIMAL_UNITS, DURATION_UNITS, U64_MAX, parse_integer, size_bytes

MAX_STRING = 4096
"""Most characters a string literal (a title, a path, a label) may hold."""
MAX_DEPTH = 100
"""Deepest nesting of operators in one expression (and of ``repeat`` blocks): deeper trees would
make pydantic's recursive ``==``/``repr`` overflow Python's stack."""

_QUANTITY_WORDS = {"DURATION": "a duration", "PERCENT": "a percentage"}
UNIT_WORDS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "KB", "MB", "GB", "TB", "page", "pages")
_SPAN_FIELDS = frozenset({"file", "line", "column", "end_line", "end_column"})
_PAGE_BYTES = 4096  # the only supported page size; used to bound `N pages` to 64 bits


def parse_int(text: str) -> int:
    """Read an integer literal as written (``4096``, ``1_000``, ``0x7f00``); digits far beyond
    64 bits read as a value above U64_MAX (see :func:`vmspec.units.parse_integer`)."""
    return parse_integer(text)


def _short(text: str, limit: int = 40) -> str:
    """Return ``text`` cut to ``limit`` characters for a message (the caret shows it whole)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def spelling(*items: tuple[str, str, int] | None) -> tuple[tuple[str, str], ...] | None:
    """Return the ``(field, digits)`` pairs of ``(field, digits, value)`` items whose digits are not
    the plain decimal of the value (``0x7f00``, ``1_000``, ``007``), or None if there are none."""
    found = tuple((field, digits) for item in items
                  if item is not None and (item[1][:1] == "0" and item[1] != "0" or "_" in item[1])
                  for field, digits, value in (item,) if digits != str(abs(value)))
    return found or None


def split_quantity(text: str, units: Any) -> tuple[str, str]:
    """Split ``64MiB`` or ``3 pages`` into its number and unit."""
    for i, ch in enumerate(text):
        if ch in " \t":
            return text[:i], text[i:].strip()
        if ch.isalpha() and not (text[:2] in ("0x", "0X") and i < 2) and ch not in "abcdefABCDEF_":
            return text[:i], text[i:]
    # a hex amount followed directly by a unit that starts with a hex letter ("0x10B" cannot occur:
    # the lexer takes hex digits greedily), or a decimal amount and "B..."
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return text[: -len(unit)].rstrip(), unit
    raise ValueError(text)  # pragma: no cover - the grammar only makes well-formed tokens


_DEFAULTS: dict[type, tuple[dict[str, Any], set[str]]] = {}
_new = object.__new__
_set = object.__setattr__


def _defaults(cls: type) -> tuple[dict[str, Any], set[str]]:
    fields = cls.model_fields
    entry = _DEFAULTS[cls] = (
        {name: None if info.is_required() else info.get_default(call_default_factory=True)
         for name, info in fields.items()},
        set(fields))
    return entry


def build(cls: type, **values: Any) -> Any:
    """Make a pydantic model without validation, faster than ``model_construct`` (which also
    walks aliases and validators): the grammar already guarantees the values' types.

    Every field counts as set, and the nodes of one class share that set (pydantic copies it
    before ``model_copy`` adds to it): one fewer object per node, for memory and the GC."""
    defaults, every = _DEFAULTS.get(cls) or _defaults(cls)
    data = defaults.copy()  # every field, in declared order
    data.update(values)
    obj = _new(cls)
    _set(obj, "__dict__", data)
    _set(obj, "__pydantic_fields_set__", every)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


class ASTBuilder:
    """The rule callbacks lark calls while parsing one file (state is reset by :meth:`reset`)."""

    def __init__(self) -> None:
        self.reset("<string>")

    def reset(self, path: str) -> None:
        """Start a new file: forget the errors and depths of the previous one."""
        self.path = path
        self.errors: list[SpecError] = []
        self._depth: dict[int, int] = {}
        self._too_deep = False

    # ------------------------------------------------------------------ helpers
    def span(self, first: Any, last: Any = None) -> Span:
        """Return the span from the start of ``first`` to the end of ``last`` (token or node)."""
        if last is None:
            last = first
        if first.__class__ is not Token:
            first = first.span
        if last.__class__ is not Token:
            last = last.span
        span = _new(Span)
        _set(span, "__dict__", {"file": self.path, "line": first.line, "column": first.column,
                                "end_line": last.end_line, "end_column": last.end_column})
        _set(span, "__pydantic_fields_set__", _SPAN_FIELDS)
        _set(span, "__pydantic_extra__", None)
        _set(span, "__pydantic_private__", None)
        return span

    def error(self, message: str, where: Any, hint: str | None = None) -> None:
        """Record a spec error located at a token or node."""
        self.errors.append(SpecError(message, self.span(where), hint))

    def name(self, tok: Token) -> str:
        """Return a name token's text, rejecting the reserved words."""
        if tok in RESERVED:
            self.error(f"`{tok}` is a reserved word and cannot be used as a name", tok,
                       "rename it; `on`, `as`, `expect` and `always` are reserved")
        return str(tok)

    def integer(self, tok: Token, text: str | None = None, negative: bool = False) -> int:
        """Read an integer token, checking it fits in 64 bits."""
        value = parse_int(text if text is not None else tok)
        if negative:
            value = -value
        if value > U64_MAX or value < -(1 << 63):
            self.error("number too large: every value must fit in 64 bits", tok)
            return 0
        return value

    def string(self, tok: Token) -> str:
        """Unescape a string token (only ``\\"`` and ``\\\\`` are escapes)."""
        body = tok[1:-1]
        if len(body) > MAX_STRING:
            self.error(f"this string is {len(body):,} characters long; a string holds at most "
                       f"{MAX_STRING:,}", tok, "shorten it")
            return body[:MAX_STRING]  # (an error already: no need to unescape it)
        if "\\" not in body:
            return body
        out = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                nxt = body[i + 1]
                if nxt not in '"\\':
                    self.error(f"unknown escape `\\{nxt}` in a string", tok,
                               'only \\" and \\\\ are escapes; write \\\\ for a backslash')
                out.append(nxt)
                i += 2
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def param(self, tok: Token, role: str) -> ast.Param:
        """Build a Param from a PARAM token (``$n`` or ``$n pages``) used as ``role``."""
        name, _, unit = str(tok)[1:].partition(" ")
        name, _, tab_unit = name.partition("\t")
        unit = (unit or tab_unit).strip(" \t") or None
        return build(ast.Param, span=self.span(tok), name=name, unit=unit, role=role)

    def size(self, tok: Token) -> ast.SizeLit:
        """Build a SizeLit from a SIZE token, or from a bare NUMBER (only ``0`` needs no unit)."""
        if tok.type == "PARAM":
            return self.param(tok, "size")
        if tok.type == "NUMBER":
            value = self.integer(tok)
            if value != 0:
                self.error("a size needs a unit: write 64MiB or 16 pages", tok,
                           f"write {tok}B, {tok}KiB, {tok}MiB or {tok} pages")
            return build(ast.SizeLit, span=self.span(tok), amount=value, unit="B",
                         spelling=spelling(("amount", str(tok), value)))
        number, unit = split_quantity(tok, UNIT_WORDS)
        amount = self.integer(tok, number)
        factor = BINARY_UNITS.get(unit) or DECIMAL_UNITS.get(unit) or _PAGE_BYTES
        if amount * factor > U64_MAX:
            self.error(f"number too large: {_short(tok)} does not fit in 64 bits", tok)
        return build(ast.SizeLit, span=self.span(tok), amount=amount, unit=unit,
                     spelling=spelling(("amount", number, amount)))

    def offset(self, tok: Token) -> ast.SizeLit:
        """Build a range offset: a bare integer inside ``[...]`` is a byte offset."""
        if tok.type == "PARAM":
            return self.param(tok, "offset")
        if tok.type == "NUMBER":
            value = self.integer(tok)
            return build(ast.SizeLit, span=self.span(tok), amount=value, unit="B",
                         spelling=spelling(("amount", str(tok), value)))
        return self.size(tok)

    def duration(self, tok: Token) -> ast.DurationLit:
        """Build a DurationLit from a DURATION token."""
        number, unit = split_quantity(tok, DURATION_UNITS)
        amount = self.integer(tok, number)
        if amount * DURATION_UNITS[unit] > U64_MAX:
            self.error(f"number too large: {_short(tok)} does not fit in 64 bits", tok)
        return build(ast.DurationLit, span=self.span(tok), amount=amount, unit=unit,
                     spelling=spelling(("amount", number, amount)))

    def literal(self, tok: Any) -> Any:
        """Turn an expression token into its literal node (nodes pass through)."""
        if tok.__class__ is not Token:
            return tok
        kind = tok.type
        if kind == "SIZE":
            return self.size(tok)
        if kind == "NUMBER":
            value = self.integer(tok)
            return build(ast.CountLit, span=self.span(tok), value=value,
                         spelling=spelling(("value", str(tok), value)))
        if kind == "DURATION":
            return self.duration(tok)
        if kind == "PARAM":
            return self.param(tok, "expr")
        if kind == "PERCENT":
            digits = tok.rstrip("% \t")
            pct = self.integer(tok, digits)
            return build(ast.PercentLit, span=self.span(tok), percent=pct,
                         spelling=spelling(("percent", digits, pct)))
        # a bare word: a system observable (`ram`) or a name (`running`, `brk`, a process)
        if tok in BARE_OBSERVABLES:
            return build(ast.Observable, span=self.span(tok), name=str(tok), args=(),
                                                  field=None)
        return build(ast.NameRef, span=self.span(tok), name=str(tok))

    def nest(self, node: Any, *children: Any) -> Any:
        """Record ``node``'s operator (or ``repeat``) depth; past MAX_DEPTH report once and return
        a flat stand-in."""
        depth = 1 + max(self._depth.get(id(c), 0) for c in children)
        if depth > MAX_DEPTH:
            if not self._too_deep:
                self._too_deep = True
                if isinstance(node, ast.Repeat):
                    self.error(f"repeat blocks nested deeper than {MAX_DEPTH} levels", node,
                               "merge nested repeats: `repeat 2 { repeat 3 { ... } }` with nothing "
                               "else in the outer block is `repeat 6 { ... }`")
                else:
                    self.error(f"expression nested deeper than {MAX_DEPTH} levels", node,
                               "split it into several expects, or name intermediate results")
            if isinstance(node, ast.Repeat):
                return node.model_copy(update={"body": ()})
            return build(ast.CountLit, span=node.span, value=0)
        self._depth[id(node)] = depth
        return node

    def opts(self, items: list[Any], where: Any) -> dict[str, Any]:
        """Collect ``(key, value, token)`` option tuples, reporting an option given twice."""
        found: dict[str, Any] = {}
        for item in items:
            key, value, tok = item[0], item[1], item[2]
            if key in found:
                self.error(f"`{tok}` given twice", tok, "give each option at most once")
            found[key] = value
        return found

    # ------------------------------------------------------------------ file
    def start(self, c: list[Any]) -> list[Any]:
        return c

    def include(self, c: list[Any]) -> ast.Include:
        return build(ast.Include, span=self.span(c[0], c[1]), path=self.string(c[1]),
                     path_span=self.span(c[1]))

    def machine(self, c: list[Any]) -> ast.Machine:
        name = self.name(c[1])
        extends = extends_span = None
        if c[2].type == "EXTENDS":
            extends, extends_span = self.name(c[3]), self.span(c[3])
        settings = tuple(x for x in c if isinstance(x, ast.Setting))
        return build(ast.Machine, span=self.span(c[0], c[-1]), name=name, name_span=self.span(c[1]),
                     extends=extends, extends_span=extends_span, settings=settings,
                     from_host=c[2].type == "FROM")

    def inline_machine(self, c: list[Any]) -> ast.Machine:
        extends = extends_span = None
        if c[1].type == "EXTENDS":
            extends, extends_span = self.name(c[2]), self.span(c[2])
        settings = tuple(x for x in c if isinstance(x, ast.Setting))
        return build(ast.Machine, span=self.span(c[0], c[-1]), name=None, extends=extends,
                     extends_span=extends_span, settings=settings)

    def image(self, c: list[Any]) -> ast.Image:
        segments = tuple(x for x in c if isinstance(x, ast.Segment))
        return build(ast.Image, span=self.span(c[0], c[-1]), name=self.name(c[1]),
                     name_span=self.span(c[1]), segments=segments)

    def invariant(self, c: list[Any]) -> ast.Invariant:
        expr = self.literal(c[2])
        return build(ast.Invariant, span=self.span(c[0], expr), label=self.string(c[1]),
                                             expr=expr)

    def on_opt(self, c: list[Any]) -> tuple[str, Any, Token, Token]:
        return ("on", self.name(c[1]), c[0], c[1])

    def seed_opt(self, c: list[Any]) -> tuple[str, Any, Token, Token]:
        return ("seed", self.integer(c[1]), c[0], c[1])  # the token: its span, its spelling

    def param_opt(self, c: list[Any]) -> tuple[str, Any, Token, Token]:
        values = dict(c[3])
        last = values.pop("last")
        decl = build(ast.ParamDecl, span=self.span(c[0], last), name=self.name(c[1]),
                     name_span=self.span(c[1]), **values)
        return (f"for {decl.name}", decl, c[1], last)

    def _param_value(self, tok: Token) -> ast.ParamValue:
        if tok.type == "NAME":
            return build(ast.NameRef, span=self.span(tok), name=str(tok))
        if tok.type == "SIZE":
            return self.size(tok)
        return self.literal(tok)

    def param_list(self, c: list[Any]) -> dict[str, Any]:
        return {"values": tuple(self._param_value(t) for t in c if t.type not in ("LBRACKET", "RBRACKET")),
                "last": c[-1]}

    def param_range(self, c: list[Any]) -> dict[str, Any]:
        return {"start": self._param_value(c[0]), "stop": self._param_value(c[2]),
                "by": self._param_value(c[4]) if len(c) > 3 else None, "last": c[-1]}

    def scenario(self, c: list[Any]) -> ast.Scenario:
        opts = self.opts([x for x in c if isinstance(x, tuple)], c[0])
        steps = [x for x in c[2:] if not isinstance(x, (tuple, Token))]
        inline = None
        if steps and isinstance(steps[0], ast.Machine):
            inline = steps.pop(0)
            if "on" in opts:
                self.error("a scenario with an inline machine cannot also name one with `on`",
                           inline, "remove `on ...` or the inline machine")
        for step in steps:
            if isinstance(step, ast.Machine):
                self.error("an inline machine must be the first statement of its scenario", step)
        steps = [s for s in steps if not isinstance(s, ast.Machine)]
        on = next((x for x in c if isinstance(x, tuple) and x[0] == "on"), None)
        seed = opts.get("seed")
        return build(
            ast.Scenario, span=self.span(c[0], c[-1]), title=self.string(c[1]), machine=opts.get("on"),
            machine_span=self.span(on[3]) if on else None, machine_inline=inline, seed=seed,
            steps=tuple(steps), spelling=spelling(self._opt_digits(c, "seed", seed)),
            params=tuple(x[1] for x in c if isinstance(x, tuple) and x[0].startswith("for ")))

    def file_decl(self, c: list[Any]) -> ast.FileDecl:
        size = self.size(c[2])
        return build(ast.FileDecl, span=self.span(c[0], size), expect_error=None, kind="file",
                     name=self.string(c[1]), name_span=self.span(c[1]), size=size)

    # ------------------------------------------------------------------ machine settings
    def _setting(self, c: list[Any], **fields: Any) -> ast.Setting:
        values = {"size": None, "number": None, "word": None, "sizes": (), "tlb_levels": (),
                  "latency": ()}
        values.update(fields)
        return build(ast.Setting, span=self.span(c[0], c[-1]), name=str(c[0]), **values)

    def size_setting(self, c: list[Any]) -> ast.Setting:
        return self._setting(c, size=self.setting_size(c[1]))

    def setting_size(self, item: Any) -> ast.SizeLit:
        """Build the size of a machine setting: a SIZE token (or ``0``) as written, or sizes and
        counts combined with ``+ - * /`` and parentheses, computed exactly (pages are 4KiB, the
        only page size) into bytes; anything else is an error."""
        if item.__class__ is Token:
            if item.type in _QUANTITY_WORDS:
                self.error(f"expected a size such as 64MiB, found `{_short(item)}` ({_QUANTITY_WORDS[item.type]})",
                           item, f"`{_short(item)}` is {_QUANTITY_WORDS[item.type]}; a size has a unit such "
                           "as KiB, MiB or pages")
                return build(ast.SizeLit, span=self.span(item), amount=0, unit="B")
            if item.type in ("SIZE", "NUMBER"):
                return self.size(item)
            item = self.literal(item)
        value = self._setting_value(item)
        span = item.span
        if value is None:
            return build(ast.SizeLit, span=span, amount=0, unit="B", written=item)
        amount, kind = value
        from vmspec.language.printer import print_expr

        text = print_expr(item)
        if kind == "count" and amount != 0:
            self.error(f"{text} is a number, not a size", item, "give its terms units: 1MiB - 6 pages")
        elif amount.denominator != 1:
            self.error(f"{text} is not a whole number of bytes", item)
        elif amount < 0:
            self.error(f"{text} is negative; a machine setting's size is at least 0", item)
        elif amount > U64_MAX:
            self.error(f"number too large: {_short(text)} does not fit in 64 bits", item)
        else:
            return build(ast.SizeLit, span=span, amount=int(amount), unit="B", written=item)
        return build(ast.SizeLit, span=span, amount=0, unit="B", written=item)

    def _setting_value(self, node: Any) -> tuple[Fraction, str] | None:
        """Compute a setting's size expression: (value, "size" or "count"), or None after an error.
        (Nesting is at most MAX_DEPTH, so this recursion is bounded.)"""
        if isinstance(node, ast.SizeLit):
            return Fraction(size_bytes(node.amount, node.unit, _PAGE_BYTES)), "size"
        if isinstance(node, ast.CountLit):
            return Fraction(node.value), "count"
        if isinstance(node, ast.Unary) and node.op == "-":
            inner = self._setting_value(node.operand)
            return None if inner is None else (-inner[0], inner[1])
        if isinstance(node, ast.Binary) and node.op in ("+", "-", "*", "/"):
            left, right = self._setting_value(node.left), self._setting_value(node.right)
            if left is None or right is None:
                return None
            (a, ka), (b, kb) = left, right
            if node.op in ("+", "-"):
                if ka != kb and a != 0 and b != 0:
                    self.error("cannot add a size and a plain number", node, "give both terms units: 1MiB - 6 pages")
                    return None
                return (a + b if node.op == "+" else a - b), ("size" if "size" in (ka, kb) else "count")
            if node.op == "*":
                if ka == kb == "size":
                    self.error("cannot multiply a size by a size", node, "multiply a size by a number: 4 * 1MiB")
                    return None
                return a * b, ("size" if "size" in (ka, kb) else "count")
            if kb == "size":
                self.error("a size divided by a size is a ratio, not a size", node, "divide by a number: 1GiB / 4")
                return None
            if b == 0:
                self.error("division by zero", node)
                return None
            return a / b, ka
        from vmspec.language.printer import print_expr

        self.error(f"`{_short(print_expr(node))}` cannot be part of a machine setting, which holds a size: "
                   "sizes and plain numbers with + - * / and parentheses", node)
        return None

    def paging_setting(self, c: list[Any]) -> ast.Setting:
        levels = parse_int(c[1].split("-")[0])
        if levels not in (4, 5):
            self.error(f"unknown paging `{c[1]}`", c[1], "write paging 4-level or paging 5-level")
        return self._setting(c, number=levels)

    def hugepages_setting(self, c: list[Any]) -> ast.Setting:
        number = self.integer(c[3])
        return self._setting(c, size=self.size(c[1]), number=number,
                             spelling=spelling(("number", str(c[3]), number)))

    def word_setting(self, c: list[Any]) -> ast.Setting:
        if c[1].type == "PARAM":
            return self._setting(c, word=self.param(c[1], f"word:{c[0]}"))
        return self._setting(c, word=str(c[1]))

    def overcommit_setting(self, c: list[Any]) -> ast.Setting:
        if len(c) > 2:
            ratio = self.integer(c[3])
            return self._setting(c, word=str(c[1]), number=ratio,
                                 spelling=spelling(("number", str(c[3]), ratio)))
        return self._setting(c, word=str(c[1]), number=None)

    def watermarks_setting(self, c: list[Any]) -> ast.Setting:
        return self._setting(c, sizes=(self.setting_size(c[2]), self.setting_size(c[4]),
                                       self.setting_size(c[6])))

    def number_setting(self, c: list[Any]) -> ast.Setting:
        if c[1].type == "PARAM":
            return self._setting(c, number=self.param(c[1], "count"))
        number = self.integer(c[1])
        return self._setting(c, number=number, spelling=spelling(("number", str(c[1]), number)))

    def tlb_setting(self, c: list[Any]) -> ast.Setting:
        return self._setting(c, tlb_levels=tuple(c[1:]))

    def tlb_level(self, c: list[Any]) -> ast.TLBLevelSpec:
        ways = None if c[3].type == "FULLY" else self.integer(c[3], c[3].split("-")[0])
        entries = self.integer(c[1])
        return build(ast.TLBLevelSpec, span=self.span(c[0], c[-1]), name=str(c[0]),
                     name_span=self.span(c[0]), entries=entries, ways=ways,
                     ways_span=self.span(c[3]), spelling=spelling(("entries", str(c[1]), entries)))

    def latency_setting(self, c: list[Any]) -> ast.Setting:
        return self._setting(c, latency=tuple(c[1:]))

    def latency_item(self, c: list[Any]) -> ast.LatencyItem:
        return build(ast.LatencyItem, span=self.span(c[0], c[1]), name=str(c[0]),
                     name_span=self.span(c[0]), value=self.duration(c[1]))

    def segment(self, c: list[Any]) -> ast.Segment:
        if c[0].type == "LIB":
            return build(ast.Segment, span=self.span(c[0], c[2]), kind="lib",
                                               size=self.size(c[2]), lib=self.name(c[1]))
        return build(ast.Segment, span=self.span(c[0], c[1]), kind=str(c[0]),
                                           size=self.size(c[1]), lib=None)

    # ------------------------------------------------------------------ steps
    def _step(self, cls: type, first: Any, last: Any, **fields: Any) -> Any:
        fields.setdefault("expect_error", None)
        return build(cls, span=self.span(first, last), **fields)

    def failing(self, c: list[Any]) -> Any:
        step, (err, last) = c
        return step.model_copy(update={"expect_error": err, "span": self.span(step, last)})

    def outcome(self, c: list[Any]) -> tuple[str | None, Token]:
        word = c[1]
        if word not in ERROR_NAMES:
            close = f"; did you mean {word.upper()}?" if word.upper() in ERROR_NAMES else \
                suggest(word, ERROR_NAMES)
            self.error(f"unknown failure `{word}` after =>{close}", word,
                       "a step may end with => ENOMEM, EINVAL, SIGSEGV, SIGBUS or OOM")
            return None, word
        return str(word), word

    def spawn(self, c: list[Any]) -> ast.Spawn:
        opts = self.opts(c[2:], c[0])
        last = c[-1][3] if len(c) > 2 else c[1]
        image = next((x[3] for x in c[2:] if x[0] == "image"), None)
        return self._step(ast.Spawn, c[0], last, kind="spawn", process=self.name(c[1]),
                          process_span=self.span(c[1]), image=opts.get("image"),
                          image_span=self.span(image) if image is not None else None,
                          oom_score_adj=opts.get("oom_score_adj"), oom_adj=opts.get("oom_adj"),
                          memory_max=opts.get("memory_max"),
                          spelling=spelling(self._opt_digits(c, "oom_score_adj", opts.get("oom_score_adj")),
                                            self._opt_digits(c, "oom_adj", opts.get("oom_adj"))))

    @staticmethod
    def _opt_digits(c: list[Any], key: str, value: Any) -> tuple[str, str, int] | None:
        """Return (key, digits as written, value) for option ``key`` among the children ``c``."""
        for item in c:
            if isinstance(item, tuple) and item[0] == key and value is not None:
                return key, str(item[3]), value
        return None

    def image_opt(self, c: list[Any]) -> tuple[str, Any, Token, Any]:
        return ("image", self.name(c[1]), c[0], c[1])

    def oom_score_adj_opt(self, c: list[Any]) -> tuple[str, Any, Token, Any]:
        return ("oom_score_adj", c[1][0], c[0], c[1][1])

    def oom_adj_opt(self, c: list[Any]) -> tuple[str, Any, Token, Any]:
        return ("oom_adj", c[1][0], c[0], c[1][1])

    def memory_max_opt(self, c: list[Any]) -> tuple[str, Any, Token, Any]:
        size = self.size(c[1])
        return ("memory_max", size, c[0], size)

    def sint(self, c: list[Any]) -> tuple[int, Token]:
        if len(c) == 2:
            return self.integer(c[1], negative=True), c[1]
        return self.integer(c[0]), c[0]

    def fork(self, c: list[Any]) -> ast.Fork:
        return self._step(ast.Fork, c[0], c[3], kind="fork", parent=self.name(c[1]),
                          parent_span=self.span(c[1]), child=self.name(c[3]),
                          child_span=self.span(c[3]))

    def exit(self, c: list[Any]) -> ast.Exit:
        return self._step(ast.Exit, c[0], c[1], kind="exit", process=self.name(c[1]),
                          process_span=self.span(c[1]))

    def set_oom(self, c: list[Any]) -> ast.SetOom:
        value, last = c[3]
        return self._step(ast.SetOom, c[0], last, kind="set", process=self.name(c[1]),
                          process_span=self.span(c[1]), setting=str(c[2]), value=value,
                          spelling=spelling(("value", str(last), value)))

    def drop_caches(self, c: list[Any]) -> ast.DropCaches:
        return self._step(ast.DropCaches, c[0], c[0], kind="drop_caches")

    def repeat(self, c: list[Any]) -> Any:
        body = tuple(x for x in c[2:] if not isinstance(x, Token))
        for step in body:
            if isinstance(step, ast.Machine):
                self.error("an inline machine must be the first statement of its scenario", step)
        body = tuple(s for s in body if not isinstance(s, ast.Machine))
        count = self.param(c[1], "count") if c[1].type == "PARAM" else self.integer(c[1])
        node = self._step(ast.Repeat, c[0], c[-1], kind="repeat", count=count, body=body,
                          spelling=spelling(("count", str(c[1]), count)))
        return self.nest(node, *body) if body else node

    def expect(self, c: list[Any]) -> ast.Expect:
        expr = self.literal(c[1])
        return self._step(ast.Expect, c[0], expr, kind="expect", expr=expr)

    def always(self, c: list[Any]) -> ast.Always:
        expr = self.literal(c[1])
        return self._step(ast.Always, c[0], expr, kind="always", expr=expr)

    def _names(self, proc: Token, region: Token | None = None) -> dict[str, Any]:
        """Return the ``process``/``region`` fields of a ``P: ...`` step, with their spans."""
        if region is None:
            return {"process": self.name(proc), "process_span": self.span(proc)}
        return {"process": self.name(proc), "process_span": self.span(proc),
                "region": self.name(region), "region_span": self.span(region)}

    def mmap(self, c: list[Any]) -> ast.Mmap:
        size = self.size(c[3])
        opts = self.opts(c[4:], c[2])
        last = c[-1][3] if len(c) > 4 else size
        if "anon" in opts and "file" in opts:
            self.error("a mapping cannot be both `anon` and `file`", c[2])
        return self._step(
            ast.Mmap, c[0], last, kind="mmap", **self._names(c[0], c[1]),
            size=size, file=opts.get("file"), file_span=next(
                (self.span(x[3]) for x in c[4:] if x[0] == "file"), None), shared=opts.get("share", False),
            prot=opts.get("prot", "rw"), hugetlb=opts.get("hugetlb"),
            populate=opts.get("populate", False), noreserve=opts.get("noreserve", False))

    def anon_opt(self, c: list[Any]) -> tuple:
        return ("anon", True, c[0], c[0])

    def file_opt(self, c: list[Any]) -> tuple:
        return ("file", self.string(c[1]), c[0], c[1])

    def share_opt(self, c: list[Any]) -> tuple:
        return ("share", c[0].type == "SHARED", c[0], c[0])

    def prot_opt(self, c: list[Any]) -> tuple:
        return ("prot", str(c[0]), c[0], c[0])

    def hugetlb_opt(self, c: list[Any]) -> tuple:
        size = self.size(c[1])
        return ("hugetlb", size, c[0], size)

    def populate_opt(self, c: list[Any]) -> tuple:
        return ("populate", True, c[0], c[0])

    def noreserve_opt(self, c: list[Any]) -> tuple:
        return ("noreserve", True, c[0], c[0])

    def malloc(self, c: list[Any]) -> ast.Malloc:
        size = self.size(c[3])
        return self._step(ast.Malloc, c[0], size, kind="malloc", **self._names(c[0], c[1]),
                          size=size)

    def free(self, c: list[Any]) -> ast.Free:
        return self._step(ast.Free, c[0], c[2], kind="free", **self._names(c[0], c[2]))

    def munmap(self, c: list[Any]) -> ast.Munmap:
        rng = c[3] if len(c) > 3 else None
        return self._step(ast.Munmap, c[0], c[-1], kind="munmap", **self._names(c[0], c[2]),
                          range=rng)

    def brk(self, c: list[Any]) -> ast.Brk:
        negative = len(c) == 4 and c[2].type == "MINUS"
        size = self.size(c[-1])
        return self._step(ast.Brk, c[0], size, kind="brk", **self._names(c[0]), delta=size,
                          negative=negative)

    def rw_access(self, c: list[Any]) -> ast.Access:
        rest = list(c[3:])
        rng = rest.pop(0) if rest and isinstance(rest[0], ast.Range) else None
        stride = self.size(rest[-1]) if rest else None
        last = stride or rng or c[2]
        return self._step(ast.Access, c[0], last, kind="access", **self._names(c[0], c[2]),
                          write=c[1].type == "WRITE", range=rng, stride=stride)

    def random_access(self, c: list[Any]) -> ast.RandomAccess:
        opts = self.opts(c[5:], c[1])
        last = c[-1][3] if len(c) > 5 else c[4]
        count = self.param(c[4], "count") if c[4].type == "PARAM" else self.integer(c[4])
        return self._step(ast.RandomAccess, c[0], last, kind="random", **self._names(c[0], c[2]),
                          count=count, seed=opts.get("seed"), write=opts.get("mode") == "write",
                          spelling=spelling(("count", str(c[4]), count),
                                            self._opt_digits(c[5:], "seed", opts.get("seed"))))

    def mode_opt(self, c: list[Any]) -> tuple:
        return ("mode", str(c[0]), c[0], c[0])

    def into_opt(self, c: list[Any]) -> tuple:
        return ("into", self.name(c[1]), c[0], c[1])

    def format_opt(self, c: list[Any]) -> tuple:
        return ("format", str(c[1]), c[0], c[1])

    def replay(self, c: list[Any]) -> ast.Replay:
        opts = self.opts(c[3:], c[1])
        last = c[-1][3] if len(c) > 3 else c[2]
        into = next((x[3] for x in c[3:] if x[0] == "into"), None)
        return self._step(ast.Replay, c[0], last, kind="replay", **self._names(c[0]),
                          path=self.string(c[2]), path_span=self.span(c[2]), region=opts.get("into"),
                          region_span=self.span(into) if into is not None else None,
                          format=opts.get("format", "pages"), mode=opts.get("mode"))

    def madvise(self, c: list[Any]) -> ast.Madvise:
        rng = c[3] if len(c) == 5 else None
        return self._step(ast.Madvise, c[0], c[-1], kind="madvise", **self._names(c[0], c[2]),
                          range=rng, advice=str(c[-1]))

    def mprotect(self, c: list[Any]) -> ast.Mprotect:
        rng = c[3] if len(c) == 5 else None
        return self._step(ast.Mprotect, c[0], c[-1], kind="mprotect", **self._names(c[0], c[2]),
                          range=rng, prot=str(c[-1]))

    def mlock(self, c: list[Any]) -> ast.Mlock:
        return self._step(ast.Mlock, c[0], c[2], kind="mlock", **self._names(c[0], c[2]),
                          lock=c[1].type == "MLOCK")

    def range(self, c: list[Any]) -> ast.Range:
        inner = c[1:-1]
        span = self.span(c[0], c[-1])
        if len(inner) == 1 and not (isinstance(inner[0], Token) and inner[0].type == "DOTDOT"):
            return build(ast.Range, span=span, start=self.offset(inner[0]), end=None,
                                             single=True)
        start = end = None
        seen_dots = False
        for item in inner:
            if item.type == "DOTDOT":
                seen_dots = True
            elif seen_dots:
                end, end_tok = self.offset(item), item
            else:
                start, start_tok = self.offset(item), item
        if start is not None and end is not None and not isinstance(start, ast.Param) and \
                not isinstance(end, ast.Param) and \
                size_bytes(start.amount, start.unit, _PAGE_BYTES) > size_bytes(end.amount, end.unit, _PAGE_BYTES):
            self.errors.append(SpecError(
                f"the range [{start_tok}..{end_tok}] ends before it starts", span,
                f"write [{end_tok}..{start_tok}]; a range runs from its start up to its end"))
        return build(ast.Range, span=span, start=start, end=end, single=False)

    # ------------------------------------------------------------------ expressions
    def binary(self, c: list[Any]) -> Any:
        left, op, right = self.literal(c[0]), str(c[1]), self.literal(c[2])
        node = build(ast.Binary, span=self.span(left, right), op=op, left=left,
                                          right=right)
        return self.nest(node, left, right)

    def unary(self, c: list[Any]) -> Any:
        operand = self.literal(c[1])
        node = build(ast.Unary, span=self.span(c[0], operand), op=str(c[0]),
                                         operand=operand)
        return self.nest(node, operand)

    def atom(self, c: list[Any]) -> Any:
        return self.literal(c[1])  # "(" expr ")"

    def observable(self, c: list[Any]) -> Any:
        name = c[0]
        if len(c) == 1:  # a bare word: `ram`, `running`, a process name
            return self.literal(name)
        args: list[Any] = []
        field = None
        i = 1
        if i < len(c) and c[i].type == "LPAR":
            i += 1
            while not (isinstance(c[i], Token) and c[i].type == "RPAR"):
                arg = c[i]
                if isinstance(arg, Token):
                    if arg.type == "SIZE":
                        arg = self.size(arg)
                    else:
                        arg = build(ast.NameRef, span=self.span(arg), name=str(arg))
                args.append(arg)
                i += 1
            i += 1
        if i < len(c) and c[i].type == "DOT":
            field = str(c[i + 1])
        return build(ast.Observable, span=self.span(c[0], c[-1]), name=str(name),
                                              args=tuple(args), field=field)

    def region_ref(self, c: list[Any]) -> ast.RegionRef:
        rng = c[3] if len(c) > 3 else None
        return build(ast.RegionRef, span=self.span(c[0], c[-1]), process=str(c[0]),
                     region=str(c[2]), range=rng)

    def list(self, c: list[Any]) -> ast.ListExpr:
        items = tuple(build(ast.NameRef, span=self.span(t), name=str(t))
                      for t in c[1:-1])
        return build(ast.ListExpr, span=self.span(c[0], c[-1]), items=items)
