"""Print an AST back as canonical .vms text (what ``vmspec fmt`` writes).

Canonical form: one statement per line, 4-space indentation, blocks opened on their header line,
options in a fixed order with defaults omitted (``anon``, ``private``, ``rw``, ``format pages``),
sizes as amount and unit (``64MiB``, ``3 pages``), integers spelled as written (``0x7f00``,
``1_000``; a node's ``spelling``, else decimal), parentheses only where precedence needs them. ``parse(print(tree)) == tree`` up to spans. :func:`format_text` also keeps
comments: full-line comments stay before the statement that follows them (at its indentation) and
trailing comments stay on their statement's line; single blank lines between statements are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmspec.language import ast
from vmspec.language.words import BARE_OBSERVABLES
from vmspec.units import parse_integer

INDENT = "    "
_PREC = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4,
         "+": 5, "-": 5, "*": 6, "/": 6}
_NEG_PREC = 7
_ATOM_PREC = 8


@dataclass
class Line:
    """One printed line: indentation depth, text, and the source lines it came from."""

    depth: int
    text: str
    first: int  # source line the statement starts on (0: unknown)
    last: int  # source line it ends on
    role: str  # "stmt", "open" (a block header) or "close" (a block's `}`)
    top: bool = False  # a top-level item's first line


def quote(text: str) -> str:
    """Return ``text`` as a .vms string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def num(node: ast.Node, field: str, value: int | None = None) -> str:
    """Return the integer ``field`` of ``node`` as it was written (``0x7f00``, ``-1_000``), or in
    decimal if its spelling is unknown or does not match the value."""
    if value is None:
        value = getattr(node, field)
    if isinstance(value, ast.Param):
        return param_text(value)
    spelled = node.spelling
    if spelled:
        for name, digits in spelled:
            if name == field and _digits_value(digits) == abs(value):
                return f"-{digits}" if value < 0 else digits
    return str(value)


def _digits_value(digits: str) -> int | None:
    try:
        return parse_integer(digits)
    except ValueError:
        return None


def _amount_unit(amount: str, unit: str) -> str:
    # `0x10 B`: glued, a hex amount would swallow a unit that starts with a hex digit (`0x10B`)
    if unit in ("page", "pages") or (amount[:2] in ("0x", "0X") and unit[0] in "abcdefABCDEF"):
        return f"{amount} {unit}"
    return f"{amount}{unit}"


def param_text(ref: ast.Param) -> str:
    """Return a parameter reference: ``$frames``, ``$frames pages``."""
    return f"${ref.name}" + (f" {ref.unit}" if ref.unit else "")


def _param_value_text(value: ast.Node) -> str:
    return value.name if isinstance(value, ast.NameRef) else print_expr(value) if not isinstance(
        value, ast.SizeLit) else size_text(value)


def params_text(decls: tuple) -> str:
    """Return a scenario's ``for NAME in ...`` clauses, each with a leading space."""
    out = ""
    for d in decls:
        if d.start is not None:
            out += f" for {d.name} in {_param_value_text(d.start)} to {_param_value_text(d.stop)}"
            out += f" by {_param_value_text(d.by)}" if d.by is not None else ""
        else:
            out += f" for {d.name} in [" + ", ".join(_param_value_text(v) for v in d.values) + "]"
    return out


def size_text(lit: ast.SizeLit, bare_bytes: bool = False) -> str:
    """Return a size as written: ``64MiB``, ``3 pages``, ``0``; bytes bare inside ranges; a
    computed machine setting's expression (``1MiB - 6 pages``)."""
    if isinstance(lit, ast.Param):
        return param_text(lit)
    if lit.written is not None:
        return print_expr(lit.written)
    amount = num(lit, "amount")
    if lit.unit == "B" and (lit.amount == 0 or bare_bytes):
        return amount
    return _amount_unit(amount, lit.unit)


def _prec(node: ast.Node) -> int:
    if isinstance(node, ast.Binary):
        return _PREC[node.op]
    if isinstance(node, ast.Unary):
        return _PREC["not"] if node.op == "not" else _NEG_PREC
    return _ATOM_PREC


