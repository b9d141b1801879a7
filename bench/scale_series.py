"""Scale series (issue 14 item 5): k-anonymous aggregates of 1M → 10M (→ 100M) rows × 20 columns at L = 3.

Each size is generated straight into Parquet files of 1M rows each (one
chunk in memory at a time; chunk i is the generator's table of seed
``1000 + i``), cached under ``bench/.cache/scale-ROWS/parts/``; sizes up to
10M also get one file ``whole.parquet`` (the same chunks as row groups) for
the in-memory path. Each configuration runs ``showcase aggregate`` in a
fresh process:

* ``in-memory``: ``whole.parquet --in-memory`` (the whole table loaded, as before);
* ``streaming``: ``parts/`` (a directory: streamed, one process);
* ``dask-2``: ``parts/ --scheduler local[2]`` (a LocalCluster of 2 worker processes).

Wall seconds, peak RSS (the sum over the process and its descendants, so
the Dask workers count, sampled every 0.1 s) and rows per second are
printed as a Markdown table, saved as JSON beside this file, and drawn
log-log into ``bench/scale_series.png`` (matplotlib, when installed: it is
not a dependency of showcase).

Run heavy points under the machine's bench lock::

    flock /tmp/showcase-bench.lock python bench/scale_series.py 1000000 10000000
    flock /tmp/showcase-bench.lock python bench/scale_series.py 100000000 --only streaming
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
CHUNK = 1_000_000
COLUMNS = 20
LENGTH = 3
K = 10
CONFIGS = ("in-memory", "streaming", "dask-2")
RESULTS = BENCH / "scale_series.json"
PLOT = BENCH / "scale_series.png"


def chunk_table(i: int, rows: int):
    """Chunk ``i`` of a series: the generator's table of ``rows`` rows and seed 1000 + i."""
    from showcase.datasets.table import generate_table

    return generate_table(rows, COLUMNS, seed=1000 + i)


def generated(rows: int, whole: bool) -> Path:
    """The folder of a size: ``parts/`` (1M-row files) and, when ``whole``, ``whole.parquet``."""
    import pyarrow.parquet as pq

    folder = CACHE / f"scale-{rows}"
    parts = folder / "parts"
    done = folder / "parts.done"
    if not done.exists():
        shutil.rmtree(parts, ignore_errors=True)
        parts.mkdir(parents=True)
        for i, start in enumerate(range(0, rows, CHUNK)):
            table = chunk_table(i, min(CHUNK, rows - start))
            pq.write_table(table, parts / f"part-{i:04d}.parquet", compression="zstd", row_group_size=CHUNK)
        done.touch()
    target = folder / "whole.parquet"
    if whole and not target.exists():
        partial = folder / "whole.partial.parquet"
        writer = None
        for path in sorted(parts.glob("*.parquet")):
            table = pq.read_table(path)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=CHUNK)
        writer.close()
        partial.replace(target)
    return folder


def measure(command: list[str], timeout: float) -> dict:
    """Run ``command``: wall seconds, peak RSS of its process tree (MiB), exit code, stderr's last line."""
    import psutil

    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    running = [True]

    def sample() -> None:
        root = psutil.Process(process.pid)
        while running[0]:
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                peak[0] = max(peak[0], total)
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        code = None
    running[0] = False
    sampler.join()
    seconds = time.perf_counter() - start
    last = (stderr.strip().splitlines() or [""])[-1]
    return {"seconds": seconds, "peak_rss_mib": peak[0] / 2**20, "returncode": code, "stderr": last}


def run(rows: int, config: str, timeout: float) -> dict:
    folder = generated(rows, whole=config == "in-memory")
    out = folder / f"out-{config}"
    source = folder / "whole.parquet" if config == "in-memory" else folder / "parts"
    command = [sys.executable, "-m", "showcase.cli.main", "aggregate", str(source), "-o", str(out), "--force",
               "--length", str(LENGTH), "--resolution", str(K), "--no-progress"]  # fmt: skip
    command += {"in-memory": ["--in-memory"], "streaming": [], "dask-2": ["--scheduler", "local[2]"]}[config]
    load = Path("/proc/loadavg").read_text().split()[:3]
    result = measure(command, timeout)
    result.update(rows=rows, config=config, load_before=" ".join(load))
    result["load_after"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    metadata = out / "metadata.json"
    if result["returncode"] == 0 and metadata.exists():
        # Step times are printed, not kept in the release: "Steps: read 9.8 s · count 34.5 s · write 0.5 s".
        result["steps"] = {name: float(s) for name, s in re.findall(r"(\w+) ([\d.]+) s", result["stderr"])}
        result["released"] = json.loads(metadata.read_text())["statistics"]["combinations_by_length"]
    result["rows_per_second"] = rows / result["seconds"]
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| rows | configuration | s | (read / count / write) | peak RSS MiB | rows/s | load before → after |",
        "| ---: | --- | ---: | --- | ---: | ---: | --- |",
    ]
    for r in sorted(results, key=lambda r: (r["rows"], CONFIGS.index(r["config"]))):
        steps = r.get("steps", {})
        parts = (
            " / ".join(f"{steps.get(s, 0):.1f}" for s in ("read", "count", "write")) if steps else "failed"
        )
        lines.append(
            f"| {r['rows']:,} | {r['config']} | {r['seconds']:.1f} | {parts} | {r['peak_rss_mib']:,.0f} | "
            f"{r['rows_per_second']:,.0f} | {r['load_before']} → {r['load_after']} |"
        )
    return "\n".join(lines)


def plot(results: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for config in CONFIGS:
        mine = sorted(
            (r for r in results if r["config"] == config and r["returncode"] == 0), key=lambda r: r["rows"]
        )
        if not mine:
            continue
        rows = [r["rows"] for r in mine]
        left.plot(rows, [r["seconds"] for r in mine], "o-", label=config)
        right.plot(rows, [r["peak_rss_mib"] for r in mine], "o-", label=config)
    for axis, label in ((left, "seconds"), (right, "peak RSS (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("rows (20 columns, L = 3, k = 10)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle("showcase aggregate: in memory, streamed, Dask LocalCluster (2 workers)")
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="+")
    parser.add_argument("--only", choices=CONFIGS, action="append")
    parser.add_argument("--timeout", type=float, default=1800)
    arguments = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    # Warm the Numba cache (first calls compile) so no measured run pays for it.
    warm = generated(CHUNK, whole=True)
    subprocess.run([sys.executable, "-m", "showcase.cli.main", "aggregate", str(warm / "whole.parquet"), "-o",
                    str(warm / "out-warm"), "--force", "--no-progress", "--length", "3"], check=True,
                   capture_output=True)  # fmt: skip
    for rows in arguments.rows:
        for config in arguments.only or CONFIGS:
            result = run(rows, config, arguments.timeout)
            print(json.dumps(result), flush=True)
            results = [r for r in results if (r["rows"], r["config"]) != (rows, config)] + [result]
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    plot(results)
    print(f"revision {os.popen('git rev-parse --short HEAD').read().strip()}")


if __name__ == "__main__":
    main()
