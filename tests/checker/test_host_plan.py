"""Deciding whether a scenario may run on the host, without running anything: the machine
against the kernel's settings, --host-allow, the engine's pre-run, and the documented
differences `vmspec diff` explains. Fake kernel readings make these run anywhere."""

from __future__ import annotations

import dataclasses

import pytest

from vmspec.checker.host.explain import FILE_IO_TIMING, OWN_PAGES, SYSTEM_WIDE, History, explain
from vmspec.checker.host.kernel import HostKernel, bracketed
from vmspec.checker.host.plan import PreRun, compare_machine, decide
from vmspec.checker.host.session import DEFAULT_MEMORY_FRACTION, parse_allow
from vmspec.engine.config import MachineConfig
from vmspec.language import load

GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10
KERNEL = HostKernel(release="6.18.44", page_size=4096, paging_levels=4, thp="madvise", overcommit="heuristic",
                    overcommit_ratio=50, overcommit_kbytes=0, swap_total=0, hugepages={2 * MiB: 0, GiB: 0},
                    readahead=8 * MiB, readahead_path="/sys/block/vda/queue/read_ahead_kb",
                    files_dir="/tmp", files_fs="ext4", mem_total=24 * GiB, mem_available=23 * GiB)


def scenario(spec_dir, body: str, machine: str = "machine m { ram 24GiB }"):
    spec_dir({"s.vms": f'{machine}\nscenario "s" on m {{\n{body}\n}}\n'})
    program = load("s.vms")
    return program, program.scenarios[0]


def compare(spec_dir, body, config=None, kernel=KERNEL, allow=(), machine="machine m { ram 24GiB }"):
    program, resolved = scenario(spec_dir, body, machine)
    config = config or MachineConfig(ram=24 * GiB)
    return compare_machine(config, kernel, resolved.scenario, program, parse_allow(list(allow)))


@pytest.mark.parametrize("change, needle", [
    ({"paging_levels": 5}, "5-level paging, the host 4-level"),
    ({"swap": 64 * MiB}, "the machine has swap and the host has none"),
    ({"thp": "always"}, "thp is always, the host's madvise (--host-allow thp"),
    ({"overcommit": "always"}, "overcommit is always ratio 50"),
    ({"overcommit_ratio": 80}, "ratio 80"),
])
def test_a_machine_that_differs_from_the_kernel_is_skipped(spec_dir, change, needle):
    reason, changes = compare(spec_dir, "spawn p", MachineConfig(ram=24 * GiB, **change))
    assert needle in reason and changes == []


def test_host_allow_turns_a_difference_into_a_change_restored_later(spec_dir):
    reason, changes = compare(spec_dir, "spawn p", MachineConfig(ram=24 * GiB, thp="never"), allow=["thp"])
    assert reason is None and changes == [("/sys/kernel/mm/transparent_hugepage/enabled", "never")]
    reason, changes = compare(spec_dir, "spawn p", MachineConfig(ram=24 * GiB, overcommit="always"),
                              allow=["overcommit"])
    assert reason is None and ("/proc/sys/vm/overcommit_memory", "1") in changes


def test_ram_is_not_compared_unless_an_outcome_depends_on_it(spec_dir):
    reason, _ = compare(spec_dir, "spawn p\np: a = mmap 1GiB", MachineConfig(ram=GiB))
    assert reason is None
    reason, _ = compare(spec_dir, "spawn p\np: a = mmap 2GiB", MachineConfig(ram=GiB))
    assert "heuristic overcommit refuses a request of 2048 MiB depends on RAM" in reason
    reason, _ = compare(spec_dir, "spawn p", MachineConfig(ram=GiB, overcommit="never"),
                        kernel=dataclasses.replace(KERNEL, overcommit="never"))
    assert "commit limit is a share of RAM" in reason


