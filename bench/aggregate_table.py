"""Print the aggregate speed table: rows × columns × L → seconds and peak RSS.

Runs ``showcase aggregate`` end to end (read CSV, encode, count, protect, write
Parquet + TSV + metadata) and pac-synth's ``get_aggregates`` on the same
generated input, each in its own process, in the same session.

    python bench/aggregate_table.py --rows 100000,1000000,10000000 --lengths 3,4

``--python`` runs showcase with another interpreter (e.g. a virtual
environment holding only showcase's own dependencies, as users install it);
``--runs N`` reports the median of N showcase runs (small inputs are
dominated by start-up, which varies from run to run).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

from harness import BENCH, generated_input, run_isolated


def showcase(
    path: Path, length: int, threads: int | None, python: str = sys.executable, runs: int = 1
) -> dict:
    """The median of ``runs`` whole ``showcase aggregate`` processes on ``path``."""
    measured = sorted(
        (_showcase_once(path, length, threads, python) for _ in range(runs)), key=lambda m: m["seconds"]
    )
    return measured[len(measured) // 2]


def _showcase_once(path: Path, length: int, threads: int | None, python: str) -> dict:
    with tempfile.TemporaryDirectory(dir=BENCH / ".cache") as tmp:
        out = Path(tmp) / "release"
        command = [
            python,
            "-m",
            "showcase.cli.main",
            "aggregate",
            str(path),
            "-l",
            str(length),
            "-k",
            "10",
            "-o",
            str(out),
            "--no-progress",
        ]
        if threads:
            command += ["--threads", str(threads)]
        result = run_isolated(command)
        if result.returncode != 0:
            raise SystemExit(f"showcase failed: {result.stderr}")
        meta = json.loads((out / "metadata.json").read_text())
    phases = meta["seconds"]
    exact = [
        a + b
        for a, b in zip(
            meta["statistics"]["combinations_by_length"], meta["statistics"]["rare_combinations_by_length"]
        )
    ]
    return {
        "seconds": result.seconds,
        "rss": result.peak_rss_mib,
        "count": phases["count"],
        "read": phases["read"],
        "write": phases["write"],
        "combinations": None,
        "released": sum(meta["statistics"]["combinations_by_length"]),
        "exact_hint": exact,
    }


def pacsynth(path: Path, length: int, timeout: float) -> dict:
    script = BENCH / "peers" / "pacsynth_aggregates.py"
    result = run_isolated([sys.executable, str(script), str(path), str(length)], timeout)
    if result.returncode is None:
        return {"seconds": None, "rss": result.peak_rss_mib, "note": f"killed at {timeout:.0f} s"}
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"seconds": None, "rss": result.peak_rss_mib, "note": f"failed: {last[:60]}"}
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "seconds": result.seconds,
        "rss": result.peak_rss_mib,
        "inner": report["seconds"],
        "combinations": report["combinations"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000,10000000")
    parser.add_argument("--lengths", default="3,4")
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--peer-timeout", type=float, default=600.0)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs showcase")
    parser.add_argument("--runs", type=int, default=1, help="showcase runs per row (the median is shown)")
    parser.add_argument(
        "--peer-max-rows",
        type=int,
        default=1_000_000,
        help="skip pac-synth above this many rows (it cannot finish in time)",
    )
    args = parser.parse_args()
    rows_list = [int(r) for r in args.rows.split(",")]
    lengths = [int(x) for x in args.lengths.split(",")]
    # Warm the Numba cache so compile time is not charged to the first row.
    warm = generated_input(1000, args.columns)
    showcase(warm, max(lengths), args.threads, args.python)
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}")
    header = (
        "| rows | cols | L | showcase s | (read / count / write) | showcase peak RSS MiB "
        "| released | pac-synth s | pac-synth peak RSS MiB | speed-up |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    peer_gave_up = None  # once pac-synth misses the time limit, bigger inputs are skipped
    for rows in rows_list:
        path = generated_input(rows, args.columns)
        for length in lengths:
            ours = showcase(path, length, args.threads, args.python, args.runs)
            peer = {"seconds": None, "rss": None, "note": "not run"}
            if peer_gave_up:
                peer["note"] = f"not run ({peer_gave_up} already took > {args.peer_timeout:.0f} s)"
            elif not args.no_peers and rows <= args.peer_max_rows:
                peer = pacsynth(path, length, args.peer_timeout)
                if peer.get("seconds") is None and "killed" in peer.get("note", ""):
                    peer_gave_up = f"{rows:,} rows, L={length}"
            elif not args.no_peers:
                peer["note"] = f"not run (> {args.peer_max_rows:,} rows)"
            peer_s = f"{peer['seconds']:.1f}" if peer.get("seconds") else peer.get("note", "")
            peer_rss = f"{peer['rss']:.0f}" if peer.get("rss") else ""
            speedup = f"{peer['seconds'] / ours['seconds']:.0f}×" if peer.get("seconds") else ""
            print(
                f"| {rows:,} | {args.columns} | {length} | {ours['seconds']:.2f} "
                f"| {ours['read']:.1f} / {ours['count']:.1f} / {ours['write']:.1f} "
                f"| {ours['rss']:.0f} | {ours['released']:,} | {peer_s} | {peer_rss} "
                f"| {speedup} |",
                flush=True,
            )
            if peer.get("combinations") is not None:
                exact = sum(ours["exact_hint"])
                same = "same" if peer["combinations"] == exact else "DIFFERENT"
                print(
                    f"<!-- combinations: showcase exact {exact:,}, pac-synth "
                    f"{peer['combinations']:,} ({same}) -->",
                    flush=True,
                )


if __name__ == "__main__":
    main()
