"""Print the synthesis table: every mode on NIST ACS national2019, row_seeded on generated inputs.

Each synthesis runs as ``showcase synthesize`` end to end (read, encode,
synthesize, check, write CSV + Parquet + metadata) in its own process, timed
with its peak RSS. Metrics come from ``showcase.engine.evaluate``
against the sensitive table, at k = 10 and L = 3.

NIST preparation (done here, into a temporary CSV): AGEP in 10-year bins,
POVPIP in bins of 100, INDP, PINCP, PWGTP and WGTP dropped, ``N`` a null
marker. Add ``--sensitive-zeros all`` to treat ACS's ``0`` codes as values
rather than "no attribute".

    python bench/synthesize_table.py --rows 100000,1000000,10000000
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from harness import BENCH, CACHE, generated_input, run_isolated

NIST = BENCH.parent.parent / "shared" / "data" / "nist-acs-excerpts" / "national2019.csv"
MODES = ("row_seeded", "unseeded", "value_seeded", "aggregate_seeded")
DROPPED = ("INDP", "PINCP", "PWGTP", "WGTP")
BINS = {"AGEP": 10, "POVPIP": 100}


def binned(column: pa.ChunkedArray, width: int) -> pa.Array:
    """``lo-hi`` labels of fixed-width bins; ``N`` and empty cells stay as they are."""
    text = column.combine_chunks().cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    keep = np.isin(text, ["N", ""])
    numbers = np.where(keep, "0", text).astype(np.float64)
    low = (np.floor(numbers / width) * width).astype(np.int64)
    labels = np.char.add(np.char.add(low.astype(str), "-"), (low + width - 1).astype(str)).astype(object)
    return pa.array(np.where(keep, text, labels), pa.string())


def read_as_text(source: Path) -> pa.Table:
    """A NIST CSV with every column read as text (codes keep their spelling, e.g. ``N``, ``01``)."""
    with open(source, encoding="utf-8") as handle:
        names = handle.readline().strip().split(",")
    types = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    return pacsv.read_csv(source, convert_options=types)


def prepared_nist(folder: Path, source: Path = NIST) -> Path:
    """The categorical NIST table (national, or another excerpt ``source``) as a CSV in ``folder``."""
    table = read_as_text(source)
    columns, kept = [], []
    for name in table.column_names:
        if name in DROPPED:
            continue
        column = table.column(name)
        columns.append(binned(column, BINS[name]) if name in BINS else column)
        kept.append(name)
    path = folder / f"{source.stem}-categorical.csv"
    pacsv.write_csv(pa.table(columns, names=kept), path)
    return path


def synthesize(path: Path, mode: str, out: Path, extra: list[str], timeout: float) -> tuple:
    command = [
        sys.executable,
        "-m",
        "showcase.cli.main",
        "synthesize",
        str(path),
        "--mode",
        mode,
        "-k",
        "10",
        "-l",
        "3",
        "-o",
        str(out),
        "--seed",
        "1",
        "--no-progress",
        *extra,
    ]
    result = run_isolated(command, timeout)
    if result.returncode is None:
        return result, None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        raise SystemExit(f"{mode} failed on {path.name}: {last}")
    return result, json.loads((out / "metadata.json").read_text())


def metrics(sensitive_path: Path, out: Path, preparation, group: str | None) -> dict:
    from showcase.engine import load
    from showcase.engine.evaluate import evaluate_release, load_release

    sensitive = load(sensitive_path, preparation)
    release = load_release(out, sensitive, preparation)
    return evaluate_release(sensitive, release, length=3, resolution=10, group=group)


def row(label: str, mode: str, result, meta: dict | None, scores: dict | None) -> str:
    if meta is None:
        return f"| {label} | {mode} | killed at the time limit | | | | | | |"
    synthesis = meta["synthesis"]
    expansion = scores["record_expansion"] if scores else synthesis["record_expansion"]
    preserved = scores["overall"]["preserved_pct"] if scores else synthesis["combinations"]["preserved_pct"]
    mae = f"{scores['overall']['mean_absolute_error']:.2f}" if scores else "—"
    k_marginal = f"{scores['k_marginal']['score']:.1f}" if scores and "k_marginal" in scores else "—"
    return (
        f"| {label} | {mode} | {result.seconds:.1f} | {meta['seconds']['synthesize']:.1f} "
        f"| {result.peak_rss_mib:.0f} | {expansion:.3f} | {preserved:.1f} | {mae} | {k_marginal} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000,10000000", help="generated inputs for row_seeded")
    parser.add_argument("--modes", default=",".join(MODES), help="modes run on NIST")
    parser.add_argument("--sensitive-zeros", default=None, help="e.g. 'all' (passed to showcase)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--metrics-max-rows", type=int, default=1_000_000, help="skip MAE/k-marginal above this many rows"
    )
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    from showcase.engine import Preparation

    CACHE.mkdir(exist_ok=True)
    zeros = ["--sensitive-zeros", args.sensitive_zeros] if args.sensitive_zeros else []
    nist_prep = Preparation(
        null_markers=("N",),
        sensitive_zeros=None if not args.sensitive_zeros else args.sensitive_zeros,
    )
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print("| input | mode | seconds | synthesize s | peak RSS MiB | record expansion | % 1–3 preserved "
          "| MAE | NIST k-marginal |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        tmp = Path(tmp)
        # Warm the Numba cache so compile time is not charged to the first row.
        warm = generated_input(1000)
        for mode in {*modes, "row_seeded"}:
            synthesize(warm, mode, tmp / f"warm-{mode}", [], args.timeout)
        if NIST.exists() and modes:
            nist = prepared_nist(tmp)
            for mode in modes:
                out = tmp / f"nist-{mode}"
                result, meta = synthesize(nist, mode, out, ["--null-marker", "N", *zeros], args.timeout)
                scores = metrics(nist, out, nist_prep, "PUMA") if meta else None
                print(row("NIST national2019 (27,253 × 20)", mode, result, meta, scores), flush=True)
        elif modes:
            print(f"<!-- {NIST} absent: NIST rows skipped -->")
        for rows in [int(r) for r in args.rows.split(",") if r]:
            path = generated_input(rows)
            out = tmp / f"generated-{rows}"
            result, meta = synthesize(path, "row_seeded", out, [], args.timeout)
            scores = None
            if meta is not None and rows <= args.metrics_max_rows:
                scores = metrics(path, out, Preparation(), None)
            print(row(f"generated {rows:,} × 20", "row_seeded", result, meta, scores), flush=True)


if __name__ == "__main__":
    main()
