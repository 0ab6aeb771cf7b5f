"""Load a spec file into a :class:`~vmspec.language.program.Program`: read, include, resolve, check.

The pipeline: ``includes`` reads the file and its includes (confined to the root, cycle-checked),
``machines`` flattens and validates machine blocks, ``resolve`` checks each scenario's names and
``kinds`` each expression. Every error found in the file and its includes is raised together as one
:class:`~vmspec.errors.SpecErrors`, sorted by position; nothing else escapes :func:`load`.
"""

from __future__ import annotations

import gc
from typing import Callable

from vmspec.errors import SpecError, SpecErrors
from vmspec.language import ast
from vmspec.language.includes import FileSet, default_root, load_files, visible_files
from vmspec.language.machines import flatten, flatten_all, own_settings, require_ram, validate
from vmspec.language.params import check_no_params, expand
from vmspec.language.parser import parse_text
from vmspec.language.program import Program, ResolvedScenario
from vmspec.language.resolve import Scope, check_invariant, check_scenario, scenario_machine
from vmspec.source import Span, source_lines


def load(path: str, root: str | None = None) -> Program:
    """Load the spec at ``path`` with its includes; raise SpecErrors listing every problem."""
    gc_was_on = gc.isenabled()
    gc.disable()  # the tree is acyclic: collections during the load would only scan it, again and again
    try:
        return _load(path, root)
    except SpecErrors:
        raise
    except RecursionError:
        raise SpecErrors([SpecError("the spec nests too deeply to check", _at_start(path))]) from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise SpecErrors([SpecError(f"cannot load {path}: {exc}", _at_start(path))]) from None
    except Exception as exc:  # the promise is SpecErrors only; say what went wrong, in one line
        raise SpecErrors([SpecError(f"internal error while loading {path}: "
                                    f"{type(exc).__name__}: {exc}", _at_start(path))]) from None
    finally:
        if gc_was_on:
            gc.enable()


def _at_start(path: str) -> Span:
    return Span.model_construct(file=path, line=1, column=1, end_line=1, end_column=1)


def _text_getter(sources: dict[str, str]) -> Callable[[ast.Node], str]:
    lines: dict[str, list[str]] = {}

    def text_of(node: ast.Node) -> str:
        span = node.span
        file_lines = lines.get(span.file)
        if file_lines is None:
            file_lines = lines[span.file] = source_lines(sources.get(span.file, ""))
        if not (1 <= span.line <= len(file_lines)):
            from vmspec.language.printer import print_expr

            return print_expr(node)
        if span.end_line == span.line:
            return file_lines[span.line - 1][span.column - 1 : span.end_column - 1]
        parts = [file_lines[span.line - 1][span.column - 1 :]]
        parts += file_lines[span.line : span.end_line - 1]
        parts.append(file_lines[span.end_line - 1][: span.end_column - 1])
        return " ".join(p.strip() for p in parts)

    return text_of


def _load(path: str, root: str | None) -> Program:
    root = default_root(path, root)
    fs = load_files(path, root)
    sources = {entry.path: entry.text for entry in fs.files.values()}
    errors = list(fs.errors)
    main = fs.files.get(fs.main)
    if main is None or main.spec is None:
        raise _sorted(errors, sources, fs)
    scope = Scope(machines={}, images={}, files={}, root=root, errors=errors,
                  text_of=_text_getter(sources))
    raw_machines: dict[str, ast.Machine] = {}
    invariants: list[ast.Invariant] = []
    files: list[ast.FileDecl] = []
    defined: dict[tuple[str, str], ast.Node] = {}
    for real in visible_files(fs, fs.main):
        entry = fs.files[real]
        if entry.spec is None:
            continue
        for item in entry.spec.items:
            if not isinstance(item, (ast.Scenario, ast.Include)):
                check_no_params(item, errors)  # `$name` means something only inside a scenario
            key = _definition_key(item)
            if key is not None:
                if key in defined:
                    first = defined[key].span
                    errors.append(SpecError(
                        f"{key[0]} `{key[1]}` is defined twice (first at {first.file}:{first.line})",
                        getattr(item, "name_span", None) or item.span, "rename one of them"))
                    continue
                defined[key] = item
            if isinstance(item, ast.Machine):
                own_settings(item, errors)
                raw_machines[item.name or ""] = item
            elif isinstance(item, ast.Image):
                _check_image(item, errors)
                scope.images[item.name] = item
            elif isinstance(item, ast.FileDecl):
                files.append(item)
                scope.files[item.name] = item
            elif isinstance(item, ast.Invariant):
                invariants.append(item)
                check_invariant(item, scope)
    machine_errors: list[SpecError] = []
    for name, flat in flatten_all(raw_machines, machine_errors).items():
        validate(flat, machine_errors)
        scope.machines[name] = flat
    errors.extend(machine_errors)
    scenarios = []
    titles: dict[str, ast.Scenario] = {}
    instances = []
    for item in main.spec.items:
        if isinstance(item, ast.Scenario):
            instances += [(instance, item, pairs) for instance, pairs in expand(item, errors)]
    for item, template, pairs in instances:
        if item.title in titles:
            errors.append(SpecError(
                f'two scenarios are titled "{item.title}" (the first at line {titles[item.title].span.line})',
                item.span, "give each scenario of a file its own title"))
        titles.setdefault(item.title, item)
        inline = None
        if item.machine_inline is not None:
            own_settings(item.machine_inline, errors)
            inline = flatten(item.machine_inline, raw_machines, errors, scope.machines)
            validate(inline, errors)
        machine = scenario_machine(item, scope, inline)
        if machine is not None:
            require_ram(machine, errors)
        check_scenario(item, scope, path)
        if machine is not None:
            scenarios.append(ResolvedScenario(scenario=item, machine=machine, params=pairs,
                                              template=template.title if pairs else ""))
    if errors:
        raise _sorted(errors, sources, fs)
    return Program(path=path, spec=main.spec, machines=dict(scope.machines), images=dict(scope.images),
                   files=tuple(files), invariants=tuple(invariants), scenarios=tuple(scenarios),
                   sources=sources, root=root)


