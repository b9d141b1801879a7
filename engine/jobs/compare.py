"""The compare job: several mechanisms, one sensitive input, one table and one report.

For benchmark runners: ``repeat`` runs each stochastic mechanism that many
times with independent seeds, and the summary gives each metric's mean,
standard deviation and 95 % interval (Student's t) over the runs;
``epsilons`` sweeps every mechanism that takes an ε over those budgets. Each
run's time and peak resident memory are recorded.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..count import count_combinations, validate_length
from ..dp.accountant import check_epsilon
from ..encode import EncodedTable
from ..errors import ParameterError, ShowcaseError
from ..evaluate import DEFAULT_GROUP, evaluate_release
from ..fingerprint_key import published
from ..ingest import Source
from ..mechanisms import (
    MECHANISMS,
    Mechanism,
    check_available,
    mechanism_seeds,
    parse_mechanism,
    run_mechanism,
)
from ..output_lock import locks_for_call
from ..peak_memory import PeakMemory
from ..prepare import Preparation, check_source, load_input
from ..protection import check_k
from ..release import COMPARISON_CSV, COMPARISON_JSON, REPORT, write_json
from ..report.comparison import COLUMNS, METRICS, render
from .skeleton import Job, StageProgress

#: Most runs of one mechanism ``repeat`` accepts.
MAX_REPEAT = 1000
#: Two-sided 97.5 % quantiles of Student's t for 1 to 30 degrees of freedom.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)  # fmt: skip


def t975(df: int) -> float:
    """Student's t quantile 0.975 with ``df`` degrees of freedom (a series in 1/df beyond the table)."""
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def summary_row(label: str, seeded: bool | str, seconds: float, result: dict, peak_mib: float = 0.0) -> dict:
    """One run's line of the comparison: ``seeded`` is True, False or 'not seedable'."""
    overall = result["overall"]
    row = {
        "mechanism": label,
        "seeded": seeded,
        "seconds": round(seconds, 3),
        "peak_mib": round(peak_mib, 1),
        "release_kind": result["release_kind"],
        "record_expansion": round(result["record_expansion"], 4),
        "k_marginal": round(result["k_marginal"]["score"], 2) if "k_marginal" in result else None,
    }
    for key in COLUMNS[COLUMNS.index("preserved_pct") :]:
        row[key] = round(overall[key], 4)
    for level in result["by_length"]:
        row[f"preserved_pct_length_{level['length']}"] = level["preserved_pct"]
    if "constraints" in result:
        row["violating_records"] = result["constraints"]["synthetic_violating_records"]
    return row


def summarise(runs: list[dict]) -> dict:
    """One mechanism's runs as one line: each metric's mean, and with several runs its
    standard deviation and 95 % interval (``_sd``, ``_low``, ``_high``)."""
    first = runs[0]
    row = {"mechanism": first["mechanism"], "runs": len(runs), "seeded": first["seeded"]}
    for key in [k for k in first if k not in ("mechanism", "seeded")]:
        values = [r.get(key) for r in runs]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            row[key] = values[0] if len(set(map(str, values))) == 1 else None  # e.g. the release kind
            continue
        mean = sum(values) / len(values)
        row[key] = round(mean, 4)
        if len(values) > 1 and key in METRICS:
            sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            half = t975(len(values) - 1) * sd / math.sqrt(len(values))
            row[f"{key}_sd"] = round(sd, 4)
            row[f"{key}_low"], row[f"{key}_high"] = round(mean - half, 4), round(mean + half, 4)
    return row


def _epsilon_text(epsilon: float) -> str:
    short = f"{epsilon:g}"
    return short if float(short) == epsilon else repr(epsilon)


def sweep(specs: Sequence[str], epsilons: Sequence[float] | None) -> list[Mechanism]:
    """The mechanisms to run: each spec, once per ε of ``epsilons`` when it takes an ε.

    A spec that names its own epsilon cannot be swept as well; mechanisms
    without an ε (k-anonymity) run once, as a baseline.
    """
    if not epsilons:
        return [parse_mechanism(spec) for spec in specs]
    budgets = list(dict.fromkeys(check_epsilon(float(e)) for e in epsilons))
    out = []
    for spec in specs:
        name, colon, rest = spec.strip().partition(":")
        info = MECHANISMS.get(name)
        if info is None or "epsilon" not in info.params:
            out.append(parse_mechanism(spec))
            continue
        keys = [item.partition("=")[0].strip() for item in rest.split(",") if item.strip()]
        if "epsilon" in keys:
            raise ParameterError(
                f"mechanism {spec.strip()!r} names its own epsilon: leave it out to sweep --epsilon"
            )
        for epsilon in budgets:
            joined = f"{spec.strip()}{',' if colon and rest.strip() else ':'}epsilon={_epsilon_text(epsilon)}"
            out.append(parse_mechanism(joined))
    if all("epsilon" not in MECHANISMS[m.name].params for m in out):
        raise ParameterError(
            "--epsilon sweeps the mechanisms that take an ε, and none of these does: add one "
            "(e.g. -m dp-aim) or drop --epsilon"
        )
    return out


def check_repeat(repeat: object) -> int:
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise ParameterError(f"repeat must be a whole number from 1 to {MAX_REPEAT}, got {repeat!r}")
    return repeat


#: Records of the untimed warm-up run of each of this project's mechanisms.
WARM_UP_RECORDS = 2000


