"""Modelled failures: the ways a simulated operation fails on Linux.

These are outcomes of the simulated machine, not bugs: ``mmap`` refused with ENOMEM or EINVAL, a
SIGSEGV or SIGBUS that kills the process, an OOM kill of the process doing the step. The checker
matches them against ``=> ERR``. ``Unsupported`` says a machine or step uses something the engine
does not model yet; it is not a modelled failure.
"""

from __future__ import annotations


class ModelledFailure(Exception):
    """Base of every failure the simulated kernel reports; ``name`` is the ``=> ERR`` word."""

    name = "FAILURE"


class ENOMEM(ModelledFailure):
    """Out of memory or address space (mmap, brk, malloc, mlock...)."""

    name = "ENOMEM"


class EINVAL(ModelledFailure):
    """An invalid argument (unaligned start, zero length, bad flags, out-of-range value)."""

    name = "EINVAL"


class SIGSEGV(ModelledFailure):
    """An access outside every mapping or without the permission it needs; kills the process."""

    name = "SIGSEGV"


class SIGBUS(ModelledFailure):
    """An access the mapping cannot back (hugetlb page unavailable, beyond a file's end)."""

    name = "SIGBUS"


class OOMKilled(ModelledFailure):
    """The process doing the step was killed by the OOM killer during the step."""

    name = "OOM"


class Unsupported(Exception):
    """The engine does not model this (yet); the message says what and what to do instead."""


class InvariantBroken(AssertionError):
    """``System.check_invariants()`` found engine state that contradicts itself (an engine bug)."""
