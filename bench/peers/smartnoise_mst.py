"""SmartNoise MST on a categorical CSV, timed per phase (run with the SmartNoise environment's python).

    /work/peers-mst/bin/python bench/peers/smartnoise_mst.py INPUT.csv EPSILON OUT_PREFIX

Every column is categorical; a missing cell (``N`` or empty) is a category of
its own, kept in its input spelling. MST's defaults are kept (its δ included)
and ``preprocessor_eps=0`` because the categories are given, not learned.

One fit, then two samples of as many rows as the input:

* ``default``: ``MSTSynthesizer.sample`` (private-pgm's randomized rounding);
* ``iid``: private-pgm's ``synthetic_data(method="sample")``, i.i.d. draws from
  the fitted model, decoded the way ``MSTSynthesizer.sample`` decodes.

Writes OUT_PREFIX-default.csv and OUT_PREFIX-iid.csv and prints one JSON line
with the seconds of each phase.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import metadata

import pandas as pd
from snsynth import Synthesizer


def decoded(synthesizer, model_rows) -> pd.DataFrame:
    """Model rows back to the input's categories (as ``MSTSynthesizer.sample`` does it)."""
    records = synthesizer.undo_compress_fn(model_rows)
    return synthesizer._transformer.inverse_transform([tuple(row[1:]) for row in records.df.itertuples()])


def write(rows, columns: list[str], path: str) -> int:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=columns)
    frame.columns = columns
    frame.to_csv(path, index=False)
    return len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("epsilon", type=float)
    parser.add_argument("out_prefix")
    args = parser.parse_args()

    frame = pd.read_csv(args.input, dtype=str, keep_default_na=False)
    columns = list(frame.columns)
    synthesizer = Synthesizer.create("mst", epsilon=args.epsilon)
    start = time.perf_counter()
    synthesizer.fit(frame, preprocessor_eps=0.0, categorical_columns=columns)
    fit_seconds = time.perf_counter() - start

    samples = {}
    start = time.perf_counter()
    rows = synthesizer.sample(len(frame))
    seconds = time.perf_counter() - start
    path = f"{args.out_prefix}-default.csv"
    samples["default"] = {"seconds": seconds, "path": path, "rows": write(rows, columns, path)}

    model = getattr(synthesizer, "synthesizer", None)
    if model is not None and hasattr(model, "synthetic_data"):
        start = time.perf_counter()
        rows = decoded(synthesizer, model.synthetic_data(rows=len(frame), method="sample"))
        seconds = time.perf_counter() - start
        path = f"{args.out_prefix}-iid.csv"
        samples["iid"] = {"seconds": seconds, "path": path, "rows": write(rows, columns, path)}

    print(
        json.dumps(
            {
                "fit_seconds": fit_seconds,
                "samples": samples,
                "version": metadata.version("smartnoise-synth"),
                "delta": getattr(synthesizer, "delta", None),
            }
        )
    )


if __name__ == "__main__":
    main()
