"""The engine's public API is plain and typed (docs/engine-api.md): system observables are plain
ints (``killed`` a tuple of names), per-process counters are frozen values with equality, and
the verbs are unambiguous (``free_region``, ``process_time``)."""

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path
from fractions import Fraction

import pytest

from vmspec.engine import MachineConfig, System
from vmspec.engine.config import TLBLevel
from vmspec.engine.errors import OOMKilled
from vmspec.engine.procfs import Faults, Mapping, TLBStats
from vmspec.engine.tlb import TLB
from vmspec.engine.tlbref import TeeTLB, TLBRef

MiB = 1 << 20
SIZES = ("ram", "free", "used", "cached", "swap_used", "swap_free", "committed", "commit_limit",
         "active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable")
COUNTS = ("oom_kills", "pswpin", "pswpout", "thp_fault_alloc", "thp_fault_fallback",
          "thp_split_pmd", "thp_split_page", "time", "accesses")


def busy() -> System:
    """A system where every system observable has moved: swap, THP, file pages, a COW fork."""
    s = System(MachineConfig(ram=64 * MiB, swap=16 * MiB, thp="always"), reference_tlb=True)
    s.spawn("p")
    s.mmap("p", "r", 4 * MiB)
    s.access("p", "r", 0, 4 * MiB, write=True)
    s.fork("p", "c")
    s.access("c", "r", 0, 4096, write=True)
    s.create_file("f", MiB)
    s.mmap("p", "m", MiB, file="f")
    s.access("p", "m", 0, MiB, write=False)
    s.madvise("p", "r", 0, MiB, "pageout")
    return s


def test_system_observables_are_plain_ints():
    s = busy()
    for name in SIZES + COUNTS:
        value = getattr(s, name)
        assert type(value) is int, (name, type(value))
        assert not callable(value)
    assert s.pswpout > 0 and s.thp_fault_alloc > 0 and s.swap_used > 0 and s.time > 0
    assert type(s.killed) is tuple and s.killed == ()


def test_an_observable_does_not_carry_the_system():
    """Pickling MemFree pickles one int, not the machine behind it."""
    s = busy()
    for name in SIZES + COUNTS:
        assert len(pickle.dumps(getattr(s, name))) < 32, name


def test_killed_is_a_tuple_of_names_in_kill_order():
    s = System(MachineConfig(ram=16 * MiB))
    s.spawn("big")
    s.mmap("big", "r", 15 * MiB)
    s.spawn("small")
    s.mmap("small", "r", MiB)
    s.access("small", "r", 0, MiB, write=True)
    with pytest.raises(OOMKilled):
        s.access("big", "r", 0, 15 * MiB, write=True)
    assert s.killed == ("big",) and type(s.killed) is tuple and s.oom_kills == 1


def test_free_is_memfree_and_free_region_is_glibc_free():
    s = System(MachineConfig(ram=64 * MiB))
    s.spawn("p")
    s.malloc("p", "a", MiB)  # above the mmap threshold: its own mapping
    s.access("p", "a", 0, MiB, write=True)
    free, rss, tables = s.free, s.rss("p"), s.pagetables("p")
    s.free_region("p", "a")  # munmaps it: MemFree gets back the pages and the emptied table
    assert s.resident("p", "a") == 0 and s.rss("p") < rss - MiB
    assert s.free - free == rss - s.rss("p") + tables - s.pagetables("p") > MiB
    with pytest.raises(TypeError):
        s.free("p", "a")  # MemFree is an int, not a verb


def test_time_is_a_total_and_process_time_one_process():
    s = System(MachineConfig(ram=64 * MiB))
    for p in ("a", "b"):
        s.spawn(p)
        s.mmap(p, "r", MiB)
    s.access("a", "r", 0, MiB, write=True)
    s.access("b", "r", 0, 4096, write=False)
    assert s.time == s.process_time("a") + s.process_time("b")
    assert s.process_time("a") > s.process_time("b") > 0
    with pytest.raises(TypeError):
        s.time("a")


def test_faults_and_tlb_stats_are_frozen_values_with_equality():
    s = busy()
    assert s.tlb("p") == s.tlb("p") and s.faults("c") == s.faults("c")
    assert hash(s.tlb("p")) == hash(s.tlb("p"))
    assert s.faults("c") == Faults(minor=s.faults("c").minor, major=s.faults("c").major, cow=1)
    assert Faults() == Faults(0, 0, 0) != Faults(1, 0, 0)
    assert TLBStats(3, 1) != TLBStats(1, 3) and TLBStats(3, 1) != (3, 1)
    assert s.faults("nobody") == Faults() and s.tlb("nobody") == TLBStats()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.faults("p").minor = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.tlb("p").hits = 0
    assert not hasattr(Faults(), "__dict__") and not hasattr(TLBStats(), "__dict__")
    assert repr(Faults(1, 2, 3)) == "Faults(minor=1, major=2, cow=3)"


def test_hit_rate():
    assert TLBStats(3, 1).hit_rate == Fraction(3, 4)
    assert TLBStats().hit_rate == 0
    s = System(MachineConfig(ram=64 * MiB))
    s.spawn("p")
    s.mmap("p", "r", 4096)
    s.access("p", "r", 0, 1, write=True)
    s.access("p", "r", 0, 1, write=True)
    assert s.tlb("p") == TLBStats(hits=1, misses=1) and s.tlb("p").hit_rate == Fraction(1, 2)


def test_mapping_is_a_frozen_value():
    s = busy()
    maps = s.mappings("p")
    assert maps == s.mappings("p") and all(isinstance(m, Mapping) for m in maps)
    m = next(m for m in maps if m.region == "m")
    assert (m.backing, m.prot, m.resident, m.end - m.start) == ("file", "rw", MiB, MiB)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.resident = 0
    assert not hasattr(m, "__dict__")
    assert dataclasses.replace(m, resident=0) != m


def test_tee_tlb_runs_the_reference_beside_the_engine_tlb():
    levels = (TLBLevel("l1", 4, 4),)
    tee = TeeTLB(TLB(levels), TLBRef(levels))
    assert not tee.lookup(1, 5, 12, False)
    tee.fill(1, 5, 12, True)
    assert tee.lookup(1, 5, 12, True)
    assert tee.sweep(1, 4, 8, 12, False, True) == (1, 3)
    tee.ref.invalidate(1, 5, 12)  # the two disagree from here on
    with pytest.raises(AssertionError, match="engine True, reference False"):
        tee.lookup(1, 5, 12, False)
    assert isinstance(System(MachineConfig(ram=64 * MiB), reference_tlb=True).tlb_model, TeeTLB)


def test_the_example_of_docs_engine_api_runs():
    """docs/engine-api.md's example is code that runs, with the assertions it shows."""
    text = (Path(__file__).parents[2] / "docs" / "engine-api.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "free_region" in block and "Faults(" in block
    out = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
