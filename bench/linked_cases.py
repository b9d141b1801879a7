"""Print the linked-case table (issue 12): per-subject merging, linked tables, binning, DP runs.

Measures the issue's two targets on ``showcase datasets generate cases``
output, each command in its own process (wall clock end to end, peak RSS
from ``wait4``), after a warm-up of the same command shape on 1,000 victims
that fills the Numba cache:

* ``a-pairs``: ``showcase aggregate perpetrators.parquet --subject-id victim_id``
  on the victim–perpetrator pair table itself (~10M rows at 4.55M victims):
  the rows of a victim are merged, conflicting columns become multi-value;
  k = 10, L = 3. Target: < 60 s and < 6 GiB.
* ``a-linked``: ``showcase aggregate victims.parquet --link perpetrators.parquet``
  at a size where victims + perpetrators ≈ 10M rows (3.125M victims), with
  multi-value and binned victim columns; k = 10, L = 3. Same target.
* ``b-parquet`` / ``b-csv``: ``showcase run victims --link perpetrators --dp
  --epsilon 4`` on 1M victims (~2.2M perpetrator rows), 8 victim columns (two
  multi-value, age binned by DP quantiles) + 4 perpetrator columns.
  Target: < 120 s end to end.

    python bench/linked_cases.py
    python bench/linked_cases.py --parts b-parquet,b-csv --dp-victims 1000000

Inputs are generated once (seed 1) into ``bench/.cache/linked-cases-*``.
``SHOWCASE_LEDGER`` points at a temporary file, so no real ledger is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import tempfile
from pathlib import Path

from harness import CACHE, SHOWCASE, failure, run_isolated

PERPETRATOR_COLUMNS = (
    "victim_id,gender,age_band,citizenship_un_region,relation_to_victim,"
    "is_recruiter,is_transporter,is_exploiter,is_controller"
)
AGE_EDGES = "age=edges:0,9,18,21,24,27,30,39,48:open:ctdc"
LINK_COLUMNS = "gender,age_band,relation_to_victim,is_recruiter"
DP_VICTIM_COLUMNS = (
    "victim_id,gender,age,citizenship,country_of_exploitation,year_of_registration,"
    "type_of_exploitation,means_of_control,labour_sector"
)


def cases(victims: int, fmt: str, seed: int = 1) -> Path:
    """The generated victims + perpetrators folder for this size and format, written once."""
    CACHE.mkdir(exist_ok=True)
    folder = CACHE / f"linked-cases-{victims}-s{seed}-{fmt}"
    if not folder.exists():
        partial = folder.with_name(folder.name + ".partial")
        subprocess.run(
            [
                *SHOWCASE,
                "datasets",
                "generate",
                "cases",
                "--rows",
                str(victims),
                "--seed",
                str(seed),
                "--out",
                str(partial),
                "--format",
                fmt,
                "--force",
            ],
            check=True,
            capture_output=True,
        )
        partial.replace(folder)
    return folder


def row_count(path: Path) -> int:
    """Data rows of a generated Parquet or CSV file (the CSV files have no embedded newlines)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
    return lines - 1


def arguments(part: str, folder: Path, fmt: str) -> tuple[str, list[str], list[Path]]:
    """The showcase command, its arguments (without -o) and the input files of one part."""
    victims = folder / f"victims.{fmt}"
    perpetrators = folder / f"perpetrators.{fmt}"
    if part == "a-pairs":
        return (
            "aggregate",
            [
                str(perpetrators),
                "--subject-id",
                "victim_id",
                "--use-columns",
                PERPETRATOR_COLUMNS,
                "-k",
                "10",
                "-l",
                "3",
            ],
            [perpetrators],
        )
    if part == "a-linked":
        return (
            "aggregate",
            [
                str(victims),
                "--link",
                str(perpetrators),
                "--on",
                "victim_id",
                "--link-columns",
                LINK_COLUMNS,
                "--use-columns",
                "victim_id,gender,age,citizenship,type_of_exploitation,means_of_control",
                "--multi-value",
                "type_of_exploitation",
                "--multi-value",
                "means_of_control",
                "--bin",
                AGE_EDGES,
                "-k",
                "10",
                "-l",
                "3",
            ],
            [victims, perpetrators],
        )
    # b-parquet / b-csv: the linked DP run.
    return (
        "run",
        [
            str(victims),
            "--link",
            str(perpetrators),
            "--on",
            "victim_id",
            "--link-columns",
            LINK_COLUMNS,
            "--use-columns",
            DP_VICTIM_COLUMNS,
            "--multi-value",
            "type_of_exploitation",
            "--multi-value",
            "means_of_control",
            "--multi-value",
            "labour_sector",
            "--bin",
            "age=quantiles:5:0..99",
            "--dp",
            "--epsilon",
            "4",
        ],
        [victims, perpetrators],
    )


