"""Time aggregate_seeded on generated records: the records alone, then with the default fit.

The aggregates are the k-anonymous counts (``-k``, length ``-l``) of
``generate_table(rows, 20, 1)``; compilation is done on a small table first.
Each line gives both timings and the records' SHA-256 (to compare revisions
byte for byte).

    python bench/aggregate_seeded_time.py --rows 300000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np

from showcase.datasets import generate_table
from showcase.engine.count import count_combinations
from showcase.engine.encode import encode
from showcase.engine.protect import k_anonymize
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded


def timed(aggregates, **options) -> tuple[float, str]:
    """Seconds and short SHA-256 of one aggregate_seeded call (seed 1)."""
    start = time.perf_counter()
    records = aggregate_seeded(aggregates, rng=np.random.default_rng(1), **options).codes
    return time.perf_counter() - start, hashlib.sha256(records.tobytes()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="300000", help="comma-separated row counts")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("-l", "--length", type=int, default=3)
    args = parser.parse_args()
    small = k_anonymize(count_combinations(encode(generate_table(3000, 20, 1)), args.length), args.k)
    aggregate_seeded(small, rng=np.random.default_rng(1))  # compiles
    print("| rows | records only s | SHA-256 | with the fit s | SHA-256 | load |")
    print("|---|---|---|---|---|---|")
    for rows in (int(x) for x in args.rows.split(",")):
        table = encode(generate_table(rows, 20, 1))
        aggregates = k_anonymize(count_combinations(table, args.length), args.k)
        built, built_sha = timed(aggregates, fit_sweeps=0)
        fitted, fitted_sha = timed(aggregates)
        load = f"{os.getloadavg()[0]:.2f}"
        cells = [f"{rows:,}", f"{built:.1f}", built_sha, f"{fitted:.1f}", fitted_sha, load]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
