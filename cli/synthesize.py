"""``showcase synthesize``: synthetic records from sensitive data or from released aggregates."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console, options


def synthesis_rows(result) -> list[list[str]]:
    """Summary rows: records in and out, then combinations preserved by length."""
    rows = [
        [
            "records",
            f"{result.input_records:,}",
            f"{result.synthetic.n_rows:,}",
            f"expansion {result.record_expansion:.3f}",
        ]
    ]
    if result.metrics is None:
        return rows
    for by_length, synthetic in zip(result.metrics["by_length"], result.metrics["synthetic_by_length"]):
        rows.append(
            [
                f"length {by_length['length']}",
                f"{by_length['sensitive_combinations']:,}",
                f"{synthetic:,}",
                _preserved(by_length),
            ]
        )
    overall = result.metrics["overall"]
    rows.append(
        [
            f"combinations 1..{result.length}",
            f"{overall['sensitive_combinations']:,}",
            f"{sum(result.metrics['synthetic_by_length']):,}",
            _preserved(overall),
        ]
    )
    return rows


def _preserved(metrics: dict) -> str:
    """The share of combinations kept, or a dash where there were none to keep (not "0.0 %")."""
    return f"{metrics['preserved_pct']:.1f} %" if metrics["sensitive_combinations"] else "–"


def synthesis_header(result) -> list[str]:
    """The summary's header: what the synthetic records are compared with."""
    source = "sensitive" if result.reference == "sensitive data" else "aggregates"
    return ["", source, "synthetic", "preserved"]


@options.command
def synthesize(
    input: Path | None = typer.Argument(
        None,
        metavar="INPUT",
        help="Sensitive microdata (.csv, .tsv, .parquet, .arrow, .xlsx/.xlsm). "
        "Leave out with --from-aggregates.",
    ),
    from_aggregates: Path | None = typer.Option(
        None,
        "--from-aggregates",
        help="Synthesize from released aggregates only (a release directory, "
        "its aggregates.parquet or an SDS .tsv); never reads sensitive data. With INPUT too, INPUT is "
        "only compared with.",
    ),  # fmt: skip
    resolution: int | None = options.resolution(
        "k of the k-anonymity modes (row_seeded, unseeded, value_seeded, aggregate_seeded from INPUT). "
        "Default with INPUT: 10. Not with --from-aggregates."
    ),
    length: int | None = options.length(
        "Longest combination L that aggregate_seeded keeps and the summary checks. "
        "Default: 3, or the aggregates' reporting length."
    ),
    read: options.Read = options.READ,
    mode: options.Mode = options.MODE,
    release: options.Release = options.RELEASE,
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        metavar="local[N]|tcp://HOST:PORT",
        help="Build aggregate_seeded or tree records on Dask: N local worker processes, or an existing "
        "scheduler. The same --seed gives the same records whatever the workers. Needs pip install "
        "'showcase[distributed]'.",
    ),  # fmt: skip
) -> None:
    """Synthesize records that keep the data's combinations without exposing rare ones.

    From sensitive INPUT with a k-anonymity mode (row_seeded, unseeded,
    value_seeded: no combination of any length shared by fewer than k
    records), or with aggregate_seeded (k-anonymous counts of up to L
    attributes first, records from those only). With --from-aggregates,
    records come from a release's aggregates alone. Writes OUT/synthetic.csv,
    OUT/synthetic.parquet and OUT/metadata.json, all at once or not at all.

    Example:

    \b
        showcase synthesize cases.csv --mode row_seeded --resolution 10 \\
            --length 3 --out synthetic/
        showcase synthesize --from-aggregates release/ --out synthetic/
        showcase synthesize --from-aggregates release/ \\
            --scheduler local[2] --out synthetic/
    """
    from showcase.engine import KAnonymity
    from showcase.engine import synthesize as synthesize_job

    protection = None
    if resolution is not None or (input is not None and from_aggregates is None):
        options.warn_if_unprotected(resolution)
        protection = KAnonymity(**options.given(k=resolution))
    result, elapsed = release.run(synthesize_job, input, aggregates=from_aggregates, protection=protection,
                                  preparation=read.preparation(), scheduler=scheduler,
                                  **mode.job(length))  # fmt: skip
    if result.protection == "none":
        console.warning(
            "the aggregates are not marked as protected (exact counts, or an SDS .tsv, which carries no "
            "marking): the synthetic records are exactly as protected as they are, and metadata.json "
            "marks them sensitive; publish them only if the aggregates were protected"
        )
    options.report_preparation(result)
    options.report_spreadsheet(result)
    release.warn_if_seeded()
    console.table(
        f"{result.mode} synthetic data written to {release.out} in {elapsed:.1f} s",
        synthesis_header(result),
        synthesis_rows(result),
    )
