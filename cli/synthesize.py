"""``showcase synthesize``: synthetic records from sensitive data or from released aggregates."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from showcase.engine.pipeline import SynthesisResult
from showcase.engine.pipeline import synthesize as run_synthesize

from . import console, options

MODE = typer.Option(
    None, "--mode", "-m", help="row_seeded (default with INPUT), unseeded, value_seeded, "
    "aggregate_seeded (default with k-anonymous --from-aggregates), tree (default with DP "
    "--from-aggregates: every record complete, drawn down a Chow-Liu tree of the released pairs) "
    "or pairwise (every record complete, from all released pairs pooled)."
)  # fmt: skip
SEED = typer.Option(
    None, "--seed", min=0, help="Seed for reproducible records (tests only: the metadata marks a seeded "
    "release as not for publication). Default: fresh OS randomness."
)  # fmt: skip
WEIGHT_PERCENTILE = typer.Option(
    None, "--weight-selection-percentile", min=0.0, max=100.0, help="aggregate_seeded: percentile of "
    "the length-L sub-combination counts that weighs an attribute once a record is longer than L. "
    "Default: 95."
)  # fmt: skip
SYNTHETIC_COUNTS = typer.Option(
    False, "--use-synthetic-counts", help="aggregate_seeded: weigh by what is left of each count "
    "after the records already synthesized."
)  # fmt: skip
SCALE = typer.Option(
    None, "--aggregate-counts-scale-factor", help="aggregate_seeded: multiply "
    "every aggregate count by this before synthesis. Default: 1."
)  # fmt: skip
TARGET = typer.Option(
    None, "--target-number-of-records", min=0, help="aggregate_seeded: records to synthesize. "
    "Default: the aggregates' record count times the scale factor."
)  # fmt: skip
OVERSAMPLING_RATIO = typer.Option(
    None, "--oversampling-ratio", min=0.0, help="value_seeded: how far above its count a combination "
    "may be synthesized (0.1 = 10 %)."
)  # fmt: skip
OVERSAMPLING_TRIES = typer.Option(
    None, "--oversampling-tries", min=1, help="value_seeded: attempts to sample an attribute that "
    "does not oversample before a record is finished."
)  # fmt: skip


def mode_parameters(
    weight_selection_percentile: float | None,
    use_synthetic_counts: bool,
    aggregate_counts_scale_factor: float | None,
    target_number_of_records: int | None,
    oversampling_ratio: float | None,
    oversampling_tries: int | None,
) -> dict:
    """The mode options as engine parameters; options left out are None (the mode's default)."""
    return {
        "weight_selection_percentile": weight_selection_percentile,
        "use_synthetic_counts": True if use_synthetic_counts else None,
        "aggregate_counts_scale_factor": aggregate_counts_scale_factor,
        "target_number_of_records": target_number_of_records,
        "oversampling_ratio": oversampling_ratio,
        "oversampling_tries": oversampling_tries,
    }


def synthesis_rows(result: SynthesisResult) -> list[list[str]]:
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
                f"{by_length['preserved_pct']:.1f} %",
            ]
        )
    overall = result.metrics["overall"]
    rows.append(
        [
            f"combinations 1..{result.length}",
            f"{overall['sensitive_combinations']:,}",
            f"{sum(result.metrics['synthetic_by_length']):,}",
            f"{overall['preserved_pct']:.1f} %",
        ]
    )
    return rows


def synthesis_header(result: SynthesisResult) -> list[str]:
    source = "sensitive" if result.reference == "sensitive data" else "aggregates"
    return ["", source, "synthetic", "preserved"]


def synthesize(
    input: Path | None = typer.Argument(
        None, help="Sensitive microdata (.csv, .tsv, .parquet, .arrow). Leave out with --from-aggregates."
    ),
    from_aggregates: Path | None = typer.Option(
        None,
        "--from-aggregates",
        help="Synthesize from released aggregates only (a release directory, its aggregates.parquet "
        "or an SDS .tsv); never reads sensitive data. With INPUT too, INPUT is only compared with.",
    ),  # fmt: skip
    mode: str | None = MODE,
    resolution: int | None = typer.Option(
        None, "--resolution", "-k", min=1, help="k of the k-anonymity modes. Default with INPUT: 10."
    ),
    length: int | None = typer.Option(
        None,
        "--length",
        "-l",
        min=1,
        help="Longest combination L that aggregate_seeded keeps and the summary checks. "
        "Default: 3, or the aggregates' reporting length.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Release directory to create."),
    delimiter: str | None = options.DELIMITER,
    use_columns: str | None = options.USE_COLUMNS,
    record_limit: int | None = options.RECORD_LIMIT,
    null_marker: list[str] | None = options.NULL_MARKER,
    sensitive_zeros: str | None = options.SENSITIVE_ZEROS,
    weight_selection_percentile: float | None = WEIGHT_PERCENTILE,
    use_synthetic_counts: bool = SYNTHETIC_COUNTS,
    aggregate_counts_scale_factor: float | None = SCALE,
    target_number_of_records: int | None = TARGET,
    oversampling_ratio: float | None = OVERSAMPLING_RATIO,
    oversampling_tries: int | None = OVERSAMPLING_TRIES,
    seed: int | None = SEED,
    force: bool = options.FORCE,
    threads: int | None = options.THREADS,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Synthesize records that keep the data's combinations without exposing rare ones.

    From sensitive INPUT with a k-anonymity mode (row_seeded, unseeded,
    value_seeded: no combination of any length shared by fewer than k
    records), or with aggregate_seeded (k-anonymous counts of up to L
    attributes first, records from those only). With --from-aggregates,
    records come from a release's aggregates alone. Writes OUT/synthetic.csv,
    OUT/synthetic.parquet and OUT/metadata.json, all at once or not at all.

    Example:

        showcase synthesize cases.csv --mode row_seeded --resolution 10 --length 3 --out synthetic/

        showcase synthesize --from-aggregates release/ --out synthetic/
    """
    if input is not None and from_aggregates is None and resolution is None:
        resolution = 10
    prep = options.preparation(delimiter, use_columns, record_limit, null_marker, sensitive_zeros)
    parameters = mode_parameters(
        weight_selection_percentile,
        use_synthetic_counts,
        aggregate_counts_scale_factor,
        target_number_of_records,
        oversampling_ratio,
        oversampling_tries,
    )
    started = time.perf_counter()
    with console.stage_progress(progress) as report:
        result = run_synthesize(
            input,
            aggregates=from_aggregates,
            mode=mode,
            length=length,
            resolution=resolution,
            out=out,
            preparation=prep,
            seed=seed,
            force=force,
            threads=threads,
            progress=report,
            **parameters,
        )
    elapsed = time.perf_counter() - started
    if result.protection == "none":
        console.warning(
            "the aggregates are not marked as protected (an SDS .tsv carries no marking); the "
            "synthetic records are exactly as protected as they are."
        )
    if seed is not None:
        console.warning("--seed: the records are reproducible; use them for testing, not for publication.")
    console.table(
        f"{result.mode} synthetic data written to {out} in {elapsed:.1f} s",
        synthesis_header(result),
        synthesis_rows(result),
    )