def test_hugepage_pools_are_compared_only_when_used(spec_dir):
    config = MachineConfig(ram=24 * GiB, hugepages=((2 * MiB, 4),))
    assert compare(spec_dir, "spawn p", config) == (None, [])
    reason, _ = compare(spec_dir, "spawn p\np: h = mmap 2MiB hugetlb 2MiB", config)
    assert "pool of 2 MiB huge pages is 4, the host's 0" in reason
    reason, _ = compare(spec_dir, "spawn p\nexpect hugepages_free(2MiB) == 4", config)
    assert "huge pages is 4" in reason
    reason, changes = compare(spec_dir, "spawn p\np: h = mmap 2MiB hugetlb 2MiB", config, allow=["hugepages"])
    assert reason is None and changes == [("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "4")]


def test_readahead_is_compared_only_when_files_are_mapped(spec_dir):
    config = MachineConfig(ram=24 * GiB)  # readahead 128KiB, the disk 8MiB
    assert compare(spec_dir, "spawn p\np: a = mmap 1MiB", config) == (None, [])
    body = 'file "f" 1MiB\nspawn p\np: a = mmap 1MiB file "f"'
    reason, _ = compare(spec_dir, body, config)
    assert "readahead is 128KiB, the disk's read_ahead_kb is 8192" in reason
    reason, changes = compare(spec_dir, body, config, allow=["readahead"])
    assert reason is None and changes == [(KERNEL.readahead_path, "128")]
    reason, _ = compare(spec_dir, body, MachineConfig(ram=24 * GiB, readahead=8 * MiB),
                        kernel=dataclasses.replace(KERNEL, files_fs="tmpfs"))
    assert "on tmpfs" in reason and "VMSPEC_HOST_TMPDIR" in reason


def test_an_image_with_text_maps_files(spec_dir):
    machine = "machine m { ram 24GiB }\nimage srv { text 1MiB }"
    reason, _ = compare(spec_dir, "spawn p image srv", machine=machine)
    assert "maps files" in reason


def test_a_trace_of_absolute_addresses_cannot_run_on_the_host(spec_dir, tmp_path):
    (tmp_path / "t.lackey").write_text(" L 1000,4\n")
    reason, _ = compare(spec_dir, 'spawn p\np: replay "t.lackey" format lackey')
    assert "cannot be replayed on the host" in reason


def test_the_engine_run_decides_about_memory_pressure_and_capabilities():
    config = MachineConfig(ram=64 * MiB)
    quiet = PreRun()
    assert decide(config, KERNEL, quiet, cap=GiB, allow=parse_allow([])) == (None, None)
    big = PreRun()
    big.peak = 2 * GiB
    reason, _ = decide(config, KERNEL, big, cap=GiB, allow=parse_allow([]))
    assert "uses up to 2048 MiB, above the host backend's cap of 1024 MiB" in reason
    lowering = PreRun()
    lowering.needs_cap_line = 7
    reason, _ = decide(config, KERNEL, lowering, cap=GiB, allow=parse_allow([]))
    assert reason.startswith("line 7: lowering oom_score_adj needs CAP_SYS_RESOURCE")
    with_cap = dataclasses.replace(KERNEL, cap_sys_resource=True)
    assert decide(config, with_cap, lowering, cap=GiB, allow=parse_allow([])) == (None, None)


def test_host_allow_words_and_memory_fraction():
    assert parse_allow([]).memory_fraction == DEFAULT_MEMORY_FRACTION
    allow = parse_allow(["hugepages,readahead", "memory=50%"])
    assert allow.words == {"hugepages", "readahead"} and allow.memory_fraction == 0.5
    assert parse_allow(["memory=0.1"]).memory_fraction == 0.1
    for bad, needle in (("swap", "unknown"), ("memory=2", "at most 0.9"), ("memory=x", "fraction")):
        with pytest.raises(ValueError, match=needle):
            parse_allow([bad])


def test_bracketed_reads_a_sysfs_choice():
    assert bracketed("always [madvise] never") == "madvise"


def test_documented_differences():
    history = History()
    assert explain("rss", ("p",), 65536, 36864, history) is None
    history.files.add("p")
    # a read still in flight on the host: less RSS and more faults there, never the reverse
    assert explain("rss", ("p",), 65536, 36864, history) is FILE_IO_TIMING
    assert explain("rss", ("p",), 36864, 65536, history) is None
    assert explain("faults.minor", ("p",), 255, 259, history) is FILE_IO_TIMING
    assert explain("faults.minor", ("p",), 259, 255, history) is None
    assert explain("rss", ("q",), 65536, 36864, history) is None
    assert explain("pagetables", ("p",), 20480, 16384, history) is None  # placed alike now
    assert explain("cached", (), 16 * MiB, 8 * MiB, history) is FILE_IO_TIMING
    assert explain("oom_score", ("x",), 999, 1000, History()) is OWN_PAGES
    assert explain("oom_score", ("x",), 990, 1000, History()) is None
    assert explain("committed", (), 0, 1 << 20, History()) is SYSTEM_WIDE
