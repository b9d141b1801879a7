"""The compare job: several mechanisms, one sensitive input, one table and one report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..count import count_combinations, validate_length
from ..encode import EncodedTable
from ..errors import ParameterError
from ..evaluate import DEFAULT_GROUP, evaluate_release
from ..ingest import Source
from ..mechanisms import MECHANISMS, check_available, mechanism_seeds, parse_mechanism, run_mechanism
from ..output_lock import locks_for_call
from ..prepare import Preparation, check_source, load_input
from ..protection import check_k
from ..release import COMPARISON_CSV, COMPARISON_JSON, REPORT, write_json
from ..report.comparison import COLUMNS, render
from .skeleton import Job, StageProgress


def summary_row(label: str, seeded: bool | str, seconds: float, result: dict) -> dict:
    """One mechanism's line of the comparison: ``seeded`` is True, False or 'not seedable'."""
    overall = result["overall"]
    row = {
        "mechanism": label,
        "seeded": seeded,
        "seconds": round(seconds, 3),
        "release_kind": result["release_kind"],
        "record_expansion": round(result["record_expansion"], 4),
        "k_marginal": round(result["k_marginal"]["score"], 2) if "k_marginal" in result else None,
    }
    for key in COLUMNS[6:]:
        row[key] = round(overall[key], 4)
    for level in result["by_length"]:
        row[f"preserved_pct_length_{level['length']}"] = level["preserved_pct"]
    return row


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
    force: bool = False,
    progress: StageProgress | None = None,
) -> dict:
    """Run every mechanism, evaluate each with the same metrics, write the comparison.

    ``mechanisms`` are specs ``NAME[:key=value,...]`` (see
    :mod:`showcase.engine.mechanisms`). Writes comparison.json,
    comparison.csv and report.html atomically; returns the comparison document.
    """
    length = validate_length(length)
    resolution = check_k(resolution)
    if not mechanisms:
        raise ParameterError("give at least one --mechanism, e.g. --mechanism row_seeded:k=10")
    parsed = [parse_mechanism(spec) for spec in mechanisms]
    for mechanism in parsed:
        check_available(mechanism)
    check_source(sensitive, preparation)
    job = Job("comparison", out=out, force=force, inputs=[sensitive], progress=progress)
    seeds = mechanism_seeds(seed, len(parsed))
    prepared = load_input(sensitive, preparation)
    table = prepared.table
    group = _group(table, group)
    exact = count_combinations(table, length)
    rows, evaluations = [], []
    for i, (mechanism, mech_seed) in enumerate(zip(parsed, seeds)):
        job.report("compare", i, len(parsed))
        release, seconds = run_mechanism(mechanism, table, length, mech_seed)
        result = evaluate_release(
            table, release, length=length, resolution=resolution, group=group, exact=exact
        )
        # Never the seed itself: it would let anyone recompute a DP mechanism's noise.
        shown_seed = (seed is not None) if MECHANISMS[mechanism.name].seeded else "not seedable"
        rows.append(summary_row(mechanism.label, shown_seed, seconds, result))
        result.pop("column_distributions", None)
        evaluations.append({"mechanism": mechanism.label, "params": mechanism.params,
                            "seeded": shown_seed, "seconds": seconds, **result})  # fmt: skip
    job.report("compare", len(parsed), len(parsed))
    document = job.document({
        "sensitive": {"fingerprint": prepared.description["fingerprint"], "records": table.n_rows},
        "preparation": preparation.describe(),
        "parameters": {"reporting_length": length, "resolution": resolution,
                       "seeded": seed is not None, "group": group},
        "summary": rows,
        "evaluations": evaluations,
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
