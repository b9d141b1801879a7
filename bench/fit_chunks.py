"""Time aggregate_seeded's fit in runs of FIT_CHUNK proposals against one kernel call.

The fit is called on runs of proposals so that its progress shows and Ctrl-C
or SIGTERM stop it between runs; this checks that the records are the same
(SHA-256) and what the runs cost. Generated 20-column table, k = 10, L = 3,
20 sweeps, one warm process (compilation excluded), each setting twice.

    python bench/fit_chunks.py --rows 10000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np

from showcase.datasets import generate_table
from showcase.engine import KAnonymity, aggregate
from showcase.engine.synthesize import aggregate_fit
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded

ONE_CALL = 1 << 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--sweeps", type=int, default=20)
    args = parser.parse_args()
    table = generate_table(args.rows, 20, seed=1)
    released = aggregate(table, protection=KAnonymity(10), length=3).released
    aggregate_seeded(released, rng=np.random.default_rng(0), fit_sweeps=1)  # compile
    print(
        "| rows | proposals per call | synthesize s (records + fit) | SHA-256 of the records | load (1 min) |"
    )
    print("|---|---|---|---|---|")
    for chunk in (aggregate_fit.FIT_CHUNK, ONE_CALL) * 2:
        aggregate_fit.FIT_CHUNK = chunk
        start = time.perf_counter()
        records = aggregate_seeded(released, rng=np.random.default_rng(1), fit_sweeps=args.sweeps)
        seconds = time.perf_counter() - start
        digest = hashlib.sha256(np.ascontiguousarray(records.codes).tobytes()).hexdigest()[:12]
        label = "all (one call)" if chunk == ONE_CALL else f"{chunk:,}"
        print(
            f"| {args.rows:,} | {label} | {seconds:.1f} | {digest} | {os.getloadavg()[0]:.2f} |", flush=True
        )


if __name__ == "__main__":
    main()
