"""hugetlb mappings: pools and reservations (mm/hugetlb.c), faults (hugetlb_fault), leaf PMD/PUD
entries, TLB entries of 2 MiB and 1 GiB (docs/language.md, the TLB paragraph), and what is
refused with Unsupported. Every system runs with ``reference_tlb=True`` and checks invariants."""

import pytest

from vmspec.engine import MachineConfig, System
from vmspec.engine.config import TLBLevel
from vmspec.engine.errors import EINVAL, ENOMEM, SIGBUS, OOMKilled, Unsupported

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
H2 = 2 * MiB


def machine(ram=256 * MiB, pools=((H2, 4),), **kw):
    s = System(MachineConfig(ram=ram, hugepages=pools, **kw), reference_tlb=True)
    s.spawn("p")
    return s


def pool(s, size=H2):
    hp = s.hugetlb.pools[size]
    return hp.free, hp.resv


def test_the_measured_hugetlb_py_table():
    """Measured on Linux 6.18 (mm/hugetlb.c): pool of 4; mmap 3x2M reserves (free 4, resv 3); touching
    costs 3 minor faults and leaves free 1, resv 0; 2 more: ENOMEM at mmap; with
    MAP_NORESERVE OK; a child touching both NORESERVE pages gets the last free page, then SIGBUS;
    munmap gives everything back."""
    s = machine()
    s.mmap("p", "a", 3 * H2, hugetlb=H2)
    assert pool(s) == (4, 3) and s.hugepages_free(H2) == 1 and s.hugepages_total(H2) == 4
    s.access("p", "a", 0, 3 * H2, write=True)
    assert s.faults("p").minor == 3 and pool(s) == (1, 0) and s.hugepages_free(H2) == 1
    with pytest.raises(ENOMEM):
        s.mmap("p", "b", 2 * H2, hugetlb=H2)
    s.mmap("p", "b", 2 * H2, hugetlb=H2, noreserve=True)
    assert pool(s) == (1, 0)
    s.fork("p", "c")
    s.access("c", "b", 0, H2, write=True)  # the last free page
    assert pool(s) == (0, 0) and s.faults("c").minor == 1
    with pytest.raises(SIGBUS):
        s.access("c", "b", H2, 2 * H2, write=True)
    assert s.status("c") == "sigbus" and pool(s) == (1, 0)
    s.check_invariants()
    s.munmap("p", "a")
    s.munmap("p", "b")
    assert pool(s) == (4, 0) and s.hugepages_free(H2) == 4
    s.check_invariants()


def test_one_gib_page_is_one_fault_and_a_leaf_pud():
    """Measured on Linux 6.18 (hugetlb_fault): 1 GiB pool of 1, mmap + touch 1 GiB: 1 fault, free 1
    -> 0. The page is a leaf PUD entry: only the PUD table is allocated."""
    s = machine(ram=2 * GiB, pools=((GiB, 1),))
    s.mmap("p", "g", GiB, hugetlb=GiB)
    assert s.hugepages_free(GiB) == 0 and pool(s, GiB) == (1, 1)
    s.access("p", "g", 0, GiB, write=True)
    assert s.faults("p").minor == 1 and pool(s, GiB) == (0, 0)
    assert s.pagetables("p") == 4 * KiB and s.used == GiB + 4 * KiB
    # default TLB: l1_1g holds it; 262144 accesses, 1 walk of 2 levels (4-level paging)
    assert (s.tlb("p").hits, s.tlb("p").misses) == (262143, 1)
    assert s.process_time("p") == 262144 * 80 + 262143 * 1 + 1 * 2 * 20 + 1000
    assert s.huge("p", "g") == GiB and s.resident("p", "g") == 0 and s.rss("p") == 0
    s.check_invariants()
    s.exit("p")
    assert pool(s, GiB) == (1, 0) and s.used == GiB
    s.check_invariants()


def test_2mib_pages_are_leaf_pmds_and_not_rss():
    """A 2 MiB page is a leaf PMD entry: PUD + PMD tables, no PTE table (VmPTE 8 kB for
    any number of pages under one PMD table). hugetlb pages are not in VmRSS (HugetlbPages is
    separate) nor in smaps Rss (smaps_hugetlb_range counts Shared/Private_Hugetlb), so rss and
    resident stay 0 and the OOM badness ignores them; huge() counts them."""
    s = machine()
    s.mmap("p", "a", 4 * H2, hugetlb=H2)
    s.access("p", "a", 0, 4 * H2, write=True)
    assert s.pagetables("p") == 8 * KiB
    assert s.rss("p") == 0 and s.resident("p", "a") == 0 and s.huge("p", "a") == 8 * MiB
    assert s._badness(s.procs["p"]) == 2  # the two table pages only
    assert s.committed == 0  # 7.1: hugetlb is not charged to Committed_AS
    assert s.free == 256 * MiB - 8 * MiB - 8 * KiB  # the pool left MemFree at boot


