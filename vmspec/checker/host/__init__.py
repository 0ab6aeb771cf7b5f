"""The host backend: a scenario's processes run as real processes on the running kernel.

Each simulated process is one small native agent (``agent.c``, built on first use by ``build``)
commanded over a socket by :class:`~vmspec.checker.host.system.HostSystem`, which offers the
engine facade's API, so the checker's step and observable tables drive it unchanged. ``kernel``
reads the running kernel's settings, ``plan`` decides whether a scenario can run here (its machine
must match the kernel; what the engine's run of it does must be safe to do for real), ``procfs``
reads /proc, ``agent`` and ``janitor`` manage the processes, and ``explain`` holds the documented
differences between the engine and this kernel. Nothing here prints; the engine never imports it.
"""
