"""Trace-file readers for the ``replay`` step: OSTEP-style page lists and valgrind lackey output.

Both read the file in one streaming pass (plain or gzip-compressed, detected by its magic bytes)
and yield accesses in chunks, an empty one too after every ``CHUNK`` lines, so that a budget or a
deadline can stop a huge trace early and memory stays bounded. A malformed line, or one longer
than :data:`MAX_LINE` bytes, is a :class:`TraceError` naming the file and the line. The formats
are docs/language.md's ("Scenario steps", ``replay``).
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import IO, Iterator

from vmspec.confine import ConfinementError, open_confined
from vmspec.units import TOO_LARGE, parse_integer

CHUNK = 65536
MAX_LINE = 4096  # bytes per line
ADDRESS_LIMIT = 1 << 64
_LACKEY = re.compile(r"([ILSM])\s+(?:0[xX])?([0-9A-Fa-f]+)(?:,([0-9]+))?", re.ASCII)
_PAGE = re.compile(r"0[xX][0-9A-Fa-f]+|[0-9]+", re.ASCII)


class TraceError(Exception):
    """A trace file that cannot be read: missing, unreadable or malformed at a line."""

    def __init__(self, path: str, line: int, message: str, text: str = ""):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message
        self.text = text


def _open(path: str, shown: str, root: str | None) -> IO[bytes]:
    try:
        raw = open_confined(path, root)
    except ConfinementError as exc:
        raise TraceError(shown, 0, f"cannot read trace file: {exc}") from None
    except OSError as exc:
        raise TraceError(shown, 0, f"cannot read trace file: {exc.strerror or exc}") from None
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    return gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw


def _lines(path: str, shown: str, root: str | None) -> Iterator[tuple[int, str]]:
    fh = _open(path, shown, root)
    lineno = 0
    try:
        with fh:
            while True:
                try:
                    raw = fh.readline(MAX_LINE + 1)
                except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
                    raise TraceError(shown, lineno + 1, f"cannot read trace file: {exc}") from None
                if not raw:
                    return
                lineno += 1
                if len(raw) > MAX_LINE:
                    raise TraceError(shown, lineno, f"line {lineno:,} is longer than {MAX_LINE:,} bytes; "
                                     "a trace line holds one access")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise TraceError(shown, lineno, "trace file is not UTF-8 text") from None
                yield lineno, line
    finally:
        fh.close()


def read_pages(path: str, shown: str, page_size: int = 4096, root: str | None = None) -> Iterator[list[int]]:
    """Yield chunks of page numbers from a ``pages`` trace (each below 2**64 / ``page_size``);
    with ``root``, the file must be a regular file inside it (checked on the file opened)."""
    chunk: list[int] = []
    limit = ADDRESS_LIMIT // page_size
    for lineno, line in _lines(path, shown, root):
        if lineno % CHUNK == 0:
            yield chunk
            chunk = []
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if _PAGE.fullmatch(text) is None:
            if text[:1] == "-" and _PAGE.fullmatch(text[1:]):
                raise TraceError(shown, lineno, f"page numbers are not negative, got {text[:40]}", line)
            raise TraceError(shown, lineno, f"expected a page number (decimal, or hex after 0x), got {text[:40]!r}",
                             line)
        page = parse_integer(text)
        if page >= limit:
            raise TraceError(shown, lineno, f"page number {text[:40]} is beyond a 64-bit address space", line)
        chunk.append(page)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_lackey(path: str, shown: str, root: str | None = None) -> Iterator[list[tuple[int, int, bool]]]:
    """Yield chunks of (address, size, write) from a lackey trace; ``M`` gives a read then a write;
    with ``root``, the file must be a regular file inside it (checked on the file opened)."""
    chunk: list[tuple[int, int, bool]] = []
    for lineno, line in _lines(path, shown, root):
        if lineno % CHUNK == 0:
            yield chunk
            chunk = []
        text = line.strip()
        if not text or text.startswith("==") or text.startswith("--"):
            continue
        match = _LACKEY.fullmatch(text)
        if match is None:
            kind = text.split(None, 1)[0]
            if len(kind) == 1 and kind.isalpha() and kind not in "ILSM":
                raise TraceError(shown, lineno, f"unknown access kind {kind!r}; lackey uses I, L, S, M", line)
            raise TraceError(shown, lineno, f"expected `KIND ADDRESS,SIZE`, got {text[:40]!r}", line)
        kind, address, size = match.group(1), parse_integer("0x" + match.group(2)), parse_integer(match.group(3) or "1")
        if size < 1:
            raise TraceError(shown, lineno, f"an access has a size of at least 1 byte, got {size}", line)
        if address + size > ADDRESS_LIMIT:
            what = "size" if size >= TOO_LARGE else "address"
            raise TraceError(shown, lineno, f"{what} {match.group(2 if what == 'address' else 3)[:40]} "
                             "is beyond a 64-bit address space", line)
        if kind in ("I", "L"):
            chunk.append((address, size, False))
        elif kind == "S":
            chunk.append((address, size, True))
        elif kind == "M":
            chunk.append((address, size, False))
            chunk.append((address, size, True))
        else:
            raise TraceError(shown, lineno, f"unknown access kind {kind!r}; lackey uses I, L, S, M", line)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
