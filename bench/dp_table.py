"""Print the DP table: utility and speed of DP synthesis on NIST ACS national2019.

Mechanisms, all at reporting length L on the same prepared input, in one session:

* showcase: ``aggregate --dp`` then ``synthesize --from-aggregates``, each in its
  own process (seconds are the sum of both, peak RSS the larger), several seeds
  per ε, reported as mean ± sd;
* pac-synth's ``DpAggregateSeededSynthesizer`` with its defaults for everything
  but L and ε (``peers/pacsynth_dp.py``), one run per ε;
* SmartNoise MST (``peers/smartnoise_mst.py``), in its own virtual environment
  (``--mst-python``), one run per ε, sampled once with ``Synthesizer.sample``
  and once with private-pgm's ``synthetic_data(method="sample")`` when both exist;
* optionally (``--mechanisms compare-dp``) ``showcase compare -m dp``, whose
  DP synthesis may differ from ``synthesize --from-aggregates``; it writes no
  synthetic table, so its scores come from its own comparison.json;
* "independent columns" (``peers/independent.py``): every column drawn alone
  from its exact, non-private 1-way distribution; not DP, a floor for the joint
  structure.

Metrics come from ``showcase.engine.evaluate`` in this process, with
the sensitive table loaded with null marker ``N`` and every column a
sensitive-zero column. A peer's value that the sensitive data lacks is turned
into "missing" and counted in the notes. "% complete rows" counts synthetic
rows with a value in every column that is never missing in the sensitive data.

    python bench/dp_table.py                     # the full table
    python bench/dp_table.py --sweep             # showcase at ε = 4: fabrication modes × percentile shares
    python bench/dp_table.py --record-limit 2000 --epsilons 4 --seeds 1   # a quick check
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from harness import BENCH, CACHE, failure, release_scores, run_isolated, run_showcase
from synthesize_table import NIST, prepared_nist

PEERS = BENCH / "peers"
NULL_MARKER = "N"
MST_PYTHON = Path("/work/peers-mst/bin/python")
FABRICATION_MODES = ("balanced", "minimize", "progressive", "uncontrolled")
PERCENTILE_PROPORTIONS = (0.05, 0.1)


class Scorer:
    """Scores synthetic CSVs against the prepared sensitive table (exact counts computed once)."""

    def __init__(self, sensitive_path: Path, length: int, resolution: int = 10) -> None:
        from showcase.engine import Preparation, load
        from showcase.engine.count import count_combinations

        self.preparation = Preparation(null_markers=(NULL_MARKER,), sensitive_zeros="all")
        self.sensitive = load(sensitive_path, self.preparation)
        self.length = length
        self.resolution = resolution
        self.exact = count_combinations(self.sensitive, length)
        # Columns that every sensitive record has a value in (no code 0).
        self.never_missing = [
            c for c in range(self.sensitive.n_columns) if (self.sensitive.codes[c] > 0).all()
        ]

    def conform(self, path: Path) -> tuple[pa.Table, int]:
        """The synthetic table with the sensitive columns, unknown values turned into missing."""
        from showcase.engine import read_table

        table = read_table(path)
        schema = self.sensitive.schema
        missing_columns = [name for name in schema.columns if name not in table.column_names]
        if missing_columns:
            raise SystemExit(f"{path}: columns missing: {missing_columns}")
        columns, unknown = [], 0
        for name, known in zip(schema.columns, schema.dictionaries):
            column = table.column(name).combine_chunks().cast(pa.string())
            allowed = pa.concat_arrays([known.cast(pa.string()), pa.array(["", NULL_MARKER], pa.string())])
            stray = pc.and_(pc.invert(pc.is_in(column, value_set=allowed)), pc.is_valid(column))
            unknown += int(pc.sum(stray).as_py() or 0)
            columns.append(pc.if_else(stray, pa.scalar(""), column))
        return pa.table(columns, names=list(schema.columns)), unknown

    def score(self, path: Path) -> dict:
        from showcase.engine import encode
        from showcase.engine.evaluate import Release, evaluate_release

        table, unknown = self.conform(path)
        encoded = encode(
            table, null_markers=(NULL_MARKER,), sensitive_zeros="all", schema=self.sensitive.schema
        )
        result = evaluate_release(
            self.sensitive,
            Release(path, "synthetic", table=encoded),
            length=self.length,
            resolution=self.resolution,
            exact=self.exact,
        )
        complete = np.ones(encoded.n_rows, dtype=bool)
        for c in self.never_missing:
            complete &= encoded.codes[c] > 0
        return {
            **release_scores(result),
            "complete_pct": 100.0 * complete.mean() if encoded.n_rows else 0.0,
            "rows": encoded.n_rows,
            "unknown_cells": unknown,
        }


def prepared_options(length: int, seed: int) -> list[str]:
    """CLI options every showcase process shares: length, the preparation, the seed."""
    return ["-l", str(length), "--null-marker", NULL_MARKER, "--sensitive-zeros", "all", "--seed", str(seed)]


def showcase_run(
    prepared: Path, epsilon: float, seed: int, length: int, work: Path, extra: list[str], timeout: float
) -> dict:
    """DP aggregates then synthesis from them, each a measured process."""
    aggregates, synthetic = work / "aggregates", work / "synthetic"
    work.mkdir(parents=True, exist_ok=True)
    aggregate, error = run_showcase(
        "aggregate",
        [
            str(prepared),
            "--dp",
            "--epsilon",
            str(epsilon),
            *prepared_options(length, seed),
            "-o",
            str(aggregates),
            "--ledger",
            str(work.parent / "ledger.sqlite"),
            *extra,
        ],
        timeout,
    )
    if error:
        return error
    options = ["--from-aggregates", str(aggregates), "--out", str(synthetic), "--seed", str(seed)]
    synthesize, error = run_showcase("synthesize", options, timeout)
    if error:
        return error
    return {
        "seconds": aggregate.seconds + synthesize.seconds,
        "rss": max(aggregate.peak_rss_mib, synthesize.peak_rss_mib),
        "phases": {"aggregate": aggregate.seconds, "synthesize": synthesize.seconds},
        "phase_rss": {"aggregate": aggregate.peak_rss_mib, "synthesize": synthesize.peak_rss_mib},
        "outputs": {"": synthetic / "synthetic.csv"},
    }


def peer_run(command: list[str], timeout: float, what: str, work: Path) -> tuple[object, dict]:
    """Run a peer script in its own measured process; its last stdout line is a JSON report."""
    work.mkdir(parents=True, exist_ok=True)
    result = run_isolated(command, timeout)
    if result.returncode != 0:
        return result, {"error": failure(result, what)}
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def pacsynth_run(prepared: Path, epsilon: float, length: int, work: Path, timeout: float) -> dict:
    out = work / "pacsynth.csv"
    command = [
        sys.executable,
        str(PEERS / "pacsynth_dp.py"),
        str(prepared),
        str(epsilon),
        str(length),
        str(out),
    ]
    result, report = peer_run(command, timeout, "pac-synth", work)
    if "error" in report:
        return report
    return {
        "seconds": result.seconds,
        "rss": result.peak_rss_mib,
        "phases": {"fit": report["fit_seconds"], "sample": report["sample_seconds"]},
        "outputs": {"": out},
    }


def mst_run(prepared: Path, epsilon: float, work: Path, python: Path, timeout: float) -> dict:
    if not python.exists():
        return {"error": f"no SmartNoise environment at {python}"}
    command = [str(python), str(PEERS / "smartnoise_mst.py"), str(prepared), str(epsilon), str(work / "mst")]
    result, report = peer_run(command, timeout, "SmartNoise MST", work)
    if "error" in report:
        return report
    phases = {"fit": report["fit_seconds"]}
    outputs = {}
    for name, sample in report["samples"].items():
        phases[f"sample ({name})"] = sample["seconds"]
        outputs[name] = Path(sample["path"])
    return {
        "seconds": result.seconds,
        "rss": result.peak_rss_mib,
        "phases": phases,
        "outputs": outputs,
        "version": report.get("version"),
    }


def compare_dp_run(
    prepared: Path, epsilon: float, seed: int, length: int, work: Path, timeout: float
) -> dict:
    """``showcase compare -m dp``: DP aggregates then the synthesis ``compare`` uses for DP.

    It writes no synthetic table, so its scores come from its comparison.json
    (the same evaluation function, group PUMA) and "% complete rows" is not known.
    """
    out = work / "comparison"
    work.mkdir(parents=True, exist_ok=True)
    mechanism = f"dp:epsilon={epsilon:g}"
    options = [str(prepared), "-m", mechanism, *prepared_options(length, seed), "-o", str(out)]
    result, error = run_showcase("compare", options, timeout)
    if error:
        return error
    evaluation = json.loads((out / "comparison.json").read_text())["evaluations"][0]
    score = {
        **release_scores(evaluation),
        "complete_pct": None,
        "rows": evaluation["release_records"],
        "unknown_cells": 0,
    }
    return {
        "seconds": result.seconds,
        "rss": result.peak_rss_mib,
        "phases": {"mechanism": evaluation["seconds"]},
        "score": score,
        "params": evaluation["params"],
    }


def independent_run(prepared: Path, seed: int, work: Path, timeout: float) -> dict:
    out = work / "independent.csv"
    command = [sys.executable, str(PEERS / "independent.py"), str(prepared), str(out), "--seed", str(seed)]
    result, report = peer_run(command, timeout, "independent columns", work)
    if "error" in report:
        return report
    return {"seconds": result.seconds, "rss": result.peak_rss_mib, "phases": {}, "outputs": {"": out}}


def spread(values: list[float], digits: int) -> str:
    """``mean ± sd`` over seeds, or the single value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