def test_tlb_counts_of_a_4mib_sweep():
    """One access per base page, also inside huge pages: a 4 MiB hugetlb sweep is 1024 accesses;
    with the default TLB, the first access to each 2 MiB page misses (walk + fault) and the 511
    others hit in l1_2m. A second sweep hits all 1024. A walk to a 2 MiB page visits 3 levels."""
    s = machine()
    s.mmap("p", "a", 4 * MiB, hugetlb=H2)
    s.access("p", "a", 0, 4 * MiB, write=True)
    assert (s.tlb("p").hits, s.tlb("p").misses) == (1022, 2)
    assert s.process_time("p") == 1024 * 80 + 1022 * 1 + 2 * 3 * 20 + 2 * 1000
    s.access("p", "a", 0, 4 * MiB, write=False)
    assert (s.tlb("p").hits, s.tlb("p").misses) == (2046, 2)
    s.check_invariants()


def test_tlb_without_a_level_for_2mib_walks_every_access():
    """A ``tlb`` line that lists neither l1_2m nor l2 holds no 2 MiB entry: every access walks."""
    s = machine(tlb=(TLBLevel("l1", 64, 4),))
    s.mmap("p", "a", 4 * MiB, hugetlb=H2)
    s.access("p", "a", 0, 4 * MiB, write=True)
    assert (s.tlb("p").hits, s.tlb("p").misses) == (0, 1024) and s.faults("p").minor == 2
    l2 = machine(tlb=(TLBLevel("l2", 8, 8),))  # l2 holds 2 MiB entries
    l2.mmap("p", "a", 4 * MiB, hugetlb=H2)
    l2.access("p", "a", 0, 4 * MiB, write=True)
    assert (l2.tlb("p").hits, l2.tlb("p").misses) == (1022, 2)


def test_strided_and_random_accesses_use_the_huge_entry():
    s = machine()
    s.mmap("p", "a", 4 * MiB, hugetlb=H2)
    s.access("p", "a", 0, 4 * MiB, write=True, stride=64 * KiB)  # 64 accesses, 2 pages
    assert (s.tlb("p").hits, s.tlb("p").misses) == (62, 2)
    s.access("p", "a", 0, 4 * MiB, write=False, stride=1024)  # 4096 accesses, all hits
    assert s.tlb("p").hits == 62 + 4096
    s.access_random("p", "a", 1000, seed=1)
    assert s.tlb("p").hits == 62 + 4096 + 1000 and s.faults("p").minor == 2
    s.check_invariants()


def test_private_read_then_write_costs_two_faults():
    """4.7: a private hugetlb page first read then written costs 2 faults: the read maps it
    read-only, the write goes through hugetlb_wp, which reuses the page (mapped once): not cow."""
    s = machine()
    s.mmap("p", "a", H2, hugetlb=H2)
    s.access("p", "a", 0, H2, write=False)
    assert s.faults("p").minor == 1 and pool(s) == (3, 0)
    s.access("p", "a", 0, H2, write=True)
    f = s.faults("p")
    assert (f.minor, f.cow) == (2, 0) and pool(s) == (3, 0)
    # the write was a permission miss on the read-only entry, then 511 hits
    assert (s.tlb("p").hits, s.tlb("p").misses) == (511 + 511, 2)
    s.check_invariants()


def test_shared_mapping_read_then_write_is_one_fault():
    """A shared hugetlb mapping maps writable at once (no write-notify on hugetlbfs)."""
    s = machine()
    s.mmap("p", "a", H2, hugetlb=H2, shared=True)
    s.access("p", "a", 0, H2, write=False)
    s.access("p", "a", 0, H2, write=True)
    assert s.faults("p").minor == 1
    s.check_invariants()


def test_length_is_rounded_up_and_munmap_needs_huge_alignment():
    """ksys_mmap_pgoff: len = ALIGN(len, huge_page_size); the mapping is 2 MiB aligned.
    munmap that would split a hugetlb VMA off a huge-page boundary is EINVAL
    (hugetlb_vm_op_split), so munmap of a 3 MiB region (a 4 MiB VMA) fails."""
    s = machine()
    s.mmap("p", "a", 3 * MiB, hugetlb=H2)
    r = s.procs["p"].regions["a"]
    assert r.start % H2 == 0 and s.size("p", "a") == 3 * MiB and s.vsz("p") == 8 * MiB + 4 * MiB
    assert pool(s) == (4, 2)
    with pytest.raises(EINVAL):
        s.munmap("p", "a")
    with pytest.raises(EINVAL):
        s.munmap("p", "a", MiB, 4 * MiB)
    s.munmap("p", "a", 2 * MiB, 4 * MiB)  # aligned: the upper page goes, its reservation too
    assert pool(s) == (4, 1)
    s.munmap("p", "a", 0, 2 * MiB)
    assert pool(s) == (4, 0)
    s.check_invariants()


