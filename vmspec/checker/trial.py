"""One try of ``vmspec explore``: a scenario's steps rendered as .vms text, checked by the language
in the explored program's scope, run by the same runner as ``vmspec check``, and what it showed.

A :class:`Trial` says which of the targeted invariants broke and at which step, whether the
scenario ended early (a step that is not modelled yet, a budget, a bug in vmspec), how close it
came to breaking each numeric comparison of each invariant (reported for the invariants nothing
broke), and which invariants had every process and region they name in existence at some step
(a search that never reached an invariant's names cannot claim it holds). There is no Linux
counterpart.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from vmspec.checker.evaluate import EvalError, evaluate
from vmspec.checker.machine import page_size_of
from vmspec.checker.options import CheckOptions
from vmspec.checker.results import ScenarioResult
from vmspec.checker.runner import ScenarioRun
from vmspec.checker.values import ANY, COUNT, DURATION, PROCS, RATIO, SIZE
from vmspec.checker.vocabulary import SPAN, expression_names
from vmspec.errors import SpecErrors
from vmspec.language import ast, load_scenarios, print_spec
from vmspec.language.printer import print_expr

NUMERIC = frozenset({SIZE, COUNT, DURATION, RATIO, ANY})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


@dataclass
class Trial:
    """What running one scenario showed."""

    text: str
    error: str = ""  # the spec error, when the scenario did not check (then nothing ran)
    stopped: str | None = None  # why it ended early: "unsupported", "budget", "timeout", "internal"...
    stop_message: str = ""
    stopped_at: int = -1  # the top-level step it ended at
    broken: dict[int, int] = field(default_factory=dict)  # invariant -> top-level step where it first broke
    reached: set[int] = field(default_factory=set)  # invariants whose names all existed at some step
    # (invariant, comparison) -> the closest it came to breaking: margin (> 0: broken) and values
    closest: dict[tuple[int, int], tuple[float, str]] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)  # top-level step -> modelled failure
    result: ScenarioResult | None = None


def comparisons(expr) -> list[tuple[ast.Binary, int]]:
    """Return the comparisons of a boolean expression with their polarity (-1 under a `not`)."""
    out = []
    todo = [(expr, 1)]
    while todo:
        node, sign = todo.pop()
        if isinstance(node, ast.Unary) and node.op == "not":
            todo.append((node.operand, -sign))
        elif isinstance(node, ast.Binary) and node.op in ("and", "or"):
            todo += [(node.right, sign), (node.left, sign)]
        elif isinstance(node, ast.Binary) and node.op in COMPARISONS:
            out.append((node, sign))
    return out


def margin(op: str, a, b) -> float | None:
    """Return how far ``a op b`` is from being false (positive: false), or None if not numeric."""
    if a.kind in NUMERIC and b.kind in NUMERIC:
        x, y = float(a.v), float(b.v)
        if op in ("<", "<="):
            return x - y
        if op in (">", ">="):
            return y - x
        return abs(x - y) if op == "==" else -abs(x - y)
    if a.kind == PROCS and b.kind == PROCS and op in ("==", "!="):
        differ = len(set(a.v) ^ set(b.v)) + abs(len(a.v) - len(b.v))
        return float(differ if op == "==" else -differ)
    return None


def render(title: str, machine: str, steps, path: str = "<explore>") -> str:
    """Return the steps as one canonical scenario block."""
    scenario = ast.Scenario(span=SPAN, title=title, machine=machine, steps=tuple(steps))
    return print_spec(ast.SpecFile(span=SPAN, path=path, items=(scenario,)))


class Trier:
    """Runs scenarios on one machine of a program against some of its invariants."""

    def __init__(self, program, machine: str, invariants, options: CheckOptions, root: str | None = None):
        self.machine = machine
        self.invariants = tuple(invariants)
        self.program = dataclasses.replace(program, invariants=self.invariants)
        self.options = options
        self.root = root
        self.page = page_size_of(program.machines[machine])
        self.path = os.path.join(os.path.dirname(program.path), "<explore>")
        self.names = [expression_names(inv.expr) for inv in self.invariants]
        self.parts = [comparisons(inv.expr) for inv in self.invariants]
        self.runs = 0

    def render(self, steps) -> str:
        """Return the text a scenario of these steps is run as."""
        return render("explore", self.machine, steps)

    def run(self, steps, text: str | None = None) -> Trial:
        """Render, check and run one scenario."""
        text = self.render(steps) if text is None else text
        trial = Trial(text=text)
        try:
            variant = load_scenarios(self.program, text, self.path, self.root)
        except SpecErrors as errors:
            first = errors.errors[0]
            trial.error = f"{first.span.line}:{first.span.column}: {first.message}"
            return trial
        self.runs += 1
        resolved = variant.scenarios[0]
        top = {}
        for i, step in enumerate(resolved.scenario.steps):
            for line in range(step.span.line, step.span.end_line + 1):
                top[line] = i
        run = ScenarioRun(variant, resolved, self.options, display_path=self.path,
                          observer=_Observer(self, trial, resolved.scenario.steps, top))
        trial.result = run.run()
        trial.stopped = run.stopped_by
        if run.stopped_by is not None:
            trial.stop_message = run.violations[-1].message
            trial.stopped_at = top.get(run.violations[-1].line, len(resolved.scenario.steps) - 1)
        for k, watch in enumerate(w for w in run.watches if w.kind == "invariant"):
            if watch.violation is not None:
                trial.broken[k] = top.get(watch.violation.line, len(resolved.scenario.steps) - 1)
        return trial



class _Observer:
    """The runner's observer for one trial: the steps that failed, the invariants whose names
    exist, and how close each comparison came to breaking, after every step."""

    def __init__(self, trier: Trier, trial: Trial, steps, top: dict[int, int]):
        self.trier = trier
        self.trial = trial
        self.steps = steps
        self.top = top

    def started(self, system) -> None:
        """Nothing to do before the first step."""

    def stepped(self, step, system, failure) -> None:
        """Note what one step did."""
        trier, trial, closest = self.trier, self.trial, self.trial.closest
        if failure is not None and step.span.line in self.top:
            index = self.top[step.span.line]
            if self.steps[index] is step:
                trial.failures[index] = failure
        for k, inv in enumerate(trier.invariants):
            if k not in trial.reached:
                procs, regions = trier.names[k]
                if all(system.exists(p) for p in procs) and all(
                        system.alive(p) and system.has_region(p, r) for p, r in regions):
                    trial.reached.add(k)
            if not trier.parts[k]:
                continue
            try:
                parts = evaluate(inv.expr, system, trier.page).parts
            except EvalError:
                continue
            for j, (node, sign) in enumerate(trier.parts[k]):
                left, right = parts.get(id(node.left)), parts.get(id(node.right))
                if left is None or right is None:
                    continue
                value = margin(node.op, left, right)
                if value is None:
                    continue
                value *= sign
                if (k, j) not in closest or value > closest[(k, j)][0]:
                    closest[(k, j)] = (value, f"{print_expr(node)}: got {left.format()}, "
                                              f"expected {node.op} {right.format()}")