# (key in Scorer.score, decimals) in table order.
METRICS = (
    ("k_marginal", 1),
    ("mae", 2),
    ("fabricated_pct", 1),
    ("suppressed_pct", 1),
    ("expansion", 3),
    ("complete_pct", 1),
)
METRIC_HEADER = "NIST k-marginal | MAE 1–3 | % fabricated | % suppressed | record expansion | % complete rows"
HEADER = f"| mechanism | ε | runs | seconds | (phases, s) | peak RSS MiB | {METRIC_HEADER} | notes |"
SWEEP_HEADER = f"| fabrication mode | percentile proportion | seconds | peak RSS MiB | {METRIC_HEADER} |"


def separator(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


def table_row(mechanism: str, epsilon: str, runs: list[dict], scores: list, notes: list[str]) -> str:
    """One markdown row: mean ± sd over the runs that worked, their failures in the notes."""
    good = [(r, s) for r, s in zip(runs, scores) if s is not None]
    notes = notes + [r["error"] for r in runs if "error" in r]
    if not good:
        return f"| {mechanism} | {epsilon} | 0 |" + " |" * 9 + f" {'; '.join(notes)} |"
    measured, scored = zip(*good)
    phases = (
        " / ".join(
            f"{statistics.mean(m['phases'][p] for m in measured):.1f} {p}" for p in measured[0]["phases"]
        )
        or "—"
    )
    seconds = spread([m["seconds"] for m in measured], 1)
    rss = max(m["rss"] for m in measured)
    values = " | ".join(
        "—" if None in (column := [s[key] for s in scored]) else spread(column, digits)
        for key, digits in METRICS
    )
    unknown = sum(s["unknown_cells"] for s in scored)
    if unknown:
        notes.append(f"{unknown:,} cells with values the sensitive data lacks, scored as missing")
    rows = sorted({s["rows"] for s in scored})
    notes.append(f"{rows[0]:,} rows" if len(rows) == 1 else f"{rows[0]:,}–{rows[-1]:,} rows")
    return (
        f"| {mechanism} | {epsilon} | {len(measured)} | {seconds} | {phases} | {rss:.0f} | {values} "
        f"| {'; '.join(notes)} |"
    )


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


class Log:
    """The load before each measured run, and per-run details on stderr."""

    def __init__(self) -> None:
        self.loads: list[float] = []

    def sample_load(self) -> None:
        self.loads.append(os.getloadavg()[0])

    def detail(self, what: str, run: dict, score) -> None:
        shown = {k: v for k, v in run.items() if k != "outputs"}
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        line = f"[{stamp}] {what}: {json.dumps(shown, default=str)} {json.dumps(score)} ({load_note()})"
        print(line, file=sys.stderr, flush=True)

    def summary(self) -> str:
        low, high = min(self.loads, default=0.0), max(self.loads, default=0.0)
        return (
            f"<!-- 1-minute load average before each measured run: min {low:.2f}, max {high:.2f}; "
            f"{load_note()} at the end -->"
        )


def score_all(scorer: Scorer, run: dict) -> dict:
    """Scores of each synthetic output of a run, or ``{"": None}`` when it failed."""
    if "error" in run:
        return {"": None}
    return {name: scorer.score(path) for name, path in run["outputs"].items()}


def strings(path: Path) -> pacsv.ConvertOptions:
    """Read every column of a CSV as text, empty cells as empty strings."""
    with open(path, encoding="utf-8", newline="") as handle:
        names = next(csv.reader(handle))
    return pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)


