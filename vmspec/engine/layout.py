"""The x86-64 user address-space layout with address randomisation off.

Where Linux puts things in a new process: the task size, ``mmap_base()`` without a random offset
(``arch/x86/mm/mmap.c``), ``STACK_TOP``, a PIE executable at ``ELF_ET_DYN_BASE`` and the brk start
after bss (``load_elf_binary()`` in ``fs/binfmt_elf.c``, without ``arch_randomize_brk``). Values:
docs/engine.md, "Layout".

Not modelled: randomisation, the legacy bottom-up layout, ``vm.mmap_min_addr`` other than 4 KiB,
address hints and MAP_FIXED.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SHIFT = 12
PMD_SIZE = 1 << 21
DEFAULT_MAP_WINDOW = (1 << 47) - (1 << PAGE_SHIFT)  # TASK_SIZE_LOW, STACK_TOP
STACK_GUARD_GAP = 1 << 20  # 256 pages (stack_guard_gap)
MIN_GAP = 128 << 20
MMAP_MIN_ADDR = 4096  # vm.mmap_min_addr (measured: 0x1000 succeeds, 0 is refused)
DEFAULT_STACK = 8 << 20


def task_size(paging_levels: int) -> int:
    """Return TASK_SIZE_MAX for 4- or 5-level paging."""
    return (1 << 56) - 4096 if paging_levels == 5 else DEFAULT_MAP_WINDOW


def page_align(value: int, page: int = 4096) -> int:
    """Round ``value`` up to a page boundary."""
    return (value + page - 1) & ~(page - 1)


def elf_et_dyn_base(page: int = 4096) -> int:
    """Return ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW/3*2, page-aligned down (0x555555554000)."""
    return (DEFAULT_MAP_WINDOW // 3 * 2) & ~(page - 1)


def mmap_base(stack_limit: int, page: int = 4096) -> int:
    """Return the top of the mmap area (``mmap_base``): PAGE_ALIGN(task_size - gap), no random
    offset."""
    gap = stack_limit + STACK_GUARD_GAP
    gap = max(MIN_GAP, min(gap, DEFAULT_MAP_WINDOW // 6 * 5))
    return page_align(DEFAULT_MAP_WINDOW - gap, page)


@dataclass(frozen=True, slots=True)
class ImageLayout:
    """Where the segments of an image go: ``(start, length)`` pairs and the brk start."""

    text: tuple[int, int]
    data: tuple[int, int]
    bss: tuple[int, int]
    start_brk: int
    stack: tuple[int, int]
    mmap_base: int


def image_layout(text: int, data: int, bss: int, stack_limit: int, page: int = 4096) -> ImageLayout:
    """Place text, data and bss from ELF_ET_DYN_BASE on, the stack below STACK_TOP
    (``load_elf_binary``)."""
    base = elf_et_dyn_base(page)
    t = (base, page_align(text, page))
    d = (t[0] + t[1], page_align(data, page))
    b = (d[0] + d[1], page_align(bss, page))
    start_brk = b[0] + b[1]
    stack_len = page_align(stack_limit, page)
    return ImageLayout(t, d, b, start_brk, (DEFAULT_MAP_WINDOW - stack_len, stack_len),
                       mmap_base(stack_limit, page))
