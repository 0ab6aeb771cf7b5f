"""Trace-file readers for the ``replay`` step: OSTEP-style page lists and valgrind lackey output.

Both read the file in one streaming pass (plain or gzip-compressed, detected by its magic bytes),
yielding accesses in chunks so that a budget can stop a huge trace early and memory stays
bounded. A malformed line is a :class:`TraceError` naming the file and the line inside it.

* ``pages``: one page number per line, relative to the region (decimal or ``0x`` hex); blank lines
  and ``#`` comments are skipped.
* ``lackey``: ``valgrind --tool=lackey --trace-mem=yes`` lines ``I  ADDR,SIZE``, `` L ADDR,SIZE``,
  `` S ADDR,SIZE``, `` M ADDR,SIZE`` with hex addresses; ``I`` and ``L`` are reads, ``S`` a write,
  ``M`` a read then a write (LANGUAGE.md). Lines starting with ``==`` (valgrind's banner) and
  ``--`` are skipped.
"""

from __future__ import annotations

import gzip
from typing import IO, Iterator

CHUNK = 65536


class TraceError(Exception):
    """A trace file that cannot be read: missing, unreadable or malformed at a line."""

    def __init__(self, path: str, line: int, message: str, text: str = ""):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message
        self.text = text


def _open(path: str, shown: str) -> IO[bytes]:
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise TraceError(shown, 0, f"cannot read trace file: {exc.strerror or exc}") from None
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    return gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw


def _lines(path: str, shown: str) -> Iterator[tuple[int, str]]:
    fh = _open(path, shown)
    lineno = 0
    try:
        with fh:
            while True:
                try:
                    raw = fh.readline()
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    raise TraceError(shown, lineno + 1, f"cannot read trace file: {exc}") from None
                if not raw:
                    return
                lineno += 1
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise TraceError(shown, lineno, "trace file is not UTF-8 text") from None
                yield lineno, line
    finally:
        fh.close()


def read_pages(path: str, shown: str) -> Iterator[list[int]]:
    """Yield chunks of page numbers from a ``pages`` trace."""
    chunk: list[int] = []
    for lineno, line in _lines(path, shown):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            page = int(text, 0)
        except ValueError:
            raise TraceError(shown, lineno, f"expected a page number, got {text[:40]!r}", line) from None
        if page < 0:
            raise TraceError(shown, lineno, f"page numbers are not negative, got {page}", line)
        chunk.append(page)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_lackey(path: str, shown: str) -> Iterator[list[tuple[int, int, bool]]]:
    """Yield chunks of (address, size, write) from a lackey trace; ``M`` gives a read then a write."""
    chunk: list[tuple[int, int, bool]] = []
    for lineno, line in _lines(path, shown):
        text = line.strip()
        if not text or text.startswith("==") or text.startswith("--"):
            continue
        kind, _, rest = text.partition(" ")
        addr_text, _, size_text = rest.strip().partition(",")
        try:
            address = int(addr_text, 16)
            size = int(size_text) if size_text else 1
        except ValueError:
            raise TraceError(shown, lineno, f"expected `KIND ADDRESS,SIZE`, got {text[:40]!r}", line) from None
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
