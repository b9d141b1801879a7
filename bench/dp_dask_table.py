"""DP releases on a Dask LocalCluster against one streamed process (issue 14 item 2).

The partitioned Parquet series of :mod:`scale_series` (``ROWS`` rows × 20
columns in 1M-row files), ``showcase aggregate --dp --epsilon 4 -l 3`` with a
fixed ``--seed`` (so both configurations must write the same release), for
each mechanism: ``streaming`` (one process) and ``dask-2`` (``--scheduler
local[2]``, the cluster started and stopped inside the timed run). Each run is
a fresh process; peak RSS is the sum over its process tree (the workers
included), sampled every 0.1 s; the load average is read before and after.
Prints a Markdown table and whether each pair wrote identical ``aggregates.tsv``.

Heavy: run it under the machine's bench lock::

    flock /tmp/showcase-bench.lock python bench/dp_dask_table.py 10000000
"""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
from pathlib import Path

from scale_series import generated, measure

CONFIGS = ("streaming", "dask-2")


def run(rows: int, mechanism: str, config: str, timeout: float) -> dict:
    folder = generated(rows, whole=False)
    out = folder / f"out-dp-{mechanism}-{config}"
    command = [sys.executable, "-m", "showcase.cli.main", "aggregate", str(folder / "parts"), "-o", str(out),
               "--force", "--length", "3", "--dp", "--epsilon", "4", "--mechanism", mechanism, "--seed", "1",
               "--ledger", str(folder / "dp-bench-ledger.sqlite"), "--no-progress"]  # fmt: skip
    if config == "dask-2":
        command += ["--scheduler", "local[2]"]
    load = Path("/proc/loadavg").read_text().split()[0]
    result = measure(command, timeout)
    result.update(rows=rows, mechanism=mechanism, config=config, load_before=load, out=str(out))
    result["load_after"] = Path("/proc/loadavg").read_text().split()[0]
    metadata = out / "metadata.json"
    if result["returncode"] == 0 and metadata.exists():
        result["steps"] = json.loads(metadata.read_text()).get("seconds", {})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("--mechanism", action="append", choices=["sds", "aim", "mst"])
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    rows = []
    print("| mechanism | configuration | wall s | steps s | peak RSS MiB | load before → after | same |")
    print("|---|---|---:|---|---:|---|---|")
    for mechanism in args.mechanism or ["sds", "aim"]:
        pair = [run(args.rows, mechanism, config, args.timeout) for config in CONFIGS]
        identical = all(r["returncode"] == 0 for r in pair) and filecmp.cmp(
            Path(pair[0]["out"]) / "aggregates.tsv", Path(pair[1]["out"]) / "aggregates.tsv", shallow=False
        )
        for r in pair:
            steps = " / ".join(f"{k} {v:.1f}" for k, v in r.get("steps", {}).items() if isinstance(v, float))
            failed = "" if r["returncode"] == 0 else f" exit {r['returncode']}: {r['stderr']}"
            print(f"| {mechanism} | {r['config']} | {r['seconds']:.1f} | {steps} | {r['peak_rss_mib']:,.0f} "
                  "| "
                  f"{r['load_before']} → {r['load_after']} | {identical if r is pair[1] else ''} |{failed}",
                  flush=True)  # fmt: skip
        rows.extend(pair)
    (Path(__file__).resolve().parent / ".cache" / "dp_dask_table.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
