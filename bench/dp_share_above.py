"""How many records lie above the DP percentile bound of an sds release (issue 14, the cluster guard).

On a Dask cluster, the records above each length's bound come to the client
(their codes, row numbers and candidate numbers), and the resource guard
counts ``ABOVE_MARGIN`` (2) times the nominal share ``1 - percentile / 100``
of them before the release starts. The bound is a DP percentile, so the true
share varies. This script runs in-process sds releases (L = 3, the default
99th percentile) with several seeds and reads every length's histogram and
chosen bound, and prints the share of records above it: mean, maximum, and
the maximum over the nominal 1 %.

    cd bench && python dp_share_above.py --seeds 10 --epsilons 0.1,1,4 --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from synthesize_table import NIST, prepared_nist

from showcase.datasets import generate_table
from showcase.engine import Preparation, aggregate
from showcase.engine.dp import marginals
from showcase.engine.protection import DifferentialPrivacy


def watch_bounds(shares: list[float]) -> None:
    """Record, for every bound the releases choose, the share of records above it."""
    choose = marginals.dp_percentile_of_histogram

    def watched(histogram, percentile, epsilon, source, *rest):
        bound = choose(histogram, percentile, epsilon, source, *rest)
        counts = np.asarray(histogram)
        # The release uses max(1, bound): a record with more candidates than that is trimmed.
        shares.append(float(counts[max(1, bound) + 1 :].sum() / max(counts.sum(), 1)))
        return bound

    marginals.dp_percentile_of_histogram = watched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epsilons", default="0.1,1,4")
    parser.add_argument("--rows", type=int, default=1_000_000, help="generate_table(rows, 20, 1)")
    args = parser.parse_args()
    shares: list[float] = []
    watch_bounds(shares)
    inputs = []
    folder = tempfile.TemporaryDirectory()
    if NIST.exists():
        nist = prepared_nist(Path(folder.name))
        inputs.append(("NIST national2019", nist, Preparation(null_markers=("N",))))
    inputs.append((f"generated {args.rows:,}", generate_table(args.rows, 20, 1), Preparation()))
    with folder:
        for label, source, preparation in inputs:
            for epsilon in (float(e) for e in args.epsilons.split(",")):
                shares.clear()
                for seed in range(args.seeds):
                    ledger = Path(folder.name) / "ledger.sqlite"  # not the user's own
                    protection = DifferentialPrivacy(epsilon=epsilon, algorithm="sds", ledger=ledger)
                    aggregate(source, protection=protection, length=3, seed=seed, preparation=preparation)
                values = np.array(shares)
                line = {
                    "input": label,
                    "epsilon": epsilon,
                    "bounds": len(values),
                    "share_above_mean": round(float(values.mean()), 5),
                    "share_above_max": round(float(values.max()), 5),
                    "max_over_nominal": round(float(values.max()) / 0.01, 2),
                }
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
