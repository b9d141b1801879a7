"""Time the explorer's selection queries (issue 13) on a large synthetic-like table.

The table is ``generate_table(rows, columns, seed=1)`` encoded in process.
The index (per-value row bitsets) is built once and timed; the kernels are
compiled on a small table first. Then ``changes`` random selection changes
(1 to 4 selected columns, 1 or 2 values each, seeded) are each answered as
the server does: ``counts()`` and ``total()``, timed together; p50 and p99
are reported, with the index's memory and the process's peak RSS.

    python bench/explore_selection.py --rows 10000000 --columns 20 --changes 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import time

import numpy as np

from showcase.datasets import generate_table
from showcase.engine.encode import encode
from showcase.engine.explore.index import RecordsIndex


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def selection(rng: random.Random, columns) -> dict[str, list[str]]:
    usable = [c for c in columns if c.values]
    picked = rng.sample(usable, rng.randint(1, min(4, len(usable))))
    return {c.name: rng.sample(c.values, min(len(c.values), rng.randint(1, 2))) for c in picked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warm = RecordsIndex.from_table(encode(generate_table(5000, args.columns, 2)))
    warm.counts(selection(random.Random(0), warm.columns))
    warm.total({})

    started = time.perf_counter()
    table = encode(generate_table(args.rows, args.columns, seed=1))
    encoded_s = time.perf_counter() - started
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    index = RecordsIndex.from_table(table)
    build_s = time.perf_counter() - started

    rng = random.Random(args.seed)
    times = []
    for _ in range(args.changes):
        chosen = selection(rng, index.columns)
        started = time.perf_counter()
        index.counts(chosen)
        index.total(chosen)
        times.append((time.perf_counter() - started) * 1000)
    ms = np.array(times)
    result = {
        "rows": args.rows,
        "columns": args.columns,
        "attributes": int(table.schema.n_attributes),
        "threads": int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1),
        "encode_s": round(encoded_s, 2),
        "build_s": round(build_s, 2),
        "index_mib": round(index.nbytes / 2**20, 1),
        "codes_mib": round(table.codes.nbytes / 2**20, 1),
        "peak_rss_before_build_mib": round(rss_before),
        "peak_rss_mib": round(peak_rss_mib()),
        "changes": args.changes,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
