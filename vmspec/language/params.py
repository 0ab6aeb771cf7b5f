"""Expand a parametrised scenario into its instances, one per value (or combination of values).

``scenario "t" for frames in 1 to 10 for policy in [fifo, lru] { ... }`` runs as the scenarios
``t[frames=1, policy=fifo]``, ``t[frames=1, policy=lru]``, ... (the first ``for`` varies slowest).
Each instance is the scenario's tree with every ``$name`` replaced by its value, so the name and
kind checks that follow (``resolve``, ``kinds``) and the machine checks apply to every instance as
if it had been written out. A ``$name`` that no ``for`` of its scenario declares, or one used
outside a scenario, is a spec error. There is no Linux counterpart.
"""

from __future__ import annotations

import itertools
from typing import Any

from vmspec.errors import SpecError
from vmspec.language import ast

MAX_INSTANCES = 10_000  # per scenario: a range cannot make vmspec build millions of trees
WORDS = {
    "replacement": ("twolist", "lru", "fifo", "clock", "random"),
    "thp": ("never", "madvise", "always"),
}


def value_text(value: ast.ParamValue) -> str:
    """Return a parameter value as the instance's title shows it (``4``, ``2MiB``, ``fifo``)."""
    if isinstance(value, ast.NameRef):
        return value.name
    if isinstance(value, ast.SizeLit):
        return f"{value.amount} {value.unit}" if value.unit in ("page", "pages") else f"{value.amount}{value.unit}"
    return str(value.value)


def _values(decl: ast.ParamDecl, errors: list[SpecError]) -> list[ast.ParamValue] | None:
    """Return the values a ``for`` takes, or None (with an error) if it cannot be expanded."""
    if decl.start is None:
        if not decl.values:
            errors.append(SpecError(f"parameter `{decl.name}` has no values", decl.span,
                                    "list at least one value: for NAME in [1, 2, 3]"))
            return None
        return list(decl.values)
    start, stop, by = decl.start, decl.stop, decl.by
    if isinstance(start, ast.CountLit) and isinstance(stop, ast.SizeLit):  # `1 to 8 pages`
        start = ast.SizeLit.model_construct(span=start.span, spelling=None, amount=start.value, unit=stop.unit)
    if by is not None and isinstance(by, ast.CountLit) and isinstance(stop, ast.SizeLit):
        by = ast.SizeLit.model_construct(span=by.span, spelling=None, amount=by.value, unit=stop.unit)
    ends = [start, stop] + ([by] if by is not None else [])
    if any(isinstance(v, ast.NameRef) for v in ends):
        errors.append(SpecError(f"a range of parameter `{decl.name}` needs numbers or sizes", decl.span,
                                "list words instead: for policy in [fifo, lru, clock]"))
        return None
    units = {v.unit for v in ends if isinstance(v, ast.SizeLit)}
    if len(units) > 1 or (units and not all(isinstance(v, ast.SizeLit) for v in ends)):
        errors.append(SpecError(f"the range of parameter `{decl.name}` mixes units ({', '.join(sorted(units))})",
                                decl.span, "write both ends and the step in one unit: 1MiB to 8MiB by 1MiB"))
        return None

    def amount(v):
        return v.amount if isinstance(v, ast.SizeLit) else v.value

    lo, hi, step = amount(start), amount(stop), amount(by) if by is not None else 1
    if step <= 0:
        errors.append(SpecError(f"the step of parameter `{decl.name}` must be at least 1", by.span))
        return None
    if hi < lo:
        errors.append(SpecError(f"the range of parameter `{decl.name}` is empty ({lo} is above {hi})", decl.span,
                                "write the smaller end first"))
        return None
    count = (hi - lo) // step + 1
    if count > MAX_INSTANCES:
        errors.append(SpecError(f"parameter `{decl.name}` takes {count:,} values, more than {MAX_INSTANCES:,}",
                                decl.span, "use a larger step (by N) or a shorter range"))
        return None
    unit = next(iter(units), None)
    out: list[ast.ParamValue] = []
    for n in range(lo, hi + 1, step):
        if unit is None:
            out.append(ast.CountLit.model_construct(span=decl.span, spelling=None, value=n))
        else:
            out.append(ast.SizeLit.model_construct(span=decl.span, spelling=None, amount=n, unit=unit))
    return out


