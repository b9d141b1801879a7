"""Shared bench helpers: cached generated inputs, measured subprocesses, the DP tables' scores."""

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
SHOWCASE = [sys.executable, "-m", "showcase.cli.main"]


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


def failure(result: Measured, what: str) -> str:
    """One line on why a measured process failed: the time limit, or its exit code and last stderr line."""
    if result.returncode is None:
        return f"{what}: killed at the time limit"
    last = (result.stderr.strip().splitlines() or ["?"])[-1]
    return f"{what} failed ({result.returncode}): {last[:200]}"


def run_showcase(command: str, arguments: list[str], timeout: float) -> tuple[Measured, dict | None]:
    """``showcase COMMAND ARGUMENTS --no-progress``, measured on its own; ``{"error": ...}`` if it failed."""
    result = run_isolated([*SHOWCASE, command, *arguments, "--no-progress"], timeout)
    if result.returncode != 0:
        return result, {"error": failure(result, f"showcase {command}")}
    return result, None


def release_scores(evaluation: dict) -> dict:
    """The DP tables' scores of one release, from ``evaluate_release`` or an entry of comparison.json."""
    overall = evaluation["overall"]
    return {
        "k_marginal": evaluation["k_marginal"]["score"],
        "mae": overall["mean_absolute_error"],
        "fabricated_pct": overall["fabricated_pct"],
        "suppressed_pct": overall["suppressed_pct"],
        "expansion": evaluation["record_expansion"],
    }
