"""The documented differences between the engine and the kernel it models, as ``vmspec diff``
applies them: each rule says when a difference is one docs/engine.md explains ("Where the engine
and the kernel differ"), so that only the unexplained ones fail a run.

A rule matches an observable of a process (or the system) whose scenario did something the rule
is about before that step: mapped a file (its reads take time on the host: more faults, less
RSS, never the other way), used a memory cgroup (the kernel charges page tables to it), or read
an ``oom_score`` that the agent program's own pages can move by one, or a system-wide meminfo
value (which every process moves). Rules never match a value the engine refuses to compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmspec.language import ast

DOC = "docs/engine.md, Where the engine and the kernel differ"

# observables a slower read can only raise on the host, and ones it can only lower
MORE_ON_HOST = ("faults.minor", "faults.major")
LESS_ON_HOST = ("rss", "rss_file", "pss", "uss", "resident", "shared")
FILE_FAULT_OBSERVABLES = MORE_ON_HOST + LESS_ON_HOST + ("cached", "used", "free")


@dataclass(frozen=True)
class Rule:
    """One documented difference: its name and the sentence that explains it."""

    name: str
    text: str


FILE_IO_TIMING = Rule("file-io-timing", "the kernel's reads finish some time after they start: "
                      "a reader that overtakes a readahead still in flight (at a bio boundary, "
                      "about every 256 pages of an 8 MiB read-around) takes a fault more and "
                      "maps less, and an order-9 page-cache folio may not be allocated; the "
                      "engine's reads are instant, so it counts the kernel's fewest faults and "
                      "its largest RSS")
MEMCG_KMEM = Rule("memcg-kmem", "a memory cgroup is also charged the page tables and kernel memory "
                  "of its processes; memory_max in the engine charges user pages only")
OWN_PAGES = Rule("agent-pages", "oom_score on the host also counts the agent program's own pages "
                 "(about 3 MiB), which can move it by one")
HUGE_WP = Rule("huge-wp", "writing every 4 KiB of a 2 MiB page mapped read-only (a private hugetlb page "
               "read first, a transparent huge page write-protected by fork) takes up to one minor "
               "fault per 4 KiB on this kernel in a virtual machine (475 to 511 for one hugetlb page, "
               "4 to 334 for four THPs; plain C programs too), where the engine counts one fault per "
               "huge page (hugetlb_wp, do_huge_pmd_wp_page); most likely spurious faults on stale "
               "4 KiB TLB entries of the 2 MiB page")
HUGETLB_RESV = Rule("hugetlb-resv", "after a fork of a process with private hugetlb pages, unmapping them "
                    "in the parent drives resv_hugepages below zero on 6.18 (read as 2^64 - 3 for three "
                    "pages), so free - reserved reads more than the pages nobody uses")
SYSTEM_WIDE = Rule("system-wide", "MemFree and Committed_AS are system-wide: on the host they also "
                   "move with the agent programs' own memory and the kernel's allocations for them")


@dataclass
class History:
    """What a scenario has done so far, per process, as far as the rules care."""

    files: set[str] = field(default_factory=set)  # processes with a file mapping
    hugetlb: set[str] = field(default_factory=set)  # processes with a hugetlb mapping or a THP
    thp_always: bool = False  # every anonymous mapping may hold THPs
    hugetlb_forked: bool = False  # one of them forked
    memcg: bool = False

    def note(self, step, nbytes, images) -> None:
        """Record a step (``nbytes`` resolves a size literal, ``images`` maps names to images)."""
        if isinstance(step, ast.Mmap) and step.hugetlb is not None:
            self.hugetlb.add(step.process)
        if isinstance(step, ast.Madvise) and step.advice == "hugepage":
            self.hugetlb.add(step.process)
        if isinstance(step, ast.Mmap) and step.file is not None:
            self.files.add(step.process)
        elif isinstance(step, ast.Spawn):
            if step.memory_max is not None:
                self.memcg = True
            image = images.get(step.image) if step.image else None
            for seg in image.segments if image is not None else ():
                if seg.kind in ("text", "data", "lib"):
                    self.files.add(step.process)
        elif isinstance(step, ast.Fork):
            if step.parent in self.hugetlb:
                self.hugetlb_forked = True
            for group in (self.files, self.hugetlb):
                if step.parent in group:
                    group.add(step.child)


def explain(observable: str, processes: tuple[str, ...], engine, host, history: History) -> Rule | None:
    """Return the rule that explains a difference of ``observable`` (``rss``, ``faults.minor``,
    ``resident``...) of ``processes`` (empty for a system observable), or None."""
    anyone = set(processes) if processes else history.files
    if observable == "oom_score" and isinstance(engine, int) and isinstance(host, int) and abs(engine - host) <= 1:
        return OWN_PAGES
    if observable in ("free", "used", "committed", "active_anon", "inactive_anon", "active_file",
                      "inactive_file", "unevictable", "pswpin", "pswpout", "thp_fault_alloc",
                      "thp_fault_fallback", "thp_split_pmd"):
        return SYSTEM_WIDE
    if observable in FILE_FAULT_OBSERVABLES and anyone & history.files and _io_direction(observable, engine, host):
        return FILE_IO_TIMING
    if observable == "hugepages_free" and history.hugetlb_forked:
        return HUGETLB_RESV
    if observable == "faults.minor" and (anyone & history.hugetlb or history.thp_always):
        return HUGE_WP
    if history.memcg and observable in ("alive", "status", "killed", "oom_kills", "rss", "rss_anon",
                                        "pss", "uss", "resident", "faults.minor", "faults.major"):
        return MEMCG_KMEM
    return None


def _io_direction(observable: str, engine, host) -> bool:
    """A slower read raises fault counts and lowers sizes on the host, never the reverse."""
    if not (isinstance(engine, int) and isinstance(host, int)):
        return True
    if observable in MORE_ON_HOST:
        return host > engine
    if observable in LESS_ON_HOST:
        return host < engine
    return True