def _warm_up(mechanisms: list[Mechanism], table: EncodedTable, length: int) -> None:
    """Run each of this project's mechanisms once, untimed, on a few records.

    The first call of a kernel loads it from Numba's cache (or compiles it),
    which would otherwise be timed as part of the first run. Peers need none.
    A mechanism that refuses so few records is left to load in its first run.
    """
    few = EncodedTable(table.schema, np.ascontiguousarray(table.codes[:, :WARM_UP_RECORDS]))
    for name in dict.fromkeys(m.name for m in mechanisms if MECHANISMS[m.name].peer is None):
        mechanism = next(m for m in mechanisms if m.name == name)
        with contextlib.suppress(ShowcaseError):  # too few records: its first run loads the kernels
            run_mechanism(mechanism, few, length, 0)


def _group(sensitive: EncodedTable, group: str | None) -> str | None:
    """The k-marginal group column: the one given (checked), else PUMA where the data has it."""
    if group is None:
        return DEFAULT_GROUP if DEFAULT_GROUP in sensitive.schema.columns else None
    sensitive.schema.column_index(group)
    return group


@locks_for_call
def compare(
    sensitive: Source,
    mechanisms: list[str],
    *,
    length: int,
    resolution: int,
    out: str | Path,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    group: str | None = None,
    repeat: int = 1,
    epsilons: Sequence[float] | None = None,
    force: bool = False,
    progress: StageProgress | None = None,
) -> dict:
    """Run every mechanism, evaluate each with the same metrics, write the comparison.

    ``mechanisms`` are specs ``NAME[:key=value,...]`` (see
    :mod:`showcase.engine.mechanisms`). ``repeat`` runs each stochastic
    mechanism that many times with independent seeds; ``epsilons`` sweeps
    the mechanisms that take an ε. Writes comparison.json (every run, and a
    summary line per mechanism with means and 95 % intervals),
    comparison.csv (the summary) and report.html atomically; returns the
    comparison document. Declared constraints (a codebook's ``constraints:``)
    are kept by this project's synthesizers, and every synthetic release's
    violating records are counted (peers cannot be told the constraints).
    """
    length = validate_length(length)
    resolution = check_k(resolution)
    repeat = check_repeat(repeat)
    if not mechanisms:
        raise ParameterError("give at least one --mechanism, e.g. --mechanism row_seeded:k=10")
    parsed = sweep(mechanisms, epsilons)
    for mechanism in parsed:
        check_available(mechanism)
    preparation = preparation.resolved()
    constraints = preparation.constraints
    check_source(sensitive, preparation)
    job = Job("comparison", out=out, force=force, inputs=[sensitive], progress=progress)
    plan = [(m, run) for m in parsed for run in range(repeat if MECHANISMS[m.name].stochastic else 1)]
    seeds = mechanism_seeds(seed, len(plan))
    prepared = load_input(sensitive, preparation)
    table = prepared.table
    group = _group(table, group)
    exact = count_combinations(table, length)
    _warm_up(parsed, table, length)
    runs: dict[str, list[dict]] = {}
    evaluations, failed = [], []
    for i, ((mechanism, run), mech_seed) in enumerate(zip(plan, seeds)):
        job.report("compare", i, len(plan))
        with PeakMemory() as peak:
            try:
                release, seconds = run_mechanism(mechanism, table, length, mech_seed, constraints)
            except ShowcaseError as problem:  # e.g. a DP release too small for its ε: the others go on
                failed.append({"mechanism": mechanism.label, "run": run + 1, "error": str(problem)})
                continue
        result = evaluate_release(
            table,
            release,
            length=length,
            resolution=resolution,
            group=group,
            exact=exact,
            constraints=constraints,
        )
        # Never the seed itself: it would let anyone recompute a DP mechanism's noise.
        shown_seed = (seed is not None) if MECHANISMS[mechanism.name].seeded else "not seedable"
        runs.setdefault(mechanism.label, []).append(
            summary_row(mechanism.label, shown_seed, seconds, result, peak.mib)
        )
        result.pop("column_distributions", None)
        evaluations.append({"mechanism": mechanism.label, "params": mechanism.params, "run": run + 1,
                            "seeded": shown_seed, "seconds": seconds, "peak_mib": round(peak.mib, 1),
                            **result})  # fmt: skip
    job.report("compare", len(plan), len(plan))
    if not runs:
        first = failed[0]
        raise ParameterError(f"no mechanism could run; {first['mechanism']!r}: {first['error']}")
    rows = [summarise(lines) for lines in runs.values()]
    params_of = {m.label: m.params for m in parsed}
    for row in rows:
        row["epsilon"] = params_of[row["mechanism"]].get("epsilon")
    document = job.document({
        "sensitive": {"fingerprint": published(prepared.description["fingerprint"]), "records": table.n_rows},
        "preparation": preparation.describe(),
        "parameters": {"reporting_length": length, "resolution": resolution,
                       "seeded": seed is not None, "group": group, "repeat": repeat,
                       "constraints": len(constraints),
                       "epsilons": sorted({r["epsilon"] for r in rows if r["epsilon"] is not None})},
        "summary": rows,
        "evaluations": evaluations,
        "failed": failed,
    })  # fmt: skip
    job.write(
        {
            COMPARISON_JSON: lambda path: write_json(path, document),
            COMPARISON_CSV: lambda path: path.write_text(_csv(rows), encoding="utf-8"),
            REPORT: lambda path: path.write_text(render(document), encoding="utf-8"),
        },
        sections=None,
    )
    document["write_seconds"] = job.seconds["write"]
    return document


def _csv(rows: list[dict]) -> str:
    names = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
