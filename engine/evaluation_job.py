"""``evaluate``: compare a release with the sensitive data and write JSON + HTML."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from . import __version__, output_lock, report
from .aggregates import Aggregates
from .aggregates_io import METADATA_KEY, read_parquet, read_tsv
from .count import check_length_fits, count_combinations, validate_length
from .encode import EncodedTable, encode
from .errors import InputError, ParameterError
from .evaluate import column_distributions, combination_metrics, join, k_marginal_score
from .ingest import check_input, fingerprint, read_table
from .output_lock import locks_for_call
from .pipeline import StageProgress
from .prepare import Preparation, load
from .protect import validate_resolution
from .release import (
    AGGREGATES_PARQUET,
    EVALUATION,
    REPORT,
    SENSITIVE_PARQUET,
    SYNTHETIC_CSV,
    SYNTHETIC_PARQUET,
    check_output_dir,
    check_writable_folder,
    utc_now,
    write_json,
)
from .staging import staged_directory

DEFAULT_GROUP = "PUMA"
#: Largest k of the k-marginal score (it counts every k-set of columns).
MAX_MARGINAL = 8
CONTENTS = (
    "This report holds only aggregate metrics: counts of combinations by length and by "
    "count bucket, error summaries, the k-marginal score, and per-column value shares in "
    "which every value held by fewer than k sensitive records is merged into one bar. It "
    "holds no sensitive record and names no rare combination."
)


@dataclass
class Release:
    """A release to evaluate: synthetic microdata (``table``) or aggregates."""

    path: Path
    kind: str  # "synthetic" or "aggregates"
    table: EncodedTable | None = None
    aggregates: Aggregates | None = None


def find_release(path: str | Path) -> tuple[Path, str]:
    """The file to evaluate inside ``path`` and its kind: synthetic or aggregates."""
    path = Path(path)
    if path.is_dir():
        for name, kind in (
            (SYNTHETIC_PARQUET, "synthetic"),
            (SYNTHETIC_CSV, "synthetic"),
            (AGGREGATES_PARQUET, "aggregates"),
            (SENSITIVE_PARQUET, "aggregates"),
        ):
            if (path / name).exists():
                return path / name, kind
        raise InputError(f"{path}: no synthetic data or aggregates found in this directory")
    check_input(path)
    if path.suffix.lower() == ".tsv":
        with open(path, "rb") as handle:
            if handle.readline().startswith(b"selections\t"):
                return path, "aggregates"
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            if METADATA_KEY in (pq.read_schema(path).metadata or {}):
                return path, "aggregates"
        except OSError:
            raise InputError(f"{path}: not a readable parquet file") from None
    return path, "synthetic"


def load_release(path: str | Path, sensitive: EncodedTable, preparation: Preparation) -> Release:
    """Read a release and encode it on the sensitive schema."""
    file, kind = find_release(path)
    if kind == "aggregates":
        reader = read_tsv if file.suffix.lower() == ".tsv" else read_parquet
        return Release(file, kind, aggregates=reader(file))
    table = read_table(file, delimiter=preparation.delimiter, use_columns=preparation.use_columns)
    encoded = encode(
        table,
        null_markers=preparation.null_markers,
        sensitive_zeros=preparation.sensitive_zeros,
        schema=sensitive.schema,
    )
    return Release(file, kind, table=encoded)


def evaluate_release(
    sensitive: EncodedTable,
    release: Release,
    *,
    length: int,
    resolution: int,
    group: str | None = None,
    marginal_k: int = 2,
    exact: Aggregates | None = None,
    progress: StageProgress | None = None,
) -> dict:
    """Every metric of SPEC §4 for one release, as a JSON-ready dictionary.

    ``exact`` may pass the sensitive data's exact counts when evaluating several releases.
    """
    report_progress = progress or (lambda stage, done, total: None)
    if exact is None:
        exact = count_combinations(
            sensitive, length, progress=lambda d, t: report_progress("count", d, 2 * t)
        )
    if release.kind == "synthetic":
        released = count_combinations(
            release.table, length, progress=lambda d, t: report_progress("count", t + d, 2 * t)
        )
        released_rows = release.table.n_rows
    else:
        released = release.aggregates
        released_rows = released.record_count
    report_progress("evaluate", 0, 1)
    metrics = combination_metrics(join(exact, released), resolution, length)
    result = {
        "release_kind": release.kind,
        "reporting_length": length,
        "resolution": resolution,
        "sensitive_records": sensitive.n_rows,
        "release_records": int(released_rows),
        "record_expansion": released_rows / sensitive.n_rows,
        **metrics,
    }
    if release.kind == "synthetic":
        if group is None and DEFAULT_GROUP in sensitive.schema.columns:
            group = DEFAULT_GROUP
        columns_left = sensitive.n_columns - (group is not None)
        if columns_left >= marginal_k:
            result["k_marginal"] = k_marginal_score(sensitive, release.table, group=group, k=marginal_k)
        result["column_distributions"] = column_distributions(sensitive, release.table, resolution)
    report_progress("evaluate", 1, 1)
    return result


def render_report(result: dict, title: str = "showcase evaluation") -> str:
    """The human report: summary table and charts of an evaluation result."""
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
    lengths = [f"length {m['length']}" for m in result["by_length"]]
    buckets = [b["bucket"] for b in result["by_count_bucket"]]
    charts = [
        report.figure(
            report.bar_chart(
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
        report.figure(
            report.bar_chart(
                "Preserved by sensitive count (%)",
                buckets,
                {"preserved": [b["preserved_pct"] for b in result["by_count_bucket"]]},
                unit="%",
            ),
            f"Buckets of the sensitive count; the first is the rare bucket (< k = {result['resolution']}).",
        ),
        report.figure(
            report.bar_chart(
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
    sections = [
        f'<p class="note">{report.escape(CONTENTS)}</p>',
        "<h2>Summary</h2>",
        report.table(["metric", "value"], summary),
        "<h2>Combinations</h2>",
        f'<div class="charts">{"".join(charts)}</div>',
        "<h2>By length</h2>",
        report.table(
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
            report.figure(
                report.bar_chart(
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
    return report.page(title, sections)


@locks_for_call
def evaluate(
    sensitive_path: str | Path,
    release_path: str | Path,
    *,
    length: int,
    resolution: int,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    group: str | None = None,
    marginal_k: int = 2,
    force: bool = False,
    progress: StageProgress | None = None,
) -> dict:
    """Evaluate a release and write ``evaluation.json`` and ``report.html``.

    Without ``out`` the files go into the release directory itself (which
    ``release_path`` must then be).
    """
    length = validate_length(length)
    resolution = validate_resolution(resolution)
    if isinstance(marginal_k, bool) or not isinstance(marginal_k, int) or not 1 <= marginal_k <= MAX_MARGINAL:
        raise ParameterError(f"marginal size must be from 1 to {MAX_MARGINAL}, got {marginal_k}")
    check_input(sensitive_path)
    find_release(release_path)
    in_place = out is None
    if in_place:
        if not Path(release_path).is_dir():
            raise ParameterError("give --out when the release is a single file")
        out = Path(release_path)
        existing = [n for n in (EVALUATION, REPORT) if (out / n).exists()]
        if existing and not force:
            raise ParameterError(f"{out} already has {', '.join(existing)}; pass --force to replace")
        check_writable_folder(out, out)
        output_lock.acquire(out, out)  # no --force replacement of the release meanwhile
    else:
        check_output_dir(out, force, inputs=[sensitive_path, release_path])
    report_progress = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    report_progress("read", 0, 1)
    sensitive = load(sensitive_path, preparation)
    check_length_fits(length, sensitive.n_columns)
    release = load_release(release_path, sensitive, preparation)
    report_progress("read", 1, 1)
    if group is not None:
        sensitive.schema.column_index(group)
    result = evaluate_release(
        sensitive,
        release,
        length=length,
        resolution=resolution,
        group=group,
        marginal_k=marginal_k,
        progress=progress,
    )
    document = {
        "tool": {"name": "showcase", "version": __version__},
        "created": utc_now(),
        "kind": "evaluation",
        "contents": CONTENTS,
        "sensitive": {"fingerprint": fingerprint(sensitive_path)},
        "release": {"file": release.path.name, "fingerprint": fingerprint(release.path)},
        "preparation": preparation.describe(),
        **result,
        "seconds": round(time.perf_counter() - started, 3),
    }
    html = render_report(result)
    report_progress("write", 0, 1)
    if in_place:
        _write_beside(Path(out), {EVALUATION: json.dumps(document, indent=2) + "\n", REPORT: html})
    else:
        with staged_directory(out, force) as stage:
            write_json(stage / EVALUATION, document)
            (stage / REPORT).write_text(html, encoding="utf-8")
    report_progress("write", 1, 1)
    return document


def _write_beside(folder: Path, files: dict[str, str]) -> None:
    """Write files into an existing directory, each via a temp file and a rename."""
    temps = []
    try:
        for name, text in files.items():
            temp = folder / f".{name}.{uuid.uuid4().hex[:8]}.partial"
            temp.write_text(text, encoding="utf-8")
            temps.append((temp, folder / name))
        for temp, final in temps:
            os.replace(temp, final)
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
