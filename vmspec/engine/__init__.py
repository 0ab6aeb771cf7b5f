"""vmspec's reference memory-management engine: ``System(MachineConfig(...))`` (docs/engine-api.md)."""

from vmspec.engine.config import Image, Latency, MachineConfig, Segment, TLBLevel
from vmspec.engine.system import Faults, Mapping, System, TLBStats

__all__ = ["System", "MachineConfig", "Image", "Segment", "TLBLevel", "Latency", "Faults", "TLBStats",
           "Mapping"]
