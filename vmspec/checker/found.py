"""The spec ``vmspec explore`` writes: an ``include`` of the explored file and, for each broken
invariant, its minimal scenario, with the invariant in a comment above it.

The include path is relative to the directory the spec will be read from (that of ``--output``,
else the current directory), and so are ``replay`` paths of steps taken from the file's scenarios.
The spec is replayed here, in memory, in the explored program's scope with all its invariants,
so each finding carries the violations ``vmspec check`` will report, at the lines of the spec.
There is no Linux counterpart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vmspec.checker.options import CheckOptions
from vmspec.checker.runner import ScenarioRun
from vmspec.checker.trial import render
from vmspec.language import ast, load_scenarios
from vmspec.language.printer import print_expr, quote

TITLE = "breaks: {}"
STDOUT = "<stdout>"  # where the spec goes when there is no --output


def replay_scenarios(program, spec_text: str, path: str, root: str | None = None):
    """Run every scenario of a written spec in ``program``'s scope (all its invariants); return
    their results in order."""
    variant = load_scenarios(program, spec_text, path, root)
    options = CheckOptions(max_accesses=1_000_000, trail=1000)  # the report shows every step
    return [ScenarioRun(variant, resolved, options, display_path=path).run() for resolved in variant.scenarios]


def _rebase(steps, source_dir: str, out_dir: str) -> tuple:
    """Make the paths of ``replay`` steps relative to ``out_dir`` (they were relative to ``source_dir``)."""
    out = []
    for step in steps:
        if isinstance(step, ast.Repeat):
            step = step.model_copy(update={"body": _rebase(step.body, source_dir, out_dir)})
        elif isinstance(step, ast.Replay):
            path = os.path.relpath(os.path.join(source_dir, step.path), out_dir).replace(os.sep, "/")
            step = step.model_copy(update={"path": path})
        out.append(step)
    return tuple(out)


def include_path(program_path: str, output: str | None) -> str:
    """Return the explored file's path as an include written in ``output`` (else the current directory)."""
    out_dir = os.path.dirname(os.path.abspath(output)) if output else os.getcwd()
    return os.path.relpath(os.path.abspath(program_path), out_dir).replace(os.sep, "/")


@dataclass
class Written:
    """One finding as written in the spec, with what replaying it reports."""

    index: int  # the invariant's position among the targeted ones
    title: str
    scenario: str  # the scenario block, as in the spec
    steps: int  # its top-level steps (a repeat counts once)
    expression: str  # the invariant's expression, canonical
    violations: list


def assemble(program, machine: str, invariants, best: dict, output: str | None, root: str | None,
             command: str) -> tuple[str, list[Written]]:
    """Return the spec replaying the scenario of each broken invariant (``best``: position ->
    steps), and each finding as written in it, replayed."""
    if not best:
        return "", []
    source_dir = os.path.dirname(os.path.abspath(program.path))
    out_dir = os.path.dirname(os.path.abspath(output)) if output else os.getcwd()
    where = f"vmspec check {output}" if output else "save this as a .vms file in the current directory and run vmspec check on it"
    lines = [
        f"# Found by: {command}",
        "# Each scenario breaks the invariant named above it (a minimal scenario: no step can be",
        "# removed and no size made smaller without losing the break).",
        f"# Replay: {where}",
        f"include {quote(include_path(program.path, output))}",
    ]
    titles: set[str] = set()
    written = []
    for k in sorted(best):
        inv = invariants[k]
        title = TITLE.format(inv.label)
        n = 2
        while title in titles:
            title, n = f"{TITLE.format(inv.label)} ({n})", n + 1
        titles.add(title)
        steps = _rebase(best[k], source_dir, out_dir)
        block = render(title, machine, steps)
        expression = print_expr(inv.expr)
        lines += ["", f"# breaks invariant {quote(inv.label)} ({inv.span.file}:{inv.span.line}): {expression}",
                  block.rstrip("\n")]
        written.append(Written(k, title, block, len(steps), expression, []))
    spec = "\n".join(lines) + "\n"
    for entry, replay in zip(written, replay_scenarios(program, spec, output or STDOUT, root)):
        entry.violations = replay.violations
    return spec, written


def verify_replay(path: str, root: str | None = None) -> str | None:
    """Check the spec written at ``path`` as ``vmspec check`` would; return what went wrong if it
    does not fail with exit code 1 (a broken invariant), else None."""
    from vmspec.checker.session import check

    report = check([path], CheckOptions(), root=root)
    code = report.exit_code()
    if code == 1:
        return None
    if report.errors:
        why = report.errors[0].message
        hint = " (an include may not leave the root: write the spec inside it, or pass --root)" \
            if "root" in why or "outside" in why else ""
        return f"vmspec check {path} could not load it: {why}{hint}"
    return f"vmspec check {path} exits with {code}, not 1; please report this as a bug in vmspec explore"