def test_placement_is_huge_aligned_top_down():
    s = machine(ram=4 * GiB, pools=((H2, 4), (GiB, 2)))
    s.mmap("p", "small", 4096)
    s.mmap("p", "g", GiB, hugetlb=GiB)
    s.mmap("p", "m", H2, hugetlb=H2)
    p = s.procs["p"]
    small, g, m = (p.regions[n].start for n in ("small", "g", "m"))
    assert g % GiB == 0 and g + GiB <= small and g == (small - GiB) & ~(GiB - 1)
    assert m == (small - H2) & ~(H2 - 1)  # the highest gap: between g's end and small
    s.check_invariants()


def test_no_pool_of_that_size():
    """Both hstates exist on this CPU (the measured boot log: 2M and 1G pools registered, 0 pages): MAP_HUGETLB
    with no pages is ENOMEM at mmap (the reservation fails); with MAP_NORESERVE the mmap
    succeeds and the first touch is SIGBUS. A size x86 cannot map is EINVAL."""
    s = machine(pools=())
    with pytest.raises(ENOMEM):
        s.mmap("p", "a", H2, hugetlb=H2)
    with pytest.raises(EINVAL):
        s.mmap("p", "a", H2, hugetlb=4 * MiB)
    s.mmap("p", "a", H2, hugetlb=H2, noreserve=True)
    with pytest.raises(SIGBUS):
        s.access("p", "a", 0, 1, write=False)
    assert s.hugepages_total(H2) == 0 and s.hugepages_free(GiB) == 0


def test_populate_faults_each_huge_page_once():
    """populate: one GUP fault per huge page, charged as minor faults, no accesses."""
    s = machine()
    s.mmap("p", "a", 3 * H2, hugetlb=H2, populate=True)
    assert s.faults("p").minor == 3 and pool(s) == (1, 0) and s.tlb("p").misses == 0
    s.access("p", "a", 0, 3 * H2, write=True)  # writable already (private rw: FOLL_WRITE)
    assert s.faults("p").minor == 3
    nr = machine(pools=((H2, 1),))
    nr.mmap("p", "a", 2 * H2, hugetlb=H2, noreserve=True, populate=True)  # 2nd: SIGBUS, ignored
    assert nr.faults("p").minor == 1 and nr.status("p") == "running" and pool(nr) == (0, 0)
    nr.check_invariants()


def test_fork_of_a_private_mapping_copies_on_write_from_the_pool():
    """copy_hugetlb_page_range write-protects the pages in both; a write copies into a free
    unreserved page (cow) or, in the child, is SIGBUS when there is none; the last mapper reuses."""
    s = machine()
    s.mmap("p", "a", 2 * H2, hugetlb=H2)
    s.access("p", "a", 0, 2 * H2, write=True)
    s.fork("p", "c")
    assert s.shared_regions("p", "a", "c", "a") == 4 * MiB and s.pagetables("c") == 8 * KiB
    s.access("c", "a", 0, H2, write=True)  # copy: free 2 -> 1
    f = s.faults("c")
    assert (f.minor, f.cow) == (1, 1) and pool(s) == (1, 0)
    s.access("p", "a", 0, H2, write=True)  # p is the last mapper of page 0: reuse
    assert (s.faults("p").minor, s.faults("p").cow) == (3, 0)
    s.check_invariants()
    s.access("c", "a", H2, 2 * H2, write=True)  # copy takes the last free page
    assert pool(s) == (0, 0) and s.faults("c").cow == 2
    s.exit("c")
    assert pool(s) == (2, 0)
    s.check_invariants()
    s.fork("p", "d")
    s.fork("p", "e")
    s.mmap("p", "x", 2 * H2, hugetlb=H2)  # reserves the 2 free pages
    with pytest.raises(SIGBUS):  # a child's copy finds no unreserved page
        s.access("d", "a", 0, 1, write=True)
    s.check_invariants()
    with pytest.raises(Unsupported, match="unmap_ref_private"):  # the owner's, with e sharing
        s.access("p", "a", 0, 1, write=True)


