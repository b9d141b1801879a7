"""Record expansion and quality of row_seeded with the former and the seeded pool (issue 15).

In one process, for NIST ACS national2019 (prepared as ``synthesize_table.py``
does) and generated tables, row_seeded runs twice with the same seed: pool
records grown from pool draws only (``seeded_pool=False``, the former pool)
and pool records seeded from sensitive records (the default). Each line:
record expansion, % of 1–3 combinations preserved, mean absolute error, NIST
k-marginal (PUMA as the group column on NIST), seconds of synthesis (one warm
process) and the load average after it.

    cd bench && python row_seeded_pool.py --rows 100000,1000000 -k 10
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import CACHE
from synthesize_table import NIST, prepared_nist

from showcase.datasets import generate_table
from showcase.engine import Preparation, load
from showcase.engine.encode import EncodedTable, encode
from showcase.engine.evaluate import Release, evaluate_release
from showcase.engine.synthesize.row_seeded import row_seeded


def measure(label: str, table: EncodedTable, k: int, seed: int, group: str | None) -> None:
    for fill in (False, True):
        start = time.perf_counter()
        codes = row_seeded(table, resolution=k, rng=np.random.default_rng(seed), seeded_pool=fill)
        seconds = time.perf_counter() - start
        synthetic = EncodedTable(table.schema, np.ascontiguousarray(codes))
        scores = evaluate_release(
            table, Release(Path("-"), "synthetic", table=synthetic), length=3, resolution=k, group=group
        )
        line = {
            "input": label,
            "seeded_pool": fill,
            "k": k,
            "record_expansion": round(scores["record_expansion"], 3),
            "preserved_pct": round(scores["overall"]["preserved_pct"], 1),
            "mae": round(scores["overall"]["mean_absolute_error"], 2),
            "k_marginal": round(scores["k_marginal"]["score"], 1),
            "seconds": round(seconds, 2),
            "load": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000", help="generated inputs (generate_table(rows, 20, 1))")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-nist", action="store_true")
    args = parser.parse_args()
    row_seeded(encode(generate_table(3000, 20, 2)), resolution=args.k, rng=np.random.default_rng(0))
    if NIST.exists() and not args.skip_nist:
        CACHE.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            table = load(prepared_nist(Path(tmp)), Preparation(null_markers=("N",)))
        measure("NIST national2019", table, args.k, args.seed, "PUMA")
    for rows in [int(r) for r in args.rows.split(",") if r]:
        measure(f"generated {rows:,} x 20", encode(generate_table(rows, 20, 1)), args.k, args.seed, None)


if __name__ == "__main__":
    main()
