"""``showcase report``: a release's Overview and Explore as one HTML file to share."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console


def report(
    release: Path = typer.Argument(
        ..., metavar="RELEASE", help="A release holding synthetic records and aggregates (as run writes)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The HTML file to write."),
    max_records: int = typer.Option(
        200_000, "--max-records", min=0, help="Embed the synthetic records when there are at most this many."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace --out if showcase wrote it and nobody changed it since (never your own file).",
    ),
) -> None:
    """Write a self-contained HTML report of a release: opens from disk or e-mail, no server needed.

    It holds the release's aggregates and (up to --max-records) synthetic
    records, the privacy guarantee in words and the explorer's bar charts;
    nothing of the sensitive data.

    Example:

    \b
        showcase report release/ --out release-report.html
    """
    from showcase.engine import (
        ParameterError,
        check_output_file,
        release_locks,
        require_release,
        staged_file,
        write_static_report,
    )

    require_release(release)
    try:
        check_output_file(out, force)
        if out.suffix.lower() not in (".html", ".htm"):
            raise ParameterError(f"{out.name}: write an .html file")
        with staged_file(out, force) as partial:
            facts = write_static_report(release, partial, max_records=max_records)
    finally:
        release_locks()
    records = f"{facts['records']:,} synthetic records" if facts["records"] else "no synthetic records"
    console.out.print(
        f"Wrote {out} ({facts['bytes'] / 1e6:.1f} MB: {facts['combinations']:,} released counts, {records})",
        soft_wrap=True,
    )
