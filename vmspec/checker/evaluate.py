"""Evaluate expressions of ``expect``, ``always`` and ``invariant`` against a running System.

Arithmetic is exact (ints and Fractions), kinds follow docs/language.md's Expressions section (the
static pass in ``vmspec.language.kinds`` has already rejected mixed kinds). Evaluation is an
explicit post-order walk, so a deeply nested expression cannot hit Python's recursion limit. Every
observable read is remembered, as written, for the report (``rss(child) = 768KiB``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from vmspec.checker import observables
from vmspec.checker.values import ANY, BOOL, COUNT, DURATION, PROCS, RATIO, SIZE, STATUS, VIA, Value
from vmspec.language import ast, kinds
from vmspec.units import duration_ns, size_bytes

STATUS_WORDS = frozenset(kinds.STATUS_WORDS)  # the language's words, one copy
VIA_WORDS = frozenset(kinds.VIA_WORDS)
PROCESS = "Process"


class EvalError(Exception):
    """An expression that cannot be evaluated at run time (division by zero, a range past the
    end of its region)."""


@dataclass
class Evaluation:
    """The result of one evaluation: the value and the observables read, in order."""

    value: Value
    observed: list[tuple[ast.Observable, Value]] = field(default_factory=list)
    parts: dict[int, Value] = field(default_factory=dict)  # id(node) -> value, for explanations


def _num(v: Value):
    return v.v


def _unify(a: Value, b: Value) -> str:
    if a.kind == ANY:
        return b.kind
    return a.kind


def _normalise(x):
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x)
    return x


def _arith(op: str, a: Value, b: Value) -> Value:
    if op in ("+", "-"):
        kind = _unify(a, b)
        return Value(kind, _normalise(a.v + b.v if op == "+" else a.v - b.v))
    if op == "*":
        if a.kind in (COUNT, ANY) and b.kind not in (COUNT, ANY):
            kind = b.kind
        else:
            kind = a.kind if a.kind != ANY else b.kind
        return Value(kind, _normalise(a.v * b.v))
    # division
    if b.v == 0:
        raise EvalError("division by zero")
    quotient = _normalise(Fraction(a.v) / Fraction(b.v))
    if b.kind in (COUNT, ANY) and a.kind not in (COUNT, ANY):
        return Value(a.kind, quotient)
    if a.kind == ANY and b.kind not in (COUNT, ANY):
        return Value(RATIO, quotient)
    if a.kind == b.kind and a.kind != COUNT:
        return Value(RATIO, quotient)
    return Value(RATIO if a.kind == COUNT and b.kind == COUNT else a.kind, quotient)


def _compare(op: str, a: Value, b: Value) -> bool:
    x, y = a.v, b.v
    if op == "==":
        return x == y
    if op == "!=":
        return x != y
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def _leaf(node, system, page_size: int, out: Evaluation) -> Value:
    if isinstance(node, ast.CountLit):
        return Value(ANY if node.value == 0 else COUNT, node.value)
    if isinstance(node, ast.SizeLit):
        return Value(SIZE, size_bytes(node.amount, node.unit, page_size))
    if isinstance(node, ast.DurationLit):
        return Value(DURATION, duration_ns(node.amount, node.unit))
    if isinstance(node, ast.PercentLit):
        return Value(RATIO, Fraction(node.percent, 100))
    if isinstance(node, ast.NameRef):
        if node.name in STATUS_WORDS:
            return Value(STATUS, node.name)
        if node.name in VIA_WORDS:
            return Value(VIA, node.name)
        return Value(PROCESS, node.name)
    if isinstance(node, ast.ListExpr):
        return Value(PROCS, tuple(item.name for item in node.items))
    if isinstance(node, ast.Observable):
        try:
            value = observables.read(system, node, page_size)
        except observables.RangeError as exc:
            raise EvalError(str(exc)) from None
        out.observed.append((node, value))
        return value
    raise TypeError(f"not an expression node: {type(node).__name__}")


def evaluate(expr, system, page_size: int) -> Evaluation:
    """Evaluate ``expr`` on ``system``; raise EvalError on division by zero."""
    out = Evaluation(value=Value(BOOL, False))
    values: list[Value] = []
    stack: list[tuple[object, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, ast.Binary):
            if not expanded:
                stack.append((node, True))
                stack.append((node.right, False))
                stack.append((node.left, False))
                continue
            b = values.pop()
            a = values.pop()
            op = node.op
            if op in ("and", "or"):
                result = Value(BOOL, (a.v and b.v) if op == "and" else (a.v or b.v))
            elif op == "in":
                result = Value(BOOL, a.v in b.v)
            elif op in ("==", "!=", "<", "<=", ">", ">="):
                result = Value(BOOL, _compare(op, a, b))
            else:
                result = _arith(op, a, b)
        elif isinstance(node, ast.Unary):
            if not expanded:
                stack.append((node, True))
                stack.append((node.operand, False))
                continue
            a = values.pop()
            result = Value(BOOL, not a.v) if node.op == "not" else Value(a.kind, -a.v)
        else:
            result = _leaf(node, system, page_size, out)
        out.parts[id(node)] = result
        values.append(result)
    out.value = values[-1]
    return out


def explain(expr, evaluation: Evaluation, text_of) -> str:
    """Say why a boolean expression is false: the first false comparison with both sides' values.

    ``text_of(node)`` returns a node's source text as written.
    """
    node = expr
    while True:
        if isinstance(node, ast.Binary) and node.op == "and":
            left = evaluation.parts.get(id(node.left))
            node = node.left if left is not None and not left.v else node.right
            continue
        if isinstance(node, ast.Unary) and node.op == "not":
            return f"{text_of(node.operand)} is true"
        break
    if isinstance(node, ast.Binary) and node.op in ("==", "!=", "<", "<=", ">", ">="):
        left = evaluation.parts.get(id(node.left))
        right = evaluation.parts.get(id(node.right))
        if left is not None and right is not None:
            return f"got {left.format()}, expected {node.op} {right.format()}"
    if isinstance(node, ast.Binary) and node.op == "in":
        left = evaluation.parts.get(id(node.left))
        right = evaluation.parts.get(id(node.right))
        if left is not None and right is not None:
            return f"{left.format()} is not in {right.format()}"
    value = evaluation.parts.get(id(node))
    return f"{text_of(node)} is {value.format() if value is not None else 'false'}"
