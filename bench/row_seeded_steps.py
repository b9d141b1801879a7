"""Time row_seeded's steps apart: the support index, the first pass and the pool.

Tables come from ``generate_table(rows, 20, seed=1)``; compilation is done on a
small table first. ``--split-cost`` times the first pass once per value of
``SPLIT_COST`` (how readily records sharing a kept prefix get an index of
their own); the records are the same for every value, which the SHA-256
column shows. The pool runs after the first value only.

    python bench/row_seeded_steps.py --rows 1000000,3000000 --split-cost 4000,1000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np

from showcase.datasets import generate_table
from showcase.engine.encode import encode
from showcase.engine.randomness import stream_seeds
from showcase.engine.synthesize.consolidate import PARTITION_SIZE, consolidate, support_index
from showcase.engine.synthesize.row_seeded import SPLIT_COST, first_pass


def steps(rows: int, k: int, costs: list[float], seed: int) -> None:
    """Print one line per first-pass timing of a ``rows`` x 20 table."""
    table = encode(generate_table(rows, 20, 1))
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    index = support_index(table, k)
    index_s = time.perf_counter() - start
    seeds = stream_seeds(rng, max(1, -(-table.n_rows // PARTITION_SIZE)))
    for i, cost in enumerate(costs):
        load = os.getloadavg()[0]
        start = time.perf_counter()
        out = first_pass(table, index, k, seeds, split_cost=cost)
        first_s = time.perf_counter() - start
        digest = hashlib.sha256(out.tobytes()).hexdigest()[:12]
        if i == 0:
            start = time.perf_counter()
            records = consolidate(index, out, k, rng).shape[1]
            pool = f"| {time.perf_counter() - start:.1f} | {records / rows:.3f} "
        else:
            pool = "| | "
        print(
            f"| {rows:,} | {cost:g} | {index_s:.1f} | {first_s:.1f} {pool}| {digest} | {load:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--split-cost", default=str(SPLIT_COST))
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    small = encode(generate_table(3000, 20, 2))
    first_pass(small, support_index(small, args.k), args.k, stream_seeds(np.random.default_rng(0), 3))
    costs = [float(x) for x in args.split_cost.split(",")]
    header = ["rows", "SPLIT_COST", "index s", "first pass s", "pool s", "records / input", "SHA-256", "load"]
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for rows in (int(x) for x in args.rows.split(",")):
        steps(rows, args.k, costs, args.seed)


if __name__ == "__main__":
    main()
