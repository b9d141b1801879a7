"""pac-synth's aggregate counting on a CSV, timed the way its users call it.

Prints one JSON line: seconds for Dataset.from_data_frame + get_aggregates,
and the number of combinations (to check both tools count the same thing).
"""

from __future__ import annotations

import json
import sys
import time

import pacsynth
import pandas as pd


def main(path: str, length: int) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    start = time.perf_counter()
    dataset = pacsynth.Dataset.from_data_frame(frame)
    aggregates = dataset.get_aggregates(length, ";")
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "combinations": len(aggregates)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