def print_expr(node: ast.Node) -> str:
    """Return an expression as canonical text, parenthesised only where needed."""
    if isinstance(node, ast.Binary):
        prec = _PREC[node.op]
        left = print_expr(node.left)
        right = print_expr(node.right)
        non_assoc = prec == 4
        if _prec(node.left) < prec or (non_assoc and _prec(node.left) == prec):
            left = f"({left})"
        if _prec(node.right) <= prec:
            right = f"({right})"
        return f"{left} {node.op} {right}"
    if isinstance(node, ast.Unary):
        operand = print_expr(node.operand)
        if node.op == "not":
            if _prec(node.operand) < _PREC["not"]:
                operand = f"({operand})"
            return f"not {operand}"
        if _prec(node.operand) < _NEG_PREC:
            operand = f"({operand})"
        return f"-{operand}"
    if isinstance(node, ast.SizeLit):  # `0B`, not `0`: a bare 0 in an expression is a count
        return _amount_unit(num(node, "amount"), node.unit)
    if isinstance(node, ast.CountLit):
        return num(node, "value")
    if isinstance(node, ast.Param):
        return param_text(node)
    if isinstance(node, ast.DurationLit):
        return f"{num(node, 'amount')}{node.unit}"
    if isinstance(node, ast.PercentLit):
        return f"{num(node, 'percent')}%"
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.RegionRef):
        return f"{node.process}.{node.region}{_range(node.range)}"
    if isinstance(node, ast.ListExpr):
        return "[" + ", ".join(item.name for item in node.items) + "]"
    if isinstance(node, ast.Observable):
        text = node.name
        if node.args or node.name not in BARE_OBSERVABLES:
            text += "(" + ", ".join(print_expr(a) for a in node.args) + ")"
        if node.field is not None:
            text += f".{node.field}"
        return text
    raise TypeError(f"not an expression: {type(node).__name__}")  # pragma: no cover


def _range(rng: ast.Range | None) -> str:
    if rng is None:
        return ""
    if rng.single:
        return f"[{size_text(rng.start, True)}]" if rng.start else "[]"
    start = size_text(rng.start, True) if rng.start else ""
    end = size_text(rng.end, True) if rng.end else ""
    return f"[{start}..{end}]"


def setting_text(s: ast.Setting) -> str:
    """Return one machine setting line."""
    name = s.name
    if name == "paging":
        return f"paging {s.number}-level"
    if name == "hugepages":
        return f"hugepages {size_text(s.size)} x {num(s, 'number')}"
    if name in ("thp", "replacement"):
        return f"{name} {param_text(s.word) if isinstance(s.word, ast.Param) else s.word}"
    if name == "overcommit":
        return f"overcommit {s.word}" + (f" ratio {num(s, 'number')}" if s.number is not None else "")
    if name == "watermarks":
        low, mid, high = s.sizes
        return f"watermarks min {size_text(low)} low {size_text(mid)} high {size_text(high)}"
    if name in ("swappiness", "page_cluster"):
        return f"{name} {num(s, 'number')}"
    if name == "tlb":
        levels = [f"{lv.name} {num(lv, 'entries')} entries " + ("fully" if lv.ways is None else f"{lv.ways}-way")
                  for lv in s.tlb_levels]
        return "tlb " + ", ".join(levels)
    if name == "latency":
        return "latency " + ", ".join(f"{i.name} {print_expr(i.value)}" for i in s.latency)
    return f"{name} {size_text(s.size)}"


def step_text(step: ast.Node) -> str:
    """Return a one-line step (not ``repeat``) as canonical text, with its ``=> ERR``."""
    text = _step_body(step)
    err = getattr(step, "expect_error", None)
    return f"{text} => {err}" if err else text


