"""Adaptive DP marginals (mst / aim) + fitted synthesis: k-marginal by epsilon, mean of seeds.

In one process per configuration (the release and synthesis functions the
``run --dp --mechanism`` job calls, timed per run, compile time excluded by a
warm-up run). Inputs: the ACS national excerpt prepared as
``dp_run_table.py`` does, the MA excerpt prepared the same way (``--ma``), or a
generated table (``--generated N``).

    python bench/dp_adaptive_table.py --mechanism aim --epsilons 1,4,10 --seeds 1,2,3,4,5
    python bench/dp_adaptive_table.py --mechanism aim --length 3 --rounds 40
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import BENCH, generated_input
from synthesize_table import NIST, prepared_nist

from showcase.engine import Preparation, load
from showcase.engine.dp.adaptive import adaptive_aggregate
from showcase.engine.dp.adaptive_options import AdaptiveOptions
from showcase.engine.dp.noise import RandomSource
from showcase.engine.encode import decode, encode
from showcase.engine.evaluate import k_marginal_score
from showcase.engine.synthesize.fitted import fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mechanism", default="aim")
    parser.add_argument("--epsilons", default="1,4,10")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--length", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--one-way-proportion", type=float, default=0.1)
    parser.add_argument("--selection-proportion", type=float, default=0.1, help="AIM's share to choose")
    parser.add_argument("--sweeps", type=int, default=None, help="fitting sweeps (default: fitted's own)")
    parser.add_argument(
        "--public-domain",
        action="store_true",
        help="public values (a codebook), as SmartNoise MST is given its categories",
    )
    parser.add_argument("--ma", action="store_true", help="the MA excerpt instead of national")
    parser.add_argument("--generated", type=int, default=0, help="rows of generated data instead")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=BENCH / ".cache"))
    if args.generated:
        path, prep, group, name = generated_input(args.generated, 20), Preparation(), None, "generated"
    else:
        source = NIST.with_name("ma2019.csv") if args.ma else NIST
        path = prepared_nist(tmp, source)
        prep = Preparation(null_markers=("N",), sensitive_zeros="all")
        group, name = "PUMA", source.stem
    table = load(path, prep)
    options = AdaptiveOptions(
        algorithm=args.mechanism, length=args.length, rounds=args.rounds,
        one_way_proportion=args.one_way_proportion, selection_proportion=args.selection_proportion,
    )  # fmt: skip
    print("| input | mechanism | L | rounds | 1-way | selection | sweeps | ε | seeds | seconds | k-marginal "
          "| records / input |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    adaptive_aggregate(table, epsilon=1.0, options=options, source=RandomSource(0), seed=0)  # compile
    for epsilon in [float(e) for e in args.epsilons.split(",")]:
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            start = time.perf_counter()
            aggregates, _, _ = adaptive_aggregate(
                table,
                epsilon=epsilon,
                options=options,
                source=RandomSource(seed),
                seed=seed,
                public_domain=args.public_domain,
            )
            synthetic = fitted(aggregates, rng=np.random.default_rng(seed), sweeps=args.sweeps)
            seconds = time.perf_counter() - start
            again = encode(decode(synthetic), schema=table.schema, null_markers=prep.null_markers,
                           sensitive_zeros=prep.sensitive_zeros)  # fmt: skip
            score = (
                k_marginal_score(table, again, group=group)["score"]
                if group
                else k_marginal_score(table, again)["score"]
            )
            rows.append((seconds, score, synthetic.n_rows / table.n_rows))

        def cell(i: int, digits: int = 1, rows: list = rows) -> str:
            values = [r[i] for r in rows]
            if len(values) == 1:
                return f"{values[0]:.{digits}f}"
            return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

        print(
            f"| {name} | {args.mechanism} | {args.length} | {args.rounds or 'auto'} "
            f"| {args.one_way_proportion:g} | {args.selection_proportion:g} | {args.sweeps or 'auto'} "
            f"| {epsilon:g} "
            f"| {len(rows)} | {cell(0)} | {cell(1)} | {cell(2, 3)} |",
            flush=True,
        )
    print(f"<!-- load average at the end: {os.getloadavg()[0]:.2f} -->")


if __name__ == "__main__":
    main()
