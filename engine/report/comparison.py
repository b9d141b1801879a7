"""The side-by-side HTML report of a comparison of mechanisms: aggregate metrics only."""

from __future__ import annotations

from html import escape

from . import bar_chart, figure, line_chart, page

#: The per-run columns of a comparison after its mechanism, seeded, seconds, peak memory and kind.
COLUMNS = ["mechanism", "seeded", "seconds", "peak_mib", "release_kind", "record_expansion", "k_marginal",
           "preserved_pct", "suppressed_pct", "fabricated_pct", "leakage_pct",
           "mean_absolute_error", "mean_proportional_error"]  # fmt: skip
#: The numeric columns summarised over repeated runs (mean, sd, 95 % interval).
METRICS = ["seconds", "peak_mib", "record_expansion", "k_marginal", "preserved_pct", "suppressed_pct",
           "fabricated_pct", "leakage_pct", "mean_absolute_error", "mean_proportional_error",
           "violating_records"]  # fmt: skip
#: The report's table: (column, heading, decimals).
SHOWN = [("k_marginal", "k-marginal", 1), ("preserved_pct", "preserved %", 1),
         ("fabricated_pct", "fabricated %", 1), ("mean_absolute_error", "MAE", 2),
         ("record_expansion", "records / input", 3), ("seconds", "seconds", 1),
         ("peak_mib", "peak MiB", 0)]  # fmt: skip
#: The column shown when constraints were declared: synthetic records holding an impossible combination.
VIOLATIONS = ("violating_records", "records breaking a constraint", 0)
TABLE_CSS = (
    "<style>table.results{width:100%;table-layout:fixed}table.results td{font-variant-numeric:tabular-nums}"
    "table.results td:first-child{overflow-wrap:anywhere}table.results th:first-child{width:24%}"
    "table.results small{color:#666}</style>"
)


def _cell(row: dict, key: str, decimals: int) -> str:
    value = row.get(key)
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if row.get(f"{key}_low") is not None:
        half = (row[f"{key}_high"] - row[f"{key}_low"]) / 2
        text += f" <small>± {half:,.{decimals}f}</small>"
    return text


def results_table(rows: list[dict]) -> str:
    """Each mechanism's means, ± the half-width of their 95 % interval when it ran several times.

    Fixed layout at the page's width: long mechanism names wrap instead of
    making the table scroll sideways.
    """
    shown = SHOWN + [VIOLATIONS] if any("violating_records" in r for r in rows) else SHOWN
    head = "<th>mechanism</th><th>runs</th>" + "".join(f"<th>{escape(h)}</th>" for _, h, _ in shown)
    body = "".join(
        f"<tr><td>{escape(r['mechanism'])}</td><td>{r.get('runs', 1)}</td>"
        + "".join(f"<td>{_cell(r, key, d)}</td>" for key, _, d in shown)
        + "</tr>"
        for r in rows
    )
    return f'{TABLE_CSS}<table class="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def family(row: dict) -> str:
    """A mechanism's label without its ε: the line it belongs to in the chart by ε."""
    name, _, rest = row["mechanism"].partition(":")
    kept = [item for item in rest.split(",") if item and not item.startswith("epsilon=")]
    return name + (":" + ",".join(kept) if kept else "")


def render(document: dict) -> str:
    """The side-by-side HTML report of a comparison."""
    rows = document["summary"]
    labels = [r["mechanism"] for r in rows]
    charts = [
        figure(
            bar_chart("NIST k-marginal score", labels, {"score": [r["k_marginal"] or 0 for r in rows]}),
            "1000 means the pairwise distributions are identical (0 when not "
            "applicable: aggregate releases). Means over the runs.",
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
    lines: dict[str, list[tuple[float, float, float, float]]] = {}
    for row in rows:
        if row.get("epsilon") is not None and row["k_marginal"] is not None:
            low, high = (
                row.get("k_marginal_low", row["k_marginal"]),
                row.get("k_marginal_high", row["k_marginal"]),
            )
            lines.setdefault(family(row), []).append((row["epsilon"], row["k_marginal"], low, high))
    if lines:
        charts.insert(
            0,
            figure(
                line_chart("k-marginal score by ε", lines, x_label="ε (log scale)"),
                "One line per mechanism, at each privacy budget; the band is the 95 % interval of the "
                "mean over the runs.",
            ),
        )
    params = document["parameters"]
    repeat = params.get("repeat", 1)
    return page(
        "showcase comparison",
        [
            f'<p class="note">Mechanisms compared on {document["sensitive"]["records"]:,} sensitive '
            f"records, combinations up to length {params['reporting_length']}, rare below k = "
            f"{params['resolution']}"
            + (f"; each stochastic mechanism ran {repeat} times with independent seeds" if repeat > 1 else "")
            + ". This report holds only aggregate metrics; no sensitive record or rare combination "
            "appears in it.</p>",
            *(
                [
                    f'<p class="note">{params["constraints"]} declared constraints (impossible combinations):'
                    " this project's synthesizers keep them; peers cannot be told them. The table counts the "
                    "synthetic records that break one.</p>"
                ]
                if params.get("constraints")
                else []
            ),
            "<h2>Results</h2>",
            results_table(rows),
            *(
                [
                    '<p class="note">Could not run (left out of the table): '
                    + "; ".join(
                        f"{escape(f['mechanism'])} (run {f['run']}): {escape(f['error'])}"
                        for f in document.get("failed", [])
                    )  # fmt: skip
                    + "</p>"
                ]
                if document.get("failed")
                else []
            ),
            "<h2>Charts</h2>",
            f'<div class="charts">{"".join(charts)}</div>',
        ],
    )
