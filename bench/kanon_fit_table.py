"""k-anonymous synthesis from aggregates: aggregate_seeded against its fitted successor (issue 15 item 4).

In one process per input (compile time excluded by a warm-up run): count the
combinations of up to L attributes, k-anonymize them (k = 10, L = 3 unless
told), synthesize with ``aggregate_seeded`` with and without the fit
(``fit_sweeps``), one row per seed. Per run: seconds of the synthesis alone,
the record count, the SDNist k-marginal (PUMA as group on the NIST
excerpts), and the number of the records' distinct combinations of length
<= L that the aggregates do not contain (counted independently of the
kernels, by ``count_combinations`` and a join).

NIST preparation as ``synthesize_table.py`` (the 729 of RESULTS "Synthesis
(issue 3)"): AGEP in 10-year bins, POVPIP in bins of 100, INDP / PINCP / PWGTP
/ WGTP dropped, ``N`` missing; ``--sensitive-zeros all`` as the DP tables.

    python bench/kanon_fit_table.py --inputs national,ma,generated --seeds 1,2,3,4,5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import CACHE, generated_input
from synthesize_table import NIST, prepared_nist

from showcase.engine import Preparation, load
from showcase.engine.count import count_combinations
from showcase.engine.evaluate import k_marginal_score
from showcase.engine.protect import k_anonymize
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded


def outside(aggregates, synthetic, length: int) -> int:
    """Distinct combinations of length <= ``length`` in ``synthetic`` that ``aggregates`` lacks."""
    counted = count_combinations(synthetic, length)
    rows = zip(aggregates.attrs.tolist(), aggregates.length.tolist(), aggregates.count.tolist(), strict=True)
    released = {tuple(row[:n]) for row, n, c in rows if c > 0}
    return sum(
        tuple(row[: int(n)]) not in released for row, n in zip(counted.attrs, counted.length, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default="national,ma,generated")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("-l", "--length", type=int, default=3)
    parser.add_argument("--sweeps", default="0,20", help="fit_sweeps values to compare (0: no fit)")
    parser.add_argument("--generated-rows", type=int, default=30000)
    parser.add_argument("--sensitive-zeros", default=None)
    parser.add_argument("--max-proposals", type=int, default=None, help="the fit's cap on proposals in all")
    args = parser.parse_args()
    if args.max_proposals is not None:
        import importlib

        importlib.import_module("showcase.engine.synthesize.aggregate_fit").MAX_PROPOSALS = args.max_proposals
    CACHE.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    print("| input | fit sweeps | seeds | seconds | records | k-marginal | combinations ≤ L outside |")
    print("|---|---|---|---|---|---|---|")
    for name in [s for s in args.inputs.split(",") if s]:
        if name == "generated":
            path, prep, group = generated_input(args.generated_rows, 20), Preparation(), None
            label = f"generated {args.generated_rows:,} × 20"
        else:
            source = NIST.with_name("ma2019.csv") if name == "ma" else NIST
            path = prepared_nist(tmp, source)
            prep = Preparation(null_markers=("N",), sensitive_zeros=args.sensitive_zeros)
            group, label = "PUMA", source.stem
        table = load(path, prep)
        released = k_anonymize(count_combinations(table, args.length), args.k)
        for sweeps in [int(s) for s in args.sweeps.split(",")]:
            aggregate_seeded(
                released, rng=np.random.default_rng(0), fit_sweeps=sweeps, target_number_of_records=200
            )
            rows = []
            for seed in [int(s) for s in args.seeds.split(",")]:
                start = time.perf_counter()
                synthetic = aggregate_seeded(released, rng=np.random.default_rng(seed), fit_sweeps=sweeps)
                seconds = time.perf_counter() - start
                score = k_marginal_score(table, synthetic, group=group)["score"]
                rows.append((seconds, synthetic.n_rows, score, outside(released, synthetic, args.length)))
                print(f"<!-- {label} sweeps {sweeps} seed {seed}: {seconds:.1f} s, {score:.1f}, "
                      f"outside {rows[-1][3]} -->", flush=True)  # fmt: skip

            def cell(i: int, digits: int = 1, rows: list = rows) -> str:
                values = [r[i] for r in rows]
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"

            print(
                f"| {label} | {sweeps} | {len(rows)} | {cell(0)} | {rows[0][1]:,} | {cell(2)} "
                f"| {max(r[3] for r in rows)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
