"""The running kernel's memory-management settings, read from /proc and /sys.

What ``machine NAME from host`` copies, and what a scenario's machine must match to run on the
host backend: page size, paging levels (5 only with the CPU's ``la57`` and no ``no5lvl``), THP
mode (``/sys/kernel/mm/transparent_hugepage/enabled``), overcommit mode and ratio
(``vm.overcommit_memory``, ``vm.overcommit_ratio``; ``vm.overcommit_kbytes`` must be 0), swap
(SwapTotal), the hugetlb pools (``nr_hugepages`` per size), the readahead window of the disk that
holds the host backend's files (``read_ahead_kb``), MemTotal, and two capabilities.
"""

from __future__ import annotations

import os
import platform
import re
import tempfile
from dataclasses import dataclass, field

KiB = 1024
TMPFS_TYPES = ("tmpfs", "ramfs", "devtmpfs")


@dataclass(frozen=True)
class HostKernel:
    """One reading of the host's settings (sizes in bytes)."""

    release: str
    page_size: int
    paging_levels: int
    thp: str
    overcommit: str
    overcommit_ratio: int
    overcommit_kbytes: int
    swap_total: int
    hugepages: dict[int, int] = field(default_factory=dict)  # page size -> nr_hugepages
    readahead: int = 128 * KiB  # read_ahead_kb of the files' disk, in bytes
    readahead_path: str | None = None  # the sysfs file it was read from
    files_dir: str = ""  # where the host backend makes its files
    files_fs: str = ""  # that directory's filesystem type
    mem_total: int = 0
    mem_available: int = 0
    cap_sys_resource: bool = False
    cap_sys_admin: bool = False

    @property
    def version(self) -> tuple[int, int]:
        """Return (major, minor) of the kernel release."""
        m = re.match(r"(\d+)\.(\d+)", self.release)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def read_text(path: str, default: str = "") -> str:
    """Return a small /proc or /sys file's text, stripped, or ``default`` if unreadable."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return default


def meminfo() -> dict[str, int]:
    """Return /proc/meminfo in bytes (HugePages_* counts as they are)."""
    out: dict[str, int] = {}
    for line in read_text("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (KiB if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def vmstat() -> dict[str, int]:
    """Return /proc/vmstat's counters."""
    out: dict[str, int] = {}
    for line in read_text("/proc/vmstat").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def bracketed(text: str) -> str:
    """Return the word in brackets of a sysfs choice file (``always [madvise] never``)."""
    m = re.search(r"\[(\w+)\]", text)
    return m.group(1) if m else text.split()[0] if text else ""


def hugepage_pools() -> dict[int, int]:
    """Return nr_hugepages per huge page size."""
    pools = {}
    base = "/sys/kernel/mm/hugepages"
    try:
        names = os.listdir(base)
    except OSError:
        return pools
    for name in names:
        m = re.fullmatch(r"hugepages-(\d+)kB", name)
        if m:
            pools[int(m.group(1)) * KiB] = int(read_text(f"{base}/{name}/nr_hugepages", "0") or 0)
    return pools


def _capabilities() -> int:
    for line in read_text("/proc/self/status").splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def _paging_levels() -> int:
    flags = ""
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("flags"):
            flags = line
            break
    la57 = " la57" in flags + " "
    return 5 if la57 and "no5lvl" not in read_text("/proc/cmdline") else 4


def mount_of(path: str) -> tuple[str, str]:
    """Return (filesystem type, "major:minor") of the mount that holds ``path``."""
    real = os.path.realpath(path)
    best = ("", "", "")
    for line in read_text("/proc/self/mountinfo").splitlines():
        parts = line.split()
        if len(parts) < 10 or "-" not in parts:
            continue
        point = parts[4].replace("\\040", " ")
        sep = parts.index("-")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
            best = (point, parts[sep + 1], parts[2])
    return best[1], best[2]


def readahead_file(devnum: str) -> str | None:
    """Return the sysfs ``read_ahead_kb`` file of a block device (a partition's disk)."""
    if not devnum or devnum.startswith("0:"):
        return None
    base = f"/sys/dev/block/{devnum}"
    for candidate in (f"{base}/queue/read_ahead_kb", f"{base}/../queue/read_ahead_kb"):
        if os.path.exists(candidate):
            return os.path.normpath(os.path.realpath(candidate))
    return None


def files_directory() -> str:
    """Return where the host backend makes its files: ``VMSPEC_HOST_TMPDIR``, else the
    temporary directory (``TMPDIR``)."""
    return os.environ.get("VMSPEC_HOST_TMPDIR") or tempfile.gettempdir()


def read_kernel() -> HostKernel:
    """Read the running kernel's settings."""
    info = meminfo()
    directory = files_directory()
    fstype, devnum = mount_of(directory)
    ra_path = readahead_file(devnum)
    ra_kb = read_text(ra_path, "128") if ra_path else "128"
    caps = _capabilities()
    mode = {"0": "heuristic", "1": "always", "2": "never"}.get(read_text("/proc/sys/vm/overcommit_memory", "0"),
                                                            "heuristic")
    return HostKernel(
        release=platform.release(),
        page_size=os.sysconf("SC_PAGE_SIZE"),
        paging_levels=_paging_levels(),
        thp=bracketed(read_text("/sys/kernel/mm/transparent_hugepage/enabled", "[never]")),
        overcommit=mode,
        overcommit_ratio=int(read_text("/proc/sys/vm/overcommit_ratio", "50") or 50),
        overcommit_kbytes=int(read_text("/proc/sys/vm/overcommit_kbytes", "0") or 0),
        swap_total=info.get("SwapTotal", 0),
        hugepages=hugepage_pools(),
        readahead=int(ra_kb or 128) * KiB,
        readahead_path=ra_path,
        files_dir=directory,
        files_fs=fstype,
        mem_total=info.get("MemTotal", 0),
        mem_available=info.get("MemAvailable", 0),
        cap_sys_resource=bool(caps >> 24 & 1),
        cap_sys_admin=bool(caps >> 21 & 1),
    )


def on_linux() -> bool:
    """Return whether this is Linux on x86-64 (the only host the backend supports)."""
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def machine_settings(kernel: HostKernel) -> dict:
    """Return the MachineConfig settings of ``machine NAME from host`` on this kernel."""
    return {
        "ram": kernel.mem_total,
        "page_size": kernel.page_size,
        "paging_levels": kernel.paging_levels,
        "thp": kernel.thp,
        "overcommit": kernel.overcommit,
        "overcommit_ratio": kernel.overcommit_ratio,
        "swap": kernel.swap_total,
        "hugepages": tuple(sorted((size, n) for size, n in kernel.hugepages.items() if n)),
        "readahead": kernel.readahead,
    }


_CACHED: HostKernel | None = None


def cached_kernel() -> HostKernel:
    """Return one reading of the kernel's settings per process (a machine ``from host`` must
    not change between the scenarios of one run)."""
    global _CACHED
    if _CACHED is None:
        _CACHED = read_kernel()
    return _CACHED
