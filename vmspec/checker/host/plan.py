"""Decide whether a scenario may run on the host, and what the run needs.

A scenario runs on the host when (1) its machine matches the running kernel where the kernel would
otherwise behave differently: page size, paging levels, THP mode, overcommit mode and ratio,
whether swap exists, the hugetlb pools the scenario uses, and ``readahead`` when it maps files
(``ram`` is not compared); a setting that differs may be changed for the scenario if the user
allows it (``--host-allow``); (2) the engine's run of it, made first, does nothing the host cannot
do safely: it must not run out of memory (reclaim, OOM kill) unless the backend can confine it in
a memory cgroup of its own sized like the machine, must not need more memory than the cap, and
must not lower an ``oom_score_adj`` unless this process has CAP_SYS_RESOURCE; (3) it uses no step
the backend cannot run (a lackey trace, a trace of absolute page numbers). The engine's run also
tells how much memory the scenario touches at most (its peak ``used`` above the start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmspec.checker.host import cgroup
from vmspec.checker.host.kernel import TMPFS_TYPES, HostKernel
from vmspec.engine.config import MachineConfig
from vmspec.language import ast

LOW_FREE_PAGES = 64  # the engine's machine came this close to no free frame: it reclaimed


@dataclass
class Plan:
    """What running one scenario on the host takes."""

    skip: str | None = None
    changes: list[tuple[str, str]] = field(default_factory=list)  # (setting path, value)
    confine: int | None = None  # bytes: run inside a memory cgroup with this limit
    peak: int = 0  # the most memory the engine's run used above its start


def walk(steps):
    """Yield every step, repeat bodies included (once)."""
    for step in steps:
        if isinstance(step, ast.Repeat):
            yield from walk(step.body)
        else:
            yield step


def _observables(node):
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Observable):
            yield n
        for name in ("left", "right", "operand", "expr"):
            child = getattr(n, name, None)
            if child is not None:
                stack.append(child)


def uses_files(scenario: ast.Scenario, program) -> bool:
    """Whether a scenario maps a file (a file mmap, or an image with text, data or libs)."""
    for step in walk(scenario.steps):
        if isinstance(step, ast.Mmap) and step.file is not None:
            return True
        if isinstance(step, ast.Spawn) and step.image is not None:
            image = program.images.get(step.image)
            if image is not None and any(seg.kind in ("text", "data", "lib") for seg in image.segments):
                return True
    return False


def huge_sizes(scenario: ast.Scenario, page_size: int, invariants=()) -> set[int]:
    """The hugetlb page sizes a scenario maps or observes."""
    from vmspec.units import size_bytes

    sizes: set[int] = set()
    exprs = [inv.expr for inv in invariants]
    for step in walk(scenario.steps):
        if isinstance(step, ast.Mmap) and step.hugetlb is not None:
            sizes.add(size_bytes(step.hugetlb.amount, step.hugetlb.unit, page_size))
        if isinstance(step, (ast.Expect, ast.Always)):
            exprs.append(step.expr)
    for expr in exprs:
        for obs in _observables(expr):
            if obs.name in ("hugepages_free", "hugepages_total") and obs.args:
                arg = obs.args[0]
                if isinstance(arg, ast.SizeLit):
                    sizes.add(size_bytes(arg.amount, arg.unit, page_size))
    return sizes


def compare_machine(config: MachineConfig, kernel: HostKernel, scenario: ast.Scenario, program,
                    allow) -> tuple[str | None, list[tuple[str, str]]]:
    """Return (why the machine cannot be run here, or None; the setting changes it needs)."""
    changes: list[tuple[str, str]] = []
    if config.page_size != kernel.page_size:
        return f"the machine's page size is {config.page_size}, the host's {kernel.page_size}", changes
    if config.paging_levels != kernel.paging_levels:
        return (f"the machine has {config.paging_levels}-level paging, the host "
                f"{kernel.paging_levels}-level"), changes
    if (config.swap > 0) != (kernel.swap_total > 0):
        return ("the machine has swap and the host has none" if config.swap else
                "the host has swap and the machine has none"), changes
    if config.thp != kernel.thp:
        if "thp" not in allow.words:
            return (f"the machine's thp is {config.thp}, the host's {kernel.thp} (--host-allow thp "
                    "sets the host's for the scenario)"), changes
        changes.append(("/sys/kernel/mm/transparent_hugepage/enabled", config.thp))
    if kernel.overcommit_kbytes:
        return "the host sets vm.overcommit_kbytes, which no machine setting can express", changes
    if config.overcommit != kernel.overcommit or config.overcommit_ratio != kernel.overcommit_ratio:
        if "overcommit" not in allow.words:
            return (f"the machine's overcommit is {config.overcommit} ratio {config.overcommit_ratio}, the "
                    f"host's {kernel.overcommit} ratio {kernel.overcommit_ratio} (--host-allow overcommit "
                    "sets the host's for the scenario)"), changes
        mode = {"heuristic": "0", "always": "1", "never": "2"}[config.overcommit]
        changes.append(("/proc/sys/vm/overcommit_ratio", str(config.overcommit_ratio)))
        changes.append(("/proc/sys/vm/overcommit_memory", mode))
    pools = dict(config.hugepages)
    for size in sorted(huge_sizes(scenario, config.page_size, program.invariants)):
        want, have = pools.get(size, 0), kernel.hugepages.get(size)
        if have is None:
            return f"the host has no {size >> 10} KiB huge pages", changes
        if want != have:
            if "hugepages" not in allow.words:
                return (f"the machine's pool of {size >> 20} MiB huge pages is {want}, the host's {have} "
                        "(--host-allow hugepages sets the host's for the scenario)"), changes
            changes.append((f"/sys/kernel/mm/hugepages/hugepages-{size >> 10}kB/nr_hugepages", str(want)))
    if uses_files(scenario, program):
        if kernel.files_fs in TMPFS_TYPES:
            return (f"the scenario maps files and {kernel.files_dir} is on {kernel.files_fs}, which has "
                    "no disk readahead; set VMSPEC_HOST_TMPDIR (or TMPDIR) to a directory on a disk"), changes
        if config.readahead != kernel.readahead:
            if "readahead" not in allow.words or kernel.readahead_path is None:
                return (f"the scenario maps files: the machine's readahead is {config.readahead >> 10}KiB, "
                        f"the disk's read_ahead_kb is {kernel.readahead >> 10} (--host-allow readahead "
                        "sets the disk's for the scenario)"), changes
            changes.append((kernel.readahead_path, str(config.readahead >> 10)))
    reason = _ram_dependent(config, kernel, scenario)
    if reason is not None:
        return reason, changes
    for step in walk(scenario.steps):
        if isinstance(step, ast.Replay) and (step.format == "lackey" or step.region is None):
            return (f"line {step.span.line}: a trace of absolute addresses cannot be replayed on the host "
                    "(only `format pages` into a region)"), changes
    return None, changes


def _ram_dependent(config: MachineConfig, kernel: HostKernel, scenario: ast.Scenario) -> str | None:
    """Say why an outcome of the scenario would depend on RAM, which is not compared: with
    overcommit never the commit limit is a share of RAM; with the heuristic a single request
    is refused when it is larger than RAM + swap (``__vm_enough_memory``)."""
    from vmspec.units import size_bytes

    machine = config.ram - config.kernel
    if machine == kernel.mem_total or config.overcommit == "always":
        return None
    if config.overcommit == "never":
        return (f"with overcommit never the commit limit is a share of RAM, and the machine's "
                f"({machine >> 20} MiB) is not the host's MemTotal ({kernel.mem_total >> 20} MiB)")
    limits = sorted((machine + config.swap, kernel.mem_total + kernel.swap_total))
    for step in walk(scenario.steps):
        size = getattr(step, "size", None) if isinstance(step, (ast.Mmap, ast.Malloc)) else \
            getattr(step, "delta", None) if isinstance(step, ast.Brk) else None
        if size is None:
            continue
        nbytes = size_bytes(size.amount, size.unit, config.page_size)
        if limits[0] < nbytes <= limits[1]:
            return (f"line {step.span.line}: whether heuristic overcommit refuses a request of "
                    f"{nbytes >> 20} MiB depends on RAM + swap, and the machine's ({limits[0] >> 20} or "
                    f"{limits[1] >> 20} MiB) is not the host's")
    return None


class PreRun:
    """Watches the engine's run of a scenario for what the host must not (or need not) do."""

    def __init__(self):
        self.start_used: int | None = None
        self.peak = 0
        self.pressure_line: int | None = None
        self.needs_cap_line: int | None = None
        self.memory_max = False
        self._adj: dict[str, int] = {}

    def started(self, system) -> None:
        self.start_used = int(system.used)

    def stepped(self, step, system, failure) -> None:
        used = int(system.used) - (self.start_used or 0)
        self.peak = max(self.peak, used)
        if self.pressure_line is None and (
                system.oom_kills or failure == "OOM" or system.swap_used
                or system.free < LOW_FREE_PAGES * system.page_size):
            self.pressure_line = step.span.line
        if isinstance(step, ast.Spawn):
            if step.memory_max is not None:
                self.memory_max = True
            value = step.oom_score_adj or 0
            if step.oom_adj is not None and step.oom_adj < 0 or value < 0:
                self._note_cap(step)
        if isinstance(step, ast.Fork) and step.parent in self._adj:
            self._adj[step.child] = self._adj[step.parent]
        if isinstance(step, ast.SetOom) and failure is None:
            before = self._adj.get(step.process, 0)
            after = system.oom_score_adj(step.process)
            # the legacy oom_adj path may not go below the current value, the other below 0
            if (step.setting == "oom_adj" and after < before) or after < 0:
                self._note_cap(step)
        for name in getattr(system, "procs", {}):
            if system.alive(name):
                self._adj[name] = system.oom_score_adj(name)

    def _note_cap(self, step) -> None:
        if self.needs_cap_line is None:
            self.needs_cap_line = step.span.line


