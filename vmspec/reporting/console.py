"""The terminal reporter: the text report through rich, coloured only where colour is wanted.

Colour only on a terminal, or where FORCE_COLOR (any non-empty value, https://force-color.org)
asks for it; a non-empty NO_COLOR wins over both and gives plain text with no escape codes at all
(not even bold). Plain output is byte for byte the plain text report. Lines are never wrapped.
"""

from __future__ import annotations

import contextlib
import os
from typing import IO, Callable, Iterator

from vmspec.reporting.text import Line


def write_lines(lines: list[Line], stream: IO[str]) -> None:
    """Write styled lines to ``stream`` (colour only on a terminal or with FORCE_COLOR)."""
    env = os.environ
    isatty = getattr(stream, "isatty", None)
    if env.get("NO_COLOR") or (not env.get("FORCE_COLOR") and "TTY_COMPATIBLE" not in env
                               and not (isatty is not None and isatty())):
        stream.write("".join(text + "\n" for text, _ in lines))  # plain: rich is not even loaded
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False, markup=False)
    if os.environ.get("NO_COLOR") or (not console.is_terminal and not console.color_system):
        stream.write("".join(text + "\n" for text, _ in lines))
        return
    for text, style in lines:
        console.print(Text(text, style=style or ""), soft_wrap=True)


@contextlib.contextmanager
def progress_bar(stream: IO[str]) -> Iterator[Callable[[int, int], None]]:
    """Show a transient progress bar of files checked on ``stream`` (a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(file=stream)
    with Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("files", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