def _step_body(s: ast.Node) -> str:  # noqa: C901 - one branch per step, as the grammar
    if isinstance(s, ast.Spawn):
        parts = [f"spawn {s.process}"]
        if s.image is not None:
            parts.append(f"image {s.image}")
        if s.oom_score_adj is not None:
            parts.append(f"oom_score_adj {num(s, 'oom_score_adj')}")
        if s.oom_adj is not None:
            parts.append(f"oom_adj {num(s, 'oom_adj')}")
        if s.memory_max is not None:
            parts.append(f"memory_max {size_text(s.memory_max)}")
        return " ".join(parts)
    if isinstance(s, ast.Mmap):
        parts = [f"{s.process}: {s.region} = mmap {size_text(s.size)}"]
        if s.file is not None:
            parts.append(f"file {quote(s.file)}")
        if s.shared:
            parts.append("shared")
        if s.prot != "rw":
            parts.append(s.prot)
        if s.hugetlb is not None:
            parts.append(f"hugetlb {size_text(s.hugetlb)}")
        if s.populate:
            parts.append("populate")
        if s.noreserve:
            parts.append("noreserve")
        return " ".join(parts)
    if isinstance(s, ast.Malloc):
        return f"{s.process}: {s.region} = malloc {size_text(s.size)}"
    if isinstance(s, ast.Free):
        return f"{s.process}: free {s.region}"
    if isinstance(s, ast.Munmap):
        return f"{s.process}: munmap {s.region}{_range(s.range)}"
    if isinstance(s, ast.Brk):
        return f"{s.process}: brk {'-' if s.negative else '+'}{size_text(s.delta)}"
    if isinstance(s, ast.Access):
        verb = "write" if s.write else "read"
        stride = f" stride {size_text(s.stride)}" if s.stride is not None else ""
        return f"{s.process}: {verb} {s.region}{_range(s.range)}{stride}"
    if isinstance(s, ast.RandomAccess):
        seed = f" seed {num(s, 'seed')}" if s.seed is not None else ""
        mode = " write" if s.write else ""
        return f"{s.process}: access {s.region} random {num(s, 'count')}{seed}{mode}"
    if isinstance(s, ast.Replay):
        parts = [f"{s.process}: replay {quote(s.path)}"]
        if s.region is not None:
            parts.append(f"into {s.region}")
        if s.format != "pages":
            parts.append(f"format {s.format}")
        if s.mode is not None:
            parts.append(s.mode)
        return " ".join(parts)
    if isinstance(s, ast.Madvise):
        return f"{s.process}: madvise {s.region}{_range(s.range)} {s.advice}"
    if isinstance(s, ast.Mprotect):
        return f"{s.process}: mprotect {s.region}{_range(s.range)} {s.prot}"
    if isinstance(s, ast.Mlock):
        return f"{s.process}: {'mlock' if s.lock else 'munlock'} {s.region}"
    if isinstance(s, ast.FileDecl):
        return f"file {quote(s.name)} {size_text(s.size)}"
    if isinstance(s, ast.Fork):
        return f"fork {s.parent} as {s.child}"
    if isinstance(s, ast.Exit):
        return f"exit {s.process}"
    if isinstance(s, ast.SetOom):
        return f"set {s.process} {s.setting} {num(s, 'value')}"
    if isinstance(s, ast.DropCaches):
        return "drop_caches"
    if isinstance(s, ast.Expect):
        return f"expect {print_expr(s.expr)}"
    if isinstance(s, ast.Always):
        return f"always {print_expr(s.expr)}"
    raise TypeError(f"not a step: {type(s).__name__}")  # pragma: no cover


MAX_ONE_LINE = 100
"""Widest line (indentation included) that ``vmspec fmt`` keeps a block written on one line on."""


