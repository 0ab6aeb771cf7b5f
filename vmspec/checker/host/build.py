"""Build the host agent (``agent.c`` and ``janitor.c``, shipped in the package) with the system's
C compiler, once.

The binary is cached in a per-user cache directory (``$XDG_CACHE_HOME/vmspec``, else
``~/.cache/vmspec``; ``VMSPEC_CACHE_DIR`` overrides both), named by the SHA-256 of the sources and
the compiler command, so a changed source or compiler builds a new agent and an old binary is
never run. The build writes to a temporary name and renames it into place, so that concurrent
runs (``-j N``, pytest-xdist) never see a half-written binary. No compiler is a clear error.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from importlib import resources

# -no-pie: the agent's own code sits at 0x400000, out of the way of the reference layout (a PIE
# would sit at ELF_ET_DYN_BASE, right where the engine puts an image's text and heap)
FLAGS = ("-O2", "-Wall", "-std=gnu11", "-no-pie")


class HostUnavailable(Exception):
    """The host backend cannot run here at all (no compiler, not Linux, a failed build); the
    message says why and what to do."""


SOURCES = ("agent.c", "janitor.c")


def agent_sources() -> dict[str, bytes]:
    """Return the agent program's C sources as shipped in the package."""
    package = resources.files("vmspec.checker.host")
    return {name: package.joinpath(name).read_bytes() for name in SOURCES}


def cache_dir() -> str:
    """Return the per-user directory the agent binary is cached in."""
    explicit = os.environ.get("VMSPEC_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vmspec")


def find_compiler() -> list[str]:
    """Return the C compiler command: ``$CC`` if set, else the first of cc, gcc, clang found."""
    cc = os.environ.get("CC")
    if cc:
        words = shlex.split(cc)
        if words and shutil.which(words[0]):
            return words
        raise HostUnavailable(f"the C compiler named by CC ({cc!r}) was not found; the host backend "
                              "builds a small agent program with it")
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    raise HostUnavailable(
        "no C compiler found (looked for $CC, cc, gcc and clang): the host backend builds a small "
        "agent program from C source on first use; install gcc or clang, or set CC")


def agent_path() -> str:
    """Return the path of a built agent, building it first if the cache has none."""
    sources = agent_sources()
    compiler = find_compiler()
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    digest.update(" ".join(compiler + list(FLAGS)).encode())
    key = digest.hexdigest()[:16]
    directory = cache_dir()
    target = os.path.join(directory, f"agent-{key}")
    if os.access(target, os.X_OK):
        return target
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise HostUnavailable(f"cannot create the cache directory {directory}: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="vmspec-build-") as work:
        paths = []
        for name in SOURCES:
            paths.append(os.path.join(work, name))
            with open(paths[-1], "wb") as fh:
                fh.write(sources[name])
        out = os.path.join(work, "agent")
        log = os.path.join(work, "build.log")
        try:
            with open(log, "wb") as sink:  # the compiler's messages, for the error below
                done = subprocess.run(compiler + list(FLAGS) + ["-o", out, *paths], stdin=subprocess.DEVNULL,
                                      stdout=sink, stderr=subprocess.STDOUT, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostUnavailable(f"building the host agent with {compiler[0]} failed: {exc}") from None
        if done.returncode != 0:
            with open(log, encoding="utf-8", errors="replace") as fh:
                first = fh.read().strip().splitlines()[:5]
            raise HostUnavailable(f"building the host agent with {compiler[0]} failed:\n  "
                                  + "\n  ".join(first))
        fd, partial = tempfile.mkstemp(prefix=".agent-", dir=directory)
        os.close(fd)
        shutil.copyfile(out, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    return target
