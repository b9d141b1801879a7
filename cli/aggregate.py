"""``showcase aggregate``: count combinations and write protected aggregates."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from showcase.engine import aggregate as run_aggregate

from . import console, options


def aggregate(
    input: Path = typer.Argument(..., help="Sensitive microdata: .csv, .tsv, .parquet or .arrow."),
    length: int = typer.Option(
        3, "--length", "-l", min=1, help="Reporting length L: longest combination counted."
    ),
    resolution: int = typer.Option(
        10,
        "--resolution",
        "-k",
        min=1,
        help="k: combinations with fewer records are not reported; "
        "counts are rounded down to multiples of k.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Release directory to create."),
    delimiter: str | None = options.DELIMITER,
    use_columns: str | None = options.USE_COLUMNS,
    record_limit: int | None = options.RECORD_LIMIT,
    null_marker: list[str] | None = options.NULL_MARKER,
    sensitive_zeros: str | None = options.SENSITIVE_ZEROS,
    unprotected: bool = typer.Option(
        False,
        "--unprotected",
        help="Write EXACT counts (sensitive_aggregates.*). They are as "
        "sensitive as the input: never publish them.",
    ),  # fmt: skip
    force: bool = options.FORCE,
    threads: int | None = options.THREADS,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    dp: bool = typer.Option(
        False,
        "--dp",
        help="Release differentially private counts instead of k-anonymous ones (needs --epsilon).",
    ),
    epsilon: float | None = typer.Option(None, "--epsilon", help="DP: total privacy budget ε > 0."),
    delta: float | None = typer.Option(
        None, "--delta", help="DP: δ in (0, 1). Default: 1/(n ln n) for the protected count n."
    ),
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        help="DP: reproducible noise, for testing only (never publish a "
        "seeded release). Default: the OS's secure randomness.",
    ),
    fabrication_mode: str = typer.Option(
        "balanced",
        "--fabrication-mode",
        help="DP: thresholds for lengths >= 2: uncontrolled, balanced, minimize or progressive.",
    ),
    thresholds: str | None = typer.Option(
        None, "--thresholds", help="DP: fixed thresholds for lengths 2..L, e.g. '5,10'."
    ),
    accuracy_mode: str | None = typer.Option(
        None,
        "--accuracy-mode",
        help="DP: noise split over lengths: balanced, prioritize-long or prioritize-short.",
    ),
    sigma_proportions: str | None = typer.Option(
        None, "--sigma-proportions", help="DP: relative noise per length 1..L, e.g. '1,1,2'."
    ),
    percentile: float = typer.Option(
        99.0,
        "--percentile",
        help="DP: percentile of per-record combination counts that bounds each record's contribution.",
    ),
    percentile_proportion: float = typer.Option(
        0.1, "--percentile-proportion", help="DP: share of the budget for those percentiles."
    ),
    record_count_proportion: float = typer.Option(
        0.005, "--record-count-proportion", help="DP: share of ε for the record count."
    ),
    codebook: Path | None = typer.Option(
        None,
        "--codebook",
        help="DP: public CSV 'column,value' listing every possible value; "
        "removes the δ spent choosing attributes from the data.",
    ),
    subject_id: str | None = typer.Option(
        None, "--subject-id", help="DP: column identifying a subject; privacy is per subject."
    ),
    budget_total: float | None = typer.Option(
        None,
        "--budget-total",
        help="DP: refuse the release if this input's total ε in the ledger would exceed this.",
    ),
    ledger: Path | None = typer.Option(
        None,
        "--ledger",
        help="DP: privacy ledger file (default $SHOWCASE_LEDGER or ~/.showcase/ledger.sqlite).",
    ),
    dataset_id: str | None = options.DATASET_ID,
) -> None:
    """Count every combination of up to L attributes and release k-anonymous counts.

    Writes OUT/aggregates.parquet, OUT/aggregates.tsv (Synthetic Data Showcase
    format) and OUT/metadata.json, all at once or not at all.

    With --dp the counts are (ε, δ)-differentially private (SPEC §2.2): exact
    discrete Gaussian noise, zCDP accounting, and a privacy ledger entry.

    Example:

        showcase aggregate cases.csv --length 3 --resolution 10 --out release/

        showcase aggregate cases.csv --dp --epsilon 4 --length 3 --out dp-release/
    """
    if dp or epsilon is not None:
        if not dp or epsilon is None:
            raise typer.BadParameter("--dp and --epsilon go together")
        if unprotected:
            raise typer.BadParameter("--unprotected cannot be combined with --dp")
        _dp(
            input,
            out,
            progress,
            seed,
            length=length,
            epsilon=epsilon,
            delta=delta,
            fabrication_mode=fabrication_mode,
            thresholds=_floats(thresholds, "--thresholds"),
            accuracy_mode=accuracy_mode,
            sigma_proportions=_floats(sigma_proportions, "--sigma-proportions"),
            percentile=percentile,
            percentile_proportion=percentile_proportion,
            record_count_proportion=record_count_proportion,
            codebook=codebook,
            subject_id=subject_id,
            budget_total=budget_total,
            ledger=ledger,
            dataset_id=dataset_id,
            force=force,
            threads=threads,
            preparation=options.preparation(
                delimiter, use_columns, record_limit, null_marker, sensitive_zeros
            ),
        )
        return
    if unprotected:
        console.warning("--unprotected: the release holds exact counts, as sensitive as the input data.")
    prep = options.preparation(delimiter, use_columns, record_limit, null_marker, sensitive_zeros)
    started = time.perf_counter()
    with console.stage_progress(progress) as report:
        result = run_aggregate(
            input,
            length=length,
            resolution=resolution,
            out=out,
            preparation=prep,
            unprotected=unprotected,
            force=force,
            threads=threads,
            progress=report,
        )
    elapsed = time.perf_counter() - started
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
        ["", "combinations", "released", f"rare (< {resolution})"],
        rows,
    )


def _floats(text: str | None, name: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in options.split_list(text) or []]
    except ValueError:
        raise typer.BadParameter(f"{name} must be comma-separated numbers, got {text!r}") from None


def _dp(input: Path, out: Path, progress: bool, seed: int | None, **release_options) -> None:
    """Run a DP release (options as :func:`dp_aggregate_release` takes them) and report it."""
    from showcase.engine.dp.job import dp_aggregate_release

    started = time.perf_counter()
    with console.stage_progress(progress) as report:
        result = dp_aggregate_release(input, out=out, seed=seed, progress=report, **release_options)
    facts = result.report
    options.report_ledger(result)
    if seed is not None:
        console.warning("seeded DP release: for testing only, never publish it")
    rows = [["records (protected)", f"{result.released.record_count:,}", "", "", ""]]
    for k, released in enumerate(facts["released_by_length"]):
        rows.append(
            [
                f"length {k + 1}",
                f"{facts['candidates_by_length'][k]:,}",
                f"{released:,}",
                f"{facts['sensitivity_bounds'][k]}",
                f"{facts['thresholds'][k]:.1f}",
            ]
        )
    console.table(
        f"DP aggregates (ε={facts['epsilon']:g}, δ={facts['delta']:.2g}) written to {out} in "
        f"{time.perf_counter() - started:.1f} s",
        ["", "candidates", "released", "Δ (bound)", "threshold"],
        rows,
    )