def _header_and_body(node: ast.Node) -> tuple[str, list] | None:
    """Return a block's header (without `` {``) and its children, or None if not a block."""
    if isinstance(node, ast.Machine):
        header = "machine" + (f" {node.name}" if node.name else "")
        if node.extends:
            header += f" extends {node.extends}"
        if node.from_host:
            header += " from host"
        return header, list(node.settings)
    if isinstance(node, ast.Image):
        return f"image {node.name}", list(node.segments)
    if isinstance(node, ast.Scenario):
        header = f"scenario {quote(node.title)}"
        if node.machine is not None:
            header += f" on {node.machine}"
        if node.seed is not None:
            header += f" seed {num(node, 'seed')}"
        header += params_text(node.params)
        return header, ([node.machine_inline] if node.machine_inline is not None else []) + list(node.steps)
    if isinstance(node, ast.Repeat):
        return f"repeat {num(node, 'count')}", list(node.body)
    return None


def one_line(node: ast.Node) -> str:
    """Return a statement as one line; a block as ``header { a; b }`` (``header { }`` if empty)."""
    block = _header_and_body(node)
    if block is None:
        lines: list[Line] = []
        emit(lines, 0, node, False)
        return lines[0].text
    header, body = block
    if not body and isinstance(node, ast.Machine) and node.from_host:
        return header  # `machine NAME from host` needs no braces
    return f"{header} {{ {'; '.join(one_line(child) for child in body)} }}" if body else f"{header} {{ }}"


def _block(out: list[Line], depth: int, header: str, node: ast.Node, body: list, top: bool,
           keep_line) -> None:
    span = node.span
    if not body and isinstance(node, ast.Machine) and node.from_host:
        out.append(Line(depth, header, span.line, span.end_line, "stmt", top))
        return
    if keep_line is not None and keep_line(node):
        text = one_line(node)
        if len(INDENT * depth + text) <= MAX_ONE_LINE:
            out.append(Line(depth, text, span.line, span.end_line, "stmt", top))
            return
    out.append(Line(depth, header + " {", span.line, span.line, "open", top))
    for child in body:
        emit(out, depth + 1, child, False, keep_line)
    out.append(Line(depth, "}", span.end_line, span.end_line, "close"))


def emit(out: list[Line], depth: int, node: ast.Node, top: bool, keep_line=None) -> None:
    """Append ``node``'s canonical lines. ``keep_line(block)`` tells whether a block may stay
    on one line (``vmspec fmt`` keeps a block written on one line so, if it fits)."""
    span = node.span
    block = _header_and_body(node)
    if block is not None:
        _block(out, depth, block[0], node, block[1], top, keep_line)
    elif isinstance(node, ast.Setting):
        out.append(Line(depth, setting_text(node), span.line, span.end_line, "stmt", top))
    elif isinstance(node, ast.Segment):
        text = f"lib {node.lib} {size_text(node.size)}" if node.kind == "lib" else \
            f"{node.kind} {size_text(node.size)}"
        out.append(Line(depth, text, span.line, span.end_line, "stmt", top))
    elif isinstance(node, ast.Include):
        out.append(Line(depth, f"include {quote(node.path)}", span.line, span.end_line, "stmt", top))
    elif isinstance(node, ast.Invariant):
        text = f"invariant {quote(node.label)}: {print_expr(node.expr)}"
        out.append(Line(depth, text, span.line, span.end_line, "stmt", top))
    else:
        out.append(Line(depth, step_text(node), span.line, span.end_line, "stmt", top))


def spec_lines(spec: ast.SpecFile) -> list[Line]:
    """Return the canonical lines of a whole file, before blank lines and comments are added."""
    out: list[Line] = []
    for item in spec.items:
        emit(out, 0, item, True)
    return out


def is_block(item: ast.Node) -> bool:
    return isinstance(item, (ast.Machine, ast.Image, ast.Scenario))


def print_spec(spec: ast.SpecFile) -> str:
    """Return a SpecFile as canonical .vms text (no comments: the AST has none)."""
    parts: list[str] = []
    prev: ast.Node | None = None
    for item in spec.items:
        lines: list[Line] = []
        emit(lines, 0, item, True)
        if prev is not None and (is_block(item) or is_block(prev) or type(item) is not type(prev)):
            parts.append("")
        parts.extend(INDENT * ln.depth + ln.text for ln in lines)
        prev = item
    return "\n".join(parts) + "\n" if parts else ""
