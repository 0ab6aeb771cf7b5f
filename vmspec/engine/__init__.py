"""vmspec's reference memory-management engine: ``System(MachineConfig(...))`` (docs/engine-api.md)."""

from vmspec.engine.config import Image, Latency, MachineConfig, Segment, TLBLevel
from vmspec.engine.procfs import Faults, Mapping, TLBStats
from vmspec.engine.system import System

__all__ = ["System", "MachineConfig", "Image", "Segment", "TLBLevel", "Latency", "Faults", "TLBStats",
           "Mapping"]
