"""Break the DP code on purpose, one fault at a time, and list the tests that catch it.

Each fault is a one-line edit of the engine's source; the DP test files run
against it and the edit is undone (also on Ctrl-C). A fault that no test
catches is a hole in the suite. Run it on a clean checkout (it edits files in
place) and expect about a minute per fault (the kernels recompile):

    python bench/privacy_faults.py            # every fault
    python bench/privacy_faults.py sensitivity-1 selection-threshold-0
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_dp_privacy.py",
    "tests/test_dp_marginals.py",
    "tests/test_dp_accountant.py",
    "tests/test_kernel_references.py",
]
NOISE_CALL = "noisy = counts + discrete_gaussian(len(candidates), scale, source)"
TRIM_CALL = "counts = bounded_counts(held, level, candidates, histogram, bound, source)"
#: name → (file, original line part, broken line part)
FAULTS = {
    "noise-third-smaller": (
        "engine/dp/marginals.py",
        NOISE_CALL,
        NOISE_CALL.replace("scale,", "scale * 2 / 3,"),
    ),
    "noise-halved": ("engine/dp/marginals.py", NOISE_CALL, NOISE_CALL.replace("scale,", "scale / 2,")),
    "sigma-below-its-rho": (
        "engine/dp/accountant.py",
        "        sigmas=sigmas,\n",
        "        sigmas=[s * 2 / 3 for s in sigmas],\n",
    ),
    "sensitivity-1": ("engine/dp/marginals.py", "    return sigma * math.sqrt(bound)", "    return sigma"),
    "no-trimming-in-kernel": (
        "engine/kernels/dp_marginals.py",
        "            if found > bound:",
        "            if found > bound and False:",
    ),
    "no-trimming-in-release": (
        "engine/dp/marginals.py",
        TRIM_CALL,
        TRIM_CALL.replace("bound, source", "upper, source"),  # no record has more candidates than upper
    ),
    "first-candidates-kept": (
        "engine/kernels/dp_marginals.py",
        "j = i + uniform_below(found - i, stream, state)",
        "j = i + uniform_below(found - i, stream, state) * 0",
    ),
    "selection-threshold-0": (
        "engine/dp/marginals.py",
        "threshold = selection_threshold(scale, bound, split.selection_delta)",
        "threshold = 0.0",
    ),
}


def run_fault(name: str) -> list[str]:
    """Apply fault ``name``, run the DP tests, undo it; return the failing tests with their reasons."""
    path, original, broken = FAULTS[name]
    source = ROOT / path
    text = source.read_text()
    if text.count(original) != 1:
        raise SystemExit(f"{name}: the line it breaks is no longer in {path}; update FAULTS")
    source.write_text(text.replace(original, broken))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "--tb=line", "-p", "no:cacheprovider", *TESTS],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        source.write_text(text)
    return [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "E "))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faults", nargs="*", metavar="FAULT",
                        help=f"faults to try (default: all): {', '.join(FAULTS)}")  # fmt: skip
    names = parser.parse_args().faults or list(FAULTS)
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    print("| fault | caught by |\n|---|---|")
    for name in names:
        failed = run_fault(name)
        tests = [line.split(" ", 1)[1].split(" - ")[0] for line in failed if line.startswith("FAILED")]
        print(f"| {name} | {'; '.join(tests) or '**NOT CAUGHT**'} |", flush=True)
        for line in failed:
            if line.startswith("E "):
                print(f"|  | `{line[1:].strip()[:120]}` |", flush=True)


if __name__ == "__main__":
    main()
