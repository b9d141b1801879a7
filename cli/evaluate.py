"""``showcase evaluate``: utility and privacy metrics of a release."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console, options


@options.command
def evaluate(
    sensitive: Path = typer.Argument(
        ...,
        metavar="SENSITIVE",
        help="The sensitive microdata the release came from, or its exact counts: the folder of "
        "aggregate --unprotected, or its sensitive_aggregates.parquet/.tsv.",
    ),
    release: Path = typer.Argument(
        ...,
        metavar="RELEASE",
        help="A release directory, a synthetic table (.csv/.parquet) or aggregates "
        "(aggregates.parquet or an SDS .tsv).",
    ),  # fmt: skip
    length: int = options.COMPARED_LENGTH,
    resolution: int = options.RARE_K,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Directory for evaluation.json and report.html. Default: RELEASE-evaluation beside the "
        "release (never inside it: the evaluation holds exact statistics of the sensitive data).",
    ),  # fmt: skip
    group_column: str | None = options.GROUP_COLUMN,
    marginal_k: int = typer.Option(2, "--marginal-k", min=1, help="Size of the k-marginals."),
    read: options.Read = options.READ,
    scale: options.Scale = options.SCALE,
    force: bool = typer.Option(False, "--force", help="Replace existing evaluation files."),
    progress: bool = options.PROGRESS,
) -> None:
    """Compare a release with the sensitive data: preservation, leakage, errors, k-marginal.

    Writes evaluation.json (machine-readable) and report.html (charts, opens
    offline) beside the release, in RELEASE-evaluation/ unless --out says
    otherwise: they hold exact statistics of the sensitive data, for the data
    owner only, so they never go into the publishable release directory.
    The ingestion options apply to both tables (to neither when SENSITIVE is
    exact counts: they were applied when counting). Exact counts must reach
    --length; the metrics then equal those computed from the records, except
    the count of sensitive records that break a declared constraint.

    Example:

    \b
        showcase evaluate cases.csv release/ --length 3 --resolution 10
        showcase evaluate 'registry/*.parquet' release/ --scheduler local[2]

    A directory or glob of inputs is counted in batches (or on Dask with
    --scheduler), never loaded whole: the metrics come from its exact counts.
    """
    from showcase.engine import evaluate as evaluate_job
    from showcase.engine import evaluation_folder

    with console.stage_progress(progress) as report:
        result = evaluate_job(
            sensitive, release, length=length, resolution=resolution, out=out, preparation=read.preparation(),
            group=group_column, marginal_k=marginal_k, force=force, progress=report,
            resources=scale.resources(),
        )  # fmt: skip
    rows = [
        [f"length {m['length']}", f"{m['sensitive_combinations']:,}",
         f"{m['release_combinations']:,}", f"{m['preserved_pct']:.1f}",
         f"{m['fabricated_pct']:.1f}", f"{m['leakage_pct']:.1f}", f"{m['mean_absolute_error']:.2f}"]
        for m in result["by_length"]
    ]  # fmt: skip
    o = result["overall"]
    rows.append(["all", f"{o['sensitive_combinations']:,}", f"{o['release_combinations']:,}",
                 f"{o['preserved_pct']:.1f}", f"{o['fabricated_pct']:.1f}",
                 f"{o['leakage_pct']:.1f}", f"{o['mean_absolute_error']:.2f}"])  # fmt: skip
    written = out if out is not None else evaluation_folder(release)
    title = f"Evaluation of {release} ({result['release_kind']}) written to {written} " \
            "(not for publication), record expansion " \
            f"{result['record_expansion']:.3f}"  # fmt: skip
    if "k_marginal" in result:
        title += f", k-marginal {result['k_marginal']['score']:.1f}"
    console.table(title, ["", "sensitive", "release", "preserved %", "fabricated %",
                          "leakage %", "MAE"], rows)  # fmt: skip