def test_fork_of_a_shared_mapping_shares_the_pages():
    """A shared hugetlb VMA has no anon_vma: fork copies no table; the child's first touch is a
    minor fault that maps the object's page. The pages stay until the last mapping goes."""
    s = machine()
    s.mmap("p", "a", 2 * H2, hugetlb=H2, shared=True)
    s.access("p", "a", 0, 2 * H2, write=True)
    s.fork("p", "c")
    assert s.pagetables("c") == 0 and s.huge("c", "a") == 0
    s.access("c", "a", 0, 2 * H2, write=False)
    assert s.faults("c").minor == 2 and s.shared_regions("p", "a", "c", "a") == 4 * MiB
    assert pool(s) == (2, 0)
    s.munmap("p", "a")
    assert pool(s) == (2, 0)  # c still maps the object
    s.exit("c")
    assert pool(s) == (4, 0)
    s.check_invariants()


def test_shared_partial_munmap_keeps_the_pages_in_the_object():
    s = machine()
    s.mmap("p", "a", 2 * H2, hugetlb=H2, shared=True)
    s.access("p", "a", 0, H2, write=True)
    s.munmap("p", "a", 0, H2)  # the file stays open: the page and the other reservation stay
    assert pool(s) == (3, 1)
    s.access("p", "a", H2, 2 * H2, write=True)
    assert pool(s) == (2, 0)
    s.munmap("p", "a", H2, 2 * H2)
    assert pool(s) == (4, 0)
    s.check_invariants()


def test_unsupported_operations_on_hugetlb():
    s = machine(ram=4 * GiB, pools=((H2, 1024),))
    s.mmap("p", "a", H2, hugetlb=H2)
    for call in (lambda: s.mprotect("p", "a", 0, H2, "r"),
                 lambda: s.madvise("p", "a", 0, H2, "dontneed"),
                 lambda: s.mlock("p", "a")):
        with pytest.raises(Unsupported, match="hugetlb"):
            call()
    s.mmap("p", "big", 2 * GiB, hugetlb=H2, shared=True, noreserve=True)
    with pytest.raises(Unsupported, match="huge_pmd_share"):
        s.fork("p", "c")


def test_oom_kill_gives_huge_pages_back():
    """Killing a process (here the OOM killer's choice, by oom_score_adj) returns its huge pages
    and its unconsumed reservations to the pool; the pool never feeds MemFree."""
    s = machine(ram=64 * MiB, pools=((H2, 4),))
    s.mmap("p", "h", 3 * H2, hugetlb=H2)
    s.access("p", "h", 0, 2 * H2, write=True)
    s.set_oom_score_adj("p", 1000)
    s.spawn("q")
    s.mmap("q", "c", 60 * MiB, noreserve=True)
    assert pool(s) == (2, 1)
    with pytest.raises(OOMKilled):  # MemFree is 56 MiB: the pool is not given back to RAM
        s.access("q", "c", 0, 56 * MiB, write=True)
    assert s.killed == ("p", "q") and pool(s) == (4, 0) and s.free == 56 * MiB
    s.check_invariants()


def test_five_level_paging_walks_one_level_more():
    s = machine(paging_levels=5)
    s.mmap("p", "a", H2, hugetlb=H2)
    s.access("p", "a", 0, 4096, write=True)
    assert s.process_time("p") == 80 + 4 * 20 + 1000 and s.pagetables("p") == 8 * KiB
    assert s.used == 8 * MiB + 12 * KiB  # pool + P4D, PUD, PMD tables


@pytest.mark.parametrize("seed", range(12))
def test_sweep_equals_one_access_at_a_time(seed):
    """The bulk sweep over huge pages (one lookup per huge page, the rest counted) leaves the
    same counters, time and TLB (checked against the reference TLB) as one access per page."""
    import random
    rnd = random.Random(seed)
    tlb = rnd.choice([None, (TLBLevel("l1", 64, 4),), (TLBLevel("l2", 8, 8),),
                      (TLBLevel("l1_2m", 4, 2), TLBLevel("l2", 16, 4))])
    kw = {} if tlb is None else {"tlb": tlb}
    shared = rnd.random() < 0.3
    a, b = (machine(pools=((H2, 8),), **kw) for _ in range(2))
    for s in (a, b):
        s.mmap("p", "h", 8 * MiB, hugetlb=H2, shared=shared)
        s.mmap("p", "n", 4 * MiB)
    for _ in range(6):
        reg = rnd.choice(["h", "n"])
        top = 8 * MiB if reg == "h" else 4 * MiB
        lo = rnd.randrange(0, top, 4096)
        hi = min(lo + rnd.randrange(1, 3 * MiB), top)
        write = rnd.random() < 0.5
        a.access("p", reg, lo, hi, write=write)
        base = b.procs["p"].regions[reg].start
        for va in range(base + lo, base + hi, 4096):
            b._access_one("p", va, write)
        a.check_invariants()
        b.check_invariants()
        assert (a.tlb("p").hits, a.tlb("p").misses, a.faults("p"), a.process_time("p")) == \
            (b.tlb("p").hits, b.tlb("p").misses, b.faults("p"), b.process_time("p"))
