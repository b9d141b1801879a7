"""``showcase run``: k-anonymous aggregates and synthetic records in one release directory."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from showcase.engine.pipeline import run as run_release

from . import console, options
from .synthesize import (
    OVERSAMPLING_RATIO,
    OVERSAMPLING_TRIES,
    SCALE,
    SEED,
    SYNTHETIC_COUNTS,
    TARGET,
    WEIGHT_PERCENTILE,
    mode_parameters,
    synthesis_rows,
)


def run(
    input: Path = typer.Argument(..., help="Sensitive microdata: .csv, .tsv, .parquet or .arrow."),
    length: int | None = typer.Option(
        None,
        "--length",
        "-l",
        min=1,
        help="Reporting length L: longest combination counted. Default: 3; "
        "2 with --dp (its synthesis draws on pairs, so no budget goes to longer combinations).",
    ),  # fmt: skip
    resolution: int = typer.Option(
        10,
        "--resolution",
        "-k",
        min=1,
        help="k: combinations with fewer records are neither reported nor synthesized.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Release directory to create."),
    mode: str = typer.Option(
        "row_seeded",
        "--mode",
        "-m",
        help="Synthesis mode: row_seeded, unseeded, value_seeded or aggregate_seeded "
        "(from the released aggregates).",
    ),  # fmt: skip
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
    dp: bool = typer.Option(
        False,
        "--dp",
        help="Differentially private release: DP aggregates, "
        "then records synthesized from them alone (needs --epsilon).",
    ),
    epsilon: float | None = typer.Option(None, "--epsilon", help="DP: total privacy budget ε > 0."),
    delta: float | None = typer.Option(None, "--delta", help="DP: δ in (0, 1); default 1/(n ln n)."),
    budget_total: float | None = typer.Option(
        None, "--budget-total", help="DP: refuse if this input's total ε in the ledger would exceed it."
    ),
    ledger: Path | None = typer.Option(None, "--ledger", help="DP: privacy ledger file."),
    dataset_id: str | None = options.DATASET_ID,
) -> None:
    """Release k-anonymous aggregates and synthetic records of INPUT together.

    Writes OUT/aggregates.parquet, OUT/aggregates.tsv, OUT/synthetic.csv,
    OUT/synthetic.parquet and OUT/metadata.json, all at once or not at all.

    Example:

        showcase run cases.csv --resolution 10 --length 3 --out release/

        showcase run cases.csv -k 10 -l 3 --mode aggregate_seeded --out release/

        showcase run cases.csv --dp --epsilon 4 --out dp-release/
    """
    prep = options.preparation(delimiter, use_columns, record_limit, null_marker, sensitive_zeros)
    if dp or epsilon is not None:
        _dp_run(
            input, out, length, epsilon, delta, budget_total, ledger, seed, force, threads, progress,
            prep, dp, dataset_id,
        )  # fmt: skip
        return
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
        result = run_release(
            input,
            length=length or 3,
            resolution=resolution,
            out=out,
            mode=mode,
            preparation=prep,
            seed=seed,
            force=force,
            threads=threads,
            progress=report,
            **parameters,
        )
    elapsed = time.perf_counter() - started
    if seed is not None:
        console.warning("--seed: the records are reproducible; use them for testing, not for publication.")
    aggregated = result.aggregate
    released, exact = aggregated.released, aggregated.exact
    rare = aggregated.rare_by_length
    console.table(
        f"Release written to {out} in {elapsed:.1f} s",
        ["aggregates", "combinations", "released", f"rare (< {resolution})"],
        [
            [f"length {k + 1}", f"{exact.by_length()[k]:,}", f"{released.by_length()[k]:,}", f"{rare[k]:,}"]
            for k in range(released.reporting_length)
        ]
        + [["total", f"{len(exact):,}", f"{len(released):,}", f"{int(rare.sum()):,}"]],
    )
    console.table(
        f"{mode} synthetic data",
        ["", "sensitive", "synthetic", "preserved"],
        synthesis_rows(result.synthesis),
    )


def _dp_run(
    input, out, length, epsilon, delta, budget_total, ledger, seed, force, threads, progress, prep, dp,
    dataset_id,
) -> None:  # fmt: skip
    from showcase.engine.dp.job import dp_run_release

    if not dp or epsilon is None:
        raise typer.BadParameter("--dp and --epsilon go together")
    started = time.perf_counter()
    with console.stage_progress(progress) as report:
        result, synthetic = dp_run_release(
            input, epsilon=epsilon, out=out, length=length or 2, seed=seed, force=force,
            progress=report, delta=delta, budget_total=budget_total, ledger=ledger,
            dataset_id=dataset_id, preparation=prep, threads=threads)  # fmt: skip
    options.report_ledger(result)
    if seed is not None:
        console.warning("seeded DP release: for testing only, never publish it")
    facts = result.report
    rows = [["records", f"{result.released.record_count:,} (protected)", f"{synthetic.n_rows:,}"]]
    rows += [[f"length {k + 1}", f"{n:,}", ""] for k, n in enumerate(facts["released_by_length"])]
    console.table(
        f"DP release (ε={facts['epsilon']:g}, δ={facts['delta']:.2g}) written to {out} in "
        f"{time.perf_counter() - started:.1f} s",
        ["", "aggregates", "synthetic records"],
        rows,
    )
