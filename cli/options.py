"""Options shared by every command that reads sensitive data."""

from __future__ import annotations

import typer

from showcase.engine import Preparation

from . import console

DELIMITER = typer.Option(
    None, "--delimiter", "-d", help="Field separator of a text input: ',', ';', '|' or 'tab'. "
    "Default: ',' (tab for .tsv)."
)  # fmt: skip
USE_COLUMNS = typer.Option(
    None, "--use-columns", help="Comma-separated columns to keep, e.g. 'sex,age_band'. Default: all."
)
RECORD_LIMIT = typer.Option(None, "--record-limit", min=1, help="Use only the first N records.")
NULL_MARKER = typer.Option(
    None, "--null-marker", help="A value meaning 'no attribute' (repeatable), e.g. N. "
    "Empty cells always mean 'no attribute'."
)  # fmt: skip
SENSITIVE_ZEROS = typer.Option(
    None, "--sensitive-zeros", help="Columns where 0 is a real value ('A,B' or 'all'). "
    "Elsewhere 0 means 'no attribute', as for 0/1 indicator columns."
)  # fmt: skip
THREADS = typer.Option(None, "--threads", min=1, help="Threads for the kernels. Default: all cores.")
FORCE = typer.Option(
    False, "--force", help="Replace --out if it is a release showcase wrote (never any other folder)."
)
DATASET_ID = typer.Option(
    None, "--dataset-id", help="DP: charge the budget to this named dataset in the ledger, not to the "
    "file's fingerprint (which changes with any edit of the file), e.g. 'cases-2024'."
)  # fmt: skip


def report_ledger(result) -> None:
    """Say where a DP release created a new privacy ledger (there was none before)."""
    if getattr(result, "ledger_created", None) is not None:
        console.note(
            f"created a new privacy ledger at {result.ledger_created}; it records this and later "
            "DP releases (keep it and back it up: without it earlier releases are forgotten)"
        )


def split_list(value: str | None) -> list[str] | None:
    """``'a, b,c'`` → ``['a', 'b', 'c']``."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def preparation(
    delimiter: str | None,
    use_columns: str | None,
    record_limit: int | None,
    null_marker: list[str] | None,
    sensitive_zeros: str | None,
) -> Preparation:
    """Build the engine's :class:`Preparation` from the command-line options."""
    zeros: str | list[str] | None = sensitive_zeros
    if sensitive_zeros is not None and sensitive_zeros.strip().lower() != "all":
        zeros = split_list(sensitive_zeros)
    elif sensitive_zeros is not None:
        zeros = "all"
    return Preparation(
        delimiter=delimiter,
        use_columns=split_list(use_columns),
        record_limit=record_limit,
        null_markers=tuple(null_marker or ()),
        sensitive_zeros=zeros,
    )
