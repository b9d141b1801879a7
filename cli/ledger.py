"""``showcase ledger``: what DP releases were made from which inputs."""

from __future__ import annotations

from pathlib import Path

import typer

from showcase.engine.dp.ledger import Ledger
from showcase.engine.ingest import fingerprint

from . import console

app = typer.Typer(help="The privacy ledger of DP releases.", no_args_is_help=True)


@app.command("show")
def show(
    input: Path | None = typer.Argument(None, help="Only releases of this input file."),
    ledger: Path | None = typer.Option(
        None, "--ledger", help="Ledger file (default $SHOWCASE_LEDGER or ~/.showcase/ledger.sqlite)."
    ),
) -> None:
    """List DP releases and the budget spent per input.

    Example:

        showcase ledger show cases.csv
    """
    book = Ledger(ledger)
    key = fingerprint(input) if input is not None else None
    entries = book.entries(key)
    rows = [[str(e["id"]), e["fingerprint"][7:19], e["created"], f"{e['epsilon']:g}",
             f"{e['delta']:.2g}", "" if e["rho"] is None else f"{e['rho']:.4g}", e["status"]]
            for e in entries]  # fmt: skip
    console.table(f"Privacy ledger {book.path}", ["id", "input", "created", "ε", "δ", "ρ", "status"],
                  rows)  # fmt: skip
    if key is not None:
        spent = book.spent(key)
        console.out.print(f"{input}: {spent.releases} release(s), ε spent {spent.epsilon:g}, "
                          f"δ spent {spent.delta:.2g}", soft_wrap=True)  # fmt: skip
