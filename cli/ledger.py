"""``showcase ledger``: what DP releases were made from which inputs."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from . import console, options

app = options.typer_app("The privacy ledger of DP releases.")


@app.command("show", short_help="DP releases and the budget spent, per input or dataset.")
def show(
    input: Path | None = typer.Argument(
        None, metavar="INPUT", help="Only releases of this input (a file, or a folder or glob of parts)."
    ),
    ledger: Path | None = options.LEDGER,
    dataset_id: str | None = typer.Option(
        None, "--dataset-id", help="Only releases charged to this named dataset (see aggregate --dp)."
    ),
) -> None:
    """List DP releases and the budget spent per input (or per named dataset).

    Example:

    \b
        showcase ledger show cases.csv
    """
    from showcase.engine import InputError, Ledger, dataset_key, fingerprint, ledger_path

    key = dataset_key(dataset_id) if dataset_id is not None else None
    parts = input is not None and (
        input.is_dir() or (not input.exists() and any(c in str(input) for c in "*?["))
    )
    if input is not None and not parts and not input.exists():
        raise InputError(f"{input}: no such file")
    if input is not None and not parts and not input.is_file():
        # Reading a FIFO or a device would block or never end: only regular files.
        raise InputError(f"{input}: not a regular file")
    path = ledger_path(ledger)
    if not os.path.lexists(path):
        console.out.print(
            f"No privacy ledger at {path}: no DP release has been recorded there.", soft_wrap=True
        )
        return
    book = Ledger(path, create=False)
    file_key = fingerprint(input) if input is not None else None  # a folder or glob: as its releases were
    entries = book.entries(key or file_key, file_key)
    # Fits 80 columns: the time to the minute (UTC, as the ledger stores it), and the reason column
    # only when a release has one (a failed release's reason then wraps within its cell).
    reasons = any(e["reason"] for e in entries)
    rows = [[str(e["id"]), _key(e), _minute(e["created"]), f"{e['epsilon']:g}", f"{e['delta']:.2g}",
             "" if e["rho"] is None else f"{e['rho']:.4g}", e["status"],
             *([e["reason"] or ""] if reasons else [])]
            for e in entries]  # fmt: skip
    header = ["id", "budget", "created (UTC)", "ε", "δ", "ρ", "status", *(["reason"] if reasons else [])]
    if rows:
        console.table(f"Privacy ledger {book.path}", header, rows)
    else:
        named = f" for {dataset_id or input}" if key is not None or file_key is not None else ""
        console.out.print(f"Privacy ledger {book.path}: no release is recorded{named}.", soft_wrap=True)
    if key is not None or file_key is not None:
        spent = book.spent(key or file_key, file_key)
        console.out.print(f"{dataset_id or input}: {spent.releases} release(s), ε spent {spent.epsilon:g}, "
                          f"δ spent {spent.delta:.2g}", soft_wrap=True)  # fmt: skip


def _key(entry: dict) -> str:
    """A short name of a release's budget: the dataset's name, or the start of the fingerprint."""
    key = entry["budget_key"]
    return key if key.startswith("dataset:") else key[7:19]


def _minute(created: str) -> str:
    """``2026-12-06T23:47:13+00:00`` as ``2026-12-06 23:47``."""
    return created[:16].replace("T", " ")
