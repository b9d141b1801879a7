"""Terminal output shared by the commands: errors, warnings, progress, tables.

``out`` (stdout) and ``err`` (stderr) are Rich consoles made on first use, so
that ``--help``, which prints through Typer, never imports Rich.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any


@functools.cache
def _console(stderr: bool):
    from rich.console import Console

    # Markup is off: paths, column names and values are user text, and a name such as
    # "[/x].csv" must print as it is, not be read as a style tag.
    return Console(stderr=stderr, markup=False, highlight=False)


def __getattr__(name: str) -> Any:
    if name in ("out", "err"):
        return _console(name == "err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _line(label: str, style: str, message: str) -> None:
    from rich.text import Text

    _console(True).print(Text.assemble((label, style), " ", one_line(message)), soft_wrap=True)


def error(message: str) -> None:
    """Print a one-line error to stderr (``message`` is shown as it is, never as markup)."""
    _line("Error:", "bold red", message)


def warning(message: str) -> None:
    """Print a one-line warning to stderr."""
    _line("Warning:", "bold yellow", message)


def note(message: str) -> None:
    """Print a one-line note to stderr."""
    _line("Note:", "bold", message)


def steps(seconds: dict[str, float]) -> None:
    """Print where a job's time went (``read 1.2 s · count 3.4 s · write 0.1 s``), if it has steps.

    Step times are for the person running the job: a release never records
    them, since they depend on the sensitive data.
    """
    if seconds:
        _line("Steps:", "dim", " · ".join(f"{name} {value:.1f} s" for name, value in seconds.items()))


def one_line(message: str) -> str:
    """``message`` with its line breaks turned into spaces."""
    return " ".join(message.splitlines())


@contextlib.contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner saying ``message`` on stderr while the block runs, for work without a measure of
    how far it is (reading a whole input to check it). Gone when the block ends; nothing at all
    when stderr is not a terminal."""
    console = _console(True)
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


@contextlib.contextmanager
def stage_progress(enabled: bool = True) -> Iterator:
    """A ``progress(stage, done, total)`` callback drawing one bar per stage on stderr."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=_console(True),
        transient=False,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()  # on the first report: an error before any work prints no empty bar line
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGE_LABELS.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        yield update
    except BaseException:
        # A bar that never moved (the input refused while it was being read) would stay on screen
        # above the one-line error: hide it, and if nothing moved at all, leave no line behind
        # (Progress.stop ends a non-terminal's output with an empty line; Live.stop does not).
        for task in bar.tasks:
            if not task.completed:
                bar.update(task.id, visible=False)
        if tasks and not any(task.visible for task in bar.tasks):
            bar.live.transient = True
            bar.live.stop()
            tasks.clear()
        raise
    finally:
        if tasks:
            bar.stop()


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a summary table to stdout."""
    from rich import box
    from rich.table import Table

    # The title is a line of its own: as a Table title, Rich wraps it to the table's width, so a long
    # path split "written to release in" from "2.5 s" on the next line, padded with spaces.
    # At 80 columns a compare table's eight columns must fit: rules only under the header, two
    # spaces between columns. The figures keep their width (a header wraps between its words); the
    # first column (a mechanism or file name) gets what is left and folds onto more lines, never "…".
    console = _console(False)
    widths = [max([len(row[i]) for row in rows] + [len(word) for word in name.split()])
              for i, name in enumerate(header)]  # fmt: skip
    left = console.width - sum(widths[1:]) - 2 * (len(header) - 1)
    widths[0] = max(min(widths[0], left), min(widths[0], 6))
    view = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for i, name in enumerate(header):
        view.add_column(name, justify="left" if i == 0 else "right", width=widths[i], overflow="fold")
    for row in rows:
        view.add_row(*row)
    console.print(title, soft_wrap=True)
    console.print(view)