def first_records(path: Path, records: int, out: Path) -> Path:
    table = pacsv.read_csv(path, convert_options=strings(path))
    pacsv.write_csv(table.slice(0, records), out)
    return out


def warm_up(prepared: Path, length: int, work: Path, timeout: float) -> None:
    """One small showcase run so Numba compilation is not charged to the first measured row."""
    small = first_records(prepared, 2000, work / "warm.csv")
    run = showcase_run(small, 4.0, 0, length, work / "warm", [], timeout)
    if "error" in run:
        raise SystemExit(run["error"])


def sweep(args, prepared: Path, scorer: Scorer, work: Path, log: Log) -> None:
    """Showcase alone at one ε and seed, over fabrication modes × percentile proportions."""
    print(f"\n### Sweep: showcase at ε = {args.sweep_epsilon:g}, L = {args.length}, seed {args.sweep_seed}\n")
    print(SWEEP_HEADER)
    print(separator(SWEEP_HEADER), flush=True)
    best = None
    for mode in FABRICATION_MODES:
        for proportion in PERCENTILE_PROPORTIONS:
            extra = ["--fabrication-mode", mode, "--percentile-proportion", str(proportion)]
            folder = work / f"sweep-{mode}-{proportion}"
            log.sample_load()
            run = showcase_run(
                prepared, args.sweep_epsilon, args.sweep_seed, args.length, folder, extra, args.timeout
            )
            score = score_all(scorer, run)[""]
            log.detail(f"sweep {mode} {proportion}", run, score)
            if score is None:
                print(f"| {mode} | {proportion} | {run['error']} |" + " |" * 7, flush=True)
                continue
            if best is None or score["k_marginal"] > best[0]:
                best = (score["k_marginal"], mode, proportion)
            values = " | ".join(f"{score[key]:.{digits}f}" for key, digits in METRICS)
            print(
                f"| {mode} | {proportion} | {run['seconds']:.1f} | {run['rss']:.0f} | {values} |", flush=True
            )
    if best:
        print(
            f"\nBest k-marginal: {best[0]:.1f} with --fabrication-mode {best[1]} --percentile-proportion "
            f"{best[2]} (one seed: differences of a few points are noise)"
        )
    print(log.summary())


