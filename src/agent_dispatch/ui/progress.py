"""Progress bars for long commands, drawn on stderr only when it is a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent_dispatch import output


class Outcome(Protocol):
    """One finished item: the agent it was for."""

    @property
    def agent(self) -> str: ...


@contextlib.contextmanager
def progress_bar(title: str, total: int, *, enabled: bool) -> Iterator[Callable[[Outcome], None]]:
    """A progress bar on stderr (only on a terminal); yields the per-item callback."""
    if not enabled or not output.err_console.is_terminal or total == 0:
        yield lambda _outcome: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=output.err_console, transient=True) as bar:
        task = bar.add_task(title, total=total)
        yield lambda outcome: bar.update(task, advance=1, description=f"{title} ({outcome.agent})")