def expand(scenario: ast.Scenario, errors: list[SpecError]) -> list[tuple[ast.Scenario, tuple[tuple[str, str], ...]]]:
    """Return the instances of ``scenario`` with their (parameter, value as written) pairs; a
    scenario without ``for`` is its only instance. Errors are appended to ``errors``."""
    if not scenario.params:
        _check_unbound(scenario, {}, errors)
        return [(scenario, ())]
    names: dict[str, ast.ParamDecl] = {}
    lists = []
    for decl in scenario.params:
        if decl.name in names:
            errors.append(SpecError(f"parameter `{decl.name}` is declared twice", decl.name_span or decl.span,
                                    "give each parameter its own name"))
            return []
        names[decl.name] = decl
        values = _values(decl, errors)
        if values is None:
            return []
        lists.append(values)
    total = 1
    for values in lists:
        total *= len(values)
    if total > MAX_INSTANCES:
        errors.append(SpecError(f"scenario \"{scenario.title}\" would run {total:,} instances, more than "
                                f"{MAX_INSTANCES:,}", scenario.span, "use fewer values"))
        return []
    out = []
    for combo in itertools.product(*lists):
        binding = dict(zip(names, combo))
        before = len(errors)
        body = _substitute(scenario, binding, errors)
        if len(errors) > before:
            return []  # the same mistake in every instance: report it once
        pairs = tuple((name, value_text(value)) for name, value in binding.items())
        title = scenario.title + "[" + ", ".join(f"{n}={v}" for n, v in pairs) + "]"
        out.append((body.model_copy(update={"title": title, "params": ()}), pairs))
    return out


def check_no_params(node: ast.Node, errors: list[SpecError]) -> None:
    """Report every ``$name`` in ``node`` (a machine, image, file or invariant outside any
    scenario, where no parameter is bound)."""
    for ref in _params_in(node):
        errors.append(SpecError(f"`${ref.name}` is used outside a parametrised scenario", ref.span,
                                "declare it on a scenario: scenario \"t\" for NAME in [...]"))


def _check_unbound(scenario: ast.Scenario, names: dict, errors: list[SpecError]) -> None:
    for ref in _params_in(scenario):
        if ref.name not in names:
            errors.append(_unknown(ref, names))


def _unknown(ref: ast.Param, names) -> SpecError:
    known = ", ".join(names) if names else "none"
    return SpecError(f"unknown parameter `${ref.name}` (this scenario declares: {known})", ref.span,
                     "declare it after the title: for NAME in [1, 2, 3]")


def _params_in(node: Any):
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Param):
            yield item
        elif isinstance(item, ast.Node):
            stack.extend(getattr(item, key) for key in type(item).model_fields if not key.endswith("span"))
        elif isinstance(item, tuple):
            stack.extend(item)


def _substitute(node: Any, binding: dict[str, ast.ParamValue], errors: list[SpecError]) -> Any:
    """Return ``node`` with every Param replaced by its value (copies only what changes)."""
    if isinstance(node, ast.Param):
        return _value_for(node, binding, errors)
    if isinstance(node, tuple):
        items = [_substitute(x, binding, errors) for x in node]
        return node if all(a is b for a, b in zip(items, node)) else tuple(items)
    if not isinstance(node, ast.Node) or isinstance(node, (ast.ParamDecl,)):
        return node
    update = {}
    for key in type(node).model_fields:
        if key == "span" or key.endswith("_span"):
            continue
        value = getattr(node, key)
        if isinstance(value, (ast.Node, tuple)):
            new = _substitute(value, binding, errors)
            if new is not value:
                update[key] = new
    return node.model_copy(update=update) if update else node


def _value_for(ref: ast.Param, binding: dict[str, ast.ParamValue], errors: list[SpecError]) -> Any:
    """Return what ``ref`` becomes in its role, or a harmless stand-in after reporting why not."""
    value = binding.get(ref.name)
    if value is None:
        errors.append(_unknown(ref, binding))
        return _stand_in(ref)
    role, shown = ref.role, value_text(value)

    def bad(message: str, hint: str | None = None):
        errors.append(SpecError(f"`${ref.name}` is {message}", ref.span, hint))
        return _stand_in(ref)

    if ref.unit is not None:
        if not isinstance(value, ast.CountLit):
            return bad(f"{shown} here, which already has a unit or is a word; `${ref.name} {ref.unit}` needs a "
                       f"plain number", f"write `${ref.name}` alone")
        if role == "count":
            return bad(f"a count here; it cannot take the unit {ref.unit}")
        return ast.SizeLit.model_construct(span=ref.span, spelling=None, amount=value.value, unit=ref.unit)
    if role.startswith("word:"):
        setting = role[5:]
        allowed = WORDS[setting]
        if not isinstance(value, ast.NameRef) or value.name not in allowed:
            return bad(f"{shown} here, and {setting} takes {', '.join(allowed)}")
        return value.name
    if role == "count":
        if not isinstance(value, ast.CountLit):
            return bad(f"{shown} here, and a count is a plain number")
        return value.value
    if role in ("size", "offset"):
        if isinstance(value, ast.SizeLit):
            return value.model_copy(update={"span": ref.span})
        if isinstance(value, ast.CountLit) and (value.value == 0 or role == "offset"):
            return ast.SizeLit.model_construct(span=ref.span, spelling=None, amount=value.value, unit="B")
        return bad(f"{shown} here, and a size needs a unit", f"write `${ref.name} pages` or `${ref.name} MiB`")
    return value.model_copy(update={"span": ref.span})  # an operand of an expression


def _stand_in(ref: ast.Param) -> Any:
    if ref.role.startswith("word:"):
        return WORDS[ref.role[5:]][0]
    if ref.role == "count":
        return 1
    return ast.SizeLit.model_construct(span=ref.span, spelling=None, amount=0, unit="B")
