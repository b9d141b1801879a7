"""Terminal output shared by the commands: errors, warnings, progress, tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

# Markup is off: paths, column names and values are user text, and a name such as
# "[/x].csv" must print as it is, not be read as a style tag.
out = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)

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
    """Print a one-line error to stderr (``message`` is shown as it is, never as markup)."""
    err.print(Text.assemble(("Error:", "bold red"), " ", one_line(message)), soft_wrap=True)


def warning(message: str) -> None:
    """Print a one-line warning to stderr."""
    err.print(Text.assemble(("Warning:", "bold yellow"), " ", one_line(message)), soft_wrap=True)


def note(message: str) -> None:
    """Print a one-line note to stderr."""
    err.print(Text.assemble(("Note:", "bold"), " ", one_line(message)), soft_wrap=True)


def one_line(message: str) -> str:
    """``message`` with its line breaks turned into spaces."""
    return " ".join(message.splitlines())


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
