"""SDNist inconsistencies of synthetic ACS records: ours without and with declared constraints, and MST.

SDNist (2.4, ``sdnist/metrics/inconsistency.py``) counts records that no real
person could have: a married child, a toddler with a diploma, a group-quarters
resident who owns the jail. Its rules are written here twice, independently:
as checks on the records' values (:func:`inconsistent`, the measurement), and
as impossible combinations in ``bench/sdnist/acs-codebook.yaml`` (what
synthesis enforces). A cell with no value (a k-anonymous record may leave a
column out) is not evidence of anything, so it never makes a record inconsistent.

Input: the ACS national excerpt, prepared as the codebook's header says (INDP,
PINCP, PWGTP, WGTP dropped; AGEP binned at SDNist's age thresholds; POVPIP in
bins of 100; ``N`` a value). Each showcase release is the ``run`` job in this
process (warm-up run first, so no compile time is timed); SmartNoise MST runs
``peers/smartnoise_mst.py`` in its own environment (``--mst-python``).

    python bench/sdnist_inconsistencies.py --epsilons 1,10 --seeds 1,2,3 \
        --mst-python /tmp/constraints-mst/bin/python
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from harness import BENCH
from synthesize_table import NIST, binned, read_as_text

from showcase.engine import DifferentialPrivacy, KAnonymity, Preparation, load, run
from showcase.engine.constraints import violations
from showcase.engine.encode import decode, encode
from showcase.engine.evaluate import k_marginal_score

CODEBOOK = BENCH / "sdnist" / "acs-codebook.yaml"
PEERS = BENCH / "peers"
DROPPED = ("INDP", "PINCP", "PWGTP", "WGTP")
AGE_EDGES = (0, 3, 5, 10, 15, 16, 20, 30, 40, 50, 60, 70, 80, 90, 100)
CHILD, TODDLER, INFANT = {"0-2", "3-4", "5-9", "10-14"}, {"0-2", "3-4"}, {"0-2"}
ADULT = {"16-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90-99"}


def age_label(age: str) -> str:
    """The AGEP bin of an age, labelled as the codebook lists them."""
    if age in ("", "N"):
        return age
    value = float(age)
    for low, high in zip(AGE_EDGES, AGE_EDGES[1:], strict=False):
        if low <= value < high:
            return str(low) if high - low == 1 else f"{low}-{high - 1}"
    return f"{AGE_EDGES[-2]}-{AGE_EDGES[-1] - 1}"


def prepare(folder: Path, source: Path = NIST) -> Path:
    """The ACS excerpt as the codebook describes it, as a CSV of strings."""
    table = read_as_text(source)
    columns, kept = [], []
    for name in table.column_names:
        if name in DROPPED:
            continue
        column = table.column(name)
        if name == "AGEP":
            column = pa.array([age_label(a) for a in column.to_pylist()], pa.string())
        elif name == "POVPIP":
            column = binned(column, 100)
        columns.append(column)
        kept.append(name)
    path = folder / f"{source.stem}-sdnist.csv"
    pacsv.write_csv(pa.table(columns, names=kept), path)
    return path


# --- SDNist's rules, on values -------------------------------------------------------------------


def _numbers(values: np.ndarray) -> np.ndarray:
    """Cells as numbers; N and empty cells as NaN."""
    out = np.full(len(values), np.nan)
    real = ~np.isin(values, ["N", ""])
    out[real] = values[real].astype(np.float64)
    return out


def inconsistent(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per SDNist rule group (age, work, housing), which records break one of its rules.

    ``columns`` maps a column to its cells as text ('' where a record has no value).
    """
    n = len(next(iter(columns.values())))
    get = lambda name: columns.get(name, np.full(n, "", dtype=object))  # noqa: E731
    age = get("AGEP")
    child, toddler, infant = (
        np.isin(age, list(CHILD)),
        np.isin(age, list(TODDLER)),
        np.isin(age, list(INFANT)),
    )
    adult = np.isin(age, list(ADULT))

    def given(name: str) -> np.ndarray:  # a real answer: neither N nor empty
        return ~np.isin(get(name), ["N", ""])

    def is_n(name: str) -> np.ndarray:
        return get(name) == "N"

    edu = _numbers(get("EDU"))
    groups = {}
    groups["age"] = (
        child & (given("DVET") | given("MSP") | given("PINCP_DECILE") | given("INDP_CAT") | (edu >= 12))
        | toddler & (given("DPHY") | given("DREM") | (edu >= 5))
        | infant & given("EDU")
        | adult & (is_n("MSP") | is_n("PINCP_DECILE") | is_n("EDU") | is_n("DPHY") | is_n("DREM"))
    )
    groups["work"] = np.zeros(n, dtype=bool)  # its rules read PINCP and INDP, dropped in this preparation
    housing_type, own_rent = _numbers(get("HOUSING_TYPE")), _numbers(get("OWN_RENT"))
    noc, npf = _numbers(get("NOC")), _numbers(get("NPF"))
    group_quarters = housing_type > 1
    groups["housing"] = (
        (noc >= npf)
        | group_quarters & (given("NOC") | given("NPF") | (own_rent == 2))
        | (housing_type == 2) & (own_rent == 1)
        | (housing_type == 3) & (own_rent == 1)
        | (housing_type == 1) & ((own_rent == 0) | is_n("NOC"))
    )
    groups["any"] = groups["age"] | groups["work"] | groups["housing"]
    return groups


