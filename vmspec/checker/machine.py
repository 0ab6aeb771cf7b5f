"""Bind a resolved ``machine { ... }`` block of the language to the engine's MachineConfig.

One of the two places (with ``observables`` and ``steps``) that knows both the language's words
and the engine's API. Defaults come from MachineConfig (docs/language.md, Machine settings); the
language has already validated ranges, so this is a straight translation.
"""

from __future__ import annotations

from vmspec.engine.config import Image as EngineImage
from vmspec.engine.config import Latency, MachineConfig, TLBLevel
from vmspec.engine.config import Segment as EngineSegment
from vmspec.language import ast
from vmspec.units import duration_ns, size_bytes

DEFAULT_PAGE_SIZE = 4096


def page_size_of(machine: ast.Machine) -> int:
    """Return the machine's base page size in bytes (needed to resolve ``N pages``)."""
    for setting in machine.settings:
        if setting.name == "page_size" and setting.size is not None:
            return size_bytes(setting.size.amount, setting.size.unit, DEFAULT_PAGE_SIZE)
    return DEFAULT_PAGE_SIZE


def machine_config(machine: ast.Machine) -> MachineConfig:
    """Translate a resolved (flattened) machine block into the engine's configuration; a machine
    ``from host`` starts from the running kernel's settings (``vmspec.checker.host.kernel``)."""
    page = page_size_of(machine)
    kw: dict = {"page_size": page}
    hugepages: dict[int, int] = {}
    if machine.from_host:
        kw.update(_host_settings(machine))
        hugepages.update(kw.pop("hugepages"))

    def nbytes(lit: ast.SizeLit) -> int:
        return size_bytes(lit.amount, lit.unit, page)

    for s in machine.settings:
        name = s.name
        if name in ("ram", "swap", "mmap_threshold", "kernel", "readahead"):
            kw[name] = nbytes(s.size)
        elif name == "paging":
            kw["paging_levels"] = s.number
        elif name == "hugepages":
            hugepages[nbytes(s.size)] = s.number
        elif name in ("thp", "replacement"):
            kw[name] = s.word
        elif name == "overcommit":
            kw["overcommit"] = s.word
            if s.number is not None:
                kw["overcommit_ratio"] = s.number
        elif name == "watermarks":
            kw["watermarks"] = tuple(nbytes(x) for x in s.sizes)
        elif name in ("swappiness", "page_cluster"):
            kw[name] = s.number
        elif name == "tlb":
            kw["tlb"] = tuple(
                TLBLevel(lv.name, lv.entries, lv.ways if lv.ways is not None else lv.entries)
                for lv in s.tlb_levels
            )
        elif name == "latency":
            kw["latency"] = Latency(
                **{item.name: duration_ns(item.value.amount, item.value.unit) for item in s.latency}
            )
    kw["hugepages"] = tuple(sorted(hugepages.items()))
    return MachineConfig(**kw)


def _host_settings(machine: ast.Machine) -> dict:
    from vmspec.checker.backend import HostCannot
    from vmspec.checker.host.kernel import cached_kernel, machine_settings, on_linux

    if not on_linux():
        raise HostCannot(f"machine {machine.name} reads the running kernel's settings (from host), "
                         "which needs Linux on x86-64")
    return machine_settings(cached_kernel())


def engine_image(image: ast.Image, page_size: int) -> EngineImage:
    """Translate an ``image`` block into the engine's Image."""
    return EngineImage(
        name=image.name,
        segments=tuple(
            EngineSegment(seg.kind, size_bytes(seg.size.amount, seg.size.unit, page_size), seg.lib)
            for seg in image.segments
        ),
    )
