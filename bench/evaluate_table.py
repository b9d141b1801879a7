"""Time ``showcase evaluate`` of N synthetic rows against N sensitive rows × 20 columns.

The "synthetic" table is the sensitive one with 30 % of each column's cells
replaced by the value of a random other record (same domain, different joint
distribution), so every metric has real work to do.

    python bench/evaluate_table.py --rows 1000000 --length 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import BENCH, CACHE, generated_input, run_isolated


def perturbed(source: Path, rows: int) -> Path:
    path = CACHE / f"perturbed-{rows}.parquet"
    if path.exists():
        return path
    table = pq.read_table(source) if source.suffix == ".parquet" else None
    if table is None:
        from showcase.engine import read_table

        table = read_table(source)
    rng = np.random.default_rng(99)
    columns = []
    for column in table.columns:
        column = column.combine_chunks()
        donors = rng.integers(0, rows, rows)
        swap = rng.random(rows) < 0.3
        take = np.where(swap, donors, np.arange(rows))
        columns.append(column.take(pa.array(take)))
    pq.write_table(pa.table(columns, names=table.column_names), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--length", type=int, default=3)
    args = parser.parse_args()
    sensitive = generated_input(args.rows, 20, suffix=".parquet")
    synthetic = perturbed(sensitive, args.rows)
    warm = generated_input(1000, 20)
    with tempfile.TemporaryDirectory(dir=BENCH / ".cache") as tmp:
        run_isolated(
            [
                sys.executable,
                "-m",
                "showcase.cli.main",
                "evaluate",
                str(warm),
                str(warm),
                "-o",
                str(Path(tmp) / "warm"),
                "--no-progress",
            ]
        )
        out = Path(tmp) / "eval"
        result = run_isolated(
            [
                sys.executable,
                "-m",
                "showcase.cli.main",
                "evaluate",
                str(sensitive),
                str(synthetic),
                "-l",
                str(args.length),
                "-k",
                "10",
                "-o",
                str(out),
                "--no-progress",
            ]
        )
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        doc = json.loads((out / "evaluation.json").read_text())
    print(
        "| sensitive rows | synthetic rows | cols | L | seconds | peak RSS MiB | k-marginal | preserved % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.rows:,} | {args.rows:,} | 20 | {args.length} | {result.seconds:.1f} "
        f"| {result.peak_rss_mib:.0f} | {doc['k_marginal']['score']:.1f} "
        f"| {doc['overall']['preserved_pct']:.1f} |"
    )


if __name__ == "__main__":
    main()
