"""Time the explorer end to end over HTTP (issue 13): a real release of many rows, served by uvicorn.

A table of ``generate_table(rows, columns, seed=1)`` is released with
differential privacy (ε = 4, L = 2, tree synthesis: as many synthetic records
as rows) into a temporary folder. The explorer is started on it in a thread,
with the release opened, indexed and its kernels warmed up first, as
``showcase serve`` does (timed), then ``changes`` random selection changes (1 to 4 columns, 1 or 2 values
each, seeded), each one ``GET /api/RELEASE/explore`` as the page sends it,
answered in JSON with every column's bars and released counts; p50 and p99
of the whole round trip are reported, with the answer's size. Last, the
release is served again by ``showcase serve`` in a new process, timed from
its start to its printed URL (it opens and indexes the release first).

    python bench/explore_api.py --rows 10000000 --columns 20 --changes 200
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

import showcase.engine as sc
from showcase.datasets import generate_table
from showcase.engine.explore.server import create_app


def selection(rng: random.Random, columns: list[dict]) -> dict[str, list[str]]:
    usable = [c for c in columns if c["values"]]
    picked = rng.sample(usable, rng.randint(1, min(4, len(usable))))
    return {c["name"]: rng.sample(c["values"], min(len(c["values"]), rng.randint(1, 2))) for c in picked}


def serve_ready_seconds(folder: Path) -> float:
    """Seconds from starting ``showcase serve FOLDER`` in a new process to its printed URL.

    The command opens and indexes every release before it prints the URL, so
    this is what a user waits for, imports and kernel loading included.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    command = [sys.executable, "-m", "showcase.cli.main", "serve", str(folder), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:
            if "http://" in line:
                return time.perf_counter() - started
        raise RuntimeError("showcase serve ended without printing its URL")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "release"
        started = time.perf_counter()
        sc.run(
            generate_table(args.rows, args.columns, seed=1),
            # sds with tree synthesis, as the numbers recorded before run --dp defaulted to aim
            protection=sc.DifferentialPrivacy(4.0, ledger=Path(work) / "ledger.sqlite", algorithm="sds"),
            out=folder,
            seed=args.seed,
        )
        release_s = time.perf_counter() - started
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        started = time.perf_counter()
        app = create_app([folder], preload=True)  # as `showcase serve` does: open, index, warm up
        open_s = time.perf_counter() - started
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}/api/release"
        with httpx.Client(timeout=600) as client:
            info = client.get(f"{base}/overview").json()
            rng = random.Random(args.seed)
            times, sizes = [], []
            for _ in range(args.changes):
                chosen = json.dumps(selection(rng, info["columns"]))
                started = time.perf_counter()
                answer = client.get(f"{base}/explore", params={"s": chosen})
                answer.raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
                sizes.append(len(answer.content))
        server.should_exit = True
        fresh_s = serve_ready_seconds(folder)
    ms = np.array(times)
    print(json.dumps({
        "rows": args.rows,
        "columns": args.columns,
        "synthetic_records": info["synthetic_records"],
        "release_s": round(release_s, 1),
        "open_and_index_s": round(open_s, 2),
        "serve_ready_s": round(fresh_s, 2),
        "changes": args.changes,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
        "answer_kib": round(float(np.mean(sizes)) / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
