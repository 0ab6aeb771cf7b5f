"""Reports of ``vmspec explore``: the human summary (stderr) and the JSON document (stdout).

The summary says what was searched and how the examples ended, then each broken invariant with
what replaying its minimal scenario reports (the violation and every step that led there), each
invariant the search could not reach, the bug in vmspec it hit, if any, and where the spec went.
The spec itself is ``ExploreResult.spec``, which the command line writes to stdout or to
``--output``. The JSON document (version 1) is the ExploreResult, keys in a fixed order.
"""

from __future__ import annotations

import contextlib
import json
from typing import IO, Callable, Iterator

from vmspec.reporting.text import Line, printable, violation_lines


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def counts_line(result) -> str:
    """Say how the examples ended, in one line."""
    c = result.counts
    ended = [f"{c.unsupported:,} ended at a step not modelled yet", f"{c.budget:,} ran out of budget",
             f"{c.internal_errors:,} hit a bug in vmspec"]
    if c.spec_errors:
        ended.append(f"{c.spec_errors:,} did not check (a bug in explore)")
    return f"  {_plural(c.examples, 'example')} tried: " + ", ".join(ended) + f"; {_plural(c.shrink_runs, 'run')} to shrink"


def summary_lines(result, written_to: str | None = None, replay: str | None = None) -> list[Line]:
    """Describe an exploration for stderr. ``written_to``: the file the spec went to, if any;
    ``replay``: what checking that file said, when it did not replay as expected."""
    broken = len(result.findings)
    total = len(result.invariants)
    head = (f"explore {result.path} on machine {result.machine} (seed {result.seed}"
            + (f", {result.jobs} searches" if result.jobs > 1 else "") + "): "
            + (f"{broken} of {_plural(total, 'invariant')} broken" if broken else
               f"no scenario broke {'the invariant' if total == 1 else f'any of {total} invariants'}"))
    out: list[Line] = [(head, "bold red" if broken else "bold green"), (counts_line(result), "")]
    if result.timed_out:
        out.append(("  the --timeout cut the search or the shrinking short: the result may not be minimal, "
                    "and it depends on timing", "yellow"))
    c = result.counts
    if c.unsupported * 4 > c.examples:
        out.append((f"  warning: {c.unsupported:,} of {c.examples:,} examples ended at a step that is not modelled "
                    "yet; the search could not look past those steps:", "yellow"))
    for reason, n in result.unsupported:
        out.append((f"  {n:,}x not modelled yet: {reason.removeprefix('not modelled yet: ')}", "dim"))
    for f in result.findings:
        out.append(("", ""))
        shrunk = ("shrunk" if f.minimal else "partly shrunk (cut by --timeout)") + f" in {_plural(f.shrink_runs, 'run')}"
        out.append((f'invariant "{f.invariant}" ({f.stated_file}:{f.stated_line}) broken by "{f.title}": '
                    f"{_plural(f.steps, 'step')}, from example {f.found_at:,} of seed {f.seed}, {shrunk}", "bold red"))
        for v in f.violations:
            out += violation_lines(v)
    for c in result.closest:
        out.append((f'  closest to breaking "{c.invariant}": {c.detail}', ""))
    for u in result.unreached:
        out.append(("", ""))
        out.append((f'error: invariant "{u.invariant}" ({u.stated_file}:{u.stated_line}) was not explored: '
                    f"{u.reason}", "bold red"))
    if result.spec_error:
        message, _, scenario = result.spec_error.partition("\n")
        out.append(("", ""))
        out.append((f"error: a drawn scenario did not check (a bug in vmspec explore): {message}", "bold red"))
        out += [(f"    {line}", "") for line in scenario.splitlines()]
    if result.internal_error:
        message, _, scenario = result.internal_error.partition("\n")
        out.append(("", ""))
        out.append((f"error: an example hit a bug in vmspec: {message}", "bold red"))
        out.append(("  the smallest scenario found that hits it:", ""))
        out += [(f"    {line}", "") for line in scenario.splitlines()]
    if written_to is not None:
        out.append(("", ""))
        out.append((f"wrote {written_to}; replay it with: vmspec check {written_to}", "bold"))
    if replay:
        out.append((f"warning: {replay}", "yellow"))
    return [(printable(text), style) for text, style in out]


@contextlib.contextmanager
def progress_line(stream: IO[str], total: int) -> Iterator[Callable[[int, int], None]]:
    """Show a transient progress line on ``stream`` (a terminal): examples tried and invariants broken."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=stream)
    with Progress(TextColumn("exploring"), BarColumn(), MofNCompleteColumn(), TextColumn("examples,"),
                  TextColumn("{task.fields[broken]} broken"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("examples", total=total, broken=0)

        def update(examples: int, broken: int) -> None:
            progress.update(task, completed=examples, broken=broken)

        yield update


def render_json(result) -> str:
    """Serialise an exploration as indented JSON with a trailing newline."""
    document = {"version": 1, "exit_code": result.exit_code(), **result.model_dump(mode="json")}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