def steps(stderr: str) -> dict[str, float]:
    """The step times a command prints (``Steps: read 1.2 s · count 3.4 s``); releases never hold them."""
    line = re.search(r"Steps: (.*)", stderr)
    if line is None:
        return {}
    return {m[1]: float(m[2]) for m in re.finditer(r"(\w+) ([\d.]+) s", line.group(1))}


def measure_part(part: str, folder: Path, fmt: str, timeout: float) -> dict:
    command, args, inputs = arguments(part, folder, fmt)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        out = Path(tmp) / "release"
        result = run_isolated([*SHOWCASE, command, *args, "-o", str(out), "--no-progress"], timeout)
        if result.returncode != 0:
            return {
                "error": failure(result, f"showcase {command}"),
                "seconds": result.seconds,
                "rss": result.peak_rss_mib,
            }
        meta = json.loads((out / "metadata.json").read_text())
    merged = re.search(r"merged ([\d,]+) rows into ([\d,]+) subjects", result.stderr)
    linked = re.search(r"linked ([\d,]+) perp_\* rows", result.stderr)
    dropped = re.search(r"([\d,]+) more dropped at random beyond --max-linked", result.stderr)
    statistics = meta.get("statistics", {})
    released = statistics.get("combinations_by_length")
    return {
        "command": " ".join(["showcase", command, *args, "-o", "OUT", "--no-progress"]),
        "seconds": result.seconds,
        "rss": result.peak_rss_mib,
        "phases": steps(result.stderr),
        "records": meta["aggregates"]["record_count"],
        "released": sum(released) if released else None,
        "merged": merged.group(2) if merged else None,
        "linked": linked.group(1) if linked else None,
        "dropped": dropped.group(1) if dropped else None,
        "inputs": {p.name: row_count(p) for p in inputs},
    }


TARGETS = {
    "a-pairs": (60.0, 6144.0),
    "a-linked": (60.0, 6144.0),
    "b-parquet": (120.0, None),
    "b-csv": (120.0, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="a-pairs,a-linked,b-parquet,b-csv")
    parser.add_argument(
        "--pair-victims", type=int, default=4_550_000, help="a-pairs: victims (→ ~10M pair rows)"
    )
    parser.add_argument(
        "--linked-victims", type=int, default=3_125_000, help="a-linked: victims (+ perps ≈ 10M)"
    )
    parser.add_argument("--dp-victims", type=int, default=1_000_000, help="b-*: victims")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args()
    parts = args.parts.split(",")
    ledger = Path(tempfile.mkdtemp(dir=CACHE if CACHE.exists() else None)) / "ledger.json"
    os.environ["SHOWCASE_LEDGER"] = str(ledger)
    sizes = {
        "a-pairs": args.pair_victims,
        "a-linked": args.linked_victims,
        "b-parquet": args.dp_victims,
        "b-csv": args.dp_victims,
    }
    if not args.no_warmup:
        for part in parts:  # fill the Numba cache for every command shape, on 1,000 victims
            fmt = "csv" if part == "b-csv" else "parquet"
            measure_part(part, cases(1000, fmt), fmt, args.timeout)
    print(
        f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        "| part | input rows | subjects | s | (read / count or release / synthesize / write) "
        "| peak RSS MiB | released | target | met |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    commands = []
    for part in parts:
        fmt = "csv" if part == "b-csv" else "parquet"
        folder = cases(sizes[part], fmt)
        m = measure_part(part, folder, fmt, args.timeout)
        limit_s, limit_mib = TARGETS[part]
        target = f"< {limit_s:.0f} s" + (f", < {limit_mib / 1024:.0f} GiB" if limit_mib else "")
        if "error" in m:
            print(
                f"| {part} | | | {m['seconds']:.1f} | {m['error']} | {m['rss']:.0f} | | {target} | no |",
                flush=True,
            )
            continue
        rows = " + ".join(f"{n:,} {name.split('.')[0]}" for name, n in m["inputs"].items())
        subjects = m["merged"] or f"{sizes[part]:,}"
        if m["linked"]:
            subjects += (
                f" ({m['linked']} linked" + (f", {m['dropped']} dropped" if m["dropped"] else "") + ")"
            )
        ph = m["phases"]
        phases = " / ".join(
            f"{ph[k]:.1f}" for k in ("read", "count", "release", "synthesize", "write") if k in ph
        )
        met = m["seconds"] < limit_s and (limit_mib is None or m["rss"] < limit_mib)
        released = f"{m['released']:,}" if m["released"] is not None else ""
        print(
            f"| {part} ({fmt}) | {rows} | {subjects} | {m['seconds']:.1f} | {phases} | {m['rss']:,.0f} "
            f"| {released} | {target} | {'yes' if met else 'no'} |",
            flush=True,
        )
        commands.append(f"<!-- {part}: {m['command']} -->")
    for line in commands:
        print(line)
    ledger.unlink(missing_ok=True)
    ledger.parent.rmdir()


if __name__ == "__main__":
    main()
