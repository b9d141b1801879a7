"""``showcase compare``: mechanisms side by side on the same metrics."""

from __future__ import annotations

from pathlib import Path

import typer

import showcase.engine as engine

from . import console, options


@options.command
def compare(
    sensitive: Path = typer.Argument(..., help="The sensitive microdata."),
    mechanism: list[str] = typer.Option(
        ...,
        "--mechanism",
        "-m",
        metavar="<spec>",
        help="NAME[:key=value,...], repeatable. Names: "
        + ", ".join(engine.MECHANISMS)  # engine/mechanisms.py imports nothing heavy
        + ". E.g. row_seeded:k=10, aggregate:k=5, pac-synth:epsilon=4.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the comparison."),
    length: int = options.COMPARED_LENGTH,
    resolution: int = options.RARE_K,
    seed: int | None = options.SEED,
    group_column: str | None = options.GROUP_COLUMN,
    read: options.Read = options.READ,
    force: bool = options.FORCE,
    progress: bool = options.PROGRESS,
) -> None:
    """Run several mechanisms and compare their releases with the same metrics.

    Writes comparison.csv, comparison.json (with whether each mechanism was
    seeded and its full evaluation) and report.html. Peers (pac-synth, SmartNoise mst/aim) run
    only when installed.

    Example:

    \b
        showcase compare cases.csv -m aggregate:k=10 -m row_seeded:k=10 -m pac-synth:epsilon=4 --out cmp/
    """
    from showcase.engine import compare as compare_job

    with console.stage_progress(progress) as report:
        result = compare_job(sensitive, mechanism, length=length, resolution=resolution, out=out,
                             preparation=read.preparation(), seed=seed, group=group_column, force=force,
                             progress=report)  # fmt: skip
    rows = [[r["mechanism"], f"{r['seconds']:.1f}", f"{r['record_expansion']:.3f}",
             "–" if r["k_marginal"] is None else f"{r['k_marginal']:.1f}",
             f"{r['preserved_pct']:.1f}", f"{r['fabricated_pct']:.1f}",
             f"{r['mean_absolute_error']:.2f}"] for r in result["summary"]]  # fmt: skip
    console.table(f"Comparison written to {out}",
                  ["mechanism", "seconds", "expansion", "k-marginal", "preserved %",
                   "fabricated %", "MAE"], rows)  # fmt: skip
