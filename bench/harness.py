"""Shared bench helpers: cached generated inputs and measured subprocesses."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"


def generated_input(rows: int, columns: int = 20, seed: int = 1, suffix: str = ".csv") -> Path:
    """A generated table, written once per size and reused by every bench."""
    from showcase.datasets import generate_table, write_table

    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"cases-{rows}x{columns}-s{seed}{suffix}"
    if not path.exists():
        partial = path.with_name(path.name + ".partial" + suffix)
        write_table(generate_table(rows, columns, seed), partial)
        partial.replace(path)
    return path


@dataclass
class Measured:
    seconds: float
    peak_rss_mib: float
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str


def measure(command: list[str], timeout: float = 600.0) -> Measured:
    """Run ``command``; wall time and the child's peak RSS (from wait4)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        killed = True
    seconds = time.perf_counter() - start
    # RUSAGE_CHILDREN is the maximum over all reaped children, so each measurement
    # runs in a fresh helper process (run_isolated) whose only child is the command.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Measured(seconds, rss, None if killed else process.returncode, stdout, stderr)


def run_isolated(command: list[str], timeout: float = 600.0) -> Measured:
    """Measure ``command`` from a fresh Python process so its peak RSS is its own."""
    wrapper = [sys.executable, str(BENCH / "measure_one.py"), str(timeout), "--", *command]
    done = subprocess.run(wrapper, capture_output=True, text=True)
    lines = done.stdout.rstrip("\n").rsplit("\n", 1)
    report = json.loads(lines[-1])
    return Measured(
        report["seconds"],
        report["peak_rss_mib"],
        report["returncode"],
        lines[0] if len(lines) == 2 else "",
        done.stderr,
    )