def load_scenarios(program: Program, text: str, path: str, root: str | None = None) -> Program:
    """Check the scenarios of ``text`` (spec text at ``path`` holding includes, comments and
    scenarios, such as ``vmspec explore`` writes) in ``program``'s scope, as if ``program``'s file
    held them; return ``program`` with those as its only scenarios. ``text``'s includes are not
    read again: the program's scope stands for them. Raise SpecErrors for a scenario that does not
    check (an unknown name, a process created twice...)."""
    spec = parse_text(text, path)
    sources = {**program.sources, path: text}
    errors: list[SpecError] = []
    scope = Scope(machines=dict(program.machines), images=dict(program.images),
                  files={f.name: f for f in program.files}, root=default_root(program.path, root),
                  errors=errors, text_of=_text_getter(sources))
    scenarios = []
    for item in spec.items:
        if isinstance(item, ast.Scenario):
            for instance, pairs in expand(item, errors):
                machine = scenario_machine(instance, scope, None)
                check_scenario(instance, scope, program.path)
                if machine is not None:
                    scenarios.append(ResolvedScenario(scenario=instance, machine=machine, params=pairs,
                                                      template=item.title if pairs else ""))
        elif not isinstance(item, ast.Include):
            errors.append(SpecError("only scenarios and includes can be added to a loaded spec", item.span))
    if errors:
        raise SpecErrors(errors)
    return Program(path=program.path, spec=program.spec, machines=program.machines, images=program.images,
                   files=program.files, invariants=program.invariants, scenarios=tuple(scenarios),
                   sources=sources)


def _definition_key(item: ast.Node) -> tuple[str, str] | None:
    if isinstance(item, ast.Machine) and item.name:
        return ("machine", item.name)
    if isinstance(item, ast.Image):
        return ("image", item.name)
    if isinstance(item, ast.FileDecl):
        return ("file", item.name)
    return None


def _check_image(image: ast.Image, errors: list[SpecError]) -> None:
    seen: dict[str, Span] = {}
    for seg in image.segments:
        key = f"lib {seg.lib}" if seg.kind == "lib" else seg.kind
        if key in seen:
            first = seen[key]
            where = f"line {first.line}" if first.line != seg.span.line else f"column {first.column}"
            errors.append(SpecError(f"image `{image.name}` gives `{key}` twice (first at {where})",
                                    seg.span, "keep one line per segment"))
        seen.setdefault(key, seg.span)
        if seg.kind == "lib" and seg.lib in ("text", "data", "bss", "heap", "stack"):
            errors.append(SpecError(f"a lib cannot be called `{seg.lib}`: that is a built-in region",
                                    seg.span, "rename the lib"))


def _sorted(errors: list[SpecError], sources: dict[str, str], fs: FileSet) -> SpecErrors:
    order = {entry.path: i for i, entry in enumerate(fs.files.values())}
    unique: dict[tuple, SpecError] = {}
    for err in errors:  # one error per place: later ones there are consequences of the first
        key = (err.span.file, err.span.line, err.span.column)
        unique.setdefault(key, err)
    result = sorted(unique.values(),
                    key=lambda e: (order.get(e.span.file, len(order)), e.span.line, e.span.column))
    lines: dict[str, list[str]] = {}  # each file split once: a line found per error is quadratic
    for err in result:
        if err.source is None and err.span.file in sources:
            file_lines = lines.get(err.span.file)
            if file_lines is None:
                file_lines = lines[err.span.file] = source_lines(sources[err.span.file])
            if 1 <= err.span.line <= len(file_lines):
                err.source = file_lines[err.span.line - 1]
    return SpecErrors(result)