def cells(table: pa.Table) -> dict[str, np.ndarray]:
    """A table's cells as text, '' where there is no value."""
    return {
        name: np.array(
            [v if v is not None else "" for v in table.column(name).cast(pa.string()).to_pylist()],
            dtype=object,
        )  # fmt: skip
        for name in table.column_names
    }


# --- the releases --------------------------------------------------------------------------------


class Scorer:
    """k-marginal (with PUMA) and SDNist inconsistencies of records against the prepared sensitive table."""

    def __init__(self, path: Path, preparation: Preparation, declared: Preparation) -> None:
        self.preparation = preparation
        self.table = load(path, preparation)
        self.constraints = declared.constraints

    def score(self, records: pa.Table) -> dict:
        again = encode(records, schema=self.table.schema, sensitive_zeros="all")
        found = inconsistent(cells(records))
        return {
            "k_marginal": k_marginal_score(self.table, again, group="PUMA")["score"],
            "records": records.num_rows,
            "declared": int(violations(again, self.constraints).sum()),
            **{group: int(flags.sum()) for group, flags in found.items()},
        }


def showcase_release(path: Path, preparation: Preparation, protection, length: int, mode: str, seed: int):
    start = time.perf_counter()
    result = run(path, protection=protection, length=length, mode=mode, preparation=preparation, seed=seed)
    seconds = time.perf_counter() - start
    return decode(result.synthesis.synthetic), seconds


def mst_release(path: Path, epsilon: float, python: str, work: Path) -> dict[str, tuple[pa.Table, float]]:
    command = [python, str(PEERS / "smartnoise_mst.py"), str(path), str(epsilon), str(work / "mst")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"SmartNoise MST failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: (read_strings(sample["path"]), report["fit_seconds"] + sample["seconds"])
            for name, sample in report["samples"].items()}  # fmt: skip


def read_strings(path: str | Path) -> pa.Table:
    """A CSV with every column read as text, as written (no number parsing: '73.0' stays '73.0')."""
    with open(path, encoding="utf-8", newline="") as handle:
        names = next(csv.reader(handle))
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)
    return pacsv.read_csv(path, convert_options=options)


