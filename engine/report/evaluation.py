"""The HTML report of an evaluation: summary table and charts, aggregate metrics only."""

from __future__ import annotations

from . import bar_chart, escape, figure, page, table

#: What an evaluation report holds (and what it never holds), stated in the report itself.
CONTENTS = (
    "Not for publication. This report compares the release with the sensitive data, so it holds "
    "exact statistics of that data: its record count, counts of combinations by length and by "
    "count bucket, error summaries, the k-marginal score, and per-column value shares in "
    "which every value held by fewer than k sensitive records is merged into one bar. It "
    "names no record and no rare combination, but it is the data owner's: keep it out of "
    "anything published, the release folder included."
)


def _summary(result: dict) -> list[list[str]]:
    """The summary table's rows: one metric a row."""
    overall = result["overall"]
    summary = [
        ["release", result["release_kind"]],
        ["sensitive records", f"{result['sensitive_records']:,}"],
        ["release records", f"{result['release_records']:,}"],
        ["record expansion", f"{result['record_expansion']:.3f}"],
        ["combinations preserved", f"{overall['preserved_pct']:.2f} %"],
        ["combinations suppressed", f"{overall['suppressed_pct']:.2f} %"],
        ["combinations fabricated", f"{overall['fabricated_pct']:.2f} % of the release"],
        ["rare combinations leaked", f"{overall['leakage_pct']:.2f} %"],
        ["mean absolute error", f"{overall['mean_absolute_error']:.3f}"],
        ["mean proportional error", f"{overall['mean_proportional_error']:.3f}"],
    ]
    if "k_marginal" in result:
        km = result["k_marginal"]
        group = f" with {km['group']}" if km["group"] else ""
        summary.append([f"NIST {km['k']}-marginal score{group}", f"{km['score']:.1f} / 1000"])
    if "constraints" in result:
        found = result["constraints"]
        sensitive = found["sensitive_violating_records"]
        sensitive = "not counted (streamed input)" if sensitive is None else f"{sensitive:,}"
        synthetic = f"{found['synthetic_violating_records']:,}"
        summary.append([f"records violating the {found['declared']} declared constraint(s)",
                        f"{synthetic} synthetic, {sensitive} sensitive"])  # fmt: skip
    return summary


def _charts(result: dict) -> list[str]:
    """The combination charts: by length, and preserved and error by sensitive count."""
    lengths = [f"length {m['length']}" for m in result["by_length"]]
    buckets = [b["bucket"] for b in result["by_count_bucket"]]
    charts = [
        figure(
            bar_chart(
                "Combinations by length (%)",
                lengths,
                {
                    "preserved": [m["preserved_pct"] for m in result["by_length"]],
                    "fabricated": [m["fabricated_pct"] for m in result["by_length"]],
                },
                unit="%",
            ),
            "Preserved: % of sensitive combinations also in the release. Fabricated: % of the "
            "release's combinations absent from the sensitive data.",
        ),
        figure(
            bar_chart(
                "Preserved by sensitive count (%)",
                buckets,
                {"preserved": [b["preserved_pct"] for b in result["by_count_bucket"]]},
                unit="%",
            ),
            f"Buckets of the sensitive count; the first is the rare bucket (< k = {result['resolution']}).",
        ),
        figure(
            bar_chart(
                "Error by sensitive count",
                buckets,
                {
                    "mean absolute error": [b["mean_absolute_error"] for b in result["by_count_bucket"]],
                    "mean proportional error × 100": [
                        100 * b["mean_proportional_error"] for b in result["by_count_bucket"]
                    ],
                },
            ),
            "Mean absolute and proportional error of combination counts per bucket.",
        ),
    ]
    return charts


def render_report(result: dict, title: str = "showcase evaluation") -> str:
    """The human report: summary table and charts of an evaluation result."""
    summary, charts = _summary(result), _charts(result)
    sections = [
        f'<p class="note">{escape(CONTENTS)}</p>',
        "<h2>Summary</h2>",
        table(["metric", "value"], summary),
        "<h2>Combinations</h2>",
        f'<div class="charts">{"".join(charts)}</div>',
        "<h2>By length</h2>",
        table(
            ["length", "sensitive", "release", "preserved %", "fabricated %", "leakage %", "MAE"],
            [
                [
                    m["length"],
                    f"{m['sensitive_combinations']:,}",
                    f"{m['release_combinations']:,}",
                    f"{m['preserved_pct']:.2f}",
                    f"{m['fabricated_pct']:.2f}",
                    f"{m['leakage_pct']:.2f}",
                    f"{m['mean_absolute_error']:.3f}",
                ]
                for m in result["by_length"]
            ],
        ),
    ]
    if "column_distributions" in result:
        figures = [
            figure(
                bar_chart(
                    d["column"],
                    d["labels"],
                    {
                        "sensitive": [100 * v for v in d["sensitive_share"]],
                        "synthetic": [100 * v for v in d["release_share"]],
                    },
                    unit="%",
                    width=360,
                ),
                f"Share of records by value of {d['column']}.",
            )
            for d in result["column_distributions"]
        ]
        sections += ["<h2>Columns</h2>", f'<div class="charts">{"".join(figures)}</div>']
    return page(title, sections)
