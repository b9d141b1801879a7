"""Baseline "independent columns": each column sampled alone from its exact 1-way distribution.

    python bench/peers/independent.py INPUT.csv OUT.csv --seed 1

Not private (it reads exact value frequencies); it keeps every column's
distribution and none of the joint structure, so a DP release that scores
below it has lost what links the columns. Cells are sampled in the input's
spelling, null markers and empty cells included, and the output has as many
rows as the input. Prints one JSON line with the seconds it took.
"""

from __future__ import annotations

import argparse
import csv
import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def independent_columns(table: pa.Table, seed: int) -> pa.Table:
    """A table of ``table.num_rows`` rows whose columns are drawn independently."""
    rng = np.random.default_rng(seed)
    rows = table.num_rows
    columns = []
    for column in table.columns:
        counts = pc.value_counts(column.combine_chunks())
        values = counts.field("values")
        frequencies = counts.field("counts").to_numpy().astype(np.float64)
        picks = rng.choice(len(values), size=rows, p=frequencies / frequencies.sum())
        columns.append(values.take(pa.array(picks)))
    return pa.table(columns, names=table.column_names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    with open(args.input, encoding="utf-8", newline="") as handle:
        names = next(csv.reader(handle))
    text = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)
    table = pacsv.read_csv(args.input, convert_options=text)
    pacsv.write_csv(independent_columns(table, args.seed), args.out)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": table.num_rows}))


if __name__ == "__main__":
    main()
