"""``showcase aggregate``: count combinations and write protected aggregates."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console, options


@options.command
def aggregate(
    input: Path = options.INPUT,
    length: int | None = options.length("Reporting length L: longest combination counted. Default: 3."),
    resolution: int | None = options.resolution(
        "k: combinations with fewer records are not reported; counts are rounded down to multiples "
        "of k. Default: 10. Not with --dp."
    ),
    unprotected: bool = typer.Option(
        False,
        "--unprotected",
        help="Write EXACT counts (sensitive_aggregates.*). They are as "
        "sensitive as the input: never publish them. Not with --dp.",
    ),  # fmt: skip
    read: options.Read = options.READ,
    release: options.Release = options.RELEASE,
    dp: options.Dp = options.DP,
    scale: options.Scale = options.SCALE,
) -> None:
    """Count every combination of up to L attributes and release k-anonymous counts.

    Writes OUT/aggregates.parquet, OUT/aggregates.tsv (Synthetic Data Showcase
    format) and OUT/metadata.json, all at once or not at all.

    With --dp the counts are (ε, δ)-differentially private: exact
    discrete Gaussian noise, zCDP accounting, and a privacy ledger entry.
    --seed applies to --dp only (k-anonymous counts have no randomness).

    Example:

    \b
        showcase aggregate cases.csv --length 3 --resolution 10 --out release/
        showcase aggregate cases.csv --dp --epsilon 4 --length 3 --out dp-release/
        showcase aggregate 'registry/*.parquet' --memory-limit 6GiB --out release/
    """
    from showcase.engine import aggregate as aggregate_job

    protection, preparation = dp.specs(read, resolution, unprotected)
    resources = scale.resources()
    if not dp.enabled:
        options.refuse({"--seed": release.seed}, "used with --dp only: k-anonymous counts have no randomness")
    if unprotected:
        console.warning("--unprotected: the release holds exact counts, as sensitive as the input data.")
    result, elapsed = release.run(aggregate_job, input, protection=protection, preparation=preparation,
                                  resources=resources, **options.given(length=length))  # fmt: skip
    options.report_preparation(result.aggregate if hasattr(result, "aggregate") else result)
    options.report_ledger(result)
    options.report_spreadsheet(result)
    release.warn_if_seeded(dp=dp.enabled)
    (_dp_summary if dp.enabled else _summary)(result, release.out, elapsed)


def _summary(result, out: Path, elapsed: float) -> None:
    """The table of a k-anonymous (or exact) release: combinations, released and rare, by length."""
    released, exact = result.released, result.exact
    by_length = released.by_length()
    rare = result.rare_by_length
    rows = [["records", f"{exact.record_count:,}", "", ""]]
    rows += [
        [f"length {k + 1}", f"{exact.by_length()[k]:,}", f"{by_length[k]:,}", f"{rare[k]:,}"]
        for k in range(released.reporting_length)
    ]
    rows.append(["total", f"{len(exact):,}", f"{len(released):,}", f"{int(rare.sum()):,}"])
    console.table(
        f"Aggregates written to {out} in {elapsed:.1f} s",
        ["", "combinations", "released", f"rare (< {result.protection.k})"],
        rows,
    )


def _dp_summary(result, out: Path, elapsed: float) -> None:
    """The table of a DP release: candidates, released, sensitivity bound and threshold, by length."""
    facts = result.privacy
    rows = [["records (protected)", f"{result.released.record_count:,}", "", "", ""]]
    for k, released in enumerate(facts["released_by_length"]):
        rows.append(
            [
                f"length {k + 1}",
                _candidates(facts["candidates_by_length"][k]),
                f"{released:,}",
                f"{facts['sensitivity_bounds'][k]}",
                f"{facts['thresholds'][k]:.1f}",
            ]
        )
    console.table(
        f"DP aggregates (ε={facts['epsilon']:g}, δ={facts['delta']:.2g}) written to {out} in {elapsed:.1f} s",
        ["", "candidates", "released", "Δ (bound)", "threshold"],
        rows,
    )


def _candidates(count: int | None) -> str:
    """A length's number of candidates; None (length 1 without a public domain) is the data's values."""
    return "the data's values" if count is None else f"{count:,}"
