"""What a check produces: violations, scenario results, file errors and the whole report.

Pydantic models at the boundary: the reporters turn them into text, JSON, JUnit or annotations,
and the pytest plugin into failure text. The runner builds them from its own values with
``model_construct`` (nothing to validate), and their schemas are built on first use (JSON output),
so that a plain check does not pay for pydantic's validators. Nothing here prints. The JSON shape is documented in
docs/reporting.md and shipped as a JSON Schema (``vmspec/checker/report.schema.json``).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

ViolationKind = Literal["expect", "always", "invariant", "step", "not_running", "budget"]
Status = Literal["passed", "failed", "error", "skipped"]


class StepRecord(BaseModel):
    """One executed step as the trail shows it: where it is and what it changed."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    file: str
    line: int
    text: str
    changes: str = ""
    iteration: str = ""  # inside repeats: "3/100" (iteration/count), outermost first, space-separated


class Violation(BaseModel):
    """One thing that did not hold, located at the spec line that states or triggers it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    file: str
    line: int
    column: int
    kind: ViolationKind
    message: str
    expression: str = ""  # the expression or step as written
    observed: dict[str, str] = Field(default_factory=dict)  # observable as written -> formatted value
    detail: str = ""  # e.g. "got 768KiB, expected == 1MiB"
    stated_at: Optional[int] = None  # always/invariant: the line where it was stated
    stated_file: Optional[str] = None  # ... and the file, when it is not ``file`` (an include)
    later_breaks: int = 0  # always/invariant: how many later steps broke it too
    repeats: int = 0  # a step or expect inside a repeat: how many later iterations broke it again
    steps: list[StepRecord] = Field(default_factory=list)  # the last steps that led there


class Unobservable(BaseModel):
    """An expectation the backend could not read (``--backend host``: ``tlb(P)``, ``time``...):
    neither passed nor failed, reported with the reason."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    file: str
    line: int
    column: int
    kind: Literal["expect", "always", "invariant"]
    expression: str
    reason: str


class ScenarioResult(BaseModel):
    """The outcome of one scenario. ``skipped`` says why a backend did not run it (status
    ``skipped``), or why it stopped early (then its violations so far decide the status)."""

    model_config = ConfigDict(defer_build=True)

    file: str
    line: int
    title: str
    status: Status
    backend: str = "engine"
    skipped: Optional[str] = None
    violations: list[Violation] = Field(default_factory=list)
    unobservable: list[Unobservable] = Field(default_factory=list)
    seed: int = 0
    seed_overridden: bool = False
    trace: list[StepRecord] = Field(default_factory=list)  # every step, when --trace is on
    reproduce: str = ""
    params: dict[str, str] = Field(default_factory=dict)  # a parametrised scenario's values, as written
    template: str = ""  # ... and its title without them
    recording: Optional[dict] = Field(default=None, exclude=True)  # vmspec.checker.record, when asked for


class FileError(BaseModel):
    """A spec or usage error that stopped a file from being checked."""

    model_config = ConfigDict(defer_build=True)

    file: str
    line: int
    column: int
    message: str
    rendered: str = ""  # the full diagnostic: path:line:col: error: ..., source line, caret, hint


class Report(BaseModel):
    """Everything one ``vmspec check`` run found, in file order then scenario order."""

    model_config = ConfigDict(defer_build=True)

    scenarios: list[ScenarioResult] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)
    interrupted: bool = False
    deselected: int = 0  # scenarios that -k left out

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scenarios if s.status == "passed")

    @property
    def failed(self) -> int:
        return sum(1 for s in self.scenarios if s.status == "failed")

    @property
    def skipped(self) -> int:
        return sum(1 for s in self.scenarios if s.status == "skipped")

    @property
    def error_count(self) -> int:
        return sum(1 for s in self.scenarios if s.status == "error") + len(self.errors)

    def exit_code(self) -> int:
        """Return 130 if interrupted, 2 on any spec error (or a scenario that ended in error),
        1 on any violation, 5 if no scenario was checked (none collected, or -k selected none,
        as pytest), else 0 (a skipped scenario fails nothing)."""
        if self.interrupted:
            return 130
        if self.errors or any(s.status == "error" for s in self.scenarios):
            return 2
        if any(s.status == "failed" for s in self.scenarios):
            return 1
        if not self.scenarios:
            return 5
        return 0
