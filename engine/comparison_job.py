"""``compare``: several mechanisms, one sensitive input, one table and one report."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from . import __version__, report
from .compare import MECHANISMS, check_available, mechanism_seeds, parse_mechanism, run_mechanism
from .count import count_combinations, validate_length
from .errors import ParameterError
from .evaluation_job import DEFAULT_GROUP, evaluate_release
from .ingest import check_input, fingerprint
from .output_lock import locks_for_call
from .pipeline import StageProgress
from .prepare import Preparation, load
from .protect import validate_resolution
from .release import COMPARISON_CSV, COMPARISON_JSON, check_output_dir, utc_now, write_json
from .staging import staged_directory

COLUMNS = ["mechanism", "seeded", "seconds", "release_kind", "record_expansion", "k_marginal",
           "preserved_pct", "suppressed_pct", "fabricated_pct", "leakage_pct",
           "mean_absolute_error", "mean_proportional_error"]  # fmt: skip


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


@locks_for_call
def compare(
    sensitive_path: str | Path,
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
    """Run every mechanism, evaluate each with the same metrics, write the comparison."""
    length = validate_length(length)
    resolution = validate_resolution(resolution)
    if not mechanisms:
        raise ParameterError("give at least one --mechanism, e.g. --mechanism row_seeded:k=10")
    parsed = [parse_mechanism(spec) for spec in mechanisms]
    for mechanism in parsed:
        check_available(mechanism)
    check_input(sensitive_path)
    check_output_dir(out, force, inputs=[sensitive_path])
    seeds = mechanism_seeds(seed, len(parsed))
    tick = progress or (lambda stage, done, total: None)
    sensitive = load(sensitive_path, preparation)
    if group is None and DEFAULT_GROUP in sensitive.schema.columns:
        group = DEFAULT_GROUP
    elif group is not None:
        sensitive.schema.column_index(group)
    exact = count_combinations(sensitive, length)
    rows, evaluations = [], []
    for i, (mechanism, mech_seed) in enumerate(zip(parsed, seeds)):
        tick("compare", i, len(parsed))
        release, seconds = run_mechanism(mechanism, sensitive, length, mech_seed)
        result = evaluate_release(
            sensitive, release, length=length, resolution=resolution, group=group, exact=exact
        )
        # Never the seed itself: it would let anyone recompute a DP mechanism's noise.
        shown_seed = (seed is not None) if MECHANISMS[mechanism.name].seeded else "not seedable"
        rows.append(summary_row(mechanism.label, shown_seed, seconds, result))
        result.pop("column_distributions", None)
        evaluations.append(
            {
                "mechanism": mechanism.label,
                "params": mechanism.params,
                "seeded": shown_seed,
                "seconds": seconds,
                **result,
            }
        )
    tick("compare", len(parsed), len(parsed))
    document = {
        "tool": {"name": "showcase", "version": __version__},
        "created": utc_now(),
        "kind": "comparison",
        "sensitive": {"fingerprint": fingerprint(sensitive_path), "records": sensitive.n_rows},
        "preparation": preparation.describe(),
        "parameters": {
            "reporting_length": length,
            "resolution": resolution,
            "seeded": seed is not None,
            "group": group,
        },
        "summary": rows,
        "evaluations": evaluations,
    }
    started = time.perf_counter()
    with staged_directory(out, force) as stage:
        write_json(stage / COMPARISON_JSON, document)
        (stage / COMPARISON_CSV).write_text(_csv(rows), encoding="utf-8")
        (stage / "report.html").write_text(render(document), encoding="utf-8")
    document["write_seconds"] = time.perf_counter() - started
    return document


def _csv(rows: list[dict]) -> str:
    names = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def render(document: dict) -> str:
    """The side-by-side HTML report of a comparison."""
    rows = document["summary"]
    labels = [r["mechanism"] for r in rows]
    charts = [
        report.figure(
            report.bar_chart(
                "NIST k-marginal score", labels, {"score": [r["k_marginal"] or 0 for r in rows]}
            ),
            "1000 means the pairwise distributions are identical (0 when not "
            "applicable: aggregate releases).",
        ),
        report.figure(
            report.bar_chart(
                "Combinations preserved / fabricated (%)",
                labels,
                {
                    "preserved": [r["preserved_pct"] for r in rows],
                    "fabricated": [r["fabricated_pct"] for r in rows],
                },
                unit="%",
            ),
            "All lengths together.",
        ),
        report.figure(
            report.bar_chart(
                "Mean absolute error", labels, {"MAE": [r["mean_absolute_error"] for r in rows]}
            ),
            "Of combination counts, over the union of both sides.",
        ),
        report.figure(
            report.bar_chart("Seconds", labels, {"seconds": [r["seconds"] for r in rows]}),
            "Time to produce each release.",
        ),
    ]
    by_epsilon: dict[str, dict[float, float]] = {}
    for evaluation, row in zip(document["evaluations"], rows):
        eps = evaluation["params"].get("epsilon")
        if eps is not None and row["k_marginal"] is not None:
            name = row["mechanism"].split(":")[0]
            by_epsilon.setdefault(name, {})[eps] = row["k_marginal"]
    if by_epsilon:
        epsilons = sorted({e for series in by_epsilon.values() for e in series})
        charts.append(
            report.figure(
                report.bar_chart(
                    "k-marginal score by ε",
                    [f"ε={e:g}" for e in epsilons],
                    {name: [series.get(e, 0.0) for e in epsilons] for name, series in by_epsilon.items()},
                ),
                "Differentially private mechanisms at each privacy budget.",
            )
        )
    header = COLUMNS
    table = report.table(
        header, [[r.get(c, "") if r.get(c) is not None else "–" for c in header] for r in rows]
    )
    params = document["parameters"]
    return report.page(
        "showcase comparison",
        [
            f'<p class="note">Mechanisms compared on {document["sensitive"]["records"]:,} sensitive '
            f"records, combinations up to length {params['reporting_length']}, rare below k = "
            f"{params['resolution']}. This report holds only aggregate metrics; no sensitive "
            "record or rare combination appears in it.</p>",
            "<h2>Results</h2>",
            table,
            "<h2>Charts</h2>",
            f'<div class="charts">{"".join(charts)}</div>',
        ],
    )
