"""Time row_seeded synthesis in one warm process (compilation excluded).

Tables come from ``generate_table(rows, 20, seed=1)``, encoded in process. The
synthesis is compiled on a small table first, then timed once per size. Each
line gives the size, seconds, the load averages at start and end (others may
be using the machine), the output's shape and SHA-256 (to compare revisions
byte for byte) and the process's peak RSS so far.

    python bench/row_seeded_scaling.py --rows 100000,1000000 -k 10
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time

import numpy as np

from showcase.datasets import generate_table
from showcase.engine.encode import encode
from showcase.engine.synthesize.row_seeded import row_seeded


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", help="folder to save each output as rows-k-seed.npy")
    args = parser.parse_args()
    row_seeded(encode(generate_table(3000, 20, 2)), resolution=args.k, rng=np.random.default_rng(0))
    for rows in (int(x) for x in args.rows.split(",")):
        table = encode(generate_table(rows, 20, 1))
        before = load()
        start = time.perf_counter()
        out = row_seeded(table, resolution=args.k, rng=np.random.default_rng(args.seed))
        seconds = time.perf_counter() - start
        after = load()
        if args.save:
            np.save(os.path.join(args.save, f"{rows}-{args.k}-{args.seed}.npy"), out)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        line = {
            "rows": rows,
            "k": args.k,
            "seconds": round(seconds, 2),
            "load_before": before,
            "load_after": after,
            "shape": list(out.shape),
            "sha256": hashlib.sha256(out.tobytes()).hexdigest()[:16],
            "peak_rss_mib": round(peak),
        }
        print(json.dumps(line), flush=True)
        del table, out


if __name__ == "__main__":
    main()
