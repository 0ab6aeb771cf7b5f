"""Open the files of a user's project without leaving its root, hanging, or reading without end.

Everything vmspec reads from a project (the specs a directory scan finds, includes, replayed
traces, what ``vmspec fmt`` rewrites) is opened by :func:`open_confined`:

* containment: the file's real path (symlinks followed, ``os.path.realpath``) must lie inside the
  root's real path, so ``proj/env.vms -> /proc/self/environ`` is refused, not read;
* only regular files: a FIFO (whose ``open`` would wait for a writer forever), a device
  (``/dev/zero`` reads without end), a socket or a directory is named in the error, never read;
  the file is opened with ``O_NONBLOCK``, so even one swapped in at the last moment cannot block;
* what was checked is what is read: the file is opened by its resolved path with ``O_NOFOLLOW``,
  and the opened file itself is checked again (``fstat``: a regular file; ``/proc/self/fd``:
  its path still inside the root, else the same device and inode as the path checked), so
  swapping a trace for a symlink between the check and the read gains nothing;
* :func:`read_bounded` reads at most a cap (spec files: :data:`MAX_SPEC_BYTES`).

There is no Linux counterpart; this is the tool's own boundary. It imports nothing of vmspec.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

MAX_SPEC_BYTES = 16 << 20
"""Largest spec file vmspec reads (16 MiB; a hand-written spec is a few KiB, and parsing takes
about a second per MB)."""


class ConfinementError(Exception):
    """A file that may not be read: outside the root, not a regular file, or too large."""


def inside(real: str, real_root: str) -> bool:
    """Tell whether the real path ``real`` is ``real_root`` or lies under it."""
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(path: str, mode: int) -> None:
    """Raise ConfinementError unless ``mode`` (of ``path``) is a regular file's."""
    if not stat.S_ISREG(mode):
        raise ConfinementError(f"{path} is {_kind(mode)}, not a regular file; only regular files are read")


def _outside(path: str, real: str, root: str) -> ConfinementError:
    via = f" (a symlink to {real})" if os.path.abspath(path) != real else ""
    return ConfinementError(f"{path}{via} is outside the root directory {root}")


def _opened_path(fd: int) -> str | None:
    """Return the real path of the open file ``fd`` where the OS tells it (Linux), else None."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def open_confined(path: str, root: str | None) -> BinaryIO:
    """Open ``path`` for reading in binary mode if it is a regular file inside ``root`` (None: any
    regular file); raise ConfinementError naming why not, or OSError if it cannot be opened."""
    real = os.path.realpath(path)
    real_root = os.path.realpath(root) if root is not None else None
    if real_root is not None and not inside(real, real_root):
        raise _outside(path, real, root)
    check_regular(path, os.stat(real).st_mode)  # before opening: opening a device can act
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if os.path.islink(real):  # ELOOP: swapped for a symlink after the check
            raise ConfinementError(f"{path} changed while it was opened; it is now a symlink") from None
        raise exc
    try:
        st = os.fstat(fd)
        check_regular(path, st.st_mode)
        if real_root is not None:
            opened = _opened_path(fd)
            if opened is not None:
                if not inside(opened, real_root):
                    raise _outside(path, opened, root)
            else:
                now = os.stat(real)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    raise ConfinementError(f"{path} changed while it was opened")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(fh: BinaryIO, path: str, limit: int = MAX_SPEC_BYTES) -> bytes:
    """Read all of ``fh`` if it holds at most ``limit`` bytes; else raise ConfinementError."""
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise ConfinementError(f"{path} is larger than {limit >> 20} MiB, the most vmspec reads from one file")
    return data
