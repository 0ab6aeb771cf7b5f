"""``vmspec explore``: search with Hypothesis for a scenario that breaks a file's invariants.

Scenarios are drawn as .vms text over a small vocabulary (spawn, mmap, read, write, fork, exit,
munmap, mprotect, madvise dontneed), parsed by the language layer and run by the same runner as
``vmspec check`` on the file's machine with the file's invariants (and those it includes).
Hypothesis shrinks the first failing scenario to a minimal one, which is returned as text that
can be pasted into a spec and replayed. The search is deterministic for a given seed (no example
database, a seeded random source).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from vmspec.checker.options import CheckOptions
from vmspec.checker.results import ScenarioResult
from vmspec.checker.runner import run_scenario
from vmspec.errors import UsageError

SIZES = ("4KiB", "16KiB", "64KiB", "1MiB", "2MiB", "8MiB")
RANGES = ("", "[0..4KiB]", "[0..16KiB]", "[4KiB..]")
PROTS = ("r", "rw", "none")
EXPLORE_PATH = "<explore>"


@dataclass
class ExploreResult:
    """What a search found: the minimal scenario's text and its result, or nothing."""

    machine: str
    examples: int
    found: bool
    scenario_text: str = ""
    result: ScenarioResult | None = None


def _scenarios(max_steps: int):
    from hypothesis import strategies as st

    @st.composite
    def scenario_lines(draw) -> tuple[str, ...]:
        lines: list[str] = []
        alive: list[str] = []
        regions: dict[str, list[str]] = {}
        names = 0
        for _ in range(draw(st.integers(1, max_steps))):
            ops = ["spawn"]
            if alive:
                ops += ["mmap", "mmap", "fork", "exit"]
            if any(regions.get(p) for p in alive):
                ops += ["write", "write", "read", "munmap", "mprotect", "dontneed"]
            op = draw(st.sampled_from(ops))
            if op == "spawn":
                name = f"p{names}"
                names += 1
                alive.append(name)
                regions[name] = []
                lines.append(f"spawn {name}")
                continue
            if op in ("mmap", "fork", "exit"):
                proc = draw(st.sampled_from(alive))
                if op == "mmap":
                    region = f"r{len(regions[proc])}"
                    regions[proc].append(region)
                    lines.append(f"{proc}: {region} = mmap {draw(st.sampled_from(SIZES))}")
                elif op == "fork":
                    child = f"p{names}"
                    names += 1
                    alive.append(child)
                    regions[child] = list(regions[proc])
                    lines.append(f"fork {proc} as {child}")
                else:
                    alive.remove(proc)
                    lines.append(f"exit {proc}")
                continue
            proc = draw(st.sampled_from([p for p in alive if regions.get(p)]))
            region = draw(st.sampled_from(regions[proc]))
            rng = draw(st.sampled_from(RANGES))
            if op in ("write", "read"):
                lines.append(f"{proc}: {op} {region}{rng}")
            elif op == "munmap":
                lines.append(f"{proc}: munmap {region}{rng}")
            elif op == "mprotect":
                lines.append(f"{proc}: mprotect {region}{rng} {draw(st.sampled_from(PROTS))}")
            else:
                lines.append(f"{proc}: madvise {region}{rng} dontneed")
        return tuple(lines)

    return scenario_lines()


def scenario_text(machine: str, lines: tuple[str, ...]) -> str:
    """Render drawn steps as a scenario block."""
    body = "".join(f"    {line}\n" for line in lines)
    return f'scenario "found by vmspec explore" on {machine} {{\n{body}}}\n'


def _run(program, machine_ast, machine: str, lines, options: CheckOptions) -> ScenarioResult:
    from vmspec.language import ResolvedScenario, parse_text

    text = scenario_text(machine, lines)
    spec = parse_text(text, EXPLORE_PATH)
    scenario = spec.items[0]
    variant = dataclasses.replace(program, sources={**program.sources, EXPLORE_PATH: text},
                                  scenarios=(ResolvedScenario(scenario=scenario, machine=machine_ast),))
    return run_scenario(variant, variant.scenarios[0], options, display_path=EXPLORE_PATH)


def _breaks(result: ScenarioResult) -> bool:
    return any(v.kind == "invariant" for v in result.violations)


def explore(program, machine: str | None = None, max_examples: int = 200, seed: int = 0,
            max_steps: int = 12, options: CheckOptions | None = None) -> ExploreResult:
    """Search for a scenario on ``machine`` that breaks one of the program's invariants."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    if not program.invariants:
        raise UsageError(f"{program.path}: explore needs at least one `invariant` to break")
    if machine is None:
        if len(program.machines) != 1:
            names = ", ".join(sorted(program.machines)) or "none"
            raise UsageError(f"{program.path}: name the machine to explore with --machine ({names})")
        machine = next(iter(program.machines))
    if machine not in program.machines:
        raise UsageError(f"{program.path}: no machine named {machine!r}")
    machine_ast = program.machines[machine]
    options = options or CheckOptions(max_accesses=1_000_000, timeout=30)
    count = 0

    def condition(lines) -> bool:
        nonlocal count
        count += 1
        return _breaks(_run(program, machine_ast, machine, lines, options))

    config = settings(max_examples=max_examples, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.generate, Phase.shrink])
    try:
        lines = find(_scenarios(max_steps), condition, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return ExploreResult(machine=machine, examples=count, found=False)
    result = _run(program, machine_ast, machine, lines, options)
    return ExploreResult(machine=machine, examples=count, found=True,
                         scenario_text=scenario_text(machine, lines), result=result)
