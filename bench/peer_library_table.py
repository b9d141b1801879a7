"""Library call against library call: showcase and pac-synth counting the same in-memory table.

``aggregate_table.py`` times each tool's whole process (start-up, reading the
file, writing the release). This bench times only the work a library user
waits for once the data is in memory, in one warm process per tool:

* showcase: ``encode`` (from the pyarrow table already read) +
  ``count_combinations(table, L)`` + ``k_anonymize(aggregates, k)``;
* pac-synth: ``Dataset.from_data_frame(frame).get_aggregates(L, ";")`` on the
  pandas frame already read (``dtype=str, keep_default_na=False``, as
  ``peers/pacsynth_aggregates.py`` reads it).

Each tool runs in its own process: it imports, reads the input (not timed),
makes one warm-up call (showcase on the whole table, so the Numba cache is
loaded; pac-synth on the first 1,000 rows), then times ``--rounds`` calls
(``--peer-rounds`` for pac-synth, which takes about 70 s at 100k rows) and
reports the median. The number of combinations before k-anonymity is printed
for both tools, so one can check that they count the same thing.

    python bench/peer_library_table.py                 # 100k x 20, L=3, k=10
    python bench/peer_library_table.py --no-peers      # showcase only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import generated_input

WARM_ROWS = 1000


def showcase_worker(path: Path, length: int, resolution: int, rounds: int) -> dict:
    from showcase.engine import count_combinations, encode, k_anonymize, read_table

    table = read_table(path)

    def call() -> tuple[dict, int, int]:
        start = time.perf_counter()
        encoded = encode(table)
        encoded_at = time.perf_counter()
        exact = count_combinations(encoded, length)
        counted_at = time.perf_counter()
        released = k_anonymize(exact, resolution)
        done = time.perf_counter()
        phases = {
            "encode": encoded_at - start,
            "count": counted_at - encoded_at,
            "k_anonymize": done - counted_at,
            "total": done - start,
        }
        return phases, len(exact), len(released)

    call()  # warm-up: loads the Numba cache, first-call costs of pyarrow and NumPy
    timings, combinations, released = [], 0, 0
    for _ in range(rounds):
        phases, combinations, released = call()
        timings.append(phases)
    return {
        "seconds": [t["total"] for t in timings],
        "phases": {name: statistics.median(t[name] for t in timings) for name in timings[0]},
        "combinations": combinations,
        "released": released,
    }


def pacsynth_worker(path: Path, length: int, rounds: int) -> dict:
    import pacsynth
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    pacsynth.Dataset.from_data_frame(frame.head(WARM_ROWS)).get_aggregates(length, ";")  # warm-up
    seconds, combinations = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        aggregates = pacsynth.Dataset.from_data_frame(frame).get_aggregates(length, ";")
        seconds.append(time.perf_counter() - start)
        combinations = len(aggregates)
    return {"seconds": seconds, "combinations": combinations}


def run_worker(tool: str, path: Path, args: argparse.Namespace) -> dict:
    """Run one tool in a fresh process and read its JSON line."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        tool,
        "--input",
        str(path),
        "--length",
        str(args.length),
        "--resolution",
        str(args.resolution),
        "--rounds",
        str(args.rounds if tool == "showcase" else args.peer_rounds),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tool} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--length", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="timed showcase calls (median reported)")
    parser.add_argument("--peer-rounds", type=int, default=1, help="timed pac-synth calls")
    parser.add_argument("--no-peers", action="store_true", help="skip pac-synth")
    parser.add_argument("--worker", choices=["showcase", "pac-synth"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "showcase":
        print(json.dumps(showcase_worker(args.input, args.length, args.resolution, args.rounds)))
        return
    if args.worker == "pac-synth":
        print(json.dumps(pacsynth_worker(args.input, args.length, args.rounds)))
        return

    path = generated_input(args.rows, args.columns)
    load_before = os.getloadavg()[0]
    ours = run_worker("showcase", path, args)
    peer = None if args.no_peers else run_worker("pac-synth", path, args)
    load_after = os.getloadavg()[0]

    ours_s = statistics.median(ours["seconds"])
    print(f"# {args.rows:,} rows x {args.columns} columns, L={args.length}, k={args.resolution}")
    print(f"# load average (1 min): {load_before:.2f} before, {load_after:.2f} after")
    print("| tool | rows | L | seconds (median) | rounds | combinations | speed-up |")
    print("|---|---|---|---|---|---|---|")
    speedup = f"{statistics.median(peer['seconds']) / ours_s:.0f}×" if peer else ""
    print(
        f"| showcase (encode + count + k-anonymize) | {args.rows:,} | {args.length} | {ours_s:.3f} "
        f"| {len(ours['seconds'])} | {ours['combinations']:,} | {speedup} |"
    )
    if peer:
        peer_s = statistics.median(peer["seconds"])
        print(
            f"| pac-synth (from_data_frame + get_aggregates) | {args.rows:,} | {args.length} | {peer_s:.1f} "
            f"| {len(peer['seconds'])} | {peer['combinations']:,} | 1× |"
        )
    phases = " / ".join(f"{name} {seconds:.3f}" for name, seconds in ours["phases"].items())
    print(f"\nshowcase phases (median s): {phases}; released at k={args.resolution}: {ours['released']:,}")
    if peer:
        same = "the same" if peer["combinations"] == ours["combinations"] else "DIFFERENT"
        print(
            f"combinations before k-anonymity: showcase {ours['combinations']:,}, "
            f"pac-synth {peer['combinations']:,} ({same})"
        )


if __name__ == "__main__":
    main()