def full_table(args, prepared: Path, scorer: Scorer, work: Path, log: Log) -> None:
    """Every mechanism at every ε, rows printed as they finish."""
    mechanisms = args.mechanisms.split(",")
    seeds = range(1, args.seeds + 1)
    seed_note = f"seeds 1–{args.seeds}"
    variants = [("showcase", [])] + [(f"showcase {v}", shlex.split(v)) for v in args.showcase_variant]
    print()
    print(HEADER)
    print(separator(HEADER), flush=True)
    for epsilon in [float(e) for e in args.epsilons.split(",")]:
        for label, extra in variants if "showcase" in mechanisms else []:
            runs, scores = [], []
            for seed in seeds:
                folder = work / f"{'-'.join(label.split())}-e{epsilon:g}-s{seed}"
                log.sample_load()
                run = showcase_run(prepared, epsilon, seed, args.length, folder, extra, args.timeout)
                score = score_all(scorer, run)[""]
                log.detail(f"{label} ε={epsilon:g} seed {seed}", run, score)
                runs.append(run)
                scores.append(score)
            print(table_row(label, f"{epsilon:g}", runs, scores, [seed_note]), flush=True)
        if "pac-synth" in mechanisms:
            log.sample_load()
            run = pacsynth_run(prepared, epsilon, args.length, work / f"pacsynth-e{epsilon:g}", args.timeout)
            score = score_all(scorer, run)[""]
            log.detail(f"pac-synth ε={epsilon:g}", run, score)
            print(table_row("pac-synth (its defaults)", f"{epsilon:g}", [run], [score], []), flush=True)
        if "mst" in mechanisms:
            log.sample_load()
            run = mst_run(prepared, epsilon, work / f"mst-e{epsilon:g}", args.mst_python, args.timeout)
            scored = score_all(scorer, run)
            log.detail(f"MST ε={epsilon:g}", run, scored)
            for name, score in scored.items():
                label = f"SmartNoise MST {run['version']}, {name} sample" if name else "SmartNoise MST"
                print(table_row(label, f"{epsilon:g}", [run], [score], []), flush=True)
        if "compare-dp" in mechanisms:
            runs = []
            for seed in seeds:
                folder = work / f"compare-dp-e{epsilon:g}-s{seed}"
                log.sample_load()
                runs.append(compare_dp_run(prepared, epsilon, seed, args.length, folder, args.timeout))
                log.detail(f"compare dp ε={epsilon:g} seed {seed}", runs[-1], None)
            scores = [run.get("score") for run in runs]
            label = "showcase compare -m dp (synthesis as compare runs it)"
            print(table_row(label, f"{epsilon:g}", runs, scores, [seed_note]), flush=True)
    if "independent" in mechanisms:
        runs, scores = [], []
        for seed in seeds:
            log.sample_load()
            run = independent_run(prepared, seed, work / f"independent-s{seed}", args.timeout)
            score = score_all(scorer, run)[""]
            log.detail(f"independent seed {seed}", run, score)
            runs.append(run)
            scores.append(score)
        print(table_row("independent columns (not DP)", "∞", runs, scores, [seed_note]), flush=True)
    print()
    print(log.summary())
    print(f"<!-- engine at {source_revision()} at the end -->")


