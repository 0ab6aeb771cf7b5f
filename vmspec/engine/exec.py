"""Starting a program: the address space a new process gets from its image.

Linux: ``fs/binfmt_elf.c`` ``load_elf_binary`` with address-space randomisation off (the layout
of ``vmspec.engine.layout``); segments are file mappings of the image, bss and the stack
anonymous; writable private segments are charged to Committed_AS. Nothing is resident until a
fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmspec.engine.errors import EINVAL, ENOMEM
from vmspec.engine.filemap import new_ra
from vmspec.engine.layout import DEFAULT_STACK, image_layout, page_align
from vmspec.engine.malloc import Arena
from vmspec.engine.mmap import charge_vma
from vmspec.engine.pagetable import PageTable
from vmspec.engine.process import Process, Region
from vmspec.engine.rmap import Family
from vmspec.engine.vma import R, VMA, VMAList, W, X

if TYPE_CHECKING:
    from vmspec.engine.system import System


def spawn(sysm: System, name: str, pid: int, image) -> Process:
    """Build a process from an image with randomisation off; nothing is resident yet."""
    ps = sysm.page_size
    sizes = {"text": 0, "data": 0, "bss": 0, "stack": DEFAULT_STACK}
    libs: list[tuple[str, int]] = []
    img_name = image.name if image is not None else None
    for seg in (image.segments if image is not None else ()):
        if seg.kind == "lib":
            libs.append((seg.lib or "lib", seg.size))
        elif seg.kind in sizes:
            sizes[seg.kind] = seg.size
        else:
            raise EINVAL(f"unknown image segment kind {seg.kind!r}")
    lay = image_layout(sizes["text"], sizes["data"], sizes["bss"], sizes["stack"], ps)
    p = Process(name, pid, VMAList(), PageTable(sysm.levels),
                Arena(ps, sysm.machine.mmap_threshold), Family(), mmap_base=lay.mmap_base,
                start_brk=lay.start_brk, brk=lay.start_brk)
    p.family.members[pid] = p
    p.vmas.attach(sysm.vma_observer(p))
    p.thp_capable = sysm.machine.thp == "always"  # bss, heap and stack may hold huge pages
    mode = sysm.machine.overcommit
    try:
        for kind, (start, length) in (("text", lay.text), ("data", lay.data), ("bss", lay.bss)):
            p.regions[kind] = Region(start, sizes[kind])
            if not length:
                continue
            if kind == "bss":
                v = VMA(start, start + length, R | W, name=kind)
            else:
                cf = sysm.cache.create((kind, img_name), length // ps)
                v = VMA(start, start + length, R | X if kind == "text" else R | W,
                        file=cf.fid, name=kind, ra=new_ra(sysm.handler.ra_pages))
            if v.writable and not charge_vma(sysm, p, v, mode):
                raise ENOMEM(f"overcommit refuses the {kind} segment of image {img_name}")
            p.vmas.insert(v)
        p.regions["heap"] = Region(lay.start_brk, 0, via="brk")
        s0, slen = lay.stack
        p.vmas.insert(VMA(s0, s0 + slen, R | W, growsdown=True, name="stack"))
        p.regions["stack"] = Region(s0, sizes["stack"])
        for lib, size in libs:
            length = page_align(size, ps)
            cf = sysm.cache.create(("lib", lib), length // ps)
            addr = p.vmas.get_unmapped_area(length, p.mmap_base, ps, False) if length else None
            if addr is None:
                p.regions[lib] = Region(p.mmap_base, 0, via="mmap")
                continue
            p.vmas.insert(VMA(addr, addr + length, R | X, file=cf.fid, name=lib,
                              ra=new_ra(sysm.handler.ra_pages)))
            p.regions[lib] = Region(addr, size, via="mmap")
    except ENOMEM:
        sysm.committed_pages -= p.committed
        p.vmas.detach()
        raise
    return p
