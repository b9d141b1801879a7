"""Time the set-up of aggregate_seeded's fit (counting the records' cells), without the fit itself.

The records come from ``aggregate_seeded(..., fit_sweeps=0)`` on the k = 10, L = 3 aggregates of
``generate_table(rows, 20, 1)``; the fit is then called with no proposals, so only its set-up runs
(the second call, compilation excluded).

    python bench/fit_setup.py --rows 300000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from showcase.datasets import generate_table
from showcase.engine.count import count_combinations
from showcase.engine.encode import encode
from showcase.engine.protect import k_anonymize
from showcase.engine.synthesize import aggregate_fit
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    aggregates = k_anonymize(count_combinations(encode(generate_table(args.rows, 20, 1)), 3), 10)
    records = aggregate_seeded(aggregates, rng=np.random.default_rng(1), fit_sweeps=0).codes
    aggregate_fit.fit_proposals = lambda n, n_cols, sweeps: 0  # the set-up only
    for run in ("first (compiles)", "second"):
        start = time.perf_counter()
        aggregate_fit.fit_records(aggregates, records, seed=np.uint64(1), sweeps=20)
        print(f"{args.rows:,} rows, {run}: set-up {time.perf_counter() - start:.2f} s, "
              f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
