"""Resolve the names a spec uses and check its scenarios statically, before anything runs.

For each scenario of the loaded file: its machine (``on``, inline, or the only one in scope), the
processes its steps name (created by an earlier ``spawn`` or ``fork`` of the scenario), the regions
of those processes (``mmap``/``malloc`` results, the built-in text/data/bss/heap/stack and the
image's libs), images, files, ``replay`` paths (confined like includes), and the kinds of its
expressions (``kinds``). Titles are unique per file. Close names are suggested for typos. In
expressions a process may be named anywhere in the scenario (its sizes read 0 before it exists).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vmspec.errors import SpecError
from vmspec.language import ast
from vmspec.language.includes import confine
from vmspec.language.kinds import KindChecker
from vmspec.language.words import suggest
from vmspec.source import Span

BUILTIN_REGIONS = ("text", "data", "bss", "heap", "stack")
_PROC_HINT = "a step may name only processes that a spawn or fork earlier in the scenario creates"
_REGION_HINT = ("regions come from mmap and malloc steps, or are text, data, bss, heap, stack or a "
                "lib of the process's image")


@dataclass
class Scope:
    """What a scenario can see: named machines (flattened), images and top-level files."""

    machines: dict[str, ast.Machine]
    images: dict[str, ast.Image]
    files: dict[str, ast.FileDecl]
    root: str
    errors: list[SpecError]
    text_of: object  # Callable[[ast.Node], str]


@dataclass
class _Walk:
    """The state of one scenario while its steps are checked in order."""

    procs: dict[str, set[str]] = field(default_factory=dict)
    made_at: dict[str, int] = field(default_factory=dict)
    ever: dict[str, set[str]] = field(default_factory=dict)
    all_procs: dict[str, int] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)
    exprs: list[ast.Node] = field(default_factory=list)


def name_span(node: ast.Node, field: str) -> Span:
    """Return the span of a name of ``node`` (``process_span``...), or the node's own span when
    the tree was built without name spans."""
    return getattr(node, field, None) or node.span


def scenario_machine(sc: ast.Scenario, scope: Scope, inline: ast.Machine | None) -> ast.Machine | None:
    """Return the machine a scenario runs on, or report why there is none."""
    if inline is not None:
        return inline
    if sc.machine is not None:
        found = scope.machines.get(sc.machine)
        if found is None:
            scope.errors.append(SpecError(
                f"machine `{sc.machine}` is not defined{suggest(sc.machine, scope.machines)}",
                name_span(sc, "machine_span"),
                "define it with `machine NAME { ram 1GiB }`, or include the file that does"))
        return found
    if len(scope.machines) == 1:
        return next(iter(scope.machines.values()))
    if not scope.machines:
        scope.errors.append(SpecError(
            f'scenario "{sc.title}" has no machine: none is in scope', sc.span,
            "define one with `machine NAME { ram 1GiB }`, include one, or start the scenario "
            "with `machine { ram 1GiB }`"))
    else:
        names = ", ".join(sorted(scope.machines))
        scope.errors.append(SpecError(
            f'scenario "{sc.title}" does not say which machine it runs on, and '
            f"{len(scope.machines)} are in scope ({names})", sc.span,
            f"add `on {sorted(scope.machines)[0]}` after the title"))
    return None


def check_scenario(sc: ast.Scenario, scope: Scope, spec_path: str) -> None:
    """Check every step's names and every expression's kinds in one scenario."""
    walk = _Walk(files=set(scope.files))
    _collect_processes(sc.steps, walk.all_procs)
    _walk_steps(sc.steps, walk, scope, spec_path)

    def check_name(node: ast.Node) -> SpecError | None:
        if isinstance(node, ast.RegionRef):
            err = _unknown_process(node.process, node, walk.all_procs, None)
            if err is not None:
                return err
            regions = walk.ever.get(node.process, set())
            if node.region not in regions:
                return SpecError(f"process `{node.process}` has no region `{node.region}`"
                                 f"{suggest(node.region, regions)}", node.span, _REGION_HINT)
            return None
        assert isinstance(node, ast.NameRef)
        return _unknown_process(node.name, node, walk.all_procs, None)

    checker = KindChecker(scope.text_of, check_name)  # type: ignore[arg-type]
    for expr in walk.exprs:
        checker.check_condition(expr)
    scope.errors.extend(checker.errors)


def check_invariant(inv: ast.Invariant, scope: Scope) -> None:
    """Check an invariant's kinds; its process names are checked per scenario at run time."""
    checker = KindChecker(scope.text_of, lambda node: None)  # type: ignore[arg-type]
    checker.check_condition(inv.expr)
    scope.errors.extend(checker.errors)


def _collect_processes(steps: tuple, out: dict[str, int]) -> None:
    todo = list(reversed(steps))
    while todo:
        step = todo.pop()
        if isinstance(step, ast.Spawn):
            out.setdefault(step.process, step.span.line)
        elif isinstance(step, ast.Fork):
            out.setdefault(step.child, step.span.line)
        elif isinstance(step, ast.Repeat):
            todo.extend(reversed(step.body))