def decide(config: MachineConfig, kernel: HostKernel, prerun: PreRun, cap: int, allow) -> tuple[str | None, int | None]:
    """Return (why the scenario cannot run on the host, or None; the confinement limit if any)."""
    if prerun.needs_cap_line is not None and not kernel.cap_sys_resource:
        return (f"line {prerun.needs_cap_line}: lowering oom_score_adj needs CAP_SYS_RESOURCE, which "
                "this process does not have"), None
    confine = None
    if prerun.pressure_line is not None or prerun.memory_max:
        why = cgroup.probe()
        if why is not None:
            what = (f"the engine's run runs out of free memory at line {prerun.pressure_line} (reclaim or "
                    "OOM kill)" if prerun.pressure_line is not None else "the scenario uses memory_max")
            return (f"{what}; the host backend runs that only inside a memory cgroup of its own, and "
                    f"cannot make one here: {why}"), None
        if prerun.pressure_line is not None:
            confine = config.ram - config.kernel - sum(s * n for s, n in config.hugepages)
    need = prerun.peak if confine is None else min(prerun.peak, confine)
    if need > cap:
        return (f"the engine's run uses up to {need >> 20} MiB, above the host backend's cap of {cap >> 20} "
                f"MiB ({allow.memory_fraction:g} of MemAvailable; raise it with --host-allow memory=FRACTION)"), None
    return None, confine
