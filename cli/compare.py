"""``showcase compare``: mechanisms side by side on the same metrics."""

from __future__ import annotations

from pathlib import Path

import typer

import showcase.engine as engine

from . import console, options


@options.command
def compare(
    sensitive: Path = typer.Argument(..., metavar="SENSITIVE", help="The sensitive microdata."),
    mechanism: list[str] = typer.Option(
        ...,
        "--mechanism",
        "-m",
        metavar="<spec>",
        help="NAME[:key=value,...], repeatable. Names (keys): "
        + ", ".join(
            f"{name} ({', '.join(info.params)})" for name, info in engine.MECHANISMS.items()
        )  # engine/mechanisms.py imports nothing heavy
        + ". dp, dp-aim and dp-mst are showcase's own; pac-synth, mst and aim are the peers "
        "(pac-synth, SmartNoise), an error when not installed. k and epsilon have no default here "
        "(-k below only names rare combinations). E.g. row_seeded:k=10, aggregate:k=5, dp-aim:epsilon=4.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the comparison."),
    length: int = options.COMPARED_LENGTH,
    resolution: int = options.RARE_K,
    seed: int | None = options.SEED,
    group_column: str | None = options.GROUP_COLUMN,
    repeat: int = typer.Option(
        1,
        "--repeat",
        min=1,
        max=1000,
        help="Runs of each stochastic mechanism, with independent seeds: "
        "the table gives each metric's mean and 95 % interval.",
    ),
    epsilons: str | None = typer.Option(
        None,
        "--epsilon",
        metavar="E1,E2,...",
        help="Sweep every mechanism that takes an ε over these "
        "budgets (leave epsilon out of its spec); the report draws k-marginal against ε.",
    ),  # fmt: skip
    read: options.Read = options.READ,
    force: bool = options.FORCE,
    progress: bool = options.PROGRESS,
) -> None:
    """Run several mechanisms and compare their releases with the same metrics.

    Writes comparison.csv (one line per mechanism: means, and 95 % intervals
    over repeated runs), comparison.json (every run: whether it was seeded,
    its time, peak memory and full evaluation) and report.html. Peers
    (pac-synth, SmartNoise mst/aim) must be installed to run.

    Examples:

    \b
        showcase compare cases.csv -m aggregate:k=10 -m row_seeded:k=10 \\
            -m pac-synth:epsilon=4 --out cmp/
        showcase compare cases.csv -m dp -m pac-synth \\
            --epsilon 1,4,10 --repeat 5 --out sweep/
    """
    from showcase.engine import compare as compare_job

    with console.stage_progress(progress) as report:
        result = compare_job(sensitive, mechanism, length=length, resolution=resolution, out=out,
                             preparation=read.preparation(), seed=seed, group=group_column, force=force,
                             repeat=repeat, epsilons=options.numbers(epsilons, "--epsilon"),
                             progress=report)  # fmt: skip
    rows = [[r["mechanism"], str(r["runs"]), f"{r['seconds']:.1f}", f"{r['record_expansion']:.3f}",
             "–" if r["k_marginal"] is None else f"{r['k_marginal']:.1f}"
             + (f" ± {(r['k_marginal_high'] - r['k_marginal_low']) / 2:.1f}"
                if "k_marginal_low" in r else ""),
             f"{r['preserved_pct']:.1f}", f"{r['fabricated_pct']:.1f}",
             f"{r['mean_absolute_error']:.2f}"] for r in result["summary"]]  # fmt: skip
    console.table(f"Comparison written to {out}",
                  ["mechanism", "runs", "seconds", "expansion", "k-marginal", "preserved %",
                   "fabricated %", "MAE"], rows)  # fmt: skip
    for failure in result.get("failed", []):
        console.warning(f"{failure['mechanism']} (run {failure['run']}) could not run: {failure['error']}")
