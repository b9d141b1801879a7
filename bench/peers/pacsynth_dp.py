"""pac-synth's DP aggregate-seeded synthesizer on a categorical CSV, timed per phase.

    python bench/peers/pacsynth_dp.py INPUT.csv EPSILON LENGTH OUT.csv [--null-marker N]

Every column is a sensitive-zero column (``0`` is a value); cells equal to the
null marker become empty strings, which pac-synth reads as "no attribute".
pac-synth's own defaults are kept for everything but L and ε. Prints one JSON
line: seconds to build the Dataset, to fit (DP aggregates) and to sample, and
the number of synthetic rows written to OUT.csv.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import time

import pacsynth
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("epsilon", type=float)
    parser.add_argument("length", type=int)
    parser.add_argument("out")
    parser.add_argument("--null-marker", default="N")
    args = parser.parse_args()

    frame = pd.read_csv(args.input, dtype=str, keep_default_na=False)
    frame = frame.replace(args.null_marker, "")
    start = time.perf_counter()
    dataset = pacsynth.Dataset.from_data_frame(frame, sensitive_zeros=list(frame.columns))
    dataset_seconds = time.perf_counter() - start

    parameters = (
        pacsynth.DpAggregateSeededParametersBuilder()
        .reporting_length(args.length)
        .epsilon(args.epsilon)
        .build()
    )
    synthesizer = pacsynth.DpAggregateSeededSynthesizer(parameters)
    start = time.perf_counter()
    synthesizer.fit(dataset)
    fit_seconds = time.perf_counter() - start

    start = time.perf_counter()
    rows = synthesizer.sample()
    sample_seconds = time.perf_counter() - start

    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    print(
        json.dumps(
            {
                "dataset_seconds": dataset_seconds,
                "fit_seconds": fit_seconds,
                "sample_seconds": sample_seconds,
                "rows": len(rows) - 1,
                "version": importlib.metadata.version("pac-synth"),
            }
        )
    )


if __name__ == "__main__":
    main()