def spread(values: list[float], digits: int = 1) -> str:
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}"
    return f"{statistics.mean(values):,.{digits}f} ± {statistics.stdev(values):,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,10")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument(
        "--mst-python", default=None, help="python of a SmartNoise environment (else skipped)"
    )
    parser.add_argument("--only", default=None, help="comma-separated release names to run")
    parser.add_argument("--score", nargs="*", default=None, help="only score these synthetic CSVs")
    args = parser.parse_args()
    (BENCH / ".cache").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=BENCH / ".cache"))
    path = prepare(work)
    declared = Preparation(codebook=CODEBOOK).resolved()
    plain = replace(declared, constraints=())
    scorer = Scorer(path, plain, declared)
    sensitive = scorer.score(read_strings(path))
    load = os.getloadavg()[0]
    print(f"# {len(declared.constraints)} constraints declared; load average {load:.2f} at the start")
    print("| release | ε | constraints | seeds | seconds | k-marginal | records | SDNist age "
          "| SDNist housing | SDNist any | declared violated |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    s = sensitive
    print(f"| sensitive data | | | | | {s['k_marginal']:.1f} | {s['records']:,} | {s['age']:,} | "
          f"{s['housing']:,} | {s['any']:,} | {s['declared']:,} |", flush=True)  # fmt: skip
    for file in args.score or []:
        s = scorer.score(read_strings(file))
        print(f"| {Path(file).name} | | | 1 | | {s['k_marginal']:.1f} | {s['records']:,} | {s['age']:,} | "
              f"{s['housing']:,} | {s['any']:,} | {s['declared']:,} |", flush=True)  # fmt: skip
    if args.score is not None:
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    epsilons = [float(e) for e in args.epsilons.split(",")]
    releases = []
    for epsilon in epsilons:
        releases += [
            ("run --dp (aim + fitted)", epsilon, DifferentialPrivacy(epsilon, algorithm="aim"), 3, "fitted"),
            ("run --dp --mechanism mst (fitted)", epsilon, DifferentialPrivacy(epsilon, algorithm="mst"), 2,
             "fitted"),
            ("run --dp --mechanism sds (tree)", epsilon, DifferentialPrivacy(epsilon, algorithm="sds"), 2,
             "tree"),
        ]  # fmt: skip
    releases.append(("run -k 10 --mode aggregate_seeded", None, KAnonymity(10), 3, "aggregate_seeded"))
    if args.only:
        wanted = args.only.split(",")
        releases = [r for r in releases if any(w in r[0] for w in wanted)]
    warmed = set()
    for name, epsilon, protection, length, mode in releases:
        if mode not in warmed:  # compile outside the timings
            showcase_release(path, declared, protection, length, mode, 0)
            warmed.add(mode)
        for label, preparation in (("none", plain), ("declared", declared)):
            scores, seconds = [], []
            for seed in seeds:
                records, spent = showcase_release(path, preparation, protection, length, mode, seed)
                scores.append(scorer.score(records))
                seconds.append(spent)
            cell = lambda key, d=0, s=scores: spread([x[key] for x in s], d)  # noqa: E731
            print(f"| {name} | {epsilon if epsilon is not None else 'k=10'} | {label} | {len(seeds)} | "
                  f"{spread(seconds)} | {cell('k_marginal', 1)} | {cell('records')} | {cell('age')} | "
                  f"{cell('housing')} | {cell('any')} | {cell('declared')} |", flush=True)  # fmt: skip
    if args.mst_python:
        for epsilon in epsilons:
            for sample, (records, spent) in mst_release(path, epsilon, args.mst_python, work).items():
                s = scorer.score(records)
                print(f"| SmartNoise MST ({sample} sample) | {epsilon:g} | none | 1 | {spent:.1f} | "
                      f"{s['k_marginal']:.1f} | {s['records']:,} | {s['age']:,} | {s['housing']:,} | "
                      f"{s['any']:,} | {s['declared']:,} |", flush=True)  # fmt: skip
    print(f"<!-- load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} -->")


if __name__ == "__main__":
    main()
