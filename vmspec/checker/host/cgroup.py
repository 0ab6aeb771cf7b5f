"""Memory groups the host backend creates under its own memory cgroup, and removes again.

A group confines a scenario whose engine run reclaims or OOM-kills (its limit is the memory the
engine's machine gives processes), and each ``spawn P memory_max SIZE`` gets a group of its own
inside it (children join it by fork, as in Linux). cgroup v1 (``memory.limit_in_bytes``,
``memory.oom_control``'s ``oom_kill``) and v2 (``memory.max``, ``memory.events``) are supported;
v2 needs the memory controller enabled for the groups below this process's own
(``cgroup.subtree_control``), which a delegated cgroup has. Kernel counterpart:
``mm/memcontrol.c`` (charging, ``mem_cgroup_out_of_memory``).
"""

from __future__ import annotations

import os
import time

from vmspec.checker.host.kernel import read_text


class CgroupUnavailable(Exception):
    """No memory group can be made here; the message says why."""


def own_memory_cgroup() -> tuple[str, int]:
    """Return (directory of this process's memory cgroup, cgroup version)."""
    v2_path = None
    for line in read_text("/proc/self/cgroup").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "memory" in parts[1].split(","):
            base = "/sys/fs/cgroup/memory"
            if os.path.isdir(base):
                return os.path.join(base, parts[2].lstrip("/")), 1
        if parts[0] == "0" and parts[1] == "":
            v2_path = parts[2]
    if v2_path is not None:
        base = "/sys/fs/cgroup"
        for root in (base, os.path.join(base, "unified")):
            directory = os.path.join(root, v2_path.lstrip("/"))
            if "memory" in read_text(os.path.join(directory, "cgroup.subtree_control")).split():
                return directory, 2
        raise CgroupUnavailable("the memory controller is not enabled for the cgroups below this "
                                "process (cgroup v2 cgroup.subtree_control)")
    raise CgroupUnavailable("no memory cgroup hierarchy is mounted")


class Group:
    """One memory group: its directory, limit and OOM-kill counter."""

    def __init__(self, path: str, version: int):
        self.path = path
        self.version = version

    def set_limit(self, limit: int | None) -> None:
        name = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
        value = ("max" if self.version == 2 else "-1") if limit is None else str(limit)
        with open(os.path.join(self.path, name), "w") as fh:
            fh.write(value)

    def add(self, pid: int) -> None:
        """Move a process (and the pages it charges from now on) into the group."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as fh:
            fh.write(str(pid))

    def oom_kills(self) -> int:
        """Return how many processes the group's OOM killer has killed."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in read_text(os.path.join(self.path, name)).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Remove the (empty) group; its processes must have ended (retried while they exit)."""
        for _ in range(200):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


class Groups:
    """The groups of one scenario: made on demand under this process's memory cgroup."""

    def __init__(self, tell, tag: str):
        self.tell = tell  # janitor record sink
        self.tag = tag
        self.made: list[Group] = []

    def make(self, limit: int | None, parent: Group | None = None) -> Group:
        """Create a group with ``limit`` bytes (None: no limit), inside ``parent`` if given."""
        if parent is not None:
            base, version = parent.path, parent.version
        else:
            base, version = own_memory_cgroup()
        path = os.path.join(base, f"vmspec-{self.tag}-{len(self.made)}")
        try:
            os.mkdir(path)
        except OSError as exc:
            raise CgroupUnavailable(f"cannot create a memory cgroup in {base}: {exc.strerror}") from None
        self.tell(f"rmdir {path}")
        group = Group(path, version)
        self.made.append(group)
        try:
            group.set_limit(limit)
        except OSError as exc:
            raise CgroupUnavailable(f"cannot set the limit of {path}: {exc.strerror}") from None
        return group

    def remove_all(self) -> None:
        """Remove every group made, innermost first."""
        for group in reversed(self.made):
            group.remove()
        self.made.clear()


def probe() -> str | None:
    """Return why no memory group can be made here, or None if one can."""
    try:
        base, _ = own_memory_cgroup()
    except CgroupUnavailable as exc:
        return str(exc)
    if not os.access(base, os.W_OK):
        return f"this process may not create cgroups in {base}"
    return None
