"""Run one scenario for ``vmspec show``, keeping the full state after every step (or one).

Finds ``PATH::TITLE`` (an instance of a parametrised scenario by its full title), runs it with a
:class:`~vmspec.checker.record.StepStates` recorder and returns the result with the states in
``result.recording``. Spec errors are raised as SpecErrors, a bad target or step as UsageError.
There is no Linux counterpart. Nothing here prints.
"""

from __future__ import annotations

import os

from vmspec.checker.options import CheckOptions
from vmspec.checker.record import StepStates
from vmspec.checker.results import ScenarioResult
from vmspec.checker.runner import ScenarioRun
from vmspec.checker.select import split_target
from vmspec.errors import UsageError


def show_scenario(target: str, step: int | None = None, root: str | None = None,
                  seed: int | None = None) -> ScenarioResult:
    """Run the scenario ``target`` (``PATH::TITLE``) keeping every step's state (or step ``step``'s)."""
    from vmspec.language import load

    path, title = split_target(target)
    if title is None:
        raise UsageError("show needs one scenario: FILE::TITLE")
    if step is not None and step < 1:
        raise UsageError("--step counts from 1")
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file")
    program = load(path, root)
    matches = [r for r in program.scenarios if r.scenario.title == title]
    if not matches:
        instances = [r.scenario.title for r in program.scenarios if r.template == title]
        if instances:
            raise UsageError(f"{title!r} is parametrised; show one instance, e.g. {path}::{instances[0]}")
        raise UsageError(f"{path}: no scenario titled {title!r}")
    run = ScenarioRun(program, matches[0], CheckOptions(seed=seed, root=root), display_path=path)
    run.recorder = StepStates(only=step)
    result = run.run()
    if step is not None and not result.recording["states"]:
        raise UsageError(f"the scenario has {result.recording['steps']:,} steps; --step {step} is past its end")
    return result