def _unknown_process(name: str, node: ast.Node, known: dict[str, int] | dict[str, set[str]],
                     later: dict[str, int] | None) -> SpecError | None:
    if name in known:
        return None
    if later is not None and name in later:
        return SpecError(f"process `{name}` is used before it is created (at line {later[name]})",
                         node.span, _PROC_HINT)
    return SpecError(f"unknown process `{name}`{suggest(name, known)}", node.span, _PROC_HINT)


def _walk_steps(steps: tuple, walk: _Walk, scope: Scope, spec_path: str) -> None:
    # Repeat bodies are walked once, in place, with an explicit stack (nesting is bounded, but
    # cheap); each step carries the innermost repeat that runs it more than once, if any.
    todo: list[tuple[ast.Node, ast.Repeat | None]] = [(s, None) for s in reversed(steps)]
    add = scope.errors.append
    while todo:
        step, looping = todo.pop()
        if isinstance(step, ast.Repeat):
            inner = step if step.count > 1 else looping
            todo.extend((s, inner) for s in reversed(step.body))
            continue
        if looping is not None and isinstance(step, (ast.Spawn, ast.Fork)):
            name = step.process if isinstance(step, ast.Spawn) else step.child
            verb = "spawn" if isinstance(step, ast.Spawn) else "fork"
            add(SpecError(f"this {verb} runs {looping.count:,} times (inside the repeat at line "
                          f"{looping.span.line}) but can create process `{name}` only once",
                          name_span(step, "process_span" if verb == "spawn" else "child_span"),
                          f"move the {verb} out of the repeat; a process name is created once per scenario"))
        if isinstance(step, (ast.Expect, ast.Always)):
            walk.exprs.append(step.expr)
            continue
        if isinstance(step, ast.FileDecl):
            walk.files.add(step.name)
            continue
        if isinstance(step, ast.DropCaches):
            continue
        if isinstance(step, ast.Spawn):
            _spawn(step, walk, scope)
            continue
        if isinstance(step, ast.Fork):
            if not _need_process(step.parent, name_span(step, "parent_span"), walk, add):
                continue
            if step.child in walk.procs:
                add(SpecError(f"process `{step.child}` already exists (created at line "
                              f"{walk.made_at[step.child]})", name_span(step, "child_span"),
                              "give the child a new name"))
                continue
            walk.procs[step.child] = set(walk.procs[step.parent])
            walk.made_at[step.child] = step.span.line
            walk.ever.setdefault(step.child, set()).update(walk.procs[step.parent])
            continue
        process = getattr(step, "process", None)
        if process is None or not _need_process(process, name_span(step, "process_span"), walk, add):
            continue
        regions = walk.procs[process]
        if isinstance(step, (ast.Mmap, ast.Malloc)):
            if isinstance(step, ast.Mmap) and step.file is not None and step.file not in walk.files:
                add(SpecError(f'file "{step.file}" is not declared{suggest(step.file, walk.files)}',
                              name_span(step, "file_span"),
                              f'declare it first with `file "{step.file}" SIZE`'))
            regions.add(step.region)
            walk.ever.setdefault(process, set()).add(step.region)
            continue
        if isinstance(step, ast.Replay):
            _replay(step, walk, scope, spec_path)
            if step.region is not None:
                _need_region(process, step.region, step, regions, add)
            continue
        region = getattr(step, "region", None)
        if region is not None:
            _need_region(process, region, step, regions, add)


def _spawn(step: ast.Spawn, walk: _Walk, scope: Scope) -> None:
    add = scope.errors.append
    if step.process in walk.procs:
        add(SpecError(f"process `{step.process}` already exists (created at line "
                      f"{walk.made_at[step.process]})", name_span(step, "process_span"),
                      "give each process its own name"))
        return
    regions = set(BUILTIN_REGIONS)
    if step.image is not None:
        image = scope.images.get(step.image)
        if image is None:
            add(SpecError(f"image `{step.image}` is not defined{suggest(step.image, scope.images)}",
                          name_span(step, "image_span"),
                          "define it with `image NAME { text 1MiB }`, or include it"))
        else:
            regions.update(seg.lib for seg in image.segments if seg.lib)
    walk.procs[step.process] = regions
    walk.made_at[step.process] = step.span.line
    walk.ever.setdefault(step.process, set()).update(regions)


def _need_process(name: str, span: Span, walk: _Walk, add) -> bool:
    if name in walk.procs:
        return True
    made = walk.all_procs.get(name)
    if made is not None:
        add(SpecError(f"process `{name}` is used before it is created (at line {made})", span,
                      _PROC_HINT))
    else:
        add(SpecError(f"unknown process `{name}`{suggest(name, walk.all_procs)}", span, _PROC_HINT))
    return False


def _need_region(process: str, region: str, step: ast.Node, regions: set[str], add) -> None:
    if region not in regions:
        add(SpecError(f"process `{process}` has no region `{region}`{suggest(region, regions)}",
                      name_span(step, "region_span"), _REGION_HINT))


def _replay(step: ast.Replay, walk: _Walk, scope: Scope, spec_path: str) -> None:
    target = os.path.normpath(os.path.join(os.path.dirname(step.span.file or spec_path), step.path))
    _, err = confine(target, step.path, name_span(step, "path_span"), scope.root, "replay", None)
    if err is not None:
        scope.errors.append(err)