def source_revision() -> str:
    """The commit the measured engine comes from, marked when engine/ or cli/ have local edits.

    An engine imported from elsewhere (a snapshot on PYTHONPATH, so that edits in
    progress in the checkout do not change the code mid-run) is named by its
    folder and the commit in its REVISION file.
    """
    import showcase.engine

    root = BENCH.parent
    package = Path(showcase.engine.__file__).resolve().parent.parent
    if root not in package.parents and package != root:
        stamp = package / "REVISION"
        commit = stamp.read_text().strip() if stamp.exists() else "unknown commit"
        return f"{commit} (snapshot in {package})"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", "cli"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return f"{commit} + uncommitted engine/cli edits" if dirty else commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,4,10")
    parser.add_argument("--seeds", type=int, default=5, help="showcase (and baseline) seeds per ε: 1..N")
    parser.add_argument("--length", "-l", type=int, default=3)
    parser.add_argument("--mechanisms", default="showcase,pac-synth,mst,independent")
    parser.add_argument(
        "--showcase-variant",
        action="append",
        default=[],
        help="extra showcase rows with these aggregate options, e.g. '--fabrication-mode minimize'",
    )
    parser.add_argument("--mst-python", type=Path, default=MST_PYTHON)
    parser.add_argument(
        "--record-limit", type=int, default=None, help="only the first N records (quick check)"
    )
    parser.add_argument("--sweep", action="store_true", help="only the showcase settings sweep")
    parser.add_argument("--sweep-epsilon", type=float, default=4.0)
    parser.add_argument("--sweep-seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measured process")
    parser.add_argument("--keep", type=Path, default=None, help="keep every release under this folder")
    parser.add_argument("--ma", action="store_true", help="the MA excerpt (ma2019.csv) instead of national")
    args = parser.parse_args()

    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        prepared = prepared_nist(Path(tmp), NIST.with_name("ma2019.csv") if args.ma else NIST)
        if args.record_limit:
            limited = Path(tmp) / f"national2019-categorical-{args.record_limit}.csv"
            prepared = first_records(prepared, args.record_limit, limited)
        scorer = Scorer(prepared, args.length)
        versions = (
            f"showcase {metadata.version('showcase')} at {source_revision()}, "
            f"pac-synth {metadata.version('pac-synth')}"
        )
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(
            f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"python {platform.python_version()}, {versions}; {started}, {load_note()} at start"
        )
        print(
            f"# input: NIST ACS {'ma2019' if args.ma else 'national2019'} (categorical), "
            f"{scorer.sensitive.n_rows:,} × "
            f"{scorer.sensitive.n_columns}, L = {args.length}, null marker N, all columns sensitive zeros; "
            f"{len(scorer.never_missing)} columns never missing"
        )
        warm_up(prepared, args.length, work, args.timeout)
        if args.sweep:
            sweep(args, prepared, scorer, work, log=Log())
        else:
            full_table(args, prepared, scorer, work, log=Log())


if __name__ == "__main__":
    main()
