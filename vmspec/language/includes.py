"""Read a spec file and everything it includes, confined to a root directory and free of cycles.

``include`` paths are relative to the including file; an absolute path, a path whose resolved real
path (symlinks followed, ``os.path.realpath``) leaves the root, a missing file and an include cycle
are spec errors naming the files involved (docs/language.md, File). Files are decoded as UTF-8 (a BOM is
dropped); a NUL byte or invalid UTF-8 is an error at the offending line. ``replay`` paths obey the
same confinement through :func:`confine`. Errors are collected, not raised one at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from vmspec.confine import ConfinementError, check_regular, inside, open_confined, read_bounded
from vmspec.errors import SpecError, SpecErrors
from vmspec.language import ast
from vmspec.language.parser import parse_source
from vmspec.source import Span

MAX_INCLUDE_DEPTH = 64


@dataclass
class SourceFile:
    """One file read: its path as spans name it, real path, text, AST, and direct includes."""

    path: str
    real: str
    text: str
    spec: ast.SpecFile | None
    includes: list[str] = field(default_factory=list)  # real paths, in order


@dataclass
class FileSet:
    """The main file and its includes, by real path, with the errors found while reading them."""

    main: str
    files: dict[str, SourceFile] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


def default_root(path: str, root: str | None) -> str:
    """Return the confinement root: ``root`` if given, else the current directory, unless the spec
    lies outside it, in which case the spec's own directory."""
    if root is not None:
        return root
    cwd = os.path.realpath(os.getcwd())
    spec_dir = os.path.dirname(os.path.realpath(path))
    if _inside(spec_dir, cwd):
        return cwd
    return spec_dir


def _inside(path: str, root: str) -> bool:
    return inside(path, root)


def _error_at_offset(*args: Any) -> SpecError:
    from vmspec.language.diagnostics import error_at_offset  # loaded for a bad file only

    return error_at_offset(*args)


def decode(data: bytes, path: str) -> str:
    """Decode a spec file's bytes as UTF-8 text, or raise SpecErrors at the offending line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        text = data[:nul].decode("utf-8", errors="replace")
        raise SpecErrors([_error_at_offset(
            text, path, len(text), "this is a binary file, not a .vms spec (it contains a NUL byte)",
            "a spec is UTF-8 text")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        raise SpecErrors([_error_at_offset(
            good, path, len(good),
            f"this file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot start or continue "
            "a UTF-8 character)", "save the file as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def read_spec(path: str, root: str | None = None) -> str:
    """Read and decode one spec file, turning OS errors into SpecErrors. With ``root``, the file
    must be a regular file inside it (see :mod:`vmspec.confine`); it is read up to 16 MiB. The
    error names the file and quotes nothing of it."""
    try:
        with open_confined(path, root) as fh:
            data = read_bounded(fh, path)
    except ConfinementError as exc:
        raise SpecErrors([SpecError(f"cannot read {path}: {exc}", _top(path))]) from None
    except OSError as exc:
        raise SpecErrors([SpecError(f"cannot read {path}: {exc.strerror or exc}", _top(path))]) from None
    return decode(data, path)


def _top(path: str) -> Span:
    return Span.model_construct(file=path, line=1, column=1, end_line=1, end_column=1)


def confine(target: str, written: str, span: Span, root: str, what: str,
            source: str | None) -> tuple[str | None, SpecError | None]:
    """Check a path written in a spec (``include``/``replay``): relative, inside ``root``, present.

    ``target`` is the path joined to the including file's directory. Returns (real path, None) or
    (None, error).
    """
    verb = "includes" if what == "include" else "replays"
    if os.path.isabs(written) or written.startswith(("/", "\\")) or (len(written) > 1 and written[1] == ":"):
        return None, SpecError(
            f"{what} path `{written}` is absolute", span,
            f"write it relative to the directory of {span.file}", source)
    real = os.path.realpath(target)
    real_root = os.path.realpath(root)
    if not _inside(real, real_root):
        return None, SpecError(
            f"{span.file} {verb} {target}, which is outside the root directory {root}",
            span, "keep included and replayed files under the root directory", source)
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None, SpecError(f"{span.file} {verb} {target}, which does not exist", span,
                               f"check the path; it is relative to the directory of {span.file}",
                               source)
    try:
        check_regular(target, mode)
    except ConfinementError as exc:
        return None, SpecError(f"{span.file} {verb} {target}, which cannot be read: {exc}", span,
                               "include and replay regular files only", source)
    return real, None


def load_files(path: str, root: str) -> FileSet:
    """Read ``path`` and, depth first, every file it includes; collect every error."""
    real = os.path.realpath(path)
    fs = FileSet(main=real)
    _load(fs, path, real, root, [])
    return fs


def _load(fs: FileSet, path: str, real: str, root: str, stack: list[str]) -> None:
    try:
        text = read_spec(path, root)
    except SpecErrors as errs:
        fs.errors.extend(errs.errors)
        fs.files[real] = SourceFile(path, real, "", None)
        return
    try:
        spec, _, problems = parse_source(text, path)
        fs.errors.extend(problems)
    except SpecErrors as errs:
        fs.errors.extend(errs.errors)
        fs.files[real] = SourceFile(path, real, text, None)
        return
    entry = SourceFile(path, real, text, spec)
    fs.files[real] = entry
    stack.append(real)
    lines = text.split("\n") if any(isinstance(i, ast.Include) for i in spec.items) else []
    for item in spec.items:
        if not isinstance(item, ast.Include):
            continue
        src_line = lines[item.span.line - 1].rstrip("\r") if item.span.line <= len(lines) else None
        target = os.path.normpath(os.path.join(os.path.dirname(path), item.path))
        where = item.path_span or item.span
        target_real, err = confine(target, item.path, where, root, "include", src_line)
        if err is not None:
            fs.errors.append(err)
            continue
        assert target_real is not None
        if target_real in stack:
            chain = [fs.files[r].path for r in stack[stack.index(target_real):]] + [target]
            fs.errors.append(SpecError(
                "include cycle: " + ", which includes ".join(
                    f"{a} includes {b}" if i == 0 else b for i, (a, b) in enumerate(zip(chain, chain[1:]))),
                where, "remove one of the includes", src_line))
            continue
        if target_real not in fs.files and len(stack) >= MAX_INCLUDE_DEPTH:
            fs.errors.append(SpecError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} files",
                                       where, "include the deepest files from a shallower one",
                                       src_line))
            continue  # (not listed among the includes: it was never read)
        entry.includes.append(target_real)
        if target_real in fs.files:
            continue
        _load(fs, target, target_real, root, stack)
    stack.pop()


def visible_files(fs: FileSet, real: str) -> list[str]:
    """Return ``real`` and every file it includes directly or not, each once, includes first."""
    order: list[str] = []
    seen: set[str] = set()
    todo = [(real, False)]
    while todo:
        node, done = todo.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        todo.append((node, True))
        entry = fs.files.get(node)
        for child in reversed(entry.includes if entry else []):
            todo.append((child, False))
    return order
