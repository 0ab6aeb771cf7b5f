"""Random operation sequences shared by the engine's property tests (small machines, small regions)."""

from __future__ import annotations

from hypothesis import strategies as st

from vmspec.engine import MachineConfig, System
from vmspec.engine.config import TLBLevel
from vmspec.engine.errors import ModelledFailure
from vmspec.engine.process import STATUSES

PAGE = 4096
# A small TLB so that sweeps evict and sets collide.
SMALL_TLB = (TLBLevel("l1", 8, 2), TLBLevel("l2", 16, 4))
REGIONS = ("a", "b", "c")
PROCS = ("p", "q", "r")


def machine(ram_pages: int = 256) -> MachineConfig:
    return MachineConfig(ram=ram_pages * PAGE, tlb=SMALL_TLB)


offsets = st.integers(0, 40 * PAGE)
pick = st.integers(0, 7)  # an index into the running processes / the process's regions
KINDS = ["mmap"] * 3 + ["access"] * 5 + ["random", "fork", "munmap", "mprotect", "madvise",
                                         "exit", "spawn", "mlock", "malloc", "free"]
ARGS = {
    "mmap": st.tuples(st.sampled_from(REGIONS), st.integers(1, 40).map(lambda n: n * PAGE),
                      st.sampled_from(["anon", "anon", "file", "shared", "shfile"]),
                      st.sampled_from(["rw", "rw", "r", "none"]), st.booleans()),
    "access": st.tuples(pick, offsets, offsets, st.booleans(),
                        st.sampled_from([None, None, 1000, 4096, 5000, 9000])),
    "random": st.tuples(pick, st.integers(1, 50), st.integers(0, 5), st.booleans()),
    "fork": st.tuples(st.sampled_from(PROCS)),
    "munmap": st.tuples(pick, st.integers(0, 20), st.integers(1, 40)),
    "mprotect": st.tuples(pick, st.integers(0, 20), st.integers(1, 40),
                          st.sampled_from(["r", "rw", "none"])),
    "madvise": st.tuples(pick, st.integers(0, 20), st.integers(1, 40),
                         st.sampled_from(["dontneed", "dontneed", "willneed", "hugepage"])),
    "exit": st.tuples(),
    "spawn": st.tuples(st.sampled_from(PROCS)),
    "mlock": st.tuples(pick),
    "malloc": st.tuples(st.sampled_from(REGIONS), st.sampled_from([16, 1000, 70_000, 200_000])),
    "free": st.tuples(pick),
}
op = st.sampled_from(KINDS).flatmap(
    lambda k: st.tuples(st.just(k), pick, ARGS[k]).map(lambda t: (t[0], t[1], *t[2])))


def new_system(reference_tlb: bool = False, ram_pages: int = 256) -> System:
    s = System(machine(ram_pages), reference_tlb=reference_tlb)
    s.create_file("f", 24 * PAGE)
    s.create_file("g", 64 * PAGE)
    s.spawn("p")
    return s


def slow_access(s: System, proc: str, region: str, start: int, end: int, write: bool,
                stride) -> None:
    """The per-access reference for ``System.access``: one ``_access_one`` per access."""
    r = s.procs[proc].regions[region]
    if end <= start:
        return
    if stride is None:
        a0, a1 = r.start + start, r.start + end
        addrs = [max(a0, v << 12) for v in range(a0 >> 12, ((a1 - 1) >> 12) + 1)]
    else:
        addrs = [r.start + o for o in range(start, end, stride)]
    for va in addrs:
        s._access_one(proc, va, write)


def apply(s: System, o: tuple, slow: bool = False) -> str | None:
    """Apply one op (process and region chosen by index among existing ones); return the
    failure's name, None, or "skip"."""
    kind = o[0]
    alive = [n for n in s.procs if s.alive(n)]
    try:
        if kind == "spawn" or not alive:
            name = o[2] if kind == "spawn" else "p"
            name = name if not s.exists(name) else f"{name}{len(s.procs)}"
            s.spawn(name)
            return None
        proc = alive[o[1] % len(alive)]
        regs = sorted(s.procs[proc].regions)
        if kind == "fork":
            s.fork(proc, f"{o[2]}{len(s.procs)}")
        elif kind == "exit":
            s.exit(proc)
        elif kind == "mmap":
            _, _, reg, length, how, prot, populate = o
            file = {"file": "f", "shfile": "g"}.get(how)
            s.mmap(proc, reg, length, file=file, shared=how in ("shared", "shfile"), prot=prot,
                   populate=populate)
        elif kind == "malloc":
            s.malloc(proc, o[2], o[3])
        else:
            reg = regs[o[2] % len(regs)]
            if kind == "access":
                _, _, _, a, b, write, stride = o
                if slow:
                    slow_access(s, proc, reg, a, b, write, stride)
                else:
                    s.access(proc, reg, a, b, write=write, stride=stride)
            elif kind == "random":
                _, _, _, n, seed, write = o
                if s.size(proc, reg) == 0:
                    return "skip"
                s.access_random(proc, reg, n, seed=seed, write=write)
            elif kind == "munmap":
                s.munmap(proc, reg, o[3] * PAGE, o[4] * PAGE)
            elif kind == "mprotect":
                s.mprotect(proc, reg, o[3] * PAGE, o[4] * PAGE, o[5])
            elif kind == "madvise":
                s.madvise(proc, reg, o[3] * PAGE, o[4] * PAGE, o[5])
            elif kind == "mlock":
                s.mlock(proc, reg)
            elif kind == "free":
                s.free_region(proc, reg)
    except ModelledFailure as exc:
        return type(exc).__name__
    return None


def exit_all_and_check(s: System) -> None:
    """Exit every running process, drop the caches and check that no frame or swap slot leaked."""
    for name in list(s.procs):
        if s.alive(name):
            s.exit(name)
    s.drop_caches()
    s.check_invariants()
    assert s.swap_used == 0, "swap slots leaked after all exited"
    # drop_caches keeps dirty pages (no writeback is modelled), so count what is left cached.
    assert s.free + s.cached == s.ram - s.machine.kernel, "frames leaked after all exited"


def observed(s: System, name: str) -> tuple:
    """What a trail or an expectation can read of one process."""
    f, t = s.faults(name), s.tlb(name)
    assert s.status(name) in STATUSES
    return (s.rss(name), s.swap(name), f.minor, f.major, f.cow, t.hits, t.misses,
            s.status(name), s.process_time(name))


def check_touched(s: System, before: dict[str, tuple]) -> dict[str, tuple]:
    """Assert that ``take_touched`` names every process whose observables changed since
    ``before`` (in creation order) and that the running totals of time and accesses equal the
    sums over all processes; return the new observations."""
    touched = s.take_touched()
    now = {name: observed(s, name) for name in s.procs}
    changed = [name for name in now if now[name] != before.get(name)]
    assert set(changed) <= set(touched), f"changed {changed} but take_touched said {touched}"
    order = list(s.procs)
    assert touched == sorted(touched, key=order.index)
    assert s.time == sum(s.process_time(name) for name in s.procs)
    assert s.accesses == sum(q.accesses for q in s.procs.values())
    return now
