"""Flatten ``machine`` blocks through ``extends`` and check that their settings make sense.

``extends`` copies the parent's settings and the child's lines override them (docs/language.md,
Machine settings); ``hugepages`` lines are keyed by page size, so a child's ``hugepages 1GiB x 2``
adds to a parent's ``hugepages 2MiB x 16``. Validation follows Linux on x86-64: ``ram`` is
required and page aligned, at most 64TiB with 4-level paging (48-bit VA) and 4PiB with 5-level
(57-bit), ``swappiness`` 0..200 (vm.swappiness), ``page_cluster`` 0..31, TLB ways divide entries,
huge pages are 2MiB or 1GiB, ``readahead`` is whole pages (read_ahead_kb is kept in pages). Only
4KiB base pages are modelled for now. A machine ``from host`` (or one that extends it) needs no
``ram``: the checker fills in the running kernel's settings for every line it does not write.
"""

from __future__ import annotations

from vmspec.errors import SpecError
from vmspec.language import ast
from vmspec.language.words import suggest
from vmspec.units import U64_MAX, size_bytes

PAGE = 4096
KiB, MiB, GiB, TiB, PiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40, 1 << 50
MAX_RAM = {4: 64 * TiB, 5: 4 * PiB}
TLB_LEVELS = ("l1", "l1_2m", "l1_1g", "l2")
LATENCY_ITEMS = ("tlb_hit", "walk_step", "minor_fault", "major_fault", "memory")
MMAP_THRESHOLD_MAX = 32 * MiB  # glibc DEFAULT_MMAP_THRESHOLD_MAX on 64-bit


def nbytes(lit: ast.SizeLit) -> int:
    """Return a size literal's value in bytes (pages are 4KiB, the only page size supported)."""
    return size_bytes(lit.amount, lit.unit, PAGE)


def setting_key(setting: ast.Setting) -> tuple:
    """Return what a setting line overrides: its name, and for ``hugepages`` its page size."""
    if setting.name == "hugepages" and setting.size is not None:
        return ("hugepages", nbytes(setting.size))
    return (setting.name,)


def own_settings(machine: ast.Machine, errors: list[SpecError]) -> dict[tuple, ast.Setting]:
    """Return a machine block's own settings by key, reporting a setting given twice."""
    found: dict[tuple, ast.Setting] = {}
    for setting in machine.settings:
        key = setting_key(setting)
        if key in found:
            errors.append(SpecError(
                f"`{setting.name}` is set twice in this machine (first at line {found[key].span.line})",
                setting.span, "keep one line per setting"))
        found[key] = setting
    return found


def flatten_all(named: dict[str, ast.Machine], errors: list[SpecError]) -> dict[str, ast.Machine]:
    """Return every named machine with its settings merged through its ``extends`` chain.

    Linear in the number of machines however long the chains are: each machine is merged once,
    onto its parent's merged settings (10,000 chained machines took 67 s when each walked its
    whole chain). A machine whose chain reaches an undefined machine or a cycle gets what could
    be merged, and the problem is reported once, where it is."""
    merged: dict[str, dict[tuple, ast.Setting]] = {}
    host: dict[str, bool] = {}  # a machine that extends one `from host` reads the running kernel too
    state: dict[str, str] = {}  # name -> "good" or "bad" once merged, "walking" on the current path
    for name in named:
        path: list[ast.Machine] = []  # from this machine up to the first one merged or missing
        current: ast.Machine | None = named[name]
        broken = False
        while current is not None and current.name not in state:
            state[current.name] = "walking"
            path.append(current)
            parent_name = current.extends
            if parent_name is not None and parent_name not in named:
                errors.append(SpecError(
                    f"machine `{parent_name}` is not defined{suggest(parent_name, named)}",
                    current.extends_span or current.span, "define it, or include the file that does"))
                broken = True
            current = named.get(parent_name) if parent_name is not None else None
        if current is not None and state[current.name] == "walking":  # a cycle in this path
            broken = True
            cycle = path[path.index(current):]
            for i, machine in enumerate(cycle):
                around = [m.name for m in cycle[i:] + cycle[:i]]
                shown = around if len(around) <= 10 else around[:5] + ["..."] + around[-4:]
                text = " extends ".join(n if n == "..." else f"`{n}`" for n in shown)
                errors.append(SpecError(f"machine `{machine.name}` extends itself: {text} extends `{machine.name}`",
                                        machine.extends_span or machine.span,
                                        "remove one `extends` of the cycle"))
        elif current is not None:
            broken = state[current.name] == "bad"
        base = merged.get(current.name, {}) if current is not None else {}
        from_host = host.get(current.name, False) if current is not None else False
        for machine in reversed(path):
            base = {**base, **own_settings(machine, [])}
            from_host = from_host or machine.from_host
            merged[machine.name] = base
            host[machine.name] = from_host
            state[machine.name] = "bad" if broken else "good"
    return {name: machine.model_copy(update={"settings": tuple(merged[name].values()),
                                             "from_host": host[name]})
            for name, machine in named.items()}


