"""The host backend's per-process state: the agent program, the janitor, the kernel's settings,
the memory cap, and the system settings changed for one scenario (and put back after it).

``--host-allow`` names what the user lets the backend do beyond running processes: ``hugepages``
(set ``nr_hugepages`` to the machine's pool), ``readahead`` (set the disk's ``read_ahead_kb``),
``thp`` (set the THP mode), ``overcommit`` (set ``vm.overcommit_memory``/``_ratio``),
``drop_caches`` (write ``/proc/sys/vm/drop_caches`` for the step; without it the step drops the
clean, unmapped page cache of the scenario's own files, the same kernel function on fewer files),
``meminfo`` (read ``free``, ``used`` and ``committed`` from /proc/meminfo: the user says the
machine is quiet, and vmspec still checks that it looks so),
and ``memory=FRACTION`` (the cap on the memory a scenario may touch, a fraction of MemAvailable;
default 0.25). Every change is recorded with the janitor before it is made, and written back after
the scenario, so that a killed run restores it too.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from dataclasses import dataclass

from vmspec.checker.host.agent import Janitor
from vmspec.checker.host.build import HostUnavailable, agent_path
from vmspec.checker.host.kernel import HostKernel, on_linux, read_kernel, read_text

ALLOW_WORDS = ("hugepages", "readahead", "thp", "overcommit", "drop_caches", "meminfo")
DEFAULT_MEMORY_FRACTION = 0.25


@dataclass(frozen=True)
class Allowances:
    """What ``--host-allow`` permits."""

    words: frozenset[str] = frozenset()
    memory_fraction: float = DEFAULT_MEMORY_FRACTION


def parse_allow(items: list[str] | tuple[str, ...] | None) -> Allowances:
    """Parse ``--host-allow`` values (comma-separated or repeated); raise ValueError naming a
    bad one."""
    words: set[str] = set()
    fraction = DEFAULT_MEMORY_FRACTION
    for item in items or ():
        for word in filter(None, (w.strip() for w in item.split(","))):
            if word.startswith("memory="):
                text = word.removeprefix("memory=")
                try:
                    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
                except ValueError:
                    raise ValueError(f"--host-allow {word}: the memory cap must be a fraction such as "
                                     "0.5 or 50%") from None
                if not 0 < value <= 0.9:
                    raise ValueError(f"--host-allow {word}: the memory cap must be above 0 and at most "
                                     "0.9 of MemAvailable")
                fraction = value
            elif word in ALLOW_WORDS:
                words.add(word)
            else:
                raise ValueError(f"--host-allow {word}: unknown; allowed are {', '.join(ALLOW_WORDS)} "
                                 "and memory=FRACTION")
    return Allowances(frozenset(words), fraction)


class HostSession:
    """Everything the host backend keeps between scenarios of one vmspec process."""

    def __init__(self, allow: Allowances):
        if not on_linux():
            raise HostUnavailable("the host backend runs only on Linux on x86-64")
        self.allow = allow
        self.program = agent_path()
        self.kernel: HostKernel = read_kernel()
        self.cap = int(self.kernel.mem_available * allow.memory_fraction)
        self._janitor: Janitor | None = None
        self._changed: list[tuple[str, str]] = []  # (path, original), in order of change
        self.closed = False

    @property
    def janitor(self) -> Janitor:
        if self._janitor is None:
            self._janitor = Janitor(self.program)
        return self._janitor

    def tell(self, record: str) -> None:
        """Record something with the janitor, for it to undo if this process dies."""
        self.janitor.tell(record)

    def make_dir(self) -> str:
        """Make a private temporary directory for one scenario's files (on the disk whose
        readahead the machine was compared with)."""
        path = tempfile.mkdtemp(prefix="vmspec-host-", dir=self.kernel.files_dir)
        self.tell(f"rmtree {path}")
        return path

    # ---------------------------------------------------------------- settings
    def change(self, path: str, value: str) -> None:
        """Write a system setting, recording its original value first (with the janitor too)."""
        original = read_text(path)
        if path in ("/sys/kernel/mm/transparent_hugepage/enabled",):
            from vmspec.checker.host.kernel import bracketed

            original = bracketed(original)
        self.tell(f"sysctl {path} {original}")
        self._changed.append((path, original))
        with open(path, "w") as fh:
            fh.write(value)

    def restore(self) -> None:
        """Write back every setting changed, newest first."""
        while self._changed:
            path, original = self._changed.pop()
            try:
                with open(path, "w") as fh:
                    fh.write(original)
            except OSError:
                continue  # the janitor tries again at exit
            self.tell(f"forget {path}")

    def scenario_done(self) -> None:
        """After a scenario cleaned up after itself: the janitor may forget its records."""
        self.restore()
        if not self._changed:
            self.tell("reset")

    def close(self) -> None:
        """Put everything back and end the janitor."""
        if self.closed:
            return
        self.closed = True
        self.restore()
        if self._janitor is not None:
            self._janitor.close()


_SESSIONS: dict[Allowances, HostSession] = {}
_PID = os.getpid()


def get_session(allow: Allowances) -> HostSession:
    """Return this process's session for these allowances (made on first use)."""
    global _PID
    if os.getpid() != _PID:  # a forked worker (-j N): the parent's session is not ours
        _SESSIONS.clear()
        _PID = os.getpid()
    session = _SESSIONS.get(allow)
    if session is None or session.closed:
        session = _SESSIONS[allow] = HostSession(allow)
    return session


@atexit.register
def _close_sessions() -> None:
    if os.getpid() != _PID:
        return
    for session in list(_SESSIONS.values()):
        session.close()
    _SESSIONS.clear()
