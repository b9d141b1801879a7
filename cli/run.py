"""``showcase run``: protected aggregates and synthetic records in one release directory."""

from __future__ import annotations

from pathlib import Path

from . import console, options
from .synthesize import synthesis_rows


@options.command
def run(
    input: Path = options.INPUT,
    length: int | None = options.length(
        "Reporting length L: longest combination counted. Default: 3 (aim, run --dp's default, "
        "chooses among pairs and triples); 2 with --dp --mechanism sds (its tree synthesis draws on pairs, "
        "so no budget goes to longer combinations)."
    ),
    resolution: int | None = options.resolution(
        "k: combinations with fewer records are neither reported nor synthesized. Default: 10. Not with --dp."
    ),
    read: options.Read = options.READ,
    mode: options.Mode = options.MODE,
    release: options.Release = options.RELEASE,
    dp: options.Dp = options.DP,
    scale: options.Scale = options.SCALE,
) -> None:
    """Release protected aggregates and synthetic records of INPUT together.

    Writes OUT/aggregates.parquet, OUT/aggregates.tsv, OUT/synthetic.csv,
    OUT/synthetic.parquet and OUT/metadata.json, all at once or not at all.

    k-anonymous by default; with --dp the aggregates are differentially
    private and the records are synthesized from them alone (mode fitted
    for the default mechanism aim, or mst; tree, pairwise or aggregate_seeded
    for sds), so they are as private as the aggregates.

    Example:

    \b
        showcase run cases.csv --resolution 10 --length 3 --out release/
        showcase run cases.csv -k 10 -l 3 --mode aggregate_seeded --out release/
        showcase run cases.csv --dp --epsilon 4 --out dp-release/
        showcase run parts/ -k 10 --mode aggregate_seeded --out release/

    INPUT may be a directory or glob of parts ('parts/*.parquet'): it is read
    in row batches. Modes that synthesize from the counts (aggregate_seeded,
    tree, pairwise, fitted) never hold the records, and may count on Dask
    (--scheduler); the others hold every record's codes.
    """
    from showcase.engine import run as run_job

    protection, preparation = dp.specs(read, resolution)
    result, elapsed = release.run(run_job, input, protection=protection, preparation=preparation,
                                  **mode.job(length), resources=scale.resources())  # fmt: skip
    options.report_preparation(result.aggregate if hasattr(result, "aggregate") else result)
    options.report_ledger(result)
    options.report_spreadsheet(result)
    release.warn_if_seeded(dp=dp.enabled)
    (_dp_summary if dp.enabled else _summary)(result, release.out, elapsed)


def _summary(result, out: Path, elapsed: float) -> None:
    """The tables of a k-anonymous release: its aggregates by length, then its synthetic records."""
    aggregated = result.aggregate
    released, exact = aggregated.released, aggregated.exact
    rare = aggregated.rare_by_length
    console.table(
        f"Release written to {out} in {elapsed:.1f} s",
        ["aggregates", "combinations", "released", f"rare (< {aggregated.protection.k})"],
        [
            [f"length {k + 1}", f"{exact.by_length()[k]:,}", f"{released.by_length()[k]:,}", f"{rare[k]:,}"]
            for k in range(released.reporting_length)
        ]
        + [["total", f"{len(exact):,}", f"{len(released):,}", f"{int(rare.sum()):,}"]],
    )
    console.table(
        f"{result.synthesis.mode} synthetic data",
        ["", "sensitive", "synthetic", "preserved"],
        synthesis_rows(result.synthesis),
    )


def _dp_summary(result, out: Path, elapsed: float) -> None:
    """The table of a DP release: released aggregates by length and the synthetic records."""
    facts, released = result.aggregate.privacy, result.aggregate.released
    rows = [["records", f"{released.record_count:,} (protected)", f"{result.synthesis.synthetic.n_rows:,}"]]
    rows += [[f"length {k + 1}", f"{n:,}", ""] for k, n in enumerate(facts["released_by_length"])]
    console.table(
        f"DP release (ε={facts['epsilon']:g}, δ={facts['delta']:.2g}) written to {out} in {elapsed:.1f} s",
        ["", "aggregates", "synthetic records"],
        rows,
    )
