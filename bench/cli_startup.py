"""Print the command line's start-up table: wall time of ``--help`` for every command.

Each command runs in a fresh process, ``--runs`` times; the table shows the
fastest and the median run and the median against that of ``python -c
"import typer"`` (the floor: a Typer command line cannot start faster). The
target (issue 11) is under 2x.

    python bench/cli_startup.py             # 10 runs of each
    python bench/cli_startup.py --runs 30
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: Every command and group of the command line, as the words after ``showcase``.
COMMANDS = [
    [],
    ["aggregate"],
    ["synthesize"],
    ["run"],
    ["evaluate"],
    ["compare"],
    ["ledger"],
    ["ledger", "show"],
    ["datasets"],
    ["datasets", "generate"],
    ["datasets", "generate", "table"],
]


def showcase() -> list[str]:
    """The console script next to this Python (as users run it), else ``python -m showcase.cli.main``."""
    script = Path(sys.executable).with_name("showcase")
    if script.is_file():
        return [str(script)]
    found = shutil.which("showcase")
    return [found] if found else [sys.executable, "-m", "showcase.cli.main"]


def wall_times(command: list[str], runs: int) -> list[float]:
    """Seconds of ``runs`` runs of ``command``, each in a new process, after one warm-up run."""
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    args = parser.parse_args()
    floor = statistics.median(wall_times([sys.executable, "-c", "import typer"], args.runs))
    print(f"{args.runs} runs each; floor `python -c 'import typer'`: median {floor * 1000:.0f} ms\n")
    print("| command | fastest (ms) | median (ms) | median / floor |")
    print("|---|---:|---:|---:|")
    print(f"| `python -c 'import typer'` | – | {floor * 1000:.0f} | 1.00 |")
    for words in COMMANDS:
        times = wall_times([*showcase(), *words, "--help"], args.runs)
        median = statistics.median(times)
        name = " ".join(["showcase", *words, "--help"])
        print(f"| `{name}` | {min(times) * 1000:.0f} | {median * 1000:.0f} | {median / floor:.2f} |")


if __name__ == "__main__":
    main()
