"""The ``showcase`` command: parse, call the engine, report.

Every failure the user can fix ends as one line on stderr and exit status 2;
a failure of the system (an I/O error: disk full, file vanished) one line and
status 1; Ctrl-C status 130 and SIGTERM status 143, after the staging folder
is removed. Tracebacks are not shown (their locals could hold sensitive
values) unless ``SHOWCASE_DEBUG=1`` is set. Paths and names are printed as
they are, never read as Rich markup.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys

import typer

import showcase.engine as engine

from . import coercion, console, options
from .aggregate import aggregate
from .codebook import app as codebook_app
from .compare import compare
from .datasets import app as datasets_app
from .evaluate import evaluate
from .ledger import app as ledger_app
from .prepare import prepare
from .report import report
from .run import run as run_command
from .serve import serve
from .synthesize import synthesize

#: The root's help. Typer shows an app's ``help`` rather than its callback's docstring, so the
#: example lives here, where ``showcase --help`` prints it.
ROOT_HELP = """Release sensitive microdata safely: protected aggregates and synthetic data.

Try it on generated data:

\b
    showcase datasets generate table --rows 100000 --out cases.csv
    showcase aggregate cases.csv --length 3 --resolution 10 --out release/
"""

app = options.typer_app(
    ROOT_HELP,
    name="showcase",
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.out.print(f"showcase {engine.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """The ``showcase`` group: its help is ``ROOT_HELP``."""


# Short summaries for `showcase --help`: click would cut the docstrings' first sentences mid-phrase.
app.command("aggregate", short_help="k-anonymous or DP counts of every combination up to L.")(aggregate)
app.command("evaluate", short_help="Metrics of a release against the sensitive data.")(evaluate)
app.command("compare", short_help="Several mechanisms side by side, swept over ε, repeated.")(compare)
app.command("synthesize", short_help="Synthetic records, from the data or from aggregates.")(synthesize)
app.command("run", short_help="Aggregates and synthetic records in one release.")(run_command)
app.command("prepare", short_help="The input as every release counts it, to check first.")(prepare)
app.command("serve", short_help="Explore releases in a local, offline web dashboard.")(serve)
app.command("report", short_help="One self-contained HTML file of a release, to share.")(report)
app.add_typer(datasets_app, name="datasets")
app.add_typer(codebook_app, name="codebook")
app.add_typer(ledger_app, name="ledger")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    with engine.handle_signals():
        try:
            code = _dispatch(argv)
        finally:
            engine.release_locks()
        received = engine.pending_signal()
    if received is not None and code == 0:
        # A signal that came while a release was being put in place waited for it.
        name = "terminated" if received == signal.SIGTERM else "interrupted"
        console.error(f"{name} after the output was complete and in place")
        return 143 if received == signal.SIGTERM else 130
    return code


def _with_notes(problem: BaseException, message: str) -> str:
    """``message`` followed by the notes the engine added to ``problem`` (e.g. the ledger's)."""
    return "; ".join([message, *getattr(problem, "__notes__", ())])


def _as_flags(message: str, command: typer.core.TyperGroup, argv: list[str]) -> str:
    """``message`` with the engine's parameter names spelled as the options of the command run.

    The engine names its parameters as Python does (``target_number_of_records``);
    on the command line they are ``--target-number-of-records``. Only names
    that are options of the subcommand in ``argv`` change.
    """
    current = command
    for word in argv:
        found = current.commands.get(word) if isinstance(current, typer.core.TyperGroup) else None
        if found is None:
            break
        current = found
    flags = {opt for param in current.params for opt in getattr(param, "opts", ()) if opt.startswith("--")}

    def spelled(match: re.Match) -> str:
        flag = "--" + match.group(0).replace("_", "-")
        return flag if flag in flags else match.group(0)

    return re.sub(r"(?<![\w-])[a-z]+(?:_[a-z]+)+(?![\w-])", spelled, message)


def _keep_interrupts(command: typer.core.TyperGroup) -> list[KeyboardInterrupt]:
    """The Ctrl-Cs that end ``command``'s invocation, kept as they pass (filled in as it runs).

    Typer turns a KeyboardInterrupt into exit status 130 and drops it, with the notes the engine
    added to it: that a DP release's budget stays spent in the ledger, and where.
    """
    kept: list[KeyboardInterrupt] = []
    invoke = command.invoke

    def keeping(ctx: typer.Context) -> object:
        try:
            return invoke(ctx)
        except KeyboardInterrupt as problem:
            kept.append(problem)
            raise

    command.invoke = keeping
    return kept


def _dispatch(argv: list[str] | None) -> int:
    command = coercion.light(typer.main.get_command(app))
    interrupts = _keep_interrupts(command)
    try:
        result = command.main(args=argv, prog_name="showcase", standalone_mode=False)
        if result == 130:  # Typer returns Ctrl-C as exit status 130, and drops the exception
            message = "interrupted; nothing was written"
            console.error(_with_notes(interrupts[-1], message) if interrupts else message)
        return result if isinstance(result, int) else 0
    except engine.ShowcaseError as problem:
        console.error(_with_notes(problem, _as_flags(str(problem), command, argv or sys.argv[1:])))
        return 2
    except typer.Exit as done:
        return done.exit_code
    except typer.TyperException as problem:
        if type(problem).__name__ == "NoArgsIsHelpError":  # a group named alone: its help, as it is
            sys.stderr.write(problem.format_message() + "\n")
            return 2
        console.error(problem.format_message().replace("\n", " "))
        return 2 if problem.exit_code == 1 else problem.exit_code
    except (KeyboardInterrupt, typer.Abort) as problem:
        console.error(_with_notes(problem, "interrupted; nothing was written"))
        return 130
    except engine.Terminated as problem:
        console.error(_with_notes(problem, "terminated (SIGTERM); nothing was written"))
        return 143
    except OSError as problem:
        if os.environ.get("SHOWCASE_DEBUG"):
            raise
        # The system failed (disk full, file gone, no permission): one line, status 1.
        where = f"{problem.filename}: " if problem.filename else ""
        said = f"{where}{problem.strerror or type(problem).__name__}"
        if problem.errno == errno.ENOSPC and not problem.filename:
            said += " while writing the output: free space on the disk of --out (nothing partial was kept)"
        console.error(_with_notes(problem, said))
        return 1
    except Exception as problem:  # noqa: BLE001 - the last line of defence for the user
        if os.environ.get("SHOWCASE_DEBUG"):
            raise
        received = engine.received_signal()
        if received is not None and engine.pending_signal() is None:  # (not one a commit deferred)
            # The signal's exception was swallowed on its way up (raised inside a C callback, e.g.
            # while Numba compiled a kernel) and this error followed: the signal ended the run.
            interrupted = received != signal.SIGTERM
            what = "interrupted" if interrupted else "terminated (SIGTERM)"
            console.error(_with_notes(problem, f"{what}; nothing was written"))
            return 130 if interrupted else 143
        if _is_arrow_error(problem):
            # Arrow's message can quote data values: name the kind of problem only.
            kind = type(problem).__name__
            console.error(_with_notes(problem, f"a file could not be read or written ({kind})"))
            return 2
        console.error(
            _with_notes(
                problem,
                f"unexpected {type(problem).__name__}; rerun with SHOWCASE_DEBUG=1 to see details, "
                "and report it (the details may show data values)",
            )
        )
        return 1


def _is_arrow_error(problem: BaseException) -> bool:
    """Whether ``problem`` is PyArrow's (only possible once something imported PyArrow)."""
    pyarrow = sys.modules.get("pyarrow")
    return pyarrow is not None and isinstance(problem, pyarrow.ArrowException)


def run() -> None:
    """The console script: run, flush the output, and leave without tearing the interpreter down.

    By the time :func:`main` returns, every release is complete, fsynced and in
    place and every lock is released; unloading Numba, LLVM and Arrow would
    only add a few tenths of a second to each command.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (e.g. `| head`): nothing more to say
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
