"""The engine facade's API, answered by real processes on the running kernel.

Each simulated process is an agent (``agent.c``) with the reference layout ``DELTA`` = 512 GiB
(one PGD entry) below where the engine puts it and every free address above the reference
``mmap_base`` fenced off (PROT_NONE placeholders), so that the kernel places mappings, page
tables, THP alignment and fault-around windows as in a process with nothing else mapped. Steps
become system calls, glibc calls, accesses, a real fork and /proc writes; observables come from
/proc (``readings``), and what the kernel does not count raises NotObservable. docs/reporting.md,
"The host backend", says what it does and reads.
"""

from __future__ import annotations

import errno
import os

import numpy as np

from vmspec.checker.backend import HostCannot
from vmspec.checker.host import procfs
from vmspec.checker.host.agent import PAGE_BATCH, Agent, AgentDied, Reply
from vmspec.checker.host.cgroup import CgroupUnavailable, Groups
from vmspec.checker.host.kernel import meminfo, vmstat
from vmspec.checker.host.proc import Proc, Region
from vmspec.checker.host.readings import Readings, pool_bytes
from vmspec.engine.config import Image, MachineConfig
from vmspec.engine.errors import EINVAL, ENOMEM, SIGBUS, SIGSEGV, OOMKilled
from vmspec.engine.layout import DEFAULT_MAP_WINDOW, DEFAULT_STACK, image_layout, page_align

DELTA = 1 << 39  # one PGD entry: the reference layout, moved down by one top-level table slot
HOST_MMAP_BASE = DEFAULT_MAP_WINDOW - (128 << 20)  # the agent's own mmap_base (8 MiB stack limit)
PROTS = {"none": 0, "r": 1, "rw": 3, "rx": 5, "rwx": 7}
ADVICE = {"dontneed": 4, "willneed": 3, "hugepage": 14, "nohugepage": 15, "pageout": 21}
M_MMAP_THRESHOLD = -3
SIGNAL_STATUS = {11: "segfault", 7: "sigbus"}
FILE_FILL = b"\xa5" * (1 << 20)
POSIX_FADV_DONTNEED = 4


