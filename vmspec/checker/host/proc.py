"""One simulated process on the host: its agent, its regions (name -> real address range), the
agent's own mappings (never counted), its fault counters and what it last read of itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from vmspec.checker.host.agent import Agent


@dataclass(slots=True)
class Region:
    start: int
    length: int
    via: str | None = None

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class Proc:
    """One simulated process and its agent."""

    name: str
    agent: Agent
    own: frozenset[tuple[int, int]]  # the agent's own mappings (start, end)
    pt_base: int  # VmPTE of the agent's own mappings
    start_brk: int
    fence: int = 0  # the reference mmap_base, moved down by DELTA: the fence starts here
    lift: str = ""  # " LO HI": the fence piece an unmapping command takes away for its duration
    regions: dict[str, Region] = field(default_factory=dict)
    status: str = "running"
    minor: int = 0
    major: int = 0
    oom_score_adj: int = 0
    oom_adj_read: int = 0
    group: object = None

    @property
    def alive(self) -> bool:
        return self.status == "running"
