"""Terminal output shared by the commands: errors, warnings, progress, tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console()
err = Console(stderr=True, highlight=False)

STAGE_LABELS = {
    "read": "reading and encoding",
    "count": "counting combinations",
    "write": "writing release",
    "evaluate": "computing metrics",
    "noise": "DP marginals by length",
    "compare": "running mechanisms",
    "synthesize": "synthesizing records",
    "check": "checking combinations",
}


def error(message: str) -> None:
    """Print a one-line error to stderr."""
    err.print(f"[bold red]Error:[/] {message}", soft_wrap=True, markup=True)


def warning(message: str) -> None:
    err.print(f"[bold yellow]Warning:[/] {message}", soft_wrap=True)


@contextlib.contextmanager
def stage_progress(enabled: bool = True) -> Iterator:
    """A ``progress(stage, done, total)`` callback drawing one bar per stage on stderr."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGE_LABELS.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a summary table to stdout."""
    view = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        view.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        view.add_row(*row)
    out.print(view)
