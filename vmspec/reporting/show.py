"""``vmspec show FILE::TITLE [--step N]``: a scenario's state after every step (or one), in the
terminal, as rich tables: the step and what it changed, the machine's counters, one row per
process (sizes, faults, TLB) and each running process's regions in address order. The states come
from ``vmspec.checker.record.StepStates``. Colour follows the same rules as the text report
(``vmspec.reporting.console``): only on a terminal or with FORCE_COLOR, never with NO_COLOR.
"""

from __future__ import annotations

import os
from typing import IO

from vmspec.reporting.text import printable
from vmspec.units import format_count, format_size

_SYSTEM = ("ram", "free", "cached", "swap_used", "committed")


def _size(value: int) -> str:
    return format_size(value) if value else "0"


def state_renderables(state: dict) -> list:
    """Return the rich renderables (a heading and tables) of one recorded state."""
    from rich.table import Table
    from rich.text import Text

    out: list = []
    iteration = f"  (repeat {state['iteration']})" if state["iteration"] else ""
    out.append(Text(printable(f"step {state['step']:,}  {state['file']}:{state['line']}  "
                              f"{state['text']}{iteration}"), style="bold"))
    if state["changes"]:
        out.append(Text(printable("  " + state["changes"]), style="dim"))
    for v in state["violations"]:
        out.append(Text(printable("  " + v), style="bold red"))
    sys = state["system"]
    machine = Table(title="machine", title_justify="left", show_edge=False)
    for key in _SYSTEM:
        machine.add_column(key, justify="right")
    machine.add_column("oom_kills", justify="right")
    machine.add_column("time", justify="right")
    machine.add_row(*(_size(sys[k]) for k in _SYSTEM), format_count(sys["oom_kills"]), f"{sys['time']:,}ns")
    out.append(machine)
    if state["procs"]:
        procs = Table(title="processes", title_justify="left", show_edge=False)
        for col in ("process", "status", "rss", "anon", "file", "shmem", "swap", "pagetables", "minor", "major",
                    "cow", "tlb hits", "tlb misses"):
            procs.add_column(col, justify="left" if col in ("process", "status") else "right")
        for name, p in state["procs"].items():
            procs.add_row(printable(name), p["status"], *(_size(p[k]) for k in ("rss", "rss_anon", "rss_file",
                          "rss_shmem", "swap", "pagetables")),
                          *(format_count(p[k]) for k in ("minor", "major", "cow", "tlb_hits", "tlb_misses")))
        out.append(procs)
    for name, p in state["procs"].items():
        if not p["mappings"]:
            continue
        regions = Table(title=f"regions of {printable(name)}", title_justify="left", show_edge=False)
        for col in ("start", "end", "size", "prot", "backing", "region", "resident", "swapped", "huge"):
            regions.add_column(col, justify="right" if col in ("size", "resident", "swapped", "huge") else "left")
        for start, end, prot, backing, region, resident, swapped, huge in p["mappings"]:
            regions.add_row(f"{start:#014x}", f"{end:#014x}", _size(end - start), prot, backing,
                            printable(region), _size(resident), _size(swapped), _size(huge))
        out.append(regions)
    return out


def write_states(title: str, recording: dict, stream: IO[str], width: int | None = None) -> None:
    """Print every recorded state of one scenario to ``stream``."""
    from rich.console import Console
    from rich.text import Text

    plain = bool(os.environ.get("NO_COLOR"))
    console = Console(file=stream, highlight=False, emoji=False, markup=False, width=width or 140,
                      no_color=plain, color_system=None if plain else "auto")
    console.print(Text(printable(title), style="bold"))
    for state in recording["states"]:
        console.print()
        for item in state_renderables(state):
            console.print(item)
