"""The ``showcase`` command: parse, call the engine, report.

Every failure the user can fix ends as one line on stderr and exit status 2;
tracebacks are not shown (their locals could hold sensitive values) unless
``SHOWCASE_DEBUG=1`` is set.
"""

from __future__ import annotations

import os
import sys

import typer

from showcase.engine import ShowcaseError, __version__

from . import console
from .aggregate import aggregate
from .compare import compare
from .datasets import app as datasets_app
from .evaluate import evaluate
from .ledger import app as ledger_app
from .run import run as run_command
from .synthesize import synthesize

app = typer.Typer(
    name="showcase",
    help="Release sensitive microdata safely: protected aggregates and synthetic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.out.print(f"showcase {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Release sensitive microdata safely: protected aggregates and synthetic data.

    Try it on generated data:

        showcase datasets generate table --rows 100000 --out cases.csv

        showcase aggregate cases.csv --length 3 --resolution 10 --out release/
    """


app.command("aggregate")(aggregate)
app.command("evaluate")(evaluate)
app.command("compare")(compare)
app.command("synthesize")(synthesize)
app.command("run")(run_command)
app.add_typer(datasets_app, name="datasets")
app.add_typer(ledger_app, name="ledger")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="showcase", standalone_mode=False)
        if result == 130:  # Typer returns Ctrl-C as exit status 130
            console.error("interrupted; nothing was written")
        return result if isinstance(result, int) else 0
    except ShowcaseError as problem:
        console.error(str(problem))
        return 2
    except typer.Exit as done:
        return done.exit_code
    except typer.TyperException as problem:
        console.error(problem.format_message().replace("\n", " "))
        return 2 if problem.exit_code == 1 else problem.exit_code
    except (KeyboardInterrupt, typer.Abort):
        console.error("interrupted; nothing was written")
        return 130
    except Exception as problem:  # noqa: BLE001 - the last line of defence for the user
        if os.environ.get("SHOWCASE_DEBUG"):
            raise
        console.error(
            f"unexpected {type(problem).__name__}; rerun with SHOWCASE_DEBUG=1 to see details, "
            "and report it (the details may show data values)"
        )
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
