"""``showcase run --dp`` (DP aggregates + pairwise synthesis) on the ACS excerpt and at scale.

For each epsilon and seed, one process runs the whole release; metrics come
from the evaluation module against the sensitive table (SDNist 2.x k-marginal
with PUMA, MAE of 1..L combination counts, % fabricated / suppressed, record
expansion, % complete rows = rows with a value in every column that is never
missing in the input).

    python bench/dp_run_table.py --epsilons 1,4,10 --seeds 1,2,3,4,5 --length 2
    python bench/dp_run_table.py --generated 1000000 --epsilons 4 --seeds 1 --length 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
from harness import BENCH, generated_input, release_scores, run_showcase
from synthesize_table import prepared_nist

from showcase.engine import Preparation, encode, load, read_table
from showcase.engine.evaluate import Release, evaluate_release


def metrics(sensitive, synthetic_path: Path, prep: Preparation, length: int) -> dict:
    table = encode(
        read_table(synthetic_path),
        null_markers=prep.null_markers,
        sensitive_zeros=prep.sensitive_zeros,
        schema=sensitive.schema,
    )
    result = evaluate_release(
        sensitive, Release(synthetic_path, "synthetic", table=table), length=length, resolution=10
    )
    full = [c for c in range(sensitive.n_columns) if (sensitive.codes[c] != 0).all()]
    complete = float(np.mean(np.all(table.codes[full] != 0, axis=0))) if full else 1.0
    return {**release_scores(result), "complete_pct": 100 * complete}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,4,10")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--length", type=int, default=2)
    parser.add_argument("--generated", type=int, default=0, help="rows of generated data instead")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=BENCH / ".cache"))
    if args.generated:
        path, prep, extra = generated_input(args.generated, 20), Preparation(), []
    else:
        path = prepared_nist(tmp)
        prep = Preparation(null_markers=("N",), sensitive_zeros="all")
        extra = ["--null-marker", "N", "--sensitive-zeros", "all"]
    sensitive = load(path, prep)
    env_ledger = str(tmp / "ledger.sqlite")
    print(
        f"| input | ε | L | seeds | seconds | peak RSS MiB | k-marginal | MAE 1–{args.length} "
        "| % fabricated | % suppressed | record expansion | % complete rows |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for epsilon in [float(e) for e in args.epsilons.split(",")]:
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            out = tmp / f"e{epsilon}-s{seed}"
            done, error = run_showcase(
                "run",
                [
                    str(path),
                    "--dp",
                    "--epsilon",
                    str(epsilon),
                    "-l",
                    str(args.length),
                    "-o",
                    str(out),
                    "--seed",
                    str(seed),
                    "--ledger",
                    env_ledger,
                    *extra,
                ],
                timeout=1200,
            )
            if error:
                raise SystemExit(done.stderr)
            rows.append(
                {
                    "seconds": done.seconds,
                    "rss": done.peak_rss_mib,
                    **metrics(sensitive, out / "synthetic.csv", prep, args.length),
                }
            )

        def cell(key: str, digits: int = 1, rows: list = rows) -> str:
            values = [r[key] for r in rows]
            if len(values) == 1:
                return f"{values[0]:.{digits}f}"
            return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

        name = f"generated {args.generated:,}×20" if args.generated else "ACS national2019"
        print(
            f"| {name} | {epsilon:g} | {args.length} | {len(rows)} | {cell('seconds')} "
            f"| {max(r['rss'] for r in rows):.0f} | {cell('k_marginal')} | {cell('mae', 2)} "
            f"| {cell('fabricated_pct')} | {cell('suppressed_pct')} | {cell('expansion', 3)} "
            f"| {cell('complete_pct')} |",
            flush=True,
        )
    print(f"<!-- load average at the end: {os.getloadavg()[0]:.2f} -->")


if __name__ == "__main__":
    main()