class HostSystem(Readings):
    """One scenario's processes on the running kernel, behind the engine facade's API."""

    def __init__(self, machine: MachineConfig, session, confine: int | None = None):
        self.machine = machine
        self.page_size = machine.page_size
        self.session = session
        self.procs: dict[str, Proc] = {}
        self.files: dict[str, tuple[str, int]] = {}  # name -> (path, size)
        self._killed: list[str] = []
        self._accesses = 0
        self.dir = session.make_dir()
        self.groups = Groups(session.tell, f"{os.getpid()}-{id(self) & 0xffff:x}")
        self.scenario_group = None
        self.frames = procfs.Frames()
        self.closed = False
        if confine is not None:
            try:
                self.scenario_group = self.groups.make(confine)
            except CgroupUnavailable as exc:
                raise HostCannot(str(exc)) from None
        self._oom_seen: dict[str, int] = {}  # memory group -> OOM kills seen
        self._gen = 0  # bumped by every operation: readings cached for one generation
        self._cache: dict = {}
        self._baseline = meminfo()  # system-wide values at the start (--host-allow meminfo)
        self._baseline_vm = vmstat()

    # ================================================================ lifetime
    def close(self) -> None:
        """Kill every agent, remove the groups and the files (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for p in self.procs.values():
            p.agent.kill()
        self.groups.remove_all()
        _rmtree(self.dir)

    # ================================================================ helpers
    def _proc(self, name: str) -> Proc:
        p = self.procs.get(name)
        if p is None:
            raise ValueError(f"no process named {name!r}")
        if not p.alive:
            raise ValueError(f"process {name!r} is not running")
        return p

    def _region(self, p: Proc, name: str) -> Region:
        r = p.regions.get(name)
        if r is None:
            raise ValueError(f"process {p.name!r} has no region {name!r}")
        return r

    def _count(self, p: Proc, reply: Reply) -> None:
        p.minor += reply.minor
        p.major += reply.major

    def _send(self, p: Proc, command: str, payload: bytes = b"") -> Reply:
        """Run one command in ``p``'s agent and count its faults; a fatal signal ends ``p``."""
        self._gen += 1
        try:
            reply = p.agent.request(command, payload)
        except AgentDied as died:
            if died.fault is not None:
                self._count(p, died.fault)
            self._ended(p, died.signo)
            if p.status == "segfault":
                raise SIGSEGV(f"{p.name} was killed by SIGSEGV") from None
            if p.status == "sigbus":
                raise SIGBUS(f"{p.name} was killed by SIGBUS") from None
            if p.status == "oom_killed":
                raise OOMKilled(f"{p.name} was killed by the OOM killer") from None
            raise HostCannot(f"the agent of {p.name} died of signal {died.signo}") from None
        finally:
            self._reap_others(p)
        self._count(p, reply)
        return reply

    def _ended(self, p: Proc, signo: int | None) -> None:
        if signo in SIGNAL_STATUS:
            p.status = SIGNAL_STATUS[signo]
        elif signo == 9 and self._new_oom_kill():
            p.status = "oom_killed"
            self._killed.append(p.name)
        elif signo is None:
            p.status = "exited"
        else:
            p.status = f"signal {signo}"
        p.agent.close()

    def _reap_others(self, current: Proc) -> None:
        """Notice agents the OOM killer ended during a step of another process."""
        for q in self.procs.values():
            if q is current or not q.alive:
                continue
            status = q.agent.wait(block=False)
            if status is not None:
                self._ended(q, os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
                if not q.alive and q.status not in ("oom_killed",):
                    raise HostCannot(f"the agent of {q.name} ended on its own ({q.status})")

    def _new_oom_kill(self) -> bool:
        """Whether the OOM killer of one of the scenario's memory groups has killed since the
        last look (a SIGKILL from anywhere else is not an OOM kill)."""
        found = False
        for group in self.groups.made:
            now = group.oom_kills()
            if now > self._oom_seen.get(group.path, 0):
                found = True
            self._oom_seen[group.path] = now
        return found

    def _fail(self, err: int, what: str):
        """Turn an errno from the kernel into the modelled failure, or a step the host cannot run."""
        if err == errno.ENOMEM:
            raise ENOMEM(f"{what}: ENOMEM")
        if err == errno.EINVAL:
            raise EINVAL(f"{what}: EINVAL")
        raise HostCannot(f"{what} failed on the host with {errno.errorcode.get(err, err)} "
                         f"({os.strerror(err)})")

    def _guard(self, p: Proc, start: int, end: int) -> None:
        """Refuse a range that would reach the agent's own mappings."""
        for lo, hi in p.own:
            if start < hi and lo < end:
                raise HostCannot(f"the range {start:#x}-{end:#x} of {p.name} reaches the agent "
                                 "program's own memory")

    def _charge(self, nbytes: int) -> None:
        """Refuse a step that could make the scenario touch more memory than the cap allows."""
        cap = self.session.cap
        used = sum(self.rss(n) for n, q in self.procs.items() if q.alive) + self._cached_bytes()
        if used + nbytes > cap:
            raise HostCannot(
                f"this step could touch {nbytes >> 20} MiB more ({used >> 20} MiB in use), beyond the "
                f"host backend's cap of {cap >> 20} MiB ({self.session.allow.memory_fraction:g} of "
                "MemAvailable); raise it with --host-allow memory=FRACTION")

    def _file(self, key: str, size: int) -> str:
        """Create (or grow) a real file of ``size`` bytes, written out and dropped from the page
        cache, so that it starts "not yet cached"."""
        entry = self.files.get(key)
        if entry is not None and entry[1] >= size:
            return entry[0]
        self._charge(size)
        path = entry[0] if entry else os.path.join(self.dir, f"f{len(self.files)}")
        done = entry[1] if entry else 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.lseek(fd, done, os.SEEK_SET)
            left = size - done
            while left > 0:
                left -= os.write(fd, FILE_FILL[:min(left, len(FILE_FILL))])
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        self.files[key] = (path, size)
        return path

    # ================================================================ operations
    def spawn(self, name: str, image: Image | None = None, oom_score_adj: int = 0,
              oom_adj: int | None = None, memory_max: int | None = None) -> None:
        """Start an agent laid out like a process of ``image`` (nothing resident)."""
        ps = self.page_size
        sizes = {"text": 0, "data": 0, "bss": 0, "stack": DEFAULT_STACK}
        libs: list[tuple[str, int]] = []
        img = image.name if image is not None else None
        for seg in (image.segments if image is not None else ()):
            if seg.kind == "lib":
                libs.append((seg.lib or "lib", seg.size))
            else:
                sizes[seg.kind] = seg.size
        lay = image_layout(sizes["text"], sizes["data"], sizes["bss"], sizes["stack"], ps)
        if memory_max is not None and memory_max < ps:
            raise EINVAL(f"memory_max {memory_max} is less than one page")
        self._gen += 1
        agent = Agent.start(self.session.program)
        self.session.tell(f"pid {agent.pid}")
        proc = None
        try:
            reply = agent.request(f"setup {lay.start_brk - DELTA:#x} {lay.mmap_base - DELTA:#x} "
                                  f"{HOST_MMAP_BASE:#x}")
            if reply.kind != "ok":
                raise HostCannot(f"setting up the agent failed: {os.strerror(reply.value)}")
            vmas = procfs.read_smaps(agent.pid)
            own = frozenset((v.start, v.end) for v in vmas if "vmspec-fence" not in v.path)
            pt_base = procfs.read_status(agent.pid).get("VmPTE", 0)
            proc = Proc(name, agent, own, pt_base, lay.start_brk - DELTA, lay.mmap_base - DELTA)
            self.procs[name] = proc
            for kind, (start, length) in (("text", lay.text), ("data", lay.data), ("bss", lay.bss)):
                proc.regions[kind] = Region(start - DELTA, sizes[kind])
                if not length:
                    continue
                if kind == "bss":
                    self._map_fixed(proc, start - DELTA, length, PROTS["rw"], "-", 0)
                else:
                    path = self._file(f"\0{kind}\0{img}", length)
                    self._map_fixed(proc, start - DELTA, length, PROTS["rx" if kind == "text" else "rw"],
                                    path, 0)
            proc.regions["heap"] = Region(lay.start_brk - DELTA, 0, via="brk")
            s0, slen = lay.stack
            # the reference stack is one VMA of its limit's size, not charged to Committed_AS
            self._map_fixed(proc, s0 - DELTA, slen, PROTS["rw"], "-", 4, replace=True)
            proc.regions["stack"] = Region(s0 - DELTA, sizes["stack"])
            if any(v.start == proc.fence and v.end == s0 - DELTA and "vmspec-fence" in v.path
                   for v in procfs.read_smaps(agent.pid)):
                proc.lift = f" {proc.fence:#x} {s0 - DELTA:#x}"
            for lib, size in libs:
                length = page_align(size, ps)
                if not length:
                    proc.regions[lib] = Region(lay.mmap_base - DELTA, 0, via="mmap")
                    continue
                path = self._file(f"\0lib\0{lib}", length)
                reply = proc.agent.request(f"map 0 {length:#x} {PROTS['rx']} 0 {path} 0 0")
                if reply.kind != "ok":
                    self._fail(reply.value, f"mapping lib {lib}")
                proc.regions[lib] = Region(reply.value, size, via="mmap")
            if self.machine.mmap_threshold is not None:
                reply = agent.request(f"mallopt {M_MMAP_THRESHOLD} {self.machine.mmap_threshold}")
                if reply.kind != "ok":
                    raise HostCannot(f"mallopt(M_MMAP_THRESHOLD, {self.machine.mmap_threshold}) failed")
            if oom_adj is not None:
                self._write_oom(proc, "oom_adj", oom_adj)
            else:
                self._write_oom(proc, "oom_score_adj", oom_score_adj)
            group = self.scenario_group
            if memory_max is not None:
                try:
                    group = self.groups.make(memory_max, parent=self.scenario_group)
                except CgroupUnavailable as exc:
                    raise HostCannot(f"memory_max needs a memory cgroup: {exc}") from None
            if group is not None:
                group.add(agent.pid)
                proc.group = group
        except BaseException:
            agent.kill()  # the process was never created, as in the engine
            self.procs.pop(name, None)
            raise

    def _map_fixed(self, p: Proc, addr: int, length: int, prot: int, path: str, flags: int,
                   replace: bool = False) -> None:
        reply = p.agent.request(f"map {addr:#x} {length:#x} {prot} {flags} {path} {1 if replace else 2} 0")
        if reply.kind != "ok":
            if reply.value == errno.ENOMEM:
                raise ENOMEM(f"mapping {length} bytes at {addr:#x} (overcommit refused it)")
            raise HostCannot(f"the agent could not map the reference layout at {addr:#x}: "
                             f"{os.strerror(reply.value)}")

    def mmap(self, proc: str, region: str, length: int, *, file: str | None = None, shared: bool = False,
             prot: str = "rw", hugetlb: int | None = None, populate: bool = False,
             noreserve: bool = False) -> None:
        p = self._proc(proc)
        flags = (1 if shared else 0) | (2 if populate else 0) | (4 if noreserve else 0)
        hshift = 0
        if hugetlb is not None:
            if hugetlb <= 0 or hugetlb & (hugetlb - 1):
                raise EINVAL(f"hugetlb page size {hugetlb} is not a power of two")
            hshift = hugetlb.bit_length() - 1
        path = "-"
        if file is not None:
            if file not in self.files:
                raise EINVAL(f"no file named {file!r}")
            path = self.files[file][0]
        if populate:
            self._charge(page_align(length, self.page_size))
        reply = self._send(p, f"map 0 {length:#x} {PROTS[prot]} {flags} {path} 0 {hshift}")
        if reply.kind != "ok":
            self._fail(reply.value, f"mmap of {length} bytes")
        p.regions[region] = Region(reply.value, length, via="mmap")

    def munmap(self, proc: str, region: str, start: int = 0, end: int | None = None) -> None:
        p = self._proc(proc)
        s, e = self._range(p, region, start, end)
        self._guard(p, s, e)
        reply = self._send(p, f"unmap {s:#x} {max(0, e - s):#x}{p.lift}")
        if reply.kind != "ok":
            self._fail(reply.value, "munmap")

    def _range(self, p: Proc, region: str, start: int, end: int | None) -> tuple[int, int]:
        r = self._region(p, region)
        s = r.start + start
        if s % self.page_size:
            raise EINVAL(f"start {start:#x} is not page aligned (address {s:#x})")
        e = r.end if end is None else r.start + end
        return s, page_align(e, self.page_size)

    def brk(self, proc: str, delta: int) -> None:
        p = self._proc(proc)
        reply = self._send(p, f"sbrk {delta}")
        if reply.kind != "ok":
            self._fail(reply.value, "brk")
        self._sync_heap(p)

    def _sync_heap(self, p: Proc) -> int:
        reply = p.agent.request("sbrk 0")
        p.regions["heap"] = Region(p.start_brk, reply.value - p.start_brk, via="brk")
        return reply.value

    def malloc(self, proc: str, region: str, size: int) -> None:
        p = self._proc(proc)
        self._charge(size)
        reply = self._send(p, f"malloc {size}")
        if reply.kind != "ok":
            self._fail(reply.value, f"malloc({size})")
        brk = self._sync_heap(p)
        via = "brk" if p.start_brk <= reply.value < brk else "mmap"
        p.regions[region] = Region(reply.value, size, via=via)

    @property
    def free(self) -> int:
        """MemFree (glibc's free() is ``free_region``)."""
        return self._meminfo_delta("MemFree", lambda m: m.ram - m.kernel - pool_bytes(m))

    def free_region(self, proc: str, region: str) -> None:
        p = self._proc(proc)
        r = self._region(p, region)
        reply = self._send(p, f"free {r.start:#x}{p.lift}")
        if reply.kind != "ok":
            self._fail(reply.value, "free")
        self._sync_heap(p)

    def access(self, proc: str, region: str, start: int, end: int, *, write: bool,
               stride: int | None = None) -> None:
        p = self._proc(proc)
        r = self._region(p, region)
        if stride is not None and stride <= 0:
            raise EINVAL("stride must be at least 1 byte")
        if end <= start:
            return
        a, b = r.start + start, r.start + end
        if stride:
            n = (end - start + stride - 1) // stride
        else:
            n = (b - 1) // self.page_size - a // self.page_size + 1
        self._charge(min(n, (b - a) // self.page_size + 1) * self.page_size)
        self._guard(p, a, b)
        self._accesses += n
        self._send(p, f"touch {a:#x} {b:#x} {stride or 0} {1 if write else 0}")

    def access_random(self, proc: str, region: str, count: int, *, seed: int = 0, write: bool = False) -> None:
        """The engine's page sequence (``numpy.random.default_rng(seed).integers(0, npages)``)."""
        p = self._proc(proc)
        r = self._region(p, region)
        first = r.start >> 12
        npages = ((r.end - 1) >> 12) - first + 1 if r.length > 0 else 0
        if count <= 0:
            return
        if npages <= 0:
            raise EINVAL(f"region {region!r} is empty: no pages to access")
        self._charge(min(count, npages) * self.page_size)
        rng = np.random.default_rng(seed)
        left = count
        while left:
            size = min(left, PAGE_BATCH)
            self._pages(p, first << 12, rng.integers(0, npages, size=size), write)
            left -= size

    def _pages(self, p: Proc, base: int, pages: np.ndarray, write: bool) -> None:
        pages = np.asarray(pages, dtype=np.uint64)
        self._accesses += len(pages)
        self._send(p, f"pages {base:#x} {len(pages)} {1 if write else 0}", pages.astype("<u8").tobytes())

    def access_pages(self, proc: str, region: str, pages, *, write=False) -> None:
        p = self._proc(proc)
        r = self._region(p, region)
        if not isinstance(write, (bool, np.bool_)):
            raise HostCannot("a replay with a read or write per access is not supported on the host")
        batch = np.fromiter((int(n) for n in pages), dtype=np.int64)
        if len(batch) and batch.min() < 0:
            raise HostCannot("a replay page number below the region is not supported on the host")
        self._charge(min(len(batch), (r.length >> 12) + 1) * self.page_size)
        base = (r.start >> 12) << 12
        if len(batch):
            self._guard(p, base + int(batch.min()) * 4096, base + (int(batch.max()) + 1) * 4096)
        for i in range(0, len(batch), PAGE_BATCH):
            self._pages(p, base, batch[i:i + PAGE_BATCH], bool(write))

    def access_addresses(self, proc: str, accesses) -> None:
        raise HostCannot("a lackey trace (absolute addresses of another program) cannot be replayed "
                         "on the host")

    def madvise(self, proc: str, region: str, start: int, end: int | None, advice: str) -> None:
        p = self._proc(proc)
        s, e = self._range(p, region, start, end)
        self._guard(p, s, e)
        if advice == "willneed":
            self._charge(max(0, e - s))
        reply = self._send(p, f"advise {s:#x} {max(0, e - s):#x} {ADVICE[advice]}")
        if reply.kind != "ok":
            self._fail(reply.value, f"madvise {advice}")

    def mprotect(self, proc: str, region: str, start: int, end: int | None, prot: str) -> None:
        p = self._proc(proc)
        s, e = self._range(p, region, start, end)
        self._guard(p, s, e)
        reply = self._send(p, f"protect {s:#x} {max(0, e - s):#x} {PROTS[prot]}")
        if reply.kind != "ok":
            self._fail(reply.value, f"mprotect {prot}")

    def _lock(self, proc: str, region: str, lock: bool) -> None:
        p = self._proc(proc)
        r = self._region(p, region)
        if lock:
            self._charge(r.length)
        self._guard(p, r.start, r.end)
        reply = self._send(p, f"lock {r.start:#x} {r.length:#x} {1 if lock else 0}")
        if reply.kind != "ok":
            self._fail(reply.value, "mlock" if lock else "munlock")

    def mlock(self, proc: str, region: str) -> None:
        self._lock(proc, region, True)

    def munlock(self, proc: str, region: str) -> None:
        self._lock(proc, region, False)

    def create_file(self, name: str, size: int) -> None:
        self._gen += 1
        self._file(name, page_align(size, self.page_size) if size else 0)
        # the engine's file has exactly ``size`` bytes' worth of pages; the real one that many bytes
        path = self.files[name][0]
        os.truncate(path, size)
        self.files[name] = (path, size)

    def fork(self, parent: str, child: str) -> None:
        self._gen += 1
        p = self._proc(parent)
        try:
            reply, agent = p.agent.fork()
        except AgentDied as died:
            self._ended(p, died.signo)
            raise HostCannot(f"the agent of {parent} died while forking") from None
        if agent is None:
            self._fail(reply.value, "fork")
        self.session.tell(f"pid {agent.pid}")
        q = Proc(child, agent, p.own, p.pt_base, p.start_brk, p.fence, p.lift,
                 regions={k: Region(r.start, r.length, r.via) for k, r in p.regions.items()},
                 oom_score_adj=p.oom_score_adj, oom_adj_read=p.oom_adj_read, group=p.group)
        self.procs[child] = q

    def exit(self, proc: str) -> None:
        self._gen += 1
        p = self._proc(proc)
        self._read_oom(p)
        try:
            p.agent.request("exit")
        except AgentDied:
            pass
        p.agent.wait()
        p.status = "exited"
        p.agent.close()

    def _write_oom(self, p: Proc, setting: str, value: int) -> None:
        self._gen += 1
        try:
            procfs.write_int(f"/proc/{p.agent.pid}/{setting}", value)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise EINVAL(f"{setting} {value} is out of range") from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise HostCannot(f"setting {setting} {value} needs CAP_SYS_RESOURCE, which vmspec "
                                 "does not have here") from None
            raise HostCannot(f"writing {setting} failed: {exc.strerror}") from None
        self._read_oom(p)

    def _read_oom(self, p: Proc) -> None:
        if p.alive:
            try:
                p.oom_score_adj = procfs.read_int(f"/proc/{p.agent.pid}/oom_score_adj")
                p.oom_adj_read = procfs.read_int(f"/proc/{p.agent.pid}/oom_adj")
            except OSError:
                pass

    def set_oom_score_adj(self, proc: str, value: int) -> None:
        self._write_oom(self._proc(proc), "oom_score_adj", value)

    def set_oom_adj(self, proc: str, value: int) -> None:
        self._write_oom(self._proc(proc), "oom_adj", value)

    def drop_caches(self) -> None:
        """``echo 1 > /proc/sys/vm/drop_caches`` with ``--host-allow drop_caches``; otherwise the
        same kernel function (``invalidate_mapping_pages``) on the scenario's own files."""
        self._gen += 1
        if "drop_caches" in self.session.allow.words:
            os.sync()
            with open("/proc/sys/vm/drop_caches", "w") as fh:
                fh.write("1")
            return
        for path, _ in self.files.values():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

    def check_invariants(self) -> None:
        """The kernel keeps its own invariants."""

def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