def flatten(machine: ast.Machine, named: dict[str, ast.Machine], errors: list[SpecError],
            flat: dict[str, ast.Machine] | None = None) -> ast.Machine:
    """Return ``machine`` with its settings merged through its ``extends`` chain; ``flat`` holds
    the named machines already flattened by :func:`flatten_all` (an inline machine's parent)."""
    if machine.extends is None:
        return machine.model_copy(update={"settings": tuple(own_settings(machine, []).values())})
    if flat is None or machine.name is not None:
        everything = {**named, **({machine.name: machine} if machine.name else {})}
        flat = flatten_all(everything, errors)
        if machine.name is not None:
            return flat[machine.name]
    parent = flat.get(machine.extends)
    if parent is None:
        errors.append(SpecError(
            f"machine `{machine.extends}` is not defined{suggest(machine.extends, named)}",
            machine.extends_span or machine.span, "define it, or include the file that does"))
        return machine.model_copy(update={"settings": tuple(own_settings(machine, []).values())})
    settings = {**{setting_key(s): s for s in parent.settings}, **own_settings(machine, [])}
    return machine.model_copy(update={"settings": tuple(settings.values()),
                                      "from_host": machine.from_host or parent.from_host})


def require_ram(machine: ast.Machine, errors: list[SpecError]) -> None:
    """Report a machine a scenario runs on that has no ``ram`` (a base machine may lack it; a
    machine ``from host`` takes the running kernel's MemTotal)."""
    if not machine.from_host and not any(s.name == "ram" for s in machine.settings):
        label = f"machine `{machine.name}`" if machine.name else "this machine"
        errors.append(SpecError(f"{label} has no `ram` setting", machine.span,
                                "add a line such as `ram 1GiB`"))


def validate(machine: ast.Machine, errors: list[SpecError]) -> None:
    """Check a flattened machine's settings, appending one error per problem (a missing ``ram``
    is :func:`require_ram`'s business: a machine that is only extended need not have one)."""
    by_name = {s.name: s for s in machine.settings}
    add = errors.append
    paging = by_name["paging"].number if "paging" in by_name else 4
    ram_setting = by_name.get("ram")
    ram = 0
    if ram_setting is not None:
        lit = ram_setting.size
        ram = nbytes(lit)
        shown = _size_text(lit) if ram > MAX_RAM[4] or ram % PAGE else ""
        if ram > MAX_RAM[5]:
            add(SpecError(f"number too large: ram {shown} is above 4PiB, the most 5-level paging can address",
                          lit.span, "use at most 4PiB of RAM"))
        elif ram > MAX_RAM.get(paging, MAX_RAM[4]):
            add(SpecError(f"ram {shown} is above 64TiB, the most 4-level paging can address",
                          lit.span, "add `paging 5-level` or use at most 64TiB"))
        elif ram == 0:
            add(SpecError("ram must be more than 0", lit.span, "write a size such as `ram 1GiB`"))
        elif ram % PAGE:
            add(SpecError(f"ram {shown} is not a whole number of 4KiB pages", lit.span,
                          "round it to a multiple of 4KiB"))
    page = by_name.get("page_size")
    if page is not None and nbytes(page.size) != PAGE:
        add(SpecError(
            f"page_size {_size_text(page.size)} is not supported yet: only 4KiB base pages are modelled",
            page.span, "remove the page_size line (4KiB is the default); use hugepages or thp for large pages"))
    for setting in machine.settings:
        _check_setting(setting, ram, add)


