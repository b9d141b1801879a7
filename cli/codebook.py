"""``showcase codebook``: draft a codebook from the data, and check one."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console, options

app = options.typer_app("Draft and check codebooks.")
SUFFIXES = (".yaml", ".yml", ".json")


@app.command("infer", short_help="Draft a codebook from the data, to review.")
def infer(
    input: Path = options.INPUT,
    subject_id: str | None = typer.Option(
        None,
        "--subject-id",
        help="The column naming the person each row is about. Default: the most id-like column, if any.",
    ),  # fmt: skip
    link: Path | None = typer.Option(
        None, "--link", help="A linked table (e.g. perpetrators.csv), one or more rows per subject."
    ),
    on: str | None = typer.Option(
        None, "--on", help="The key column both tables share (the victim id). Default: --subject-id."
    ),
    max_values: int = typer.Option(
        50, "--max-values", min=1, help="List the values of columns with at most this many."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="File to write: .yaml, .yml or .json. Default: print the YAML."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace --out if showcase wrote it and nobody changed it since (never your own file).",
    ),
) -> None:
    """Draft a codebook from the data: columns, values, bins, multi-value columns, subject id.

    The draft's values are read from the sensitive data: review it before
    use. A public codebook lists every publicly possible value (e.g. every
    ISO-3 code), not only those observed, and no rare value that identifies
    someone.

    Example:

    \b
        showcase codebook infer victims.csv --link perpetrators.csv \\
            --on victim_id --out codebook.yaml
        showcase codebook check codebook.yaml victims.csv
    """
    from showcase.engine import Link, ParameterError, check_output_file, release_locks, staged_file
    from showcase.engine import codebook as codebooks

    if link is None and on is not None:
        raise ParameterError("--on applies with --link only")
    links = []
    if link is not None:
        key = on or subject_id
        if key is None:
            raise ParameterError("--link needs --on KEY, the column both tables share (the victim id)")
        links.append(Link(link, key))
    if out is not None and out.suffix.lower() not in SUFFIXES:
        raise ParameterError(f"{out.name}: write a .yaml, .yml or .json codebook")
    reading = f"reading {input.name}" + (f" and {len(links)} linked table(s)" if links else "")
    if out is None:
        with console.working(reading):
            draft = codebooks.infer_codebook(input, subject_id=subject_id, links=links, max_values=max_values)
        console.out.file.write(codebooks.draft_text(draft))
        return
    try:
        check_output_file(out, force)
        with console.working(reading):
            draft = codebooks.infer_codebook(input, subject_id=subject_id, links=links, max_values=max_values)
        with staged_file(out, force) as partial:
            if out.suffix.lower() == ".json":
                draft.write(partial)
            else:
                partial.write_text(codebooks.draft_text(draft, out.parent), encoding="utf-8")
    finally:
        release_locks()
    console.out.print(
        f"Wrote a draft codebook of {len(draft.columns)} column(s) and {len(draft.links)} link(s) to {out}",
        soft_wrap=True,
    )
    console.warning("its values were read from the sensitive data: review it before use or sharing")


@app.command("check", short_help="Check a codebook, and an input against it.")
def check(
    file: Path = typer.Argument(..., metavar="FILE", help="The codebook: .yaml, .yml or .json."),
    input: Path | None = typer.Argument(
        None, metavar="INPUT", help="The input it is for: its columns and values."
    ),
) -> None:
    """Check a codebook, and (given the input) that the input has its columns and only its values.

    Prints the number of columns (of the input and of linked tables) and of
    links, whether the codebook is a public domain (every column lists its
    values, or has bins with public labels, and it is no longer marked
    'draft: true'), and its declared constraints.
    Given the input, reads all of it the way a release would (links and bins
    included), so a value the codebook does not list is found here first.

    Example:

    \b
        showcase codebook check codebook.yaml victims.csv
    """
    from showcase.engine import Preparation, load, read_table
    from showcase.engine import codebook as codebooks

    book = codebooks.read_codebook_file(file)
    if input is not None:
        columns = read_table(input, delimiter=book.delimiter, record_limit=1).column_names
        linked = {
            link.prefix: read_table(link.table, delimiter=book.delimiter, record_limit=1).column_names
            for link in book.links
        }
        codebooks.check_columns(book, columns, linked)
        with console.working(f"reading {input.name} against the codebook"):
            load(input, Preparation(codebook=file))  # refuses a value the codebook does not list
    count = len(book.columns) + sum(len(link.columns or {}) for link in book.links)
    public = "yes" if book.is_public_domain else "no"
    if book.draft:
        public += " (a draft: review it, then delete the line 'draft: true')"
    declared = f", {len(book.constraints)} constraints" if book.constraints else ""
    console.out.print(
        f"ok: {count} columns, {len(book.links)} links, public domain: {public}{declared}", soft_wrap=True
    )
