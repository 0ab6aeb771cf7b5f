"""The host backend on the running kernel: the agent build, what HostSystem measures, what it
refuses, and that a run (finished, interrupted or killed) leaves no process, file, memory
cgroup or setting behind. Skipped where the host backend cannot run (not Linux x86-64, no C
compiler, no frame numbers in pagemap)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction

import pytest

from vmspec.checker.host.build import HostUnavailable
from vmspec.checker.host.kernel import on_linux

MiB, KiB = 1 << 20, 1 << 10

if not on_linux() or not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
    pytest.skip("the host backend needs Linux on x86-64 and a C compiler", allow_module_level=True)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private agent cache for this module (built once), so its processes can be told apart."""
    path = tmp_path_factory.mktemp("agent-cache")
    old = os.environ.get("VMSPEC_CACHE_DIR")
    os.environ["VMSPEC_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("VMSPEC_CACHE_DIR", None)
    else:
        os.environ["VMSPEC_CACHE_DIR"] = old


@pytest.fixture
def host(cache, tmp_path, monkeypatch):
    """A HostSystem on a machine read from the host, with its files in a private directory."""
    from vmspec.checker.host.kernel import machine_settings
    from vmspec.checker.host.session import HostSession, parse_allow
    from vmspec.checker.host.system import HostSystem
    from vmspec.engine.config import MachineConfig

    files = tmp_path / "files"
    files.mkdir()
    monkeypatch.setenv("VMSPEC_HOST_TMPDIR", str(files))
    session = HostSession(parse_allow([]))
    system = HostSystem(MachineConfig(**machine_settings(session.kernel)), session)
    yield system
    system.close()
    session.close()
    assert list(files.iterdir()) == []


def agents(cache) -> list[int]:
    """Pids of running agents built into ``cache``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                exe = os.readlink(f"/proc/{entry}/exe")
            except OSError:
                continue
            if exe.startswith(str(cache)):
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                            continue
                except OSError:
                    continue
                found.append(int(entry))
    return found


def vmspec_groups() -> list[str]:
    from vmspec.checker.host.cgroup import own_memory_cgroup

    try:
        base, _ = own_memory_cgroup()
    except Exception:
        return []
    return [name for name in os.listdir(base) if name.startswith("vmspec-")]


# ---------------------------------------------------------------- the agent
def test_agent_is_built_once_and_cached_by_source_hash(cache):
    from vmspec.checker.host.build import agent_path

    path = agent_path()
    assert path.startswith(str(cache)) and os.access(path, os.X_OK)
    stamp = os.stat(path).st_mtime_ns
    assert agent_path() == path and os.stat(path).st_mtime_ns == stamp


def test_no_compiler_is_a_clear_error(monkeypatch, tmp_path):
    from vmspec.checker.host.build import agent_path

    monkeypatch.setenv("VMSPEC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(HostUnavailable, match="the C compiler named by CC"):
        agent_path()
    monkeypatch.delenv("CC")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HostUnavailable, match="no C compiler found"):
        agent_path()


def test_no_compiler_ends_a_host_run_with_a_usage_error(tmp_path):
    (tmp_path / "a.vms").write_text('machine m from host\nscenario "s" on m { spawn p }\n')
    env = dict(os.environ, VMSPEC_CACHE_DIR=str(tmp_path / "empty"), CC="/nonexistent/cc")
    out = subprocess.run([sys.executable, "-m", "vmspec", "check", "a.vms", "--backend", "host"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert "vmspec: error: --backend host: the C compiler named by CC" in out.stderr


# ---------------------------------------------------------------- measurements
def test_faults_sizes_and_tables_of_anonymous_memory(host):
    host.spawn("p")
    host.mmap("p", "buf", MiB)
    assert host.rss("p") == 0 and host.vsz("p") == MiB + 8 * MiB and host.pagetables("p") == 0
    host.access("p", "buf", 0, MiB, write=True)
    f = host.faults("p")
    assert (f.minor, f.major) == (256, 0)
    assert host.rss("p") == host.rss_anon("p") == host.resident("p", "buf") == MiB
    assert host.pagetables("p") == 12 * KiB and host.rss_file("p") == 0
    host.access("p", "buf", 0, MiB, write=True)
    assert host.faults("p").minor == 256


def test_fork_shares_until_one_side_writes(host):
    host.spawn("p")
    host.mmap("p", "buf", MiB)
    host.access("p", "buf", 0, MiB, write=True)
    host.fork("p", "c")
    assert host.faults("c").minor == 0 and host.shared_processes("p", "c") == MiB
    host.access("c", "buf", 0, 64 * KiB, write=True)
    assert host.faults("c").minor == 16
    assert host.shared_processes("p", "c") == MiB - 64 * KiB
    assert host.shared_regions("p", "buf", "c", "buf") == MiB - 64 * KiB
    assert host.pss("c") == Fraction(64 * KiB) + Fraction(MiB - 64 * KiB, 2)
    assert host.uss("c") == 64 * KiB
    host.exit("c")
    assert host.status("c") == "exited" and host.rss("c") == 0 and host.faults("c").minor == 16


def test_the_zero_page_is_mapped_but_not_resident(host):
    host.spawn("p")
    host.mmap("p", "buf", 64 * KiB)
    host.access("p", "buf", 0, 64 * KiB, write=False)
    assert host.faults("p").minor == 16 and host.rss("p") == 0 and host.resident("p", "buf") == 0
    assert host.pss("p") == 0


def test_glibc_malloc_and_brk(host):
    host.spawn("p")
    host.malloc("p", "a", 1)
    assert host.via("p", "a") == "brk" and host.size("p", "heap") == 132 * KiB
    host.malloc("p", "b", MiB)
    assert host.via("p", "b") == "mmap"
    host.brk("p", MiB)
    assert host.size("p", "heap") == 132 * KiB + MiB


def test_fatal_signals_end_the_process_and_keep_its_counters(host):
    from vmspec.engine.errors import SIGSEGV

    host.spawn("p")
    host.mmap("p", "buf", 64 * KiB)
    host.access("p", "buf", 0, 8 * KiB, write=True)
    host.munmap("p", "buf")
    with pytest.raises(SIGSEGV):
        host.access("p", "buf", 0, 1, write=False)
    assert host.status("p") == "segfault" and not host.alive("p")
    assert host.faults("p").minor == 2 and host.rss("p") == 0


def test_kernel_errors_are_the_modelled_failures(host):
    from vmspec.engine.errors import EINVAL, ENOMEM

    host.spawn("p")
    with pytest.raises(EINVAL):
        host.mmap("p", "zero", 0)
    with pytest.raises(ENOMEM):
        host.mmap("p", "huge", 200 << 40, noreserve=True)
    host.mmap("p", "buf", 64 * KiB)
    with pytest.raises(EINVAL):
        host.munmap("p", "buf", 100, 8 * KiB)
    with pytest.raises(EINVAL):
        host.set_oom_score_adj("p", 1001)


def test_what_the_kernel_does_not_count_is_not_observable(host):
    from vmspec.checker.backend import NotObservable

    host.spawn("p")
    with pytest.raises(NotObservable, match="copy-on-write"):
        host.faults("p").cow
    for read in (lambda: host.tlb("p"), lambda: host.time, lambda: host.process_time("p"),
                 lambda: host.free, lambda: host.committed):
        with pytest.raises(NotObservable):
            read()


def test_oom_files(host):
    host.spawn("p", oom_adj=2)
    assert host.oom_score_adj("p") == 117 and host.oom_adj("p") == 1
    assert 666 <= host.oom_score("p") <= 800


def test_own_memory_is_never_counted(host):
    host.spawn("p")
    assert host.rss("p") == 0 and host.pagetables("p") == 0 and host.vsz("p") == 8 * MiB
    host.fork("p", "c")
    assert host.rss("c") == 0 and host.pagetables("c") == 0 and host.shared_processes("p", "c") == 0


def test_the_memory_cap_refuses_a_step_that_could_exceed_it(host, monkeypatch):
    from vmspec.checker.backend import HostCannot

    monkeypatch.setattr(host.session, "cap", 4 * MiB)
    host.spawn("p")
    host.mmap("p", "buf", 64 * MiB)
    with pytest.raises(HostCannot, match="beyond the host backend's cap of 4 MiB"):
        host.access("p", "buf", 0, 64 * MiB, write=True)
    assert host.rss("p") == 0


# ---------------------------------------------------------------- vmspec check --backend host
def run_vmspec(args, cwd, cache, files, timeout=120, **kw):
    env = dict(os.environ, VMSPEC_CACHE_DIR=str(cache), VMSPEC_HOST_TMPDIR=str(files))
    return subprocess.run([sys.executable, "-m", "vmspec", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=timeout, **kw)


SPEC = """machine here from host { thp madvise }
machine deep extends here { paging 5-level }

scenario "fork" on here {
    spawn p
    p: buf = mmap 1MiB
    p: write buf
    fork p as c
    c: write buf[0..64KiB]
    expect faults(c).minor == 16 and shared(p, c) == 1MiB - 64KiB
    expect faults(c).cow == 16
    always tlb(c).misses >= 0
}

scenario "deep" on deep {
    spawn p
}
"""


def test_check_on_the_host_reports_skips_and_unobservable_expectations(cache, tmp_path):
    import importlib.resources

    jsonschema = pytest.importorskip("jsonschema")
    files = tmp_path / "files"
    files.mkdir()
    (tmp_path / "a.vms").write_text(SPEC)
    out = run_vmspec(["check", "a.vms", "--backend", "host", "--format", "json"], tmp_path, cache, files)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    schema = json.loads(importlib.resources.files("vmspec.checker").joinpath("report.schema.json").read_text())
    jsonschema.validate(doc, schema)
    fork, deep = doc["scenarios"]
    assert fork["status"] == "passed" and fork["backend"] == "host" and fork["skipped"] is None
    assert [(u["line"], u["kind"]) for u in fork["unobservable"]] == [(11, "expect"), (12, "always")]
    assert "copy-on-write" in fork["unobservable"][0]["reason"]
    assert deep["status"] == "skipped" and "5-level paging, the host 4-level" in deep["skipped"]
    assert doc["summary"]["skipped"] == 1 and doc["summary"]["passed"] == 1
    assert list(files.iterdir()) == [] and agents(cache) == []
    text = run_vmspec(["check", "a.vms", "--backend", "host"], tmp_path, cache, files)
    assert "SKIPPED a.vms::deep (line 15): the machine has 5-level paging" in text.stdout
    assert "a.vms:11:5: not observable on the host: expect faults(c).cow == 16" in text.stdout
    assert text.stdout.endswith("2 scenarios: 1 passed, 0 failed, 0 errors, 1 skipped; "
                                "2 expectations not observable\n")


def test_the_pytest_plugin_skips_what_the_host_cannot_run(cache, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (tmp_path / "a.vms").write_text(SPEC)
    env = dict(os.environ, VMSPEC_CACHE_DIR=str(cache), VMSPEC_HOST_TMPDIR=str(files))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "a.vms",
                          "--vmspec-backend", "host", "-rs"], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=120)
    out_text = out.stdout
    assert "1 passed, 1 skipped" in out_text and "5-level paging" in out_text


def run_spec_until_killed(cache, tmp_path, sig, extra_args=()):
    """Start a long host run, wait for its agents, send ``sig``; return (process, files dir)."""
    files = tmp_path / "files"
    files.mkdir()
    (tmp_path / "long.vms").write_text("""machine here from host { thp madvise }
scenario "long" on here {
    spawn p memory_max 64MiB
    p: buf = mmap 1MiB
    repeat 5000 { p: write buf[0] }  # about a second on the engine, several on the host
}
""")
    env = dict(os.environ, VMSPEC_CACHE_DIR=str(cache), VMSPEC_HOST_TMPDIR=str(files))
    proc = subprocess.Popen([sys.executable, "-m", "vmspec", "check", "long.vms", "--backend", "host",
                             "--max-accesses", "1000000000", *extra_args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # the engine's run of the scenario comes first
    while not agents(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert agents(cache), "the run never started an agent"
    time.sleep(0.3)
    proc.send_signal(sig)
    return proc, files


def wait_clean(cache, files, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not agents(cache) and not list(files.iterdir()) and not vmspec_groups():
            return
        time.sleep(0.05)
    assert agents(cache) == [] and list(files.iterdir()) == [] and vmspec_groups() == []


def test_a_killed_run_leaves_nothing_behind(cache, tmp_path):
    proc, files = run_spec_until_killed(cache, tmp_path, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    wait_clean(cache, files)


def test_an_interrupted_run_cleans_up_and_exits_130(cache, tmp_path):
    proc, files = run_spec_until_killed(cache, tmp_path, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "(interrupted)" in out
    wait_clean(cache, files, timeout=5)


HUGE = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"


@pytest.mark.skipif(not os.access(HUGE, os.W_OK), reason="needs a writable hugetlb pool (root)")
def test_a_setting_changed_for_a_killed_run_is_restored(cache, tmp_path):
    with open(HUGE) as fh:
        before = fh.read().strip()
    files = tmp_path / "files"
    files.mkdir()
    (tmp_path / "huge.vms").write_text(f"""machine here from host {{ thp madvise; hugepages 2MiB x {int(before) + 1} }}
scenario "huge" on here {{
    spawn p
    p: h = mmap 2MiB hugetlb 2MiB
    p: buf = mmap 1MiB
    repeat 5000 {{ p: write buf[0] }}
}}
""")
    env = dict(os.environ, VMSPEC_CACHE_DIR=str(cache), VMSPEC_HOST_TMPDIR=str(files))
    proc = subprocess.Popen([sys.executable, "-m", "vmspec", "check", "huge.vms", "--backend", "host",
                             "--host-allow", "hugepages", "--max-accesses", "1000000000"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not agents(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    with open(HUGE) as fh:
        during = fh.read().strip()
    proc.kill()
    proc.wait(timeout=30)
    wait_clean(cache, files)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(HUGE) as fh:
            after = fh.read().strip()
        if after == before:
            break
        time.sleep(0.05)
    assert during == str(int(before) + 1) and after == before


def test_a_memory_cgroup_confines_memory_max_and_is_removed(cache, tmp_path):
    from vmspec.checker.host import cgroup

    if cgroup.probe() is not None:
        pytest.skip(cgroup.probe())
    files = tmp_path / "files"
    files.mkdir()
    (tmp_path / "oom.vms").write_text("""machine here from host { thp madvise }
scenario "group oom" on here {
    spawn p memory_max 8MiB
    spawn q
    p: buf = mmap 32MiB
    p: write buf => OOM
    expect status(p) == oom_killed and killed == [p] and alive(q)
}
""")
    out = run_vmspec(["check", "oom.vms", "--backend", "host"], tmp_path, cache, files)
    assert out.returncode == 0, out.stdout + out.stderr
    assert vmspec_groups() == [] and agents(cache) == []
