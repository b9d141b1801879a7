"""Empirical privacy audit of DP marginals: the long version of the audit in tests/test_dp_privacy.py.

Neighbouring datasets: N records holding all C columns (so each has C + C(C,2)
candidates at L = 2), and the same plus one record. For each claimed epsilon
and each noise factor (1 = as shipped; below 1 = deliberately under-noised,
rho parts unchanged), TRIALS seeded releases per side are scored and turned
into empirical lower bounds on epsilon (engine/dp/audit.py). A correct
mechanism keeps both bounds under the claim; a broken one should cross it.

    python bench/privacy_audit.py --trials 2000 --epsilons 1,2,4 --factors 1,0.75,0.5
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pyarrow as pa

from showcase.engine import encode
from showcase.engine.dp import marginals
from showcase.engine.dp.audit import audit_neighbours


def neighbours(rows: int, columns: int, values: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    base = pa.table({f"c{j}": [f"v{x}" for x in rng.integers(0, values, rows)] for j in range(columns)})
    extra = pa.table({name: ["v0"] for name in base.column_names})
    with_record = encode(pa.concat_tables([base, extra]))
    return encode(base, schema=with_record.schema), with_record


def under_noised(factor: float):
    real = marginals.split_budget

    def split(*args, **kwargs):
        result = real(*args, **kwargs)
        object.__setattr__(result, "sigmas", [s * factor for s in result.sigmas])
        return result

    return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=2000, help="releases per side")
    parser.add_argument("--epsilons", default="1,2,4")
    parser.add_argument("--factors", default="1,0.75,0.5", help="noise multipliers (1 = correct)")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--delta", type=float, default=1e-5)
    args = parser.parse_args()
    without, with_record = neighbours(args.rows, args.columns, 3)
    real_split = marginals.split_budget
    print(
        "| claimed ε | noise × | trials/side | μ̂ [95 % CI] | μ if optimal | ε lower bound (Gaussian) "
        "| ε point | ε lower bound (threshold, assumption-free) | crosses claim | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for epsilon in (float(e) for e in args.epsilons.split(",")):
        for factor in (float(f) for f in args.factors.split(",")):
            marginals.split_budget = under_noised(factor)
            start = time.perf_counter()
            try:
                result = audit_neighbours(
                    lambda t, s, e=epsilon: marginals.dp_aggregate(
                        t, epsilon=e, delta=args.delta, length=2, source=s
                    ),
                    without,
                    with_record,
                    row=with_record.n_rows - 1,
                    trials=args.trials,
                    seed=int(epsilon * 1000 + factor * 10),
                )
                split = real_split(epsilon, args.delta, 2, selection=True)
            finally:
                marginals.split_budget = real_split
            optimal = math.sqrt(sum(1 / (s * factor) ** 2 for s in split.sigmas))
            low, high = result.mu_interval
            crosses = "yes" if max(result.lower_bound, result.threshold) > epsilon else "no"
            print(
                f"| {epsilon:g} | {factor:g} | {args.trials} | {result.mu:.3f} [{low:.3f}, {high:.3f}] "
                f"| {optimal:.3f} | {result.lower_bound:.2f} | {result.gaussian:.2f} "
                f"| {result.threshold:.2f} | {crosses} | {time.perf_counter() - start:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