def _check_setting(s: ast.Setting, ram: int, add) -> None:
    name = s.name
    if name == "readahead" and s.size is not None:
        if nbytes(s.size) % PAGE:
            add(SpecError(f"readahead {s.size.amount}{s.size.unit} is not a whole number of 4KiB pages",
                          s.size.span, "the kernel keeps read_ahead_kb in pages: use a multiple of 4KiB "
                          "(0 turns readahead off)"))
    elif name in ("swap", "kernel", "mmap_threshold") and s.size is not None:
        value = nbytes(s.size)
        if name == "swap" and value % PAGE:
            add(SpecError("swap must be a whole number of 4KiB pages", s.size.span))
        if name == "kernel" and ram and value >= ram:
            add(SpecError("kernel must be less than ram", s.size.span,
                          "the kernel's share leaves the rest of RAM to processes"))
        if name == "mmap_threshold" and value > MMAP_THRESHOLD_MAX:
            add(SpecError("mmap_threshold is above 32MiB, glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX)",
                          s.size.span, "use at most 32MiB"))
    elif name == "hugepages":
        size = nbytes(s.size)
        if size not in (2 * MiB, GiB):
            add(SpecError(f"hugepages of {s.size.amount}{s.size.unit} do not exist on x86-64",
                          s.size.span, "write hugepages 2MiB x N or hugepages 1GiB x N"))
        elif ram and size * (s.number or 0) > ram:
            add(SpecError(f"hugepages {s.size.amount}{s.size.unit} x {s.number} reserve more than ram",
                          s.span, "reserve fewer huge pages or add RAM"))
    elif name == "swappiness" and not 0 <= (s.number or 0) <= 200:
        add(SpecError(f"swappiness {s.number} is out of range 0..200", s.span))
    elif name == "page_cluster" and not 0 <= (s.number or 0) <= 31:
        add(SpecError(f"page_cluster {s.number} is out of range 0..31", s.span))
    elif name == "overcommit" and s.number is not None and s.number > U64_MAX // 100:
        add(SpecError("overcommit ratio too large", s.span))
    elif name == "watermarks":
        low_to_high = [nbytes(x) for x in s.sizes]
        if not low_to_high[0] <= low_to_high[1] <= low_to_high[2]:
            add(SpecError("watermarks must satisfy min <= low <= high", s.span))
        elif ram and low_to_high[2] >= ram:
            add(SpecError("the high watermark must be below ram", s.span))
    elif name == "tlb":
        seen: set[str] = set()
        for level in s.tlb_levels:
            if level.name not in TLB_LEVELS:
                add(SpecError(f"unknown TLB level `{level.name}`{suggest(level.name, TLB_LEVELS)}",
                              level.name_span or level.span, "levels are l1, l1_2m, l1_1g and l2"))
            elif level.name in seen:
                add(SpecError(f"TLB level `{level.name}` is listed twice", level.name_span or level.span))
            seen.add(level.name)
            if level.entries <= 0:
                add(SpecError("a TLB level needs at least one entry", level.span))
            elif level.ways is not None and (level.ways <= 0 or level.entries % level.ways):
                add(SpecError(f"{level.ways}-way does not divide {level.entries} entries",
                              level.ways_span or level.span,
                              "the number of sets is entries / ways; pick ways that divide entries"))
    elif name == "latency":
        seen = set()
        for item in s.latency:
            if item.name not in LATENCY_ITEMS:
                add(SpecError(f"unknown latency `{item.name}`{suggest(item.name, LATENCY_ITEMS)}",
                              item.name_span or item.span, "latencies are " + ", ".join(LATENCY_ITEMS)))
            elif item.name in seen:
                add(SpecError(f"latency `{item.name}` is listed twice", item.name_span or item.span))
            seen.add(item.name)


def _size_text(lit) -> str:
    """A size as written, for a message (the printer loads only when one is needed)."""
    from vmspec.language.printer import size_text

    return size_text(lit)
