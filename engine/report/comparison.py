"""The side-by-side HTML report of a comparison of mechanisms: aggregate metrics only."""

from __future__ import annotations

from . import bar_chart, figure, page
from . import table as html_table

#: The summary columns of a comparison, in order.
COLUMNS = ["mechanism", "seeded", "seconds", "release_kind", "record_expansion", "k_marginal",
           "preserved_pct", "suppressed_pct", "fabricated_pct", "leakage_pct",
           "mean_absolute_error", "mean_proportional_error"]  # fmt: skip


def render(document: dict) -> str:
    """The side-by-side HTML report of a comparison."""
    rows = document["summary"]
    labels = [r["mechanism"] for r in rows]
    charts = [
        figure(
            bar_chart("NIST k-marginal score", labels, {"score": [r["k_marginal"] or 0 for r in rows]}),
            "1000 means the pairwise distributions are identical (0 when not "
            "applicable: aggregate releases).",
        ),
        figure(
            bar_chart(
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
        figure(
            bar_chart("Mean absolute error", labels, {"MAE": [r["mean_absolute_error"] for r in rows]}),
            "Of combination counts, over the union of both sides.",
        ),
        figure(
            bar_chart("Seconds", labels, {"seconds": [r["seconds"] for r in rows]}),
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
            figure(
                bar_chart(
                    "k-marginal score by ε",
                    [f"ε={e:g}" for e in epsilons],
                    {name: [series.get(e, 0.0) for e in epsilons] for name, series in by_epsilon.items()},
                ),
                "Differentially private mechanisms at each privacy budget.",
            )
        )
    header = COLUMNS
    table = html_table(
        header, [[r.get(c, "") if r.get(c) is not None else "–" for c in header] for r in rows]
    )
    params = document["parameters"]
    return page(
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
