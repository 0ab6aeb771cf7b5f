"""What the checker's tables may meet besides the engine: the two outcomes a second backend adds.

A backend is an object with the engine facade's API (docs/engine-api.md), so the step table
(``steps.py``) and the observable table (``observables.py``) drive either one. The host backend
(``vmspec.checker.host``) adds two outcomes the engine never has: an observable it cannot read
(:class:`NotObservable`, reported at the expectation, which then neither passes nor fails) and a
scenario it cannot run (:class:`HostCannot`, reported as a skipped scenario with the reason).
"""

from __future__ import annotations

BACKENDS = ("engine", "host")


class NotObservable(Exception):
    """This backend cannot read the observable; the message says why."""


class HostCannot(Exception):
    """This backend cannot run the scenario (or its next step); the message says why."""
